"""An actor process's priming: the last values of retained topics, before ``on_start`` (shell).

:class:`Priming` is that part of :class:`~actors.runtime.ActorProcess` (a mixin):
a starting actor that reads retained topics (or calls services, and needs the
directory of servers) asks the supervisor on ``$sys.retained.<name>`` and
gets the values on its control topic, from the supervisor only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from actors.core.calls import SYS_SERVICES
from actors.core.control import Retained, decode_request
from actors.core.engine import ActorEngine
from actors.core.topics import SYS_RETAINED
from actors.core.wire import WireError
from actors.settings import RuntimeConfig
from actors.swapping import Phase
from actors.transport import Transport

_RETAINED_WAIT: Final = 2.0  # seconds a starting actor waits for its retained values
_RETAINED_RETRY: Final = 0.25


class Priming:
    """Asks for and takes in the retained values (a mixin of the runtime)."""

    config: RuntimeConfig
    log: Any
    phase: Phase
    transport: Transport
    control_topic: bytes
    control_rejected: int
    _early: list[list[bytes]]
    _retained_request: list[str]
    _ask_at: float
    _phase_deadline: float
    # Given by the runtime (ControlAnswers): a control message's payload if the supervisor
    # sent it, well formed, else None.
    _from_supervisor: Callable[[list[bytes]], Any]

    def _begin_priming(self, engine: ActorEngine) -> None:
        """Ask the supervisor for the last value of each retained topic this actor reads.

        The values go into the Inputs before ``on_start`` (no step runs for
        them); what else arrives meanwhile is delivered after ``on_start``, in
        order. The wait is bounded (``_RETAINED_WAIT``): a supervisor that does
        not answer costs that much.
        """
        self.phase = Phase.PRIMING
        self._retained_request = engine.subscriptions()
        if engine.calls.lines:
            self._retained_request.append(SYS_SERVICES)
        self._ask_at = 0.0
        self._phase_deadline = time.monotonic() + _RETAINED_WAIT

    def _priming_due(self, now: float) -> float:
        """Ask again, or give up waiting; the next time this is due."""
        if now >= self._phase_deadline:
            self.log.warning("no answer about retained values", waited=_RETAINED_WAIT)
            self.phase = Phase.STARTING
            return now
        if now >= self._ask_at:  # asked again now and then: a busy supervisor may miss one
            self.transport.publish(SYS_RETAINED + self.config.name, self._retained_request)
            self._ask_at = now + _RETAINED_RETRY
        return min(self._ask_at, self._phase_deadline)

    def _priming_message(self, engine: ActorEngine, frames: list[bytes]) -> None:
        if frames[0] != self.control_topic:
            self._early.append(frames)
            return
        payload = self._from_supervisor(frames)
        if payload is None:
            return
        try:
            retained = decode_request(payload)
        except WireError:
            self.control_rejected += 1
            return
        if not isinstance(retained, Retained):
            self._early.append(frames)  # a request for the running actor: answered later
            return
        primed = [
            name
            for item in retained.messages
            if isinstance(item, list)
            and len(item) == 2  # noqa: PLR2004 - topic, envelope
            and not engine.rpc.call_traffic(item)  # the directory of servers
            and (name := engine.keeper.prime(item))
        ]
        if primed:
            self.log.info("retained values received", inputs=sorted(set(primed)))
        self.phase = Phase.STARTING
