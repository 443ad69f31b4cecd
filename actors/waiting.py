"""Blocking calls inside the actor process: wait for the reply, keep the rest for later (shell).

A hook that makes a blocking call (``self.<call>(request)``) waits here, in
the actor's own loop: replies and the directory of servers go to the engine
at once, every other message is kept in order and delivered after the hook
returns, and heartbeats go on, so that a long call is not taken for a hung
actor. :class:`CallWaits` is the part of :class:`~actors.runtime.ActorProcess`
that does this.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from actors.core.topics import SYS_HEARTBEAT
from actors.swapping import Phase
from actors.transport import Transport

if TYPE_CHECKING:
    from actors.core.engine import ActorEngine
    from actors.settings import RuntimeConfig

#: Messages read per poll while waiting, at most.
_BATCH: Final = 1000
#: Messages kept while a blocking call waits, at most (more are shed and counted).
_DEFER_MAX: Final = 100_000


class CallWaits:
    """The waiting of blocking calls (a mixin of the runtime)."""

    config: RuntimeConfig
    transport: Transport
    phase: Phase
    control_topic: bytes
    paused: bool
    held: list[list[bytes]]
    swapped_out: bool
    # Given by the runtime (ControlAnswers): keep a message while paused, bounded.
    hold: Callable[[list[bytes]], None]
    #: Messages that came while a blocking call waited, delivered after its hook.
    deferred: list[list[bytes]]
    #: Messages shed because more than _DEFER_MAX came while a call waited.
    deferred_dropped: int
    _engine: ActorEngine | None
    _next_beat: float
    # Given by the runtime's other parts (annotations only: nothing here to shadow them).
    _heartbeat: Callable[..., dict[str, Any]]
    _control: Callable[[ActorEngine, list[bytes]], list[tuple[bytes, bytes]]]

    def _wait_call(self, done: Callable[[], bool], until: float) -> None:
        """Wait until *done* or the monotonic time *until*, for a blocking call of a hook.

        Replies and the directory go to the engine at once; every other message
        is kept, in order, for after the hook (:meth:`_run_deferred`); heartbeats
        go on meanwhile, so a long call is not taken for a hung actor.
        """
        engine = self._engine
        assert engine is not None
        transport, cfg = self.transport, self.config
        receive, deferred = transport.receive, self.deferred
        heartbeat_topic = (SYS_HEARTBEAT + cfg.name).encode()
        while not done():
            now = time.monotonic()
            if now >= until:
                return
            if self.phase is Phase.RUNNING and now >= self._next_beat:
                self._next_beat = now + cfg.heartbeat_interval
                transport.send(*engine.publish(heartbeat_topic, self._heartbeat(engine)))
            if not transport.wait(min(until, self._next_beat) - now):
                continue
            for _ in range(_BATCH):
                frames = receive()
                if frames is None:
                    break
                if len(frames) == 2 and engine.rpc.call_traffic(frames):  # noqa: PLR2004
                    if done():
                        return
                elif len(deferred) < _DEFER_MAX:
                    deferred.append(frames)
                else:
                    self.deferred_dropped += 1  # bounded: a flood during a call is shed

    def _run_deferred(self, engine: ActorEngine) -> None:
        """Deliver what came while a blocking call waited, in order."""
        send_all, deferred = self.transport.send_all, self.deferred
        while deferred:
            frames = deferred.pop(0)
            if frames[0] == self.control_topic:
                send_all(self._control(engine, frames))
                if self.swapped_out:
                    return
            elif self.paused:
                self.hold(frames)
            else:
                send_all(engine.receive(frames))
