"""Blocking calls inside the actor process: wait for the reply, keep the rest for later (shell).

A hook that makes a blocking call (``self.<call>(request)``), or sends on a reliable
topic whose window is full (policy ``block``), waits here, in the actor's own loop:
replies, the directory of servers and the Acks of reliable topics go to the engine
at once, every other message is kept in order and handled after the hook
returns, and heartbeats go on, so that a long call is not taken for a hung
actor. :class:`CallWaits` is the collaborator of
:class:`~actors.runtime.ActorProcess` that does this.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from actors.transport import Transport

if TYPE_CHECKING:
    from actors.core.engine import ActorEngine

#: Messages read per poll while waiting, at most.
_BATCH: Final = 1000
#: Messages kept while a blocking call waits, at most (more are shed and counted).
DEFER_MAX: Final = 100_000


class CallWaits:
    """The waiting of blocking calls: handed the engine that takes the replies, the
    transport and *beat* (given the monotonic time, it sends a heartbeat if one is due
    and says when the next one is)."""

    def __init__(
        self,
        engine: ActorEngine,
        transport: Transport,
        beat: Callable[[float], float],
        urgent: Callable[[list[bytes]], bool] = lambda frames: False,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self._beat = beat
        #: Takes a control message that cannot wait (a reliable writer's readers); False
        #: for the others, which wait with the rest.
        self._urgent = urgent
        #: Messages that came while a blocking call waited, handled after its hook.
        self.deferred: list[list[bytes]] = []
        #: Messages shed because more than DEFER_MAX came while a call waited.
        self.dropped = 0

    def wait(self, done: Callable[[], bool], until: float) -> None:
        """Wait until *done* or the monotonic time *until*, for a blocking call of a hook.

        Replies and the directory go to the engine at once; every other message
        is kept, in order, for after the hook (:attr:`deferred`); heartbeats go
        on meanwhile, so a long call is not taken for a hung actor.
        """
        engine, transport = self.engine, self.transport
        receive, deferred = transport.receive, self.deferred
        while not done():
            now = time.monotonic()
            if now >= until:
                return
            next_beat = self._beat(now)
            if not transport.wait(min(until, next_beat) - now):
                continue
            for _ in range(_BATCH):
                frames = receive()
                if frames is None:
                    break
                if len(frames) == 2 and (  # noqa: PLR2004 - topic, envelope
                    engine.rpc.call_traffic(frames)
                    or engine.reliable.ack_traffic(frames)
                    or self._urgent(frames)
                ):
                    if done():
                        return
                elif len(deferred) < DEFER_MAX:
                    deferred.append(frames)
                else:
                    self.dropped += 1  # bounded: a flood during a call is shed

    def take(self) -> list[list[bytes]]:
        """What came while a call waited, in order (and no longer kept here)."""
        deferred, self.deferred = self.deferred, []
        return deferred
