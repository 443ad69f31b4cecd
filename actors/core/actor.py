"""The Actor base class that users subclass (pure core, no IO).

An actor declares its Inputs, Outputs, State and Params as class attributes and
implements ``step()``. It never touches a socket: the engine
(:mod:`actors.core.engine`) feeds it and collects what it publishes, and the
runtime (:mod:`actors.runtime`) or the test harness (:mod:`actors.testing`)
drives the engine.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from actors.core.boundary import Boundary
from actors.core.calls import Forbidden
from actors.core.declarations import ActorSpec, build_spec
from actors.core.services import collect as collect_services

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

# Names defined by the base class; a declaration may not reuse them.
_RESERVED = frozenset(
    {
        "step",
        "on_start",
        "on_stop",
        "period",
        "step_on_input",
        "version",
        "enlil",
        "topics_from_params",
        "actors_from_params",
        "boundary_from_params",
        "check_params",
        "hal",
        "on_gap",
        "migrate_state",
        "durable_fallback",
    }
)


class ActorContext:
    """What the framework offers an actor at run time, as ``self.enlil``.

    ``name`` is the actor's name in the site, ``log`` a structlog logger bound
    with it, ``now()`` the wall clock in seconds (a fake clock under the test
    harness), and ``send(output, value, topic=None)`` publishes one value of
    a declared Output at once, for actors that emit several messages per step
    (*topic* picks the topic of an Output declared on a ``prefix.*`` family).
    ``trigger`` names the Input whose message runs the current step (and
    ``topic`` the topic it came on, ``sender`` and ``seq`` its envelope's
    sender and sequence number), or is None for a periodic step; in a
    service handler it names the service, and ``caller`` the calling actor.
    ``log_dir`` is the folder of the site's log files and ``run_dir`` the
    site's run folder (both None under the harness). ``random`` is the
    actor's random source (jitter, sampling): seeded under the test harness,
    so that a test sees the same draws every run.

    An actor that site.toml gives ``control`` rights starts, stops, restarts
    and asks the status of other actors: ``start(name, timeout=None)``,
    ``stop``, ``restart`` and ``status`` each block until the supervisor
    answers (a start once the actor is ready, a stop once it has exited;
    *timeout* defaults to 10 s) and return the actor's status (``name``,
    ``state``, ``pid``, ``restarts``, ``uptime``, ``last_exit``, ``after``), or
    raise a :class:`~actors.core.calls.CallError`: ``Forbidden`` when its rights
    do not allow it, ``Failed`` when the actor could not get there, ``Rejected``
    for an unknown actor, ``CallTimeout``. Each action is a ``control`` event
    on ``$sys.event`` naming the asker.

    For actors that own a file descriptor (HAL actors: a serial port, a
    socket), ``watch(fd, on_readable=None, on_writable=None)`` has the runtime
    poll it together with the actor's sockets and call back when it is ready,
    and ``call_later(delay, callback)`` runs a callback once after *delay*
    seconds (it returns a timer with ``cancel()``). Callbacks run in the
    actor's process between steps, like a step: what they assign to Outputs
    is published, an exception is a failure.
    """

    def __init__(
        self,
        name: str,
        log: FilteringBoundLogger,
        now: Callable[[], float],
        send: Callable[..., None],
    ) -> None:
        self.name = name
        self.log = log
        self.now = now
        self.send = send
        self.trigger: str | None = None
        self.topic: str | None = None
        #: The sender and sequence number of the message that runs the current step.
        self.sender: str | None = None
        self.seq = 0
        #: The caller of the request a service handler is serving now (else None).
        self.caller: str | None = None
        #: Under fault injection with ``link`` rules: what a HAL link's chunk of bytes
        #: becomes (``link_fault("rx" | "tx", data)``: bytes, None to lose it, or
        #: ``"unplug"``); None otherwise (see :mod:`actors.faulty`).
        self.link_fault: Callable[[str, bytes], bytes | str | None] | None = None
        self.log_dir: str | None = None
        self.run_dir: str | None = None
        self.watch: Callable[..., None] = _unsupported
        self.call_later: Callable[..., Any] = _unsupported
        #: Seed of :attr:`random` (None: from the OS); made on first use, so that an
        #: actor that draws nothing carries no generator.
        self.seed: int | None = None
        self._random: random.Random | None = None
        #: Asks the supervisor ``ask(op, actor, timeout)`` (set by the engine when the
        #: site gives this actor control rights).
        self.ask: Callable[[str, str, float | None], dict[str, Any]] | None = None

    def start(self, actor: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Start *actor* (if it is not running) and wait until it is ready."""
        return self._ask("start", actor, timeout)

    def stop(self, actor: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Stop *actor* for good (until started again) and wait until it has exited."""
        return self._ask("stop", actor, timeout)

    def restart(self, actor: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Stop *actor* and start it again; wait until its new process is ready."""
        return self._ask("restart", actor, timeout)

    def status(self, actor: str, *, timeout: float | None = None) -> dict[str, Any]:
        """*actor*'s status now, as the supervisor knows it."""
        return self._ask("status", actor, timeout)

    def _ask(self, op: str, actor: str, timeout: float | None) -> dict[str, Any]:
        if self.ask is None:
            raise Forbidden(
                f"actor {self.name!r} may not {op} other actors: site.toml gives it no "
                f"control rights (add control = [...] to [actors.{self.name}])"
            )
        return self.ask(op, actor, timeout)

    @property
    def random(self) -> random.Random:
        """The actor's random source (seeded with :attr:`seed`)."""
        if self._random is None:
            self._random = random.Random(self.seed)
        return self._random


def _unsupported(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("not available before the engine has set up the actor")


class Actor:
    """Base class of every actor. Subclass it, declare variables, implement ``step()``.

    Class attributes a subclass may set:

    ``period``
        seconds between periodic steps, or None (the site config may override it);
    ``step_on_input``
        whether a message on an Input runs ``step()`` (default True);
    ``version``
        the state layout version, for hot swap and durable State;
    ``durable_fallback``
        when stored durable State cannot be read or migrated: start from the
        defaults (True, with the error logged) or refuse to start (False);
    ``hal``
        True for an actor that owns hardware or a link to outside the site
        (a hardware boundary in the data dictionary and the dataflow graph).
    """

    period: ClassVar[float | None] = None
    step_on_input: ClassVar[bool] = True
    version: ClassVar[int] = 1
    durable_fallback: ClassVar[bool] = False
    hal: ClassVar[bool] = False

    _enlil_spec: ClassVar[ActorSpec]
    enlil: ActorContext

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._enlil_spec = build_spec(cls, _RESERVED)
        collect_services(cls, cls._enlil_spec)

    @classmethod
    def topics_from_params(cls, params: Mapping[str, Any]) -> dict[str, list[str]]:
        """Topics of Inputs and Outputs that the params decide: ``{name: [topic, ...]}``.

        For actors whose topics are configuration, like a bridge. An Input
        named here is fed by every listed topic (exact or ``prefix.*``)
        instead of its declared one; an Output named here publishes with
        ``self.enlil.send(name, value, topic=...)`` on any of them. *params*
        are the resolved params. The default: none.
        """
        return {}

    @classmethod
    def actors_from_params(cls, params: Mapping[str, Any]) -> dict[str, list[str]]:
        """Actors of the site that the resolved *params* name, by param key (``{"modes.run":
        ["pump"]}``): for an actor that starts and stops others, like a mode manager.

        ``check`` reports a name that is no actor of the site, and one that the
        actor's ``control`` rights do not let it start, stop and ask about. The
        default: none.
        """
        return {}

    @classmethod
    def boundary_from_params(cls, params: Mapping[str, Any]) -> list[Boundary]:
        """The messaging systems outside the site that this actor links it to, as the
        resolved *params* configure them (a bridge to an MQTT broker, a fieldbus): each
        with its topics mapped (see :mod:`actors.core.boundary`). The AsyncAPI document,
        the data dictionary and the graph show them. The default: none.
        """
        return []

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> list[str]:
        """Problems of the resolved *params* that their declarations cannot say, each as
        ``"KEY: reason"`` (a mapping whose entries must be topics, say).

        ``check`` and the start of the actor report them with the actor and the
        key named, before the constructor runs. The default: none.
        """
        return []

    def step(self) -> None:
        """Run once per input message and/or every ``period`` seconds.

        Runs in the actor's own process. An exception escaping it is an
        unanticipated failure: the runtime records it and exits non-zero, and
        the supervisor applies the restart policy.
        """

    def on_start(self) -> None:
        """Run once in the actor's process after it has connected, before it is ready.

        Outputs assigned here are published. An exception is an unanticipated failure.
        """

    def on_gap(self, input: str, sender: str, topic: str, missed: int) -> None:
        """Run when *missed* messages from *sender* on *topic* (the Input *input*) never came.

        Runs in the actor's process before the step of the message after the
        gap; optional. Gaps are counted per Input either way (``ctl status``).
        """

    @classmethod
    def migrate_state(cls, state: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Turn State saved by version *from_version* of this class into this version's.

        Called on hot swap (``ctl swap``) when the running version declares a
        different ``version``, and before ``on_start`` when the durable State
        stored by another ``version`` is read back (with only the durable
        values); the default keeps the state as it is. An exception rolls the
        swap back, or fails the start (see ``durable_fallback``).
        """
        return state

    def on_stop(self) -> None:
        """Run once in the actor's process when it is asked to stop (SIGTERM, Ctrl-C).

        Outputs assigned here are published before the sockets close. An
        exception is logged and the process exits non-zero.
        """


def spec_of(cls: type[Actor]) -> ActorSpec:
    """The declarations of an actor class."""
    return cls._enlil_spec


def instantiate(
    cls: type[Actor], params: dict[str, Any], context: ActorContext, dirty: set[str]
) -> Actor:
    """A new *cls* as its engine makes it: State at its defaults (copies), *params* bound,
    *context* as ``self.enlil`` and *dirty* collecting the Outputs assigned, then the
    class's own ``__init__`` run (with all of that in place)."""
    actor = cls.__new__(cls)
    actor.__dict__["_enlil_dirty"] = dirty
    for name, var in cls._enlil_spec.states.items():
        actor.__dict__[name] = copy.deepcopy(var.default)
    actor.__dict__.update(params)
    actor.enlil = context
    actor.__init__()  # type: ignore[misc]  # user __init__ runs with params already bound
    return actor
