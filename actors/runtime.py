"""The actor runtime: runs one actor in this process against the broker (shell).

The loop polls the SUB socket, the signal wakeup fd and the timers (periodic
step, heartbeat, parent watch) together; it never sleeps. What it receives
goes to the :class:`~actors.core.engine.ActorEngine`; what the engine returns
goes out on the PUB socket.

Exit codes: 0 after a requested stop, :data:`EXIT_FAILURE` (70) after an
unanticipated exception in a hook, :data:`EXIT_CONFIG` (78) when the actor
cannot be loaded or configured, :data:`EXIT_BROKER` (69) when the broker does
not answer.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import zmq

from actors.core.engine import ActorEngine, EngineConfig, Outgoing, ParamError
from actors.link import BrokerLink, BrokerUnreachable
from actors.loader import LoadError, load_class
from actors.logs import configure_logging
from actors.process import SignalWakeup, die_with_parent, parent_alive

EXIT_OK: Final = 0
EXIT_BROKER: Final = 69
EXIT_FAILURE: Final = 70
EXIT_CONFIG: Final = 78
HEARTBEAT_PREFIX: Final = "$sys.heartbeat."
_PARENT_CHECK: Final = 0.5
_BATCH: Final = 1000


@dataclass(frozen=True)
class RuntimeConfig:
    """Everything one actor process needs to know."""

    name: str
    class_path: str
    pub_endpoint: str
    sub_endpoint: str
    import_paths: tuple[Path, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    period: float | None = None
    heartbeat_interval: float = 1.0
    connect_timeout: float = 10.0
    log_level: str = "info"
    hwm: int = 10000


class ActorProcess:
    """One actor, its engine and its broker link, inside the current process."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.log = configure_logging(config.name, config.log_level).bind(actor=config.name)
        self.started = time.monotonic()
        self.state = "starting"

    def run(self) -> int:
        """Run until stopped or failed; return the process exit code."""
        parent = die_with_parent(signal.SIGTERM)
        cfg = self.config
        try:
            cls = load_class(cfg.class_path, cfg.import_paths)
            engine = ActorEngine(
                cls,
                EngineConfig(
                    name=cfg.name, params=cfg.params, topics=cfg.topics, period=cfg.period
                ),
                wall_ns=time.time_ns,
                monotonic=time.monotonic,
                log=self.log,
            )
        except (LoadError, ParamError) as exc:
            self.log.error("cannot load actor", error=str(exc))
            return EXIT_CONFIG
        except Exception:
            self.log.exception("actor constructor failed", hook="__init__")
            return EXIT_FAILURE
        wakeup = SignalWakeup((signal.SIGTERM, signal.SIGINT))
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        link = BrokerLink(
            ctx,
            cfg.pub_endpoint,
            cfg.sub_endpoint,
            cfg.name,
            patterns=engine.subscriptions(),
            hwm=cfg.hwm,
        )
        try:
            return self._serve(engine, link, wakeup, parent)
        finally:
            link.close(linger_ms=1000)
            ctx.term()
            wakeup.close()

    def _serve(
        self, engine: ActorEngine, link: BrokerLink, wakeup: SignalWakeup, parent: int | None
    ) -> int:
        cfg = self.config
        try:
            link.wait_connected(cfg.connect_timeout)
        except BrokerUnreachable as exc:
            self.log.error("broker unreachable", error=str(exc))
            return EXIT_BROKER
        if wakeup.drain():
            return EXIT_OK
        heartbeat_topic = (HEARTBEAT_PREFIX + cfg.name).encode()
        pub = link.pub
        hook = "on_start"
        try:
            self._send(pub, engine.start())
            self.state = "running"
            self._send(pub, [engine.publish(heartbeat_topic, self._heartbeat(engine, "ready"))])
            self.log.info("actor ready", cls=cfg.class_path, inputs=engine.subscriptions())
            poller = zmq.Poller()
            poller.register(link.sub, zmq.POLLIN)
            poller.register(wakeup.fileno(), zmq.POLLIN)
            next_beat = time.monotonic() + cfg.heartbeat_interval
            next_parent = time.monotonic() + _PARENT_CHECK
            sub = link.sub
            while True:
                now = time.monotonic()
                wake = min(next_beat, next_parent)
                deadline = engine.next_deadline()
                if deadline is not None:
                    wake = min(wake, deadline)
                events = dict(poller.poll(max(0, int((wake - now) * 1000) + 1)))
                if wakeup.fileno() in events and wakeup.drain():
                    break
                if sub in events:
                    hook = "step"
                    for _ in range(_BATCH):
                        try:
                            frames = sub.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._send(pub, engine.receive(frames))
                hook = "step"
                self._send(pub, engine.tick())
                now = time.monotonic()
                if now >= next_beat:
                    next_beat = now + cfg.heartbeat_interval
                    self._send(pub, [engine.publish(heartbeat_topic, self._heartbeat(engine))])
                if now >= next_parent:
                    next_parent = now + _PARENT_CHECK
                    if not parent_alive(parent):
                        self.log.warning("supervisor is gone; stopping")
                        break
            hook = "on_stop"
            self.state = "stopping"
            self._send(pub, engine.stop())
            self._send(pub, [engine.publish(heartbeat_topic, self._heartbeat(engine))])
        except Exception as exc:
            self.log.exception("unanticipated failure", hook=hook, error=repr(exc))
            self.state = "failed"
            return EXIT_FAILURE
        self.log.info("actor stopped")
        return EXIT_OK

    @staticmethod
    def _send(pub: zmq.Socket[bytes], messages: list[Outgoing]) -> None:
        # PUB never blocks: past the high-water mark ZeroMQ drops, and receivers count a gap.
        for topic, envelope in messages:
            pub.send_multipart((topic, envelope), copy=False)

    def _heartbeat(self, engine: ActorEngine, state: str | None = None) -> dict[str, Any]:
        stats = engine.statistics()
        return {
            "state": state or self.state,
            "pid": os.getpid(),
            "uptime": round(time.monotonic() - self.started, 3),
            "stats": {name: getattr(stats, name) for name in stats.__slots__},
        }


def run_actor(config: RuntimeConfig) -> int:
    """Run one actor in this process; return its exit code."""
    return ActorProcess(config).run()
