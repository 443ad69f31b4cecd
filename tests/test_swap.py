"""Hot swap: exactly once across versions, state carried over, outputs never doubled; rollbacks."""

from __future__ import annotations

from typing import Any

import pytest

from actors.testing import Mesh, MeshFactory
from supervisor.client import ControlError

pytestmark = pytest.mark.slow

SITE = {
    "actors": {
        "counter": {"class": "mesh_actors:Counter"},
        "tally": {"class": "mesh_actors:Tally"},
    }
}


def seen(site: Mesh, after: int) -> list[list[int]]:
    """Every [number, count] the tally published since *after*."""
    first = site._received - len(site.messages)
    return [
        m.envelope.payload
        for m in list(site.messages)[max(0, after - first) :]
        if m.topic == "tally.seen"
    ]


def check_exactly_once(outputs: list[list[int]], limit: int) -> None:
    numbers = [n for n, _ in outputs]
    assert numbers == list(range(1, limit + 1)), "each number once, in order"
    assert [c for _, c in outputs] == list(range(1, limit + 1)), "the count carried over"


def test_ten_swaps_mid_stream_process_every_message_exactly_once(mesh: MeshFactory) -> None:
    """~2k msg/s; the consumer is swapped 10 times (twice to a version 2 with migration)."""
    site = mesh.start(SITE)
    limit = 14_000
    cursor = site.publish("count.go", [limit, 20])  # 20 per 10 ms: ~2,000 a second
    site.wait_for("tally.seen", after=cursor)
    pids = {site.pid("tally")}
    for i in range(10):
        cls = "mesh_actors:TallyV2" if i in (4, 5) else "mesh_actors:Tally"
        result = site.request("swap", name="tally", **{"class": cls})
        assert result["pid"] not in pids and result["state"] == "running"
        assert result["class"] == cls
        pids.add(result["pid"])
    assert site.wait_for("tally.seen", lambda p: p[0] >= limit, timeout=60, after=cursor)
    outputs = seen(site, cursor)
    check_exactly_once(outputs, limit)
    record = site.actor("tally")
    assert record["restarts"] == 0 and record["inputs"]["n"]["gaps"] == 0
    assert len(pids) == 11


def rollback(site: Mesh, cls: str, expect: str) -> None:
    before = site.actor("tally")
    with pytest.raises(ControlError, match=expect) as caught:
        site.request("swap", name="tally", **{"class": cls})
    assert "rolled back, the running version kept" in str(caught.value)
    after = site.actor("tally")
    assert after["pid"] == before["pid"] and after["etag"] == before["etag"]


@pytest.mark.parametrize(
    ("cls", "expect"),
    [
        ("mesh_actors:NoSuchTally", "cannot load mesh_actors:NoSuchTally"),
        ("broken_module:Tally", "cannot load broken_module:Tally.*broken on purpose"),
        ("mesh_actors:TallyFailsMigrate", "ValueError: cannot migrate from version 1"),
        ("mesh_actors:TallyFailsStep", "RuntimeError: broken step"),
    ],
)
def test_a_failed_swap_rolls_back_with_state_intact(
    mesh: MeshFactory, cls: str, expect: str
) -> None:
    """The new version fails to load, to migrate, or in its first step: the old one goes on."""
    site = mesh.start(SITE)
    limit = 4_000
    cursor = site.publish("count.go", [limit, 20])
    site.wait_for("tally.seen", after=cursor)
    rollback(site, cls, expect)
    assert site.wait_for("tally.seen", lambda p: p[0] >= limit, timeout=60, after=cursor)
    check_exactly_once(seen(site, cursor), limit)


def test_a_stale_etag_is_refused(mesh: MeshFactory) -> None:
    """Two operators: the second one's swap names a version that is no longer current."""
    site = mesh.start(SITE)
    etag = site.actor("tally")["etag"]
    first: dict[str, Any] = site.request(
        "swap", name="tally", etag=etag, **{"class": "mesh_actors:TallyV2"}
    )
    assert first["etag"] != etag
    with pytest.raises(ControlError, match="stale"):
        site.request("swap", name="tally", etag=etag, **{"class": "mesh_actors:Tally"})


def test_swapping_an_idle_actor_keeps_its_inputs_and_sequences(mesh: MeshFactory) -> None:
    """No traffic during the swap: the new version waits for a first step, then takes over;
    its Input values and its output sequence numbers continue the old version's."""
    site = mesh.start({"actors": {"doubler": {"class": "mesh_actors:Doubler"}}})
    cursor = site.publish("numbers.in", 5)
    first = site.wait_for("numbers.out", after=cursor)
    old = site.pid("doubler")
    result = site.request("swap", name="doubler")
    assert result["pid"] != old and result["processed"] == 0
    cursor = site.publish("numbers.in", 6)
    after = site.wait_for("numbers.out", after=cursor)
    assert after.envelope.payload == 12.0
    assert after.envelope.seq == first.envelope.seq + 1  # receivers see no gap
    record = site.wait_actor("doubler", lambda a: a["stats"].get("accepted") == 1, what="stats")
    assert record["restarts"] == 0 and record["pid"] == result["pid"]
    # The new version holds the actor's name once the old one is gone: no second copy.
    lock = site.site.site.run_dir / "actors" / "doubler.lock"
    site.wait_status(
        lambda _: lock.read_text().strip() == str(result["pid"]), what="the name's lock"
    )


def test_a_failed_swap_gives_its_reason_even_when_its_message_is_lost(
    mesh: MeshFactory,
) -> None:
    """The broker frozen: the new version's message never comes, and the caller still
    hears why (on a loaded machine it heard 'could not be loaded (exit 78; see its log)')."""
    import psutil

    site = mesh.start(
        {
            "supervisor": {"hang_timeout": 120, "ready_timeout": 30},
            "actors": {"tally": {"class": "mesh_actors:Tally"}},
        }
    )
    broker = psutil.Process(site.pid("broker"))
    broker.suspend()
    try:
        with pytest.raises(ControlError, match="cannot load mesh_actors:NoSuchTally"):
            site.request("swap", name="tally", **{"class": "mesh_actors:NoSuchTally"})
    finally:
        broker.resume()
    assert site.pid("broker") == broker.pid
    assert not list((site.site.site.run_dir / "actors").glob("*.failure"))


def test_a_swap_that_would_drop_state_says_so(mesh: MeshFactory) -> None:
    """A State renamed with the version unchanged is refused (it was silently lost); one
    that a migration drops is named in the swap's result."""
    site = mesh.start({"actors": {"tally": {"class": "mesh_actors:Tally"}}})
    cursor = site.publish("count.n", 5)
    site.wait_for("tally.seen", after=cursor)
    rollback(site, "mesh_actors:TallyRenamed", "it drops total .not declared: renamed")
    result = site.request("swap", name="tally", **{"class": "mesh_actors:TallySlim"})
    assert result["dropped"] == ["total"]
    cursor = site.publish("count.n", 6)
    assert site.wait_for("tally.seen", after=cursor).envelope.payload == [6, 2]
