"""The new version's side of a hot swap, inside the actor process (shell).

See :mod:`supervisor.swap` for the whole protocol. The new version starts
in standby: subscribed, holding every message, announcing itself; on
``takeover`` it adopts the old version's memory (through ``migrate_state``
when the versions differ) and sequence numbers and processes what the old
version had not. When each of these happens is the phase table's
(:mod:`actors.core.phases`: STANDBY, PROBATION); :class:`SwapIn` is the
collaborator of :class:`~actors.runtime.ActorProcess` that carries it out.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from actors.core.control import (
    SWAP_SUFFIX,
    Request,
    Standby,
    TookOver,
    swap_failure_name,
)
from actors.core.engine import ActorEngine, Outgoing
from actors.core.memory import handed_state_changes
from actors.core.topics import SYS_CONTROL, SYS_REPLY
from actors.link import BrokerLink, BrokerUnreachable
from actors.sockets import SocketFactory
from actors.transport import Transport

if TYPE_CHECKING:
    from actors.settings import RuntimeConfig

#: Seconds a failed new version tries to send its reason before it exits.
_REPORT_WAIT: Final = 1.0


@dataclass(slots=True)
class ControlTopics:
    """The topics an actor process takes requests on and answers on (a swap's new version
    has its own until it takes over)."""

    control: bytes
    reply: bytes

    @classmethod
    def of(cls, name: str, swap: bool) -> ControlTopics:
        """The topics of actor *name* (of its new version, when *swap*)."""
        suffix = SWAP_SUFFIX if swap else ""
        return cls((SYS_CONTROL + name + suffix).encode(), (SYS_REPLY + name + suffix).encode())


class SwapIn:
    """Standby, takeover and probation of a swap's new version.

    Handed the engine that takes over, the transport and the topics (which
    become the actor's own once it took over).
    """

    def __init__(
        self,
        config: RuntimeConfig,
        engine: ActorEngine,
        transport: Transport,
        topics: ControlTopics,
        log: Any,
    ) -> None:
        self.config = config
        self.engine = engine
        self.transport = transport
        self.topics = topics
        self.log = log
        self.version = getattr(engine.cls, "version", 1)
        #: The outputs a swapped-in version publishes first (None: not swapped in).
        self.taken_over: list[Outgoing] | None = None
        #: State names of the old version that this one does not keep (told to the supervisor).
        self.dropped: tuple[str, ...] = ()

    def announce(self) -> None:
        """Tell the supervisor this version is in standby (its pid, version and token)."""
        standby = Standby(pid=os.getpid(), version=self.version, token=self.config.swap)
        self.transport.publish(self.topics.reply.decode(), standby.encode())

    def take_over(self, request: Request, held: list[list[bytes]]) -> int:
        """Adopt the old version's memory and sequences; process what it had not. Returns
        how many held messages were processed (an exception: the swap fails)."""
        engine = self.engine
        memory = dict(request.memory or {})
        from_version = request.version
        cls = engine.cls
        migrated = from_version != self.version
        if migrated:
            state = dict(memory.get("state") or {})
            memory["state"] = cls.migrate_state(state, from_version)
        # A renamed or retyped State without a version bump fails the swap (StateMismatch).
        self.dropped = handed_state_changes(engine.spec, memory.get("state") or {}, migrated)
        if self.dropped:
            self.log.warning("state not kept by the new version", dropped=list(self.dropped))
        engine.keeper.restore(memory)
        engine.keeper.adopt_sequences(request.sequences or {})
        out: list[Outgoing] = []
        processed = 0
        for frames in held:
            if engine.keeper.handed_over(frames):
                continue  # the old version processed it before the handover
            out += engine.receive(frames)  # the first step: an exception rolls the swap back
            processed += 1
        self.taken_over = out
        return processed

    def first_step(self, frames: list[bytes]) -> bool:
        """Deliver a message on probation; whether a step has run (an exception: the swap
        fails)."""
        out = self.engine.receive(frames)
        self.taken_over = [*(self.taken_over or []), *out]
        return self.engine.statistics().steps > 0

    def took_over(self, processed: int) -> None:
        """Report success; from now on this process is the actor (its control topic too)."""
        name = self.config.name
        self.report(TookOver(ok=True, pid=os.getpid(), processed=processed, dropped=self.dropped))
        self.transport.unsubscribe(self.topics.control)
        taken = ControlTopics.of(name, swap=False)
        self.topics.control, self.topics.reply = taken.control, taken.reply
        self.transport.subscribe(self.topics.control)
        self.log.info("took over", processed=processed, version=self.version)

    def report(self, message: TookOver) -> None:
        """Tell the supervisor how the takeover went (``ok`` or the error)."""
        self.transport.publish(self.topics.reply.decode(), message.encode())


def report_swap_failure(config: RuntimeConfig, error: str) -> None:
    """Tell the supervisor why this new version cannot take over (it then rolls back): in a
    file it reads when it sees this process exit, and as a message (before the engine and
    the transport exist: the class cannot be loaded or made)."""
    if config.run_dir is not None:
        folder = config.run_dir / "actors"
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(
                folder / swap_failure_name(config.name, config.swap),
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                0o600,
            )
            try:
                os.write(fd, error.encode())
            finally:
                os.close(fd)
    sockets = SocketFactory(hwm=config.site.broker.hwm, keys=config.keys)
    link = BrokerLink(
        sockets, config.site.broker.pub_connect, config.site.broker.sub_connect, config.name
    )
    try:
        # Short: the file above already says it, the message only says it sooner.
        link.wait_connected(min(config.site.supervisor.ready_timeout, _REPORT_WAIT))
        reply = ControlTopics.of(config.name, swap=True).reply.decode()
        link.publish(reply, TookOver(ok=False, error=error).encode())
    except BrokerUnreachable:
        pass  # the supervisor sees the exit code instead
    finally:
        link.close(linger_ms=1000)
        sockets.close()
