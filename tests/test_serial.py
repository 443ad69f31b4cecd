"""hal.serial.SerialLink: frames both ways at every framing, unplug and replug, kill -9.

The in-process tests drive the actor under the harness over pyserial's
``loop://``; the mesh tests run it as a real process on real ptys: one held by
the test itself (so the test sees the bytes on the wire), and the simulated
device ``hal.sim:RoomSim`` (a separate process) that can be unplugged.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pty
import select
import termios
import time
import tty
from collections.abc import Iterator
from typing import Any

import pytest

from actors.testing import Harness, Mesh, MeshFactory
from hal.core.framers import FramingError
from hal.serial import SerialLink, make_framer

FRAMES = [b"hello", b"\x00zero\x00bytes\x00", bytes(range(256)), b"x" * 1000]


def payloads(outs: list[Any], topic: str) -> list[Any]:
    return [m.envelope.payload for m in outs if m.topic == topic]


@pytest.mark.parametrize("framing", ["cobs", "length", "raw"])
def test_binary_frames_loop_back_under_the_harness(framing: str) -> None:
    """loop://: what goes out on dev.tx comes back on dev.rx, counted."""
    h = Harness(SerialLink, name="dev", params={"url": "loop://", "framing": framing})
    got: list[bytes] = []
    for frame in FRAMES[:2] if framing == "raw" else FRAMES:
        got += payloads(h.feed("tx", frame), "dev.rx")
    if framing == "raw":  # raw chunks: the bytes arrive, their boundaries are the reads'
        assert b"".join(got) == b"".join(FRAMES[:2])
    else:
        assert got == FRAMES
    counters = {m.topic: m.envelope.payload for m in h.advance(1.0)}
    assert counters["dev.frames_out"] == (2 if framing == "raw" else len(FRAMES))
    assert counters.get("dev.framing_errors", 0) == 0


def test_lines_are_text_and_bad_tx_is_counted() -> None:
    """Line framing publishes text; a tx that is neither bytes nor text is dropped and counted."""
    h = Harness(SerialLink, name="dev", params={"url": "loop://", "terminator": "\r\n"})
    assert payloads(h.feed("tx", "T?"), "dev.rx") == ["T?"]
    assert payloads(h.feed("tx", 42), "dev.rx") == []
    counters = {m.topic: m.envelope.payload for m in h.advance(1.0)}
    assert counters["dev.tx_dropped"] == 1
    assert counters["dev.bytes_out"] == 4


def test_a_full_queue_drops_by_the_overflow_policy() -> None:
    """Disconnected: frames queue up to queue_limit; past it the oldest go, counted."""
    h = Harness(
        SerialLink,
        name="dev",
        params={"url": "/nonexistent/tty", "queue_limit": 3, "retry_initial": 60.0},
    )
    assert h.outputs["connected"] is False
    assert "open failed" in h.state["last_error"]
    for n in range(5):
        h.feed("tx", f"cmd {n}")
    link = h.actor
    assert isinstance(link, SerialLink)
    assert [bytes(f) for f in link._queue] == [b"cmd 2\n", b"cmd 3\n", b"cmd 4\n"]
    counters = {m.topic: m.envelope.payload for m in h.advance(1.0)}
    assert counters["dev.tx_dropped"] == 2


def test_bad_params_are_named() -> None:
    """A missing url or an unknown framing is a clear error naming the param."""
    with pytest.raises(ValueError, match=r"params\.url: is required"):
        Harness(SerialLink, name="dev")
    with pytest.raises(ValueError, match=r"params\.framing: 'slip' is not one of 'line', 'cobs'"):
        Harness(SerialLink, name="dev", params={"url": "loop://", "framing": "slip"})


def test_reopen_backs_off_exponentially_with_jitter() -> None:
    """While the device is missing the delay doubles up to retry_max; no crash, no spin."""
    h = Harness(
        SerialLink,
        name="dev",
        params={"url": "/nonexistent/tty", "retry_initial": 0.1, "retry_max": 1.6},
    )
    start = h.clock.now
    delays = [h.state["retry_delay"]]
    while h.clock.now < start + 10.0:
        h.advance(0.01)
        if h.state["retry_delay"] != delays[-1]:
            delays.append(h.state["retry_delay"])
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6]
    attempts = [start] + [e.time for e in h.engine.recorder.events() if e.kind == "timer"]
    waits = [b - a for a, b in itertools.pairwise(attempts)]
    assert len(waits) >= 8  # it kept trying, at retry_max once there
    # Each wait is in the upper half of its delay (jitter), never shorter: no spinning.
    for wait, delay in zip(waits, [*delays, *[1.6] * len(waits)], strict=False):
        assert delay / 2 - 0.011 <= wait <= delay + 0.011
    assert h.actor.connected is False


# -- real ptys, real processes ------------------------------------------------------


@contextlib.contextmanager
def pty_pair() -> Iterator[tuple[int, str]]:
    """A raw pty pair: the master for the test, the slave's path for the link."""
    master, slave = pty.openpty()
    tty.setraw(slave, termios.TCSANOW)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def read_frames(fd: int, framing: str, count: int, timeout: float = 20.0) -> list[bytes]:
    """*count* frames written by the link into the master *fd*; the timeout is a hang guard."""
    framer = make_framer(framing, b"\n", 4096)
    frames: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(frames) < count:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"only {frames} within {timeout}s")
        for event in framer.feed(os.read(fd, 65536)):
            assert not isinstance(event, FramingError), event
            frames.append(event)
    return frames


def link_site(url: str, **params: Any) -> dict[str, Any]:
    return {"actors": {"dev": {"class": "hal.serial:SerialLink", "params": {"url": url, **params}}}}


@pytest.mark.slow
@pytest.mark.parametrize("framing", ["line", "cobs", "length"])
def test_frames_both_ways_on_a_real_pty(mesh: MeshFactory, framing: str) -> None:
    """Device -> dev.rx and dev.tx -> device through a real link process on a real pty."""
    with pty_pair() as (master, path):
        # The port is opened in on_start, before the link is ready.
        site = mesh.start(link_site(path, framing=framing, encoding=""))
        framer = make_framer(framing, b"\n", 4096)
        cursor = site.mark()
        for frame in FRAMES[:3]:
            body = frame.replace(b"\n", b"") if framing == "line" else frame
            os.write(master, framer.encode(body))
        got = [m.envelope.payload for m in site.collect("dev.rx", 3, after=cursor)]
        expect = [f.replace(b"\n", b"") if framing == "line" else f for f in FRAMES[:3]]
        assert got == expect
        for frame in expect:
            site.publish("dev.tx", frame)
        assert read_frames(master, framing, 3) == expect
        site.wait_for("dev.frames_out", lambda n: n == 3)


def sim_site(**link: Any) -> dict[str, Any]:
    return {
        "actors": {
            "sim": {"class": "hal.sim:RoomSim", "params": {"interval": 0.05}},
            "room": {
                "class": "hal.serial:SerialLink",
                "after": ["sim"],
                "params": {"url": "dev/room", "retry_initial": 0.05, "retry_max": 0.4, **link},
            },
        }
    }


def wait_reading(site: Mesh, after: int | None = None) -> Any:
    return site.wait_for("room.rx", lambda line: line.startswith("T "), after=after)


@pytest.mark.slow
def test_unplug_and_replug_reconnects(mesh: MeshFactory) -> None:
    """Unplugging the simulated device: disconnected, retries; replugged: connected again."""
    site = mesh.start(sim_site())
    wait_reading(site, after=0)
    cursor = site.publish("room.tx", "H 1")
    site.wait_for("room.rx", lambda line: line == "OK H 1", after=cursor)
    pid = site.pid("room")
    cursor = site.publish("sim.plug", False)
    site.wait_for("room.connected", lambda c: c is False, after=cursor)
    cursor = site.mark()
    site.publish("room.tx", "T?")  # queued while the device is away
    site.publish("sim.plug", True)
    site.wait_for("room.connected", lambda c: c is True, after=cursor)
    site.wait_for("room.rx", lambda line: line.startswith("T "), after=cursor)
    site.wait_for("room.reconnects", lambda n: n == 1, after=cursor)
    assert site.pid("room") == pid  # no crash, no restart
    assert site.actor("room")["restarts"] == 0
    # Several unplugs in a row: still no crash loop.
    for _ in range(3):
        cursor = site.publish("sim.plug", False)
        site.wait_for("room.connected", lambda c: c is False, after=cursor)
        cursor = site.publish("sim.plug", True)
        site.wait_for("room.connected", lambda c: c is True, after=cursor)
    wait_reading(site)
    assert site.pid("room") == pid


@pytest.mark.slow
def test_kill_9_releases_the_port_for_the_successor(mesh: MeshFactory) -> None:
    """An exclusive link killed with SIGKILL: its successor opens the port at its first try."""
    site = mesh.start(sim_site(exclusive=True))
    wait_reading(site, after=0)
    cursor = site.mark()
    old = site.kill("room")
    site.wait_restarted("room", old)
    # The successor's first connected value (seq 1) is True: on_start opened the port.
    first = site.wait_for("room.connected", after=cursor)
    assert first.envelope.seq == 1 and first.envelope.payload is True
    wait_reading(site, after=cursor)
    # The lock is real: a second exclusive opener of the same device is refused.
    h = Harness(SerialLink, name="other", params={"url": f"{site.root}/run/dev/room"})
    try:
        assert h.outputs["connected"] is False
        assert "lock" in h.state["last_error"].lower()
    finally:
        h.stop()


def test_reconnect_jitter_is_seeded_under_the_harness() -> None:
    """The same seed gives the same reconnect waits; another seed other waits."""

    def waits(seed: int) -> list[float]:
        h = Harness(
            SerialLink,
            name="dev",
            params={"url": "/nonexistent/tty", "retry_initial": 0.1, "retry_max": 1.6},
            seed=seed,
        )
        h.advance(30.0)
        times = [e.time for e in h.engine.recorder.events() if e.kind == "timer"]
        return [round(b - a, 6) for a, b in itertools.pairwise(times)]

    assert waits(1) == waits(1)
    assert waits(1) != waits(2)


@pytest.mark.slow
def test_nmea_lines_over_a_real_pty_arrive_without_their_cr(mesh: MeshFactory) -> None:
    """An NMEA feed (CRLF lines) on a real pty: dev.rx carries each sentence without its
    ``\r``, as text; with ``strip_cr = false`` the \r stays."""
    sentences = ["$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", "$GPVTG"]
    for strip, expect in ((True, sentences), (False, [f"{s}\r" for s in sentences])):
        with pty_pair() as (master, path):
            site = mesh.start(link_site(path, strip_cr=strip))
            cursor = site.mark()
            os.write(master, "".join(f"{s}\r\n" for s in sentences).encode())
            got = [m.envelope.payload for m in site.collect("dev.rx", 2, after=cursor)]
            assert got == expect
            site.close()
