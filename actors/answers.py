"""An actor process answering its supervisor: snapshot, log levels, fault rules, the old side
of a swap (shell).

Requests come on ``$sys.control.<name>`` as :class:`~actors.core.control.Request`
records and are answered on ``$sys.reply.<name>``; a repeated request id gets
the first answer again (the supervisor resends until it hears back), never a
second snapshot. Only a well-formed request whose envelope names the
supervisor as sender is served (a checked site's broker guarantees the
name); anything else is counted (``control_rejected``) and ignored.
:class:`ControlDesk` is the collaborator of :class:`~actors.runtime.ActorProcess`
that reads these messages into the inputs of :mod:`actors.core.phases` and
carries out the requests the phase table says to answer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from actors.core.access import SUPERVISOR
from actors.core.control import Op, Readers, Reply, Request, Retained, decode_request
from actors.core.engine import ActorEngine, Outgoing
from actors.core.faults import FaultError
from actors.core.phase_events import Control, RetainedValues
from actors.core.requests import ReplyCache
from actors.core.wire import WireError, decode_message
from actors.swapping import ControlTopics

#: Answers kept for repeated request ids.
_REPLIES: Final = 16


class ControlDesk:
    """Reads the supervisor's control messages and answers its requests.

    Handed the engine (memory for a handover), the topics it answers on (they
    change when a swap's new version takes over), the snapshot writer, the
    log setup and the fault rules' setter.
    """

    def __init__(  # noqa: PLR0913 - the parts it is handed, each by name
        self,
        engine: ActorEngine,
        topics: ControlTopics,
        *,
        logging: Any,
        log: Any,
        snapshot: Callable[[str], Path | None],
        set_faults: Callable[[dict[str, Any]], int],
        redeliver: Callable[[], dict[str, Any]],
        store: Callable[[], object] = lambda: None,
    ) -> None:
        self.engine = engine
        self.topics = topics
        self.logging = logging
        self.log = log
        self._snapshot = snapshot
        self._set_faults = set_faults
        self._redeliver = redeliver
        #: Writes the durable State and its journals now (before a handover: the new
        #: version reads the reader's inbox and the writer's outbox from the store, which
        #: must then agree with the memory it is handed).
        self._store = store
        self._replies: ReplyCache[Reply] = ReplyCache(_REPLIES)
        #: Control messages not obeyed: malformed, or not from the supervisor.
        self.rejected = 0

    def read(self, frames: list[bytes]) -> tuple[Control | RetainedValues | None, list[Outgoing]]:
        """A control message as an input of the phase table (None: nothing to do), and what
        to send at once (the first answer again, for a repeated request)."""
        try:
            message = decode_message(frames)
        except WireError:
            message = None
        if message is None or message.envelope.sender != SUPERVISOR:
            self.rejected += 1
            return None, []
        try:
            request = decode_request(message.envelope.payload)
        except WireError:
            self.rejected += 1
            return None, []
        if isinstance(request, Retained):
            return RetainedValues(request.messages), []
        if isinstance(request, Readers):
            for topic, names in request.readers.items():
                self.engine.reliable.readers(topic, names)
            return None, []
        if not isinstance(request, Request):
            return None, []
        cached = self._replies.get(request.id)
        if cached is not None:  # a retry of a request already served: same answer, no redo
            return None, [self.engine.publish(self.topics.reply, cached.encode())]
        if request.pid is not None and request.pid != os.getpid():
            return None, []  # a swap step meant for the other version of this actor
        return Control(request), []

    def take_readers(self, frames: list[bytes]) -> bool:
        """Apply a reliable writer's reader lists now, even inside a hook that waits for
        room in a full window (which they may give); False for any other message."""
        if frames[0] != self.topics.control:
            return False
        try:
            message = decode_message(frames)
            request = decode_request(message.envelope.payload)
        except WireError:
            return False
        if message.envelope.sender != SUPERVISOR or not isinstance(request, Readers):
            return False
        for topic, names in request.readers.items():
            self.engine.reliable.readers(topic, names)
        return True

    def answer(self, request: Request, held: int = 0) -> list[Outgoing]:
        """Carry out *request* and answer it (*held*: the messages a resume delivers next)."""
        cached = self._replies.get(request.id)
        if cached is None:
            cached = self._answer(request, held)
            self._replies.put(request.id, cached)
        return [self.engine.publish(self.topics.reply, cached.encode())]

    def _answer(self, request: Request, held: int) -> Reply:
        op, rid = request.op, request.id
        if op is Op.SNAPSHOT:
            path = self._snapshot("on_demand")
            return Reply(op, rid, path is not None, result={"path": str(path) if path else None})
        if op is Op.LOGLEVEL:
            try:
                levels = self.logging.set_levels(request.level, request.otel)
            except ValueError as exc:
                return Reply(op, rid, False, error=str(exc))
            self.log.info("log levels changed", **levels)
            return Reply(op, rid, True, result=levels)  # as the supervisor's own: local, otel
        if op is Op.HANDOVER:
            self.log.info("handing over to a new version")
            self._store()
            engine = self.engine
            memory = {
                "memory": engine.keeper.memory(),
                "sequences": engine.keeper.sequences(),
                "version": getattr(engine.cls, "version", 1),
            }
            return Reply(op, rid, True, result=memory)
        if op is Op.RESUME:
            return Reply(op, rid, True, result={"held": held})
        if op is Op.COMMIT:
            return Reply(op, rid, True)
        if op is Op.REDELIVER:
            return Reply(op, rid, True, result=self._redeliver())
        if op is Op.FAULTS and request.faults is not None:
            try:
                rules = self._set_faults(request.faults)
            except (FaultError, TypeError, ValueError) as exc:
                return Reply(op, rid, False, error=str(exc))
            return Reply(op, rid, True, result={"rules": rules})
        return Reply(op, rid, False, error=f"unknown op {str(op)!r}")
