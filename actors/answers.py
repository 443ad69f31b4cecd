"""An actor process answering its supervisor: snapshot, log levels, the old side of a swap (shell).

Requests come on ``$sys.control.<name>`` as :class:`~actors.core.control.Request`
records and are answered on ``$sys.reply.<name>``; a repeated request id gets
the first answer again (the supervisor resends until it hears back), never a
second snapshot. Only a well-formed request whose envelope names the
supervisor as sender is served (a checked site's broker guarantees the
name); anything else is counted (``control_rejected``) and ignored.
:class:`ControlAnswers` is that part of :class:`~actors.runtime.ActorProcess`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from actors.core.access import SUPERVISOR
from actors.core.control import Op, Reply, Request, decode_request
from actors.core.engine import ActorEngine, Outgoing
from actors.core.faults import FaultError
from actors.core.requests import ReplyCache
from actors.core.wire import WireError, decode_message

#: Messages a paused actor (handing over to a new version) keeps, at most.
MAX_HELD: Final = 200_000


class ControlAnswers:
    """Answers the supervisor's requests (a mixin of the runtime)."""

    cls: type | None
    log: Any
    logging: Any
    reply_topic: bytes
    paused: bool
    held: list[list[bytes]]
    held_dropped: int
    control_rejected: int
    swapped_out: bool
    _replies: ReplyCache[Reply]
    # Given by the runtime: put the site's fault rules in force now (``ctl fault``).
    set_faults: Callable[[ActorEngine, dict[str, Any]], int]

    def write_snapshot(
        self, engine: ActorEngine, reason: str, exc: BaseException | None = None
    ) -> Path | None:
        raise NotImplementedError

    def hold(self, frames: list[bytes]) -> None:
        """Keep a message while paused by a handover, up to :data:`MAX_HELD` (then drop and
        count it: a pause that never ends must not take all memory)."""
        if len(self.held) < MAX_HELD:
            self.held.append(frames)
        else:
            self.held_dropped += 1

    def _from_supervisor(self, frames: list[bytes]) -> Any:
        """The payload of a control message if it is well formed and the supervisor sent
        it, else None (counted in ``control_rejected``: never acted upon)."""
        try:
            message = decode_message(frames)
        except WireError:
            message = None
        if message is None or message.envelope.sender != SUPERVISOR:
            self.control_rejected += 1
            return None
        return message.envelope.payload

    def _control(self, engine: ActorEngine, frames: list[bytes]) -> list[Outgoing]:
        """Answer a request from the supervisor on ``$sys.control.<name>``."""
        payload = self._from_supervisor(frames)
        if payload is None:
            return []
        try:
            request = decode_request(payload)
        except WireError:
            self.control_rejected += 1
            return []
        if not isinstance(request, Request):
            return []  # retained values come before on_start; a late copy is ignored
        cached = self._replies.get(request.id)
        if cached is not None:  # a retry of a request already served: same answer, no redo
            return [engine.publish(self.reply_topic, cached.encode())]
        if request.pid is not None and request.pid != os.getpid():
            return []  # a swap step meant for the other version of this actor
        out: list[Outgoing] = []
        reply = self._answer(engine, request, out)
        self._replies.put(request.id, reply)
        return [engine.publish(self.reply_topic, reply.encode()), *out]

    def _answer(self, engine: ActorEngine, request: Request, out: list[Outgoing]) -> Reply:
        """Carry out *request*; its reply (what a resumed step sends goes to *out*)."""
        op, rid = request.op, request.id
        if op is Op.SNAPSHOT:
            path = self.write_snapshot(engine, "on_demand")
            return Reply(op, rid, path is not None, result={"path": str(path) if path else None})
        if op is Op.LOGLEVEL:
            try:
                levels = self.logging.set_levels(request.level, request.otel)
            except ValueError as exc:
                return Reply(op, rid, False, error=str(exc))
            self.log.info("log levels changed", **levels)
            return Reply(op, rid, True, result=levels)  # as the supervisor's own: local, otel
        if op is Op.HANDOVER:
            # Between two steps by construction: hand the state over and hold what comes.
            self.paused = True
            self.log.info("handing over to a new version")
            memory = {
                "memory": engine.keeper.memory(),
                "sequences": engine.keeper.sequences(),
                "version": getattr(self.cls, "version", 1),
            }
            return Reply(op, rid, True, result=memory)
        if op is Op.RESUME:
            # The new version failed: carry on from where we stopped, the held messages first.
            self.paused = False
            held, self.held = self.held, []
            self.log.warning("swap rolled back; resuming", held=len(held))
            for message in held:
                out += engine.receive(message)
            return Reply(op, rid, True, result={"held": len(held)})
        if op is Op.COMMIT:
            self.swapped_out = True  # the new version runs: leave without on_stop
            return Reply(op, rid, True)
        if op is Op.FAULTS and request.faults is not None:
            try:
                rules = self.set_faults(engine, request.faults)
            except (FaultError, TypeError, ValueError) as exc:
                return Reply(op, rid, False, error=str(exc))
            return Reply(op, rid, True, result={"rules": rules})
        return Reply(op, rid, False, error=f"unknown op {str(op)!r}")
