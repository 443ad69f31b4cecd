"""Fault injection in an actor process: the rules in force, at start and when ``ctl fault``
changes them (shell). :class:`FaultWiring` is the collaborator of
:class:`~actors.runtime.ActorProcess` that wraps its transport, its step and its links
with a :class:`~actors.faulty.FaultInjector`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actors.core.faults import used_of
from actors.faulty import FaultInjector, rules_of
from actors.transport import Transport

if TYPE_CHECKING:
    from actors.core.engine import ActorEngine
    from actors.link import BrokerLink
    from actors.logs import LogSetup
    from actors.settings import RuntimeConfig


class FaultWiring:
    """The fault rules of an actor process, at start and when ``ctl fault`` changes them.

    Handed the transport to wrap, the engine whose step and links it wraps, the
    broker link to drain before an injected crash, and *last_beat* (a heartbeat
    now: the counters an injected crash goes with).
    """

    def __init__(  # noqa: PLR0913 - the parts it is handed, each by name
        self,
        config: RuntimeConfig,
        logging: LogSetup,
        log: Any,
        *,
        transport: Transport,
        engine: ActorEngine,
        link: BrokerLink,
        last_beat: Callable[[], None],
    ) -> None:
        self.config = config
        self.logging = logging
        self.log = log
        self.transport = transport
        self.engine = engine
        self.link = link
        self._last_beat = last_beat
        #: The injector in force, when the rules give this actor any (None: the plain transport).
        self.faults: FaultInjector | None = None
        self._fault_seed = config.site.faults.seed
        #: The rules in force (site.toml's until ``ctl fault`` changes them), paused or not.
        self._fault_rules = (config.site.faults.seed, tuple(config.site.faults.rules), False)
        #: The transport was rewrapped (``ctl fault``): the loop takes its receive again.
        self.rewired = False

    def start(self) -> None:
        """Put site.toml's rules for this actor in force, if it has any."""
        if self.config.site.faults.rules:
            self._inject_faults()

    def _inject_faults(
        self, rules: list[Any] | None = None, used: dict[int, int] | None = None
    ) -> None:
        """Wrap the transport (and the step) with the fault rules for this actor, if any
        (*rules*: those of ``ctl fault``, in place of site.toml's; *used*: the site's
        counts of the rules limited per site, in place of those it was started with)."""
        cfg, engine, link = self.config, self.engine, self.link
        log_file = self.logging.file
        if self.faults is not None:  # the rules changed: the plain transport and step first
            # What the old rules injected goes on the ledger; what they still held is lost.
            self.faults.lost_with_process()
            self.faults.flush(self.transport.publish)
            self.faults.unwrap(self.transport, engine.actor)
            self.faults = None
            if log_file is not None:
                log_file.fault = None
        started = time.time()
        if cfg.run_dir is not None:
            # The site started when its supervisor took the pid file: windows count from there.
            with contextlib.suppress(OSError):
                started = (cfg.run_dir / "supervisor.pid").stat().st_mtime
        chosen = list(cfg.site.faults.rules) if rules is None else rules
        injector = FaultInjector(
            cfg.name,
            self._fault_seed,
            chosen,
            started=started,
            used=cfg.fault_used if used is None else used,
        )
        if injector.active:
            injector.wrap(self.transport)
            injector.passed(engine.keeper.streams_in())
            self.faults = injector

            def flush(hard: bool) -> None:
                if hard:  # the process goes next: what it held and counted goes first
                    injector.lost_with_process()
                    self._last_beat()
                injector.flush(self.transport.publish)
                if hard:  # ... and passes the broker before the process goes
                    link.drain(1.0)

            injector.wrap_step(engine.actor, flush)
            if injector.link_rules:  # a HAL link asks through its context
                engine.actor.enlil.link_fault = injector.link_fault
            if log_file is not None and injector.writes("log"):
                log_file.fault = lambda: injector.write_fault("log")
            self.log.warning("fault injection on", rules=len(injector.counts))

    def set_faults(self, faults: dict[str, Any]) -> int:
        """Put *faults* (``{"seed", "rules": [tables with their index], "paused"}``) in
        force now; return how many rules apply to this actor. The loop picks the new
        transport up after this message."""
        seed, rules = rules_of(faults)
        used = used_of(faults)
        paused = bool(faults.get("paused"))
        if (seed, tuple(rules), paused) == self._fault_rules:
            # The same rules: only the site's counts changed (a rule limited per site
            # fired elsewhere). What this process holds and counts stays.
            if self.faults is not None:
                self.faults.learn(used)
            return len(self.faults.counts) if self.faults else 0
        self._fault_rules = (seed, tuple(rules), paused)
        if paused:
            rules = []
        self._fault_seed = seed
        self._inject_faults(rules, used)
        self.rewired = True
        count = len(self.faults.counts) if self.faults else 0
        self.log.warning("fault rules changed", rules=count, paused=bool(faults.get("paused")))
        return count
