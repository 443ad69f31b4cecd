"""The new version's side of a hot swap, inside the actor process (shell).

See :mod:`supervisor.swap` for the whole protocol. The new version starts
in standby: subscribed, holding every message, announcing itself; on
``takeover`` it adopts the old version's memory (through ``migrate_state``
when the versions differ) and sequence numbers and processes what the old
version had not. :class:`SwapIn` is the part of
:class:`~actors.runtime.ActorProcess` that does this.
"""

from __future__ import annotations

import contextlib
import os
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from actors.core.control import (
    SWAP_SUFFIX,
    Exit,
    Op,
    Request,
    Standby,
    TookOver,
    decode_request,
    swap_failure_name,
)
from actors.core.engine import ActorEngine, Outgoing
from actors.core.memory import handed_state_changes
from actors.core.topics import SYS_CONTROL, SYS_REPLY
from actors.core.wire import WireError, decode_message
from actors.link import BrokerLink, BrokerUnreachable
from actors.sockets import SocketFactory
from actors.transport import Transport

if TYPE_CHECKING:
    from actors.settings import RuntimeConfig

EXIT_FAILURE: Final = Exit.FAILURE
_STANDBY_LIMIT: Final = 120.0  # seconds a new version waits for its takeover
#: Seconds a failed new version tries to send its reason before it exits.
_REPORT_WAIT: Final = 1.0
_STANDBY_ANNOUNCE: Final = 0.5
_STANDBY_HOLD: Final = 200_000  # messages held before the takeover, at most
_PROBATION: Final = 1.0  # seconds a new version with nothing processed waits for a first step


class Phase(StrEnum):
    """Where an actor process is before and while it runs (one loop serves them all)."""

    #: Waiting for the last values of its retained inputs, before on_start.
    PRIMING = "priming"
    #: A swap's new version: subscribed, holding every message, waiting for ``takeover``.
    STANDBY = "standby"
    #: Took over with nothing processed: its first step must succeed (or time pass).
    PROBATION = "probation"
    #: Ready to start: on_start (or the swapped-in outputs) comes next.
    STARTING = "starting"
    RUNNING = "running"


class SwapIn:
    """Standby, takeover and probation of a swap's new version (a mixin of the runtime)."""

    config: RuntimeConfig
    cls: type | None
    log: Any
    control_topic: bytes
    reply_topic: bytes
    transport: Transport
    phase: Phase
    _phase_deadline: float
    #: The outputs a swapped-in version publishes first (None: not swapped in; on_start runs).
    taken_over: list[Outgoing] | None = None
    #: State names of the old version that this one does not keep (told to the supervisor).
    dropped: tuple[str, ...] = ()

    def _begin_standby(self) -> None:
        """Enter standby: announce this version, hold every message, wait for ``takeover``."""
        self.phase = Phase.STANDBY
        self._announce = Standby(
            pid=os.getpid(), version=getattr(self.cls, "version", 1), token=self.config.swap
        ).encode()
        self._announce_at = 0.0
        self._phase_deadline = time.monotonic() + _STANDBY_LIMIT
        self._held_for_takeover: list[list[bytes]] = []

    def _standby_due(self, now: float) -> float | Exit:
        """Announce again, end probation, or give up; when next due (or an exit code)."""
        if self.phase is Phase.PROBATION:
            if now >= self._phase_deadline:
                self._took_over(self.taken_over or [], 0)  # no message came: nothing to try
                return now
            return self._phase_deadline
        if now >= self._phase_deadline:
            self.log.error("no takeover came", waited=_STANDBY_LIMIT)
            return EXIT_FAILURE
        if now >= self._announce_at:
            self.transport.publish(self.reply_topic.decode(), self._announce)
            self._announce_at = now + _STANDBY_ANNOUNCE
        return min(self._announce_at, self._phase_deadline)

    def _standby_message(self, engine: ActorEngine, frames: list[bytes]) -> Exit | None:
        """A message in standby or on probation; an exit code when the swap fails here."""
        if frames[0] != self.control_topic:
            if self.phase is Phase.STANDBY:
                held = self._held_for_takeover
                held.append(frames)
                if len(held) <= _STANDBY_HOLD:
                    return None
                error = f"more than {_STANDBY_HOLD} messages arrived before the takeover"
                self._report_takeover(TookOver(ok=False, error=error))
                return EXIT_FAILURE
            try:  # the first step, on probation
                out = engine.receive(frames)
            except Exception as exc:
                self.log.exception("the new version failed in its first step")
                self._report_takeover(TookOver(ok=False, error=f"{type(exc).__name__}: {exc}"))
                return EXIT_FAILURE
            self.taken_over = [*(self.taken_over or []), *out]
            if engine.statistics().steps:
                self._took_over(self.taken_over, 1)
            return None
        try:
            request = decode_request(decode_message(frames).envelope.payload)
        except WireError:
            return None
        if not isinstance(request, Request) or request.op is not Op.TAKEOVER:
            return None
        if self.phase is not Phase.STANDBY:
            return None
        try:
            out, processed = self._take_over(engine, request, self._held_for_takeover)
        except Exception as exc:
            self.log.exception("the new version failed to take over")
            self._report_takeover(TookOver(ok=False, error=f"{type(exc).__name__}: {exc}"))
            return EXIT_FAILURE
        self._held_for_takeover = []
        if processed:
            self._took_over(out, processed)
        else:  # nothing held to try: on probation until a first step (or its end)
            self.taken_over = out
            self.phase = Phase.PROBATION
            self._phase_deadline = time.monotonic() + _PROBATION
        return None

    def _took_over(self, out: list[Outgoing], processed: int) -> None:
        """Report success; from now on this process is the actor (its control topic too)."""
        cfg = self.config
        self._report_takeover(
            TookOver(ok=True, pid=os.getpid(), processed=processed, dropped=self.dropped)
        )
        self.transport.unsubscribe(self.control_topic)
        self.control_topic = (SYS_CONTROL + cfg.name).encode()
        self.reply_topic = (SYS_REPLY + cfg.name).encode()
        self.transport.subscribe(self.control_topic)
        self.log.info("took over", processed=processed, version=getattr(self.cls, "version", 1))
        self.taken_over = out
        self.phase = Phase.STARTING

    def _report_takeover(self, message: TookOver) -> None:
        """Tell the supervisor how the takeover went (``ok`` or the error)."""
        self.transport.publish(self.reply_topic.decode(), message.encode())

    def _report_swap_failure(self, error: str) -> None:
        """Tell the supervisor why this new version cannot take over (it then rolls back):
        in a file it reads when it sees this process exit, and as a message."""
        cfg = self.config
        if cfg.run_dir is not None:
            folder = cfg.run_dir / "actors"
            with contextlib.suppress(OSError):
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(
                    folder / swap_failure_name(cfg.name, cfg.swap),
                    os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                    0o600,
                )
                try:
                    os.write(fd, error.encode())
                finally:
                    os.close(fd)
        sockets = SocketFactory(hwm=cfg.hwm, keys=cfg.keys)
        link = BrokerLink(sockets, cfg.pub_endpoint, cfg.sub_endpoint, cfg.name)
        try:
            # Short: the file above already says it, the message only says it sooner.
            link.wait_connected(min(cfg.connect_timeout, _REPORT_WAIT))
            self.reply_topic = (SYS_REPLY + cfg.name + SWAP_SUFFIX).encode()
            self._swap_reply(link, TookOver(ok=False, error=error))
        except BrokerUnreachable:
            pass  # the supervisor sees the exit code instead
        finally:
            link.close(linger_ms=1000)
            sockets.close()

    def _swap_reply(self, link: BrokerLink, message: TookOver) -> None:
        link.publish(self.reply_topic.decode(), message.encode())

    def _take_over(
        self, engine: ActorEngine, request: Request, held: list[list[bytes]]
    ) -> tuple[list[Outgoing], int]:
        """Adopt the old version's memory and sequences; process what it had not."""
        memory = dict(request.memory or {})
        from_version = request.version
        cls = self.cls
        assert cls is not None
        migrated = from_version != getattr(cls, "version", 1)
        if migrated:
            state = dict(memory.get("state") or {})
            memory["state"] = cls.migrate_state(state, from_version)  # type: ignore[attr-defined]
        # A renamed or retyped State without a version bump fails the swap (StateMismatch).
        self.dropped = handed_state_changes(
            cls._enlil_spec,  # type: ignore[attr-defined]
            memory.get("state") or {},
            migrated,
        )
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
        return out, processed
