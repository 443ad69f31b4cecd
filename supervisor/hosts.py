"""This host among the others of its site: what it tells them and what it hears (shell).

On a site of several hosts, :class:`SiteHosts` publishes this host's
:class:`~supervisor.core.host_report.HostReport` every heartbeat interval and
keeps the latest of each other host's, with the clock skew its timestamp
shows; it turns the broker's link report into ``host_lost``/``host_back``
(:class:`~supervisor.core.host_links.HostLinks`) and a skew past
``[supervisor] clock_skew`` into a ``clock_skew`` event, and a host that sent
messages as another host's actor into a ``denied`` event. The other parts read
from it: the reliable writers' expected readers on other hosts, the other hosts'
servers (the directory) and retained topics, and the other hosts' actors that
``ctl status`` lists.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from actors.core.wire import Envelope
from actors.site import SiteConfig
from actors.sockets import LINK_DEAD_AFTER
from supervisor.core.host_links import HostLinks
from supervisor.core.host_report import HOST_PREFIX, ActorBrief, HostReport, skew_of
from supervisor.core.site_events import ClockSkew, Denied, SiteEvent
from supervisor.events import Events
from supervisor.inspect import ActorFacts
from supervisor.supervision import Supervision


class SiteHosts:
    """This host's report to the others, and theirs (see the module docstring)."""

    def __init__(
        self,
        site: SiteConfig,
        supervision: Supervision,
        events: Events,
        publish: Callable[[str, Any], None],
        facts: Callable[[], dict[str, ActorFacts]],
    ) -> None:
        self.site = site
        self.supervision = supervision
        self.events = events
        self._publish = publish
        self._facts = facts
        #: The reliable Inputs of the other hosts' actors, from their classes (those that
        #: load here): what a host that has not reported yet is expected to read.
        self.declared: dict[str, tuple[str, ...]] = {}
        #: This host's running servers (the directory's), and what to do when another
        #: host's change (the runner sets both).
        self.served: Callable[[], dict[str, tuple[str, ...]]] = dict
        self.on_serves: Callable[[], None] = lambda: None
        #: What to do when another host's retained topics change (the runner sets it).
        self.on_retained: Callable[[], None] = lambda: None
        clock = supervision.loop.clock
        # Longer than a cut link takes to be noticed, so that a cut is said as one.
        silent_after = max(2 * LINK_DEAD_AFTER, 3 * site.supervisor.heartbeat_interval)
        self.links = HostLinks(site.host, clock(), silent_after)
        #: Host -> its latest report, when it came (clock s), and its clock's skew (s).
        self.reports: dict[str, tuple[HostReport, float, float]] = {}
        self._skewed: set[str] = set()
        self._forged: dict[str, int] = {}
        self.topic = HOST_PREFIX + site.host

    # -- what this host says ---------------------------------------------------------------

    def report(self) -> HostReport:
        """This host's report now."""
        sup, facts = self.supervision, self._facts()
        return HostReport(
            host=self.site.host,
            control=self.site.hosts[self.site.host].control,
            actors={n: ActorBrief(str(c.state), c.pid, c.restarts) for n, c in sup.actors.items()},
            reads={
                n: facts[n].reliable_in
                for n, c in sup.actors.items()
                if c.wanted and n in facts and facts[n].reliable_in
            },
            serves=dict(self.served()),
            retained=tuple(sorted({t for f in facts.values() for t in f.retained})),
        )

    def say(self) -> None:
        """Publish this host's report; a host whose reports stopped is silent."""
        self._publish(self.topic, self.report().encode())
        for event in self.links.tick(self.supervision.loop.clock()):
            self._emit(event)

    # -- what the others say -----------------------------------------------------------------

    def message(self, topic: str, envelope: Envelope) -> None:
        """Another host's report (this host's own, and anything malformed, are ignored)."""
        host = topic.removeprefix(HOST_PREFIX)
        if host == self.site.host or host not in self.site.hosts:
            return
        report = HostReport.decode(envelope.payload)
        if report is None or report.host != host:
            return
        skew = skew_of(envelope.timestamp_ns, time.time_ns())
        now = self.supervision.loop.clock()
        before = self.reports.get(host)
        self.reports[host] = (report, now, skew)
        if before is None or before[0].serves != report.serves:
            self.on_serves()
        if before is None or before[0].retained != report.retained:
            self.on_retained()
        for event in self.links.heard(host, now):
            self._emit(event)
        limit = self.site.supervisor.clock_skew
        if abs(skew) > limit and host not in self._skewed:
            self._skewed.add(host)
            self._emit(ClockSkew(host=host, by=self.site.host, skew_s=round(skew, 3)))
        elif abs(skew) <= limit / 2:
            self._skewed.discard(host)

    def link(self, report: Any) -> None:
        """The ``link`` part of this host's broker heartbeat: the hosts' states, and the
        messages a host sent as another host's actor (a ``denied`` event each time more
        come)."""
        for event in self.links.report(report, self.supervision.loop.clock()):
            self._emit(event)
        forged = report.get("forged") if isinstance(report, dict) else None
        for peer, count in forged.items() if isinstance(forged, dict) else ():
            if peer in self.site.peers and type(count) is int and count > self._forged.get(peer, 0):
                new = count - self._forged.get(peer, 0)
                self._forged[peer] = count
                why = f"{new} message(s) from host {peer} named another host's actor as sender"
                self._emit(Denied(identity=f"host:{peer}", what="publish", topic="", reason=why))

    def _emit(self, event: SiteEvent) -> None:
        fields = {k: v for k, v in event.payload().items() if k != "event"}
        self.events.log.warning(event.KIND, **fields)
        self.events.emit(event)

    # -- what the other parts read -------------------------------------------------------------

    def remote_reads(self) -> dict[str, tuple[str, ...]]:
        """The reliable Inputs of the other hosts' actors meant to run: as each host last
        reported, or, before its first report, as their classes declare (so a writer here
        keeps its messages for them from the start). A host that is away keeps its
        readers: what it misses waits for it."""
        out = {}
        for name, reads in self.declared.items():
            if self.site.host_of(name) not in self.reports:
                out[name] = reads
        for report, _, _ in self.reports.values():
            out.update(report.reads)
        return out

    def remote_serves(self) -> dict[str, tuple[str, ...]]:
        """The other hosts' running servers: actor -> its services, as last reported."""
        return {n: p for report, _, _ in self.reports.values() for n, p in report.serves.items()}

    def remote_retained(self) -> set[str]:
        """The topics (or families) of the other hosts' retained Outputs."""
        return {t for report, _, _ in self.reports.values() for t in report.retained}

    def remote_actors(self) -> list[dict[str, Any]]:
        """The other hosts' actors, as their last reports say (``ctl status``)."""
        now = self.supervision.loop.clock()
        rows = []
        for host, (report, at, _) in self.reports.items():
            for name, brief in report.actors.items():
                rows.append(
                    {
                        "name": name,
                        "kind": "actor",
                        "host": host,
                        "state": brief.state,
                        "pid": brief.pid,
                        "restarts": brief.restarts,
                        "reported_age": round(now - at, 3),
                    }
                )
        return rows

    def summary(self) -> dict[str, dict[str, Any]]:
        """Each other host: its link's state, how old its report is, its clock's skew."""
        now = self.supervision.loop.clock()
        links = self.links.summary()
        out = {}
        for host, config in self.site.peers.items():
            report = self.reports.get(host)
            out[host] = {
                "address": config.address,
                "link": links.get(host, "never"),
                "reported_age": round(now - report[1], 3) if report else None,
                "skew_s": round(report[2], 4) if report else None,
            }
        return out
