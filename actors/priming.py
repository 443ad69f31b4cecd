"""An actor process's priming: the last values of retained topics, before ``on_start`` (shell).

A starting actor that reads retained topics (or calls services, and needs the
directory of servers) asks the supervisor on ``$sys.retained.<name>`` and gets
the values on its control topic, from the supervisor only. When to ask, to ask
again and to give up is the phase table's (:mod:`actors.core.phases`,
PRIMING); :class:`Priming` is the collaborator of
:class:`~actors.runtime.ActorProcess` that asks and puts the values in.
"""

from __future__ import annotations

from typing import Any

from actors.core.calls import SYS_SERVICES
from actors.core.engine import ActorEngine
from actors.core.topics import SYS_RETAINED
from actors.transport import Transport


class Priming:
    """Asks for and takes in the retained values of one actor's Inputs.

    The values go into the Inputs before ``on_start`` (no step runs for
    them); what else arrives meanwhile is delivered after ``on_start``, in
    order (the phase table holds it).
    """

    def __init__(self, name: str, engine: ActorEngine, transport: Transport, log: Any) -> None:
        self.engine = engine
        self.transport = transport
        self.log = log
        self._topic = SYS_RETAINED + name
        self._request = engine.subscriptions()
        if engine.calls.lines:  # a caller wants the directory of servers too
            self._request.append(SYS_SERVICES)

    def ask(self) -> None:
        """Ask the supervisor for the last value of each retained topic this actor reads."""
        self.transport.publish(self._topic, self._request)

    def prime(self, messages: list[Any]) -> None:
        """Put the retained values in their Inputs (and the directory in the call lines)."""
        engine = self.engine
        primed = [
            name
            for item in messages
            if isinstance(item, list)
            and len(item) == 2  # noqa: PLR2004 - topic, envelope
            and not engine.rpc.call_traffic(item)  # the directory of servers
            and (name := engine.keeper.prime(item))
        ]
        if primed:
            self.log.info("retained values received", inputs=sorted(set(primed)))
