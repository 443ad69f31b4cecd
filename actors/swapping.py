"""The new version's side of a hot swap, inside the actor process (shell).

See :mod:`supervisor.swap` for the whole protocol. The new version starts
in standby: subscribed, holding every message, announcing itself; on
``takeover`` it adopts the old version's memory (through ``migrate_state``
when the versions differ) and sequence numbers and processes what the old
version had not. :class:`SwapIn` is the part of
:class:`~actors.runtime.ActorProcess` that does this.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Final

from actors.core.control import SWAP_SUFFIX, Exit, Op, Request, Standby, TookOver, decode_request
from actors.core.engine import ActorEngine, Outgoing
from actors.core.topics import SYS_CONTROL, SYS_REPLY
from actors.core.wire import WireError, decode_message
from actors.link import BrokerLink, BrokerUnreachable
from actors.process import SignalWakeup
from actors.sockets import SocketFactory
from actors.transport import Transport

if TYPE_CHECKING:
    from actors.settings import RuntimeConfig

EXIT_OK: Final = Exit.OK
EXIT_FAILURE: Final = Exit.FAILURE
_STANDBY_LIMIT: Final = 120.0  # seconds a new version waits for its takeover
_STANDBY_ANNOUNCE: Final = 0.5
_STANDBY_HOLD: Final = 200_000  # messages held before the takeover, at most
_PROBATION: Final = 1.0  # seconds a new version with nothing processed waits for a first step


class SwapIn:
    """Standby, takeover and probation of a swap's new version."""

    config: RuntimeConfig
    cls: type | None
    log: Any
    control_topic: bytes
    reply_topic: bytes
    transport: Transport

    def _standby(
        self, engine: ActorEngine, link: BrokerLink, wakeup: SignalWakeup
    ) -> int | list[Outgoing]:
        """The new version of a hot swap: subscribed, holding messages, until it takes over.

        Announces itself to the supervisor, keeps every message that arrives,
        and on ``takeover`` adopts the old version's memory (through
        ``migrate_state`` when the versions differ) and sequence numbers, then
        processes the held messages the old version had not processed, its
        outputs kept back. Returns those outputs (the caller publishes them:
        the old version stopped publishing at the handover), or an exit code
        when the swap is aborted or fails here (the old version then resumes).
        """
        cfg = self.config
        version = getattr(self.cls, "version", 1)
        announce = Standby(pid=os.getpid(), version=version, token=cfg.swap).encode()
        held: list[list[bytes]] = []
        transport = self.transport
        next_announce = 0.0
        deadline = time.monotonic() + _STANDBY_LIMIT
        # After the takeover, with nothing yet processed: on probation until a first step.
        probation: float | None = None
        out: list[Outgoing] = []
        while time.monotonic() < deadline:
            now = time.monotonic()
            if probation is not None and now >= probation:
                return self._took_over(link, out, 0)  # no message came: nothing to try
            if probation is None and now >= next_announce:
                transport.publish(self.reply_topic.decode(), announce)
                next_announce = now + _STANDBY_ANNOUNCE
            if wakeup.received and wakeup.drain():
                return EXIT_OK
            wait = (probation if probation is not None else next_announce) - now
            if not transport.wait(wait):
                continue
            frames = transport.receive()
            if frames is None:
                continue
            if frames[0] != self.control_topic:
                if probation is None:
                    held.append(frames)
                    if len(held) <= _STANDBY_HOLD:
                        continue
                    error = f"more than {_STANDBY_HOLD} messages arrived before the takeover"
                    self._swap_reply(link, TookOver(ok=False, error=error))
                    return EXIT_FAILURE
                try:  # the first step, on probation
                    out += engine.receive(frames)
                except Exception as exc:
                    self.log.exception("the new version failed in its first step")
                    self._swap_reply(link, TookOver(ok=False, error=f"{type(exc).__name__}: {exc}"))
                    return EXIT_FAILURE
                if engine.statistics().steps:
                    return self._took_over(link, out, 1)
                continue
            try:
                request = decode_request(decode_message(frames).envelope.payload)
            except WireError:
                continue
            if not isinstance(request, Request) or request.op is not Op.TAKEOVER:
                continue
            if probation is not None:
                continue
            try:
                out, processed = self._take_over(engine, request, held)
            except Exception as exc:
                self.log.exception("the new version failed to take over")
                self._swap_reply(link, TookOver(ok=False, error=f"{type(exc).__name__}: {exc}"))
                return EXIT_FAILURE
            held = []
            if processed:
                return self._took_over(link, out, processed)
            probation = time.monotonic() + _PROBATION
        self.log.error("no takeover came", waited=_STANDBY_LIMIT)
        return EXIT_FAILURE

    def _took_over(self, link: BrokerLink, out: list[Outgoing], processed: int) -> list[Outgoing]:
        """Report success; from now on this process is the actor (its control topic too)."""
        cfg = self.config
        self._swap_reply(link, TookOver(ok=True, pid=os.getpid(), processed=processed))
        self.transport.unsubscribe(self.control_topic)
        self.control_topic = (SYS_CONTROL + cfg.name).encode()
        self.reply_topic = (SYS_REPLY + cfg.name).encode()
        self.transport.subscribe(self.control_topic)
        self.log.info("took over", processed=processed, version=getattr(self.cls, "version", 1))
        return out

    def _report_swap_failure(self, error: str) -> None:
        """Tell the supervisor why this new version cannot take over (it then rolls back)."""
        cfg = self.config
        sockets = SocketFactory(hwm=cfg.hwm)
        link = BrokerLink(sockets, cfg.pub_endpoint, cfg.sub_endpoint, cfg.name)
        try:
            link.wait_connected(cfg.connect_timeout)
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
        if from_version != getattr(cls, "version", 1):
            state = dict(memory.get("state") or {})
            memory["state"] = cls.migrate_state(state, from_version)  # type: ignore[attr-defined]
        engine.restore(memory)
        engine.adopt_sequences(request.sequences or {})
        out: list[Outgoing] = []
        processed = 0
        for frames in held:
            if engine.handed_over(frames):
                continue  # the old version processed it before the handover
            out += engine.receive(frames)  # the first step: an exception rolls the swap back
            processed += 1
        return out, processed
