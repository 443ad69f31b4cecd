"""The pure parts of a site on several hosts: link states turned into events, the host
report's decoding, and which edges across hosts do not flow."""

from __future__ import annotations

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
        "b", "tcp://10.0.0.2:5571", {"x": ActorBrief("running", 42, 1)}, {"x": ("cmd.n",)}
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
