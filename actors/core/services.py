"""Declared services and calls: request/reply between actors (pure core, no IO).

A serving actor decorates a method with :func:`service`; a calling actor
declares a :class:`Call`. Both carry a mandatory ``doc=`` and the types of the
request and the reply, checked like an Input's: they are the single source of
the data dictionary's, the graph's and the AsyncAPI document's services.

>>> class Thermostat(Actor):                                          # doctest: +SKIP
...     @service("thermostat.setpoint.set", float, float, doc="Set the target; the new one")
...     def set_setpoint(self, value: float) -> float: ...
>>> class Console(Actor):                                             # doctest: +SKIP
...     setpoint = Call("thermostat.setpoint.set", float, float, doc="Change the target",
...                     timeout=2.0, policy=Policy(retry=Retry(attempts=3)))
...     def step(self) -> None:
...         now = self.setpoint(21.5)          # blocks up to the deadline; raises CallError
...         pending = self.setpoint.start(22.0, callback=self.done)   # or not
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from actors.core.calls import ERROR_KINDS
from actors.core.declarations import NAME_FIELD, DeclarationError
from actors.core.resilience import Policy, PolicyError
from actors.core.topics import TopicError, check_topic
from actors.core.types import check_type, checker, type_name

#: Seconds a call waits for its reply when its declaration names no timeout (Erlang's 5 s).
DEFAULT_TIMEOUT: Final = 5.0


def check_service_name(name: str) -> None:
    """Raise TopicError unless *name* is a valid service name (a concrete topic)."""
    if name.startswith("$"):
        raise TopicError(f"service {name!r}: names starting with '$' belong to the framework")
    if name == "supervisor" or name.startswith("supervisor."):
        raise TopicError(f"service {name!r}: 'supervisor' and 'supervisor.*' are the supervisor's")
    check_topic(name.replace(NAME_FIELD, "name"))


class _Exchange:
    """What a Service and a Call share: the service's name, the request and reply types
    (with their checks), the doc, and the attribute name the class gives it."""

    kind = "exchange"

    def __init__(self, service: str, request: Any, reply: Any, doc: str | None) -> None:
        self.service = service
        self.request = request
        self.reply = reply
        self.doc = doc
        self.check_request = checker(request)
        self.check_reply = checker(reply)
        self.name = ""
        self.owner = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.owner = owner.__name__

    def describe(self) -> dict[str, Any]:
        """A plain record of the declaration, for docs and tools."""
        return {
            "name": self.name,
            "kind": self.kind,
            "service": self.service,
            "request": type_name(self.request),
            "reply": type_name(self.reply),
            "doc": self.doc,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.owner}.{self.name} -> {self.service!r})"


class Service(_Exchange):
    """A service an actor serves: its handler method runs once per request, between
    steps, and returns the reply. Made by :func:`service`."""

    kind = "service"

    def __init__(
        self,
        name: str,
        request: Any,
        reply: Any,
        *,
        doc: str | None,
        handler: Callable[..., Any],
        group: bool = False,
        crash: bool = False,
    ) -> None:
        super().__init__(name, request, reply, doc)
        self.handler = handler
        self.group = group
        self.crash = crash
        self.name = handler.__name__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return self.handler.__get__(instance, owner)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "group": self.group}


def service(
    name: str,
    request: Any = object,
    reply: Any = object,
    *,
    doc: str | None = None,
    group: bool = False,
    crash: bool = False,
) -> Callable[[Callable[..., Any]], Service]:
    """Declare the decorated method as the handler of service *name*.

    The handler runs in the actor's process, between steps, with the request
    (checked against *request*); what it returns (checked against *reply*) is
    the reply. An exception goes back to the caller as a ``remote`` error and
    is counted; it does not stop the actor unless *crash* is true (then it is
    an unanticipated failure, with a snapshot). Raise
    :class:`~actors.core.calls.Unavailable` to ask the caller to retry later.
    Several actors may serve one service only when each says *group*; a call
    then goes to one of them.
    """

    def decorate(handler: Callable[..., Any]) -> Service:
        return Service(name, request, reply, doc=doc, handler=handler, group=group, crash=crash)

    return decorate


class Call(_Exchange):
    """A service this actor calls: ``self.<name>(request)`` blocks until the reply (or
    raises :class:`~actors.core.calls.CallError`); ``self.<name>.start(request,
    callback=...)`` does not, and delivers the result between steps.

    *timeout* (seconds) bounds the whole call, retries included; *policy* says how
    it is made (:class:`~actors.core.resilience.Policy`). Both can be changed per
    actor in site.toml (``[actors.NAME.calls.<name>]``).
    """

    kind = "call"

    def __init__(
        self,
        service: str,
        request: Any = object,
        reply: Any = object,
        *,
        doc: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        policy: Policy | None = None,
    ) -> None:
        super().__init__(service, request, reply, doc)
        self.timeout = timeout
        self.policy = policy or Policy()

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        try:
            return instance.__dict__["_enlil_calls"][self.name]
        except KeyError:
            raise RuntimeError(
                f"{self.owner}.{self.name}: calls work once the engine runs the actor"
            ) from None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "timeout": self.timeout}


def collect(cls: type, spec: Any) -> None:
    """Put the Services and Calls of *cls* (and its bases) into *spec*, checked."""
    found: dict[str, Service | Call] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Service | Call):
                found[name] = value
            elif name in found:
                del found[name]
    served: dict[str, str] = {}
    for name, decl in found.items():
        where = f"actor {cls.__name__}, {decl.kind} {name!r}"
        if name in spec.inputs or name in spec.outputs or name in spec.states:
            raise DeclarationError(f"{where}: the name is already a declared variable")
        if not (isinstance(decl.doc, str) and decl.doc.strip()):
            raise DeclarationError(f"{where}: doc= is missing (every declaration needs one)")
        try:
            check_service_name(decl.service)
        except TopicError as exc:
            raise DeclarationError(f"{where}: {exc}") from None
        for part in ("request", "reply"):
            try:
                check_type(getattr(decl, part))
            except TypeError as exc:
                raise DeclarationError(f"{where}: {part} {exc}") from None
        if isinstance(decl, Service):
            if decl.service in served:
                other = served[decl.service]
                raise DeclarationError(f"{where}: service {decl.service!r} is already {other!r}")
            served[decl.service] = name
            spec.services[name] = decl
            continue
        if not (isinstance(decl.timeout, int | float) and math.isfinite(decl.timeout)):
            raise DeclarationError(f"{where}: timeout must be a number of seconds")
        if decl.timeout <= 0:
            raise DeclarationError(f"{where}: timeout must be positive, got {decl.timeout}")
        try:
            decl.policy.check(decl.timeout, ERROR_KINDS)
        except PolicyError as exc:
            raise DeclarationError(f"{where}: policy {exc}") from None
        method = decl.policy.fallback.method if decl.policy.fallback is not None else None
        if method is not None and not callable(getattr(cls, method, None)):
            raise DeclarationError(
                f"{where}: policy fallback.method {method!r} is not a method of {cls.__name__}"
            )
        spec.calls[name] = decl


def resolve_calls(spec: Any, overrides: Mapping[str, Any]) -> dict[str, tuple[Policy, float]]:
    """Each declared Call's policy and timeout, with site.toml's *overrides* over the
    code's (``{call: {timeout, attempt_timeout, retry, breaker, ...}}``).

    Raises PolicyError whose key names the call and the key (``calls.sp.retry.attempts``).
    """
    unknown = sorted(set(overrides) - set(spec.calls))
    if unknown:
        raise PolicyError(f"calls.{unknown[0]}", f"{spec.cls_name} declares no such Call")
    out: dict[str, tuple[Policy, float]] = {}
    for name, decl in spec.calls.items():
        table = overrides.get(name) or {}
        if not isinstance(table, Mapping):
            raise PolicyError(f"calls.{name}", f"must be a table, got {table!r}")
        timeout = decl.timeout
        policy: Policy = decl.policy
        if table:
            rest = {k: v for k, v in table.items() if k != "timeout"}
            if "timeout" in table:
                timeout = table["timeout"]
                if (
                    isinstance(timeout, bool)
                    or not isinstance(timeout, int | float)
                    or not math.isfinite(timeout)
                    or timeout <= 0
                ):
                    raise PolicyError(
                        f"calls.{name}.timeout", f"must be a positive number, got {timeout!r}"
                    )
            if "attempt_timeout" in rest:
                rest["timeout"] = rest.pop("attempt_timeout")
            try:
                policy = policy.override(rest, ERROR_KINDS)
                policy.check(float(timeout), ERROR_KINDS)
            except PolicyError as exc:
                key = "attempt_timeout" if exc.key == "timeout" else exc.key
                raise PolicyError(f"calls.{name}.{key}", exc.reason) from None
        out[name] = (policy, float(timeout))
    return out
