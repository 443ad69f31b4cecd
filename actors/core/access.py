"""Who may publish and subscribe to what on a secured site (pure core, no IO).

Every connection to a secured site's broker has an identity, proven by its
CURVE key (see :mod:`actors.keys`): the supervisor, an actor, or a tool (a
person's or a program's key). :class:`Rights` says what one identity may do
with topics: the patterns it may publish and subscribe to, and the patterns
denied to it (deny wins). An actor's rights are its declarations (what it
publishes and reads, the services it serves and calls) plus its own framework
topics; a tool's come from its role and ``[security.access.NAME]``; only the
supervisor may publish on ``$sys.control.*`` and the supervisor's topics.

Subscriptions are ZeroMQ byte prefixes: :meth:`Rights.may_subscribe` allows a
prefix only if every topic it could deliver is allowed (a subscription to
``""`` needs ``*``; to ``a.`` needs ``a.*``; an exact topic ``a.b`` also
delivers ``a.bc``, which the subscriber's runtime discards: prefixes cannot be
narrower than that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from actors.core.calls import REPLY_PREFIX, SERVICE_PREFIX, SYS_SERVICES
from actors.core.control import SWAP_SUFFIX
from actors.core.reliable_wire import ACK_PREFIX, GAP_PREFIX, HEARTBEAT_PREFIX
from actors.core.topics import (
    SYS_CONTROL,
    SYS_EVENT,
    SYS_HEARTBEAT,
    SYS_PROBE,
    SYS_REPLY,
    SYS_RETAINED,
    TopicError,
    parse_pattern,
)

#: Roles of tools, weakest first: each has the rights of those before it.
ROLES: Final = ("read", "operate", "admin")
#: The identity of the supervisor (its key is ``supervisor`` in the key folder).
SUPERVISOR: Final = "supervisor"
#: The identity of the broker's own messages (its heartbeat), which never cross a socket.
BROKER: Final = "broker"
#: Kinds of identities, as the key folder sorts them.
ACTOR: Final = "actor"
TOOL: Final = "tool"
#: A machine of a site on several: its broker's link and its supervisor's calls to the
#: others connect with its host key.
HOST: Final = "host"
#: Names no actor or tool key may take.
RESERVED: Final = frozenset({SUPERVISOR, BROKER, "site", "server"})
SYS_LOG: Final = "$sys.log."
SYS_STATUS: Final = "$sys.status."
SYS_FAULT: Final = "$sys.fault"
#: The supervisor's access table, which the broker applies (supervisor only).
SYS_ACCESS: Final = "$sys.access"


#: What an actor may ask the supervisor about another actor (``[actors.NAME] control``).
CONTROL_OPS: Final = ("start", "stop", "restart", "status")
#: In a ``control`` list: every actor of the site.
EVERY_ACTOR: Final = "*"


@dataclass(frozen=True)
class ControlRights:
    """Which actors one actor may start, stop, restart or ask the status of, through
    the supervisor (``[actors.NAME] control``): ``targets[op]`` names the actors, or
    holds ``"*"`` for every actor. An actor has none unless site.toml gives them, and
    never the admin ops (add, remove, swap, shutdown)."""

    targets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any) -> tuple[ControlRights, list[str]]:
        """Rights from site.toml's value: a list of actor names (every op on them), or a
        table ``{op: [names]}``. Returns them and the problems, each ``"KEY: reason"``
        (``""`` for the key itself)."""
        problems: list[str] = []
        if isinstance(value, list):
            table: Mapping[str, Any] = dict.fromkeys(CONTROL_OPS, value)
            where = dict.fromkeys(CONTROL_OPS, "")
        elif isinstance(value, Mapping):
            table, where = value, {op: f".{op}" for op in value}
        else:
            return cls(), [f": must be a list of actor names or a table of ops, got {value!r}"]
        targets: dict[str, tuple[str, ...]] = {}
        for op, names in table.items():
            if op not in CONTROL_OPS:
                problems.append(f".{op}: unknown op (an actor may ask: {', '.join(CONTROL_OPS)})")
                continue
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                problems.append(f"{where[op]}: must be a list of actor names, got {names!r}")
                continue
            targets[op] = tuple(dict.fromkeys(names))
        return cls(targets), list(dict.fromkeys(problems))

    def allows(self, op: str, actor: str) -> bool:
        """Whether these rights let the actor ask *op* on *actor*."""
        names = self.targets.get(op, ())
        return EVERY_ACTOR in names or actor in names

    def named(self) -> set[str]:
        """Every actor named (``"*"`` left out)."""
        return {n for names in self.targets.values() for n in names if n != EVERY_ACTOR}

    def __bool__(self) -> bool:
        return any(self.targets.values())


class AccessError(ValueError):
    """A rule of ``[security]`` is not well formed; the message names the pattern."""


def _patterns(texts: Iterable[str]) -> tuple[str, ...]:
    out = []
    for text in texts:
        try:
            parse_pattern(text)
        except TopicError as exc:
            raise AccessError(f"pattern {text!r}: {exc}") from None
        out.append(text)
    return tuple(dict.fromkeys(out))


def _prefix_allowed(prefix: str, pattern: str) -> bool:
    """Whether every topic a subscription to byte prefix *prefix* can deliver matches
    *pattern*."""
    parsed = parse_pattern(pattern)
    if parsed.exact:
        return prefix == parsed.prefix
    return prefix.startswith(parsed.prefix)


def _prefix_touches(prefix: str, pattern: str) -> bool:
    """Whether a subscription to *prefix* can deliver a topic matching *pattern*."""
    parsed = parse_pattern(pattern)
    if parsed.exact:
        return parsed.prefix.startswith(prefix)
    return prefix.startswith(parsed.prefix) or parsed.prefix.startswith(prefix)


@dataclass(frozen=True)
class Rights:
    """The topics one identity may publish and subscribe to; a deny wins over an allow."""

    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    deny_publish: tuple[str, ...] = ()
    deny_subscribe: tuple[str, ...] = ()
    #: May publish any of the site's own topics (those not starting with ``$``).
    site_topics: bool = False

    @classmethod
    def of(
        cls,
        publish: Iterable[str] = (),
        subscribe: Iterable[str] = (),
        deny_publish: Iterable[str] = (),
        deny_subscribe: Iterable[str] = (),
        *,
        site_topics: bool = False,
    ) -> Rights:
        """Rights from pattern texts (AccessError names a bad one)."""
        return cls(
            _patterns(publish),
            _patterns(subscribe),
            _patterns(deny_publish),
            _patterns(deny_subscribe),
            site_topics,
        )

    def may_publish(self, topic: str) -> bool:
        """Whether a message on *topic* from this identity is delivered."""
        if any(parse_pattern(d).matches(topic) for d in self.deny_publish):
            return False
        if self.site_topics and not topic.startswith("$"):
            return True
        return any(parse_pattern(p).matches(topic) for p in self.publish)

    def may_subscribe(self, prefix: str) -> bool:
        """Whether this identity may subscribe to the ZeroMQ byte prefix *prefix*."""
        if any(_prefix_touches(prefix, d) for d in self.deny_subscribe):
            return False
        return any(_prefix_allowed(prefix, p) for p in self.subscribe)

    def __or__(self, other: Rights) -> Rights:
        def both(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(a + b))

        return Rights(
            both(self.publish, other.publish),
            both(self.subscribe, other.subscribe),
            both(self.deny_publish, other.deny_publish),
            both(self.deny_subscribe, other.deny_subscribe),
            self.site_topics or other.site_topics,
        )

    def encode(self) -> dict[str, Any]:
        """The rights as a msgpack-able map."""
        return {
            **{key: list(getattr(self, key)) for key in _LISTS},
            "site_topics": self.site_topics,
        }

    @classmethod
    def decode(cls, data: Any) -> Rights:
        """Rights from :meth:`encode`'s map (AccessError when it is not one)."""
        if not isinstance(data, Mapping):
            raise AccessError("rights must be a map")
        lists = []
        for key in _LISTS:
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise AccessError(f"rights.{key} must be a list of patterns")
            lists.append(value)
        return cls.of(*lists, site_topics=data.get("site_topics") is True)


_LISTS: Final = ("publish", "subscribe", "deny_publish", "deny_subscribe")
#: What every identity may do: probe its own link through the broker.
_EVERYONE: Final = Rights.of(publish=[SYS_PROBE + "*"], subscribe=[SYS_PROBE + "*"])
#: The supervisor may do everything.
SUPERVISOR_RIGHTS: Final = Rights.of(publish=["*"], subscribe=["*"])
#: Topics only the supervisor publishes (a tool's role never reaches them).
SUPERVISOR_TOPICS: Final = (
    SYS_CONTROL + "*",
    SYS_EVENT,
    SYS_SERVICES,
    SYS_RETAINED + "*",
    SYS_ACCESS,
)


#: Framework topics a built-in actor may declare as Outputs (the log and status actors
#: republish every process's records and status); no other actor's ``$`` Output is granted.
ACTOR_FRAMEWORK_OUTPUTS: Final = ("$sys.log.*", "$sys.status.*")
#: Where the built-in actors' classes live.
BUILTIN_PREFIX: Final = "actors.builtin:"
#: The supervisor's own service (its control calls); only the supervisor serves it.
SUPERVISOR_SERVICE: Final = SERVICE_PREFIX + "supervisor"


@dataclass(frozen=True)
class ActorAccess:
    """What an actor declares that its rights come from (its resolved topics)."""

    #: Topics or families (``a.*``) its Outputs publish.
    outputs: tuple[str, ...] = ()
    #: Topics or families its Inputs read.
    inputs: tuple[str, ...] = ()
    #: Services it serves (requests to it, replies from it).
    serves: tuple[str, ...] = ()
    #: Services it calls.
    calls: tuple[str, ...] = ()
    #: A built-in actor (:data:`BUILTIN_PREFIX`): its framework Outputs are granted.
    builtin: bool = False


def actor_rights(
    name: str,
    declared: ActorAccess,
    extra: Rights | None = None,
    site: Mapping[str, ActorAccess] | None = None,
) -> Rights:
    """An actor's rights: its declarations and its own framework topics.

    It publishes its Outputs, its heartbeat, log, status and replies to the
    supervisor, its fault ledger, its requests to the services it calls and,
    when it serves, replies to its callers; it reads its Inputs, the
    supervisor's requests to it, the replies to its own calls, the requests
    to its services and the directory of services. *extra* is what the site
    allows more (``[security.access.NAME]``). *site* is every actor's
    declarations: a server may then reply (``$rsp.X``) to the actors that call
    one of its services and to tools, never to another actor.
    """
    publish = [
        *(
            t
            for t in declared.outputs
            if t[:1] != "$" or (declared.builtin and t in ACTOR_FRAMEWORK_OUTPUTS)
        ),
        SYS_HEARTBEAT + name,
        SYS_LOG + name,
        SYS_STATUS + name,
        SYS_REPLY + name,
        SYS_REPLY + name + SWAP_SUFFIX,
        SYS_RETAINED + name,
        SYS_FAULT,
        *(SERVICE_PREFIX + s for s in declared.calls),
        # Reliable topics: Acks to any writer, Gaps to any reader (each names its sender,
        # which the broker checks, and its receiver checks that it is the one it names).
        ACK_PREFIX + "*",
        GAP_PREFIX + "*",
        *(HEARTBEAT_PREFIX + t for t in declared.outputs if t[:1] != "$"),
    ]
    subscribe = [
        *declared.inputs,
        SYS_CONTROL + name,
        SYS_CONTROL + name + SWAP_SUFFIX,
        REPLY_PREFIX + name,
        ACK_PREFIX + name,
        GAP_PREFIX + name,
        *(HEARTBEAT_PREFIX + t for t in declared.inputs if t[:1] != "$"),
    ]
    deny: list[str] = []
    if declared.serves:
        publish.append(REPLY_PREFIX + "*")
        subscribe += [SERVICE_PREFIX + s for s in declared.serves]
        served = set(declared.serves)
        deny += [
            REPLY_PREFIX + other
            for other, theirs in (site or {}).items()
            if not served.intersection(theirs.calls)
        ]
    if declared.calls:
        subscribe.append(SYS_SERVICES)
    rights = _EVERYONE | Rights.of(publish, subscribe, deny)
    if extra is not None:
        rights = rights | extra
    # Whatever the site's rules add: never the supervisor's topics, nor its service unless
    # site.toml gave the actor control rights (then its calls are in ``declared.calls``).
    never = [t for t in SUPERVISOR_TOPICS if t != SYS_RETAINED + "*"]
    if not any(c.startswith("supervisor") for c in declared.calls):
        never += [SUPERVISOR_SERVICE, SUPERVISOR_SERVICE + ".*"]
    return rights | Rights.of(deny_publish=never)


def tool_rights(name: str, role: str, extra: Rights | None = None) -> Rights:
    """A tool's rights from its *role*: ``read`` subscribes to everything (``tap``,
    ``record``, the web view's reading) and asks the supervisor for retained values on
    its own ``$sys.retained.NAME``; ``operate`` and ``admin`` also publish on the site's
    own topics (``pub``) and call its services (``call``). None publishes on the
    framework's other ``$sys`` topics but for its probes. *extra* adds
    ``[security.access.NAME]``'s rules; the supervisor's topics stay denied."""
    rights = _EVERYONE | Rights.of(publish=[SYS_RETAINED + name], subscribe=["*"])
    if ROLES.index(role) >= ROLES.index("operate"):
        rights = rights | Rights.of(
            publish=[SERVICE_PREFIX + "*"], subscribe=[REPLY_PREFIX + name], site_topics=True
        )
    if extra is not None:
        rights = rights | extra
    denied = [t for t in SUPERVISOR_TOPICS if t != SYS_RETAINED + "*"]
    return rights | Rights.of(deny_publish=denied)


@dataclass(frozen=True)
class AccessTable:
    """What the broker checks: each actor's rights (from the supervisor), and the
    tools' (from their roles and the site's rules)."""

    actors: dict[str, Rights] = field(default_factory=dict)
    tools: dict[str, Rights] = field(default_factory=dict)
    #: Role of a tool key not named in the table (the site's default).
    default_role: str = "read"
    version: int = 0

    def rights(self, kind: str, name: str) -> Rights | None:
        """The rights of identity *name* of *kind*; None when it has none (an actor the
        table does not know yet, a tool key named like an actor)."""
        if kind == ACTOR:
            return self.actors.get(name)
        if kind == TOOL:
            if name in self.actors:
                return None
            known = self.tools.get(name)
            return known if known is not None else tool_rights(name, self.default_role)
        if name == SUPERVISOR:
            return SUPERVISOR_RIGHTS
        return None

    def encode(self) -> dict[str, Any]:
        """The table as a msgpack-able map (the supervisor sends it on ``$sys.access``)."""
        return {
            "version": self.version,
            "actors": {n: r.encode() for n, r in self.actors.items()},
            "tools": {n: r.encode() for n, r in self.tools.items()},
            "default_role": self.default_role,
        }

    @classmethod
    def decode(cls, data: Any) -> AccessTable:
        """A table from :meth:`encode`'s map (AccessError when it is not one)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("version"), int):
            raise AccessError("access table must be a map with an integer version")
        parts = []
        for key in ("actors", "tools"):
            value = data.get(key, {})
            if not isinstance(value, Mapping):
                raise AccessError(f"access.{key} must be a map")
            parts.append({str(n): Rights.decode(r) for n, r in value.items()})
        role = data.get("default_role", "read")
        if role not in ROLES:
            raise AccessError(f"access.default_role {role!r} is not a role")
        return cls(parts[0], parts[1], role, data["version"])
