"""The pure parts of a site on several hosts: link states turned into events, the host
report's decoding, and which edges across hosts do not flow."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from test_design import Sink, Source, design

from supervisor.core.host_edges import edges_down
from supervisor.core.host_links import NEVER_REACHED, HostLinks
from supervisor.core.host_report import ActorBrief, HostReport, skew_of


def link(**peers: str) -> dict[str, Any]:
    """A broker heartbeat's link report with *peers* in these states."""
    return {"peers": {p: {"state": s, "since": 0.0} for p, s in peers.items()}}


def kinds(events: list[Any]) -> list[tuple[str, str]]:
    return [(e.KIND, e.host) for e in events]


def test_a_link_going_down_and_up_is_one_event_each() -> None:
    """Reached (link up, a report heard) -> link down is ``host_lost`` (once), up again with
    a report ``host_back`` with how long it was away; repeated reports say nothing."""
    links = HostLinks("a", started=0.0, silent_after=3.0)
    assert links.report(link(b="up"), 1.0) == []
    assert links.heard("b", 1.0) == []  # first reached: nothing to tell
    lost = links.report(link(b="down"), 2.0)
    assert kinds(lost) == [("host_lost", "b")] and lost[0].by == "a"
    assert "cut" in lost[0].reason
    assert links.report(link(b="down"), 3.0) == [] and links.tick(9.0) == []
    assert links.report(link(b="up"), 5.0) == []  # up, but its last report is old: silent
    back = links.heard("b", 5.5)
    assert kinds(back) == [("host_back", "b")] and back[0].down_s == 3.5
    assert links.summary() == {"b": "up"}


def test_a_host_whose_reports_stop_while_its_link_is_up_is_lost() -> None:
    """A partition that drops messages but not the connection: silent, then back."""
    links = HostLinks("a", started=0.0, silent_after=3.0)
    links.report(link(b="up"), 0.5)
    links.heard("b", 1.0)
    assert links.tick(3.9) == []
    lost = links.tick(4.1)
    assert kinds(lost) == [("host_lost", "b")] and "stopped coming" in lost[0].reason
    assert kinds(links.heard("b", 7.0)) == [("host_back", "b")]


def test_a_peer_never_reached_is_said_once_after_the_grace() -> None:
    """A host not reached within NEVER_REACHED seconds of the start is lost, with what to
    check; once reached it is back."""
    links = HostLinks("a", started=10.0)
    assert links.report(link(c="never"), 10.0 + NEVER_REACHED / 2) == []
    lost = links.report(link(c="never"), 10.0 + NEVER_REACHED)
    assert kinds(lost) == [("host_lost", "c")] and "address" in lost[0].reason
    assert links.report(link(c="never"), 30.0) == [] and links.tick(31.0) == []
    assert links.report(link(c="up"), 31.0) == []
    assert kinds(links.heard("c", 31.2)) == [("host_back", "c")]


def test_a_host_gone_before_it_was_ever_reached_is_lost_once() -> None:
    """Its link came up and went before its first report: never reached, said once."""
    links = HostLinks("a", started=0.0)
    assert links.report(link(b="up"), 0.5) == [] and links.report(link(b="down"), 1.0) == []
    lost = links.tick(NEVER_REACHED)
    assert kinds(lost) == [("host_lost", "b")] and "never reached" in lost[0].reason
    assert links.tick(NEVER_REACHED + 1) == []


def test_malformed_link_reports_are_ignored() -> None:
    """Whatever a heartbeat carries, a report that is not one makes no event."""
    links = HostLinks("a", started=0.0)
    for bad in (None, 3, {"peers": 1}, {"peers": {"b": {"state": "sideways"}}}, {"peers": {1: {}}}):
        assert links.report(bad, 100.0) == []


def test_a_host_report_round_trips_and_a_bad_one_is_none() -> None:
    """The report decodes to what was encoded; wrong types, sizes or shapes give None."""
    report = HostReport(
        "b",
        "tcp://10.0.0.2:5571",
        {"x": ActorBrief("running", 42, 1)},
        {"x": ("cmd.n",)},
        {"x": ("sp.set", "sp.runs")},
    )
    assert HostReport.decode(report.encode()) == report
    good = report.encode()
    for bad in (
        None,
        {**good, "host": ""},
        {**good, "host": 7},
        {**good, "actors": {"x": ["running", "42", 1]}},
        {**good, "actors": {"x": ["running", 42]}},
        {**good, "reads": {"x": "cmd.n"}},
        {**good, "reads": {"x": [1]}},
        {**good, "serves": {"x": "sp.set"}},
        {**good, "control": "x" * 300},
        {**good, "actors": {f"a{i}": ["running", 1, 0] for i in range(10_001)}},
    ):
        assert HostReport.decode(bad) is None, bad


def test_skew_is_the_senders_clock_ahead_of_the_receivers() -> None:
    assert skew_of(2_500_000_000, 1_000_000_000) == 1.5
    assert skew_of(1_000_000_000, 1_250_000_000) == -0.25


def test_an_edge_across_hosts_that_does_not_flow_is_named() -> None:
    """src on a writes plant.reading, sink on b reads it: the edge flows only while b's
    link to a is up; a host that could not be asked is said as such; an edge within
    one host never depends on a link; a host that did not answer is not edge by edge."""
    graph = design(src=Source, sink=Sink, near=Sink)
    placement = {"src": "a", "sink": "b", "near": "a"}
    assert edges_down(graph, placement, {"a": {"b": "down"}, "b": {"a": "up"}}) == []
    down = edges_down(graph, placement, {"a": {}, "b": {"a": "down"}})
    assert [(d.kind, d.actor, d.topic) for d in down] == [("edge_down", "sink", "plant.reading")]
    assert "b takes nothing from a (link down)" in down[0].detail
    assert "src.reading on a" in down[0].detail
    assert edges_down(graph, placement, {"a": {}}) == []


class _Loop:
    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now


class _Log:
    def warning(self, *args: Any, **fields: Any) -> None:
        del args, fields


def _hosts_of_a() -> tuple[Any, list[Any]]:
    """This host a's SiteHosts (b and c the others), with what it emits."""
    from types import SimpleNamespace

    from actors.site import parse_site
    from supervisor.hosts import SiteHosts

    data = {
        "site": {"name": "s"},
        "hosts": {h: {"address": f"10.0.0.{i}"} for i, h in enumerate("abc", 1)},
        "actors": {"x": {"class": "m:X", "host": "b"}},
    }
    site = parse_site(data, Path("/x/site.toml"), "a")
    emitted: list[Any] = []
    events = SimpleNamespace(log=_Log(), emit=emitted.append)
    supervision = SimpleNamespace(loop=_Loop(), actors={})
    hosts = SiteHosts(site, supervision, events, lambda *a: None, dict)  # type: ignore[arg-type]
    return hosts, emitted


def _report(host: str, skew: float) -> tuple[str, Any]:
    from actors.core.wire import Envelope

    report = HostReport(host, "tcp://x:1", {}, {"x": ("cmd.n",)}).encode()
    sent = time.time_ns() + int(skew * 1e9)
    return f"$sys.host.{host}", Envelope(host, 1, sent, report)


def test_a_clock_skew_past_the_limit_is_one_event_until_it_mends() -> None:
    """Another host's clock 2 s ahead: one ``clock_skew`` (its skew, who saw it); again
    nothing until it has come back within half the limit; ``ctl status`` shows the skew."""
    hosts, emitted = _hosts_of_a()
    hosts.message(*_report("b", 2.0))
    assert [(e.KIND, e.host, e.by) for e in emitted] == [("clock_skew", "b", "a")]
    assert 1.9 < emitted[0].skew_s < 2.1
    hosts.message(*_report("b", 2.0))
    hosts.message(*_report("c", 0.01))  # within the limit: nothing
    assert len(emitted) == 1
    assert 1.9 < hosts.summary()["b"]["skew_s"] < 2.1
    hosts.message(*_report("b", 0.0))
    hosts.message(*_report("b", -3.0))
    assert [e.KIND for e in emitted] == ["clock_skew", "clock_skew"] and emitted[1].skew_s < 0
    assert hosts.remote_reads() == {"x": ("cmd.n",)}
    hosts.message("$sys.host.b", _report("c", 0.0)[1])  # a report that names another host
    hosts.message("$sys.host.zz", _report("zz", 0.0)[1])  # a host the site has not
    assert set(hosts.reports) == {"b", "c"}


def test_a_host_rule_added_at_run_time_is_refused_with_where_it_goes() -> None:
    """``ctl fault add`` cannot add a host rule (the brokers read them at start): it says
    to put it in site.toml rather than accept a rule that would inject nothing."""
    from actors.core.faults import FaultError
    from actors.site import parse_site
    from supervisor.faults import FaultLedger

    site = parse_site({"site": {"name": "s"}, "actors": {"a": {"class": "m:A"}}}, Path("/x/s.toml"))
    ledger = FaultLedger(site)
    try:
        ledger.add({"hop": "host", "kind": "partition", "to": "b", "for": 1.0}, {"a"})
    except FaultError as exc:
        assert exc.key == "rule.hop" and "site.toml" in exc.reason
    else:
        raise AssertionError("a host rule was added at run time")
    assert ledger.rules == []


def test_the_web_views_site_message_has_every_hosts_actors() -> None:
    """On a site of several hosts the view's message says this host (whose clock its times
    are) and the others, and lists the other hosts' actors as rows with their host and
    none of the counters this host does not have."""
    from supervisor.core.webfeed import SiteView

    status = {
        "site": "s",
        "host": "a",
        "hosts": {"b": {"link": "up", "skew_s": 0.001}},
        "actors": [],
        "elsewhere": [{"name": "lb", "host": "b", "state": "running", "pid": 5, "restarts": 1}],
    }
    message = SiteView().update(status, 1.0)
    assert message["host"] == "a" and message["hosts"]["b"]["link"] == "up"
    [row] = message["actors"]
    assert (row["name"], row["host"], row["state"], row["pid"], row["restarts"]) == (
        "lb",
        "b",
        "running",
        5,
        1,
    )
    assert row["gaps"] is None and row["kind"] == "actor"
