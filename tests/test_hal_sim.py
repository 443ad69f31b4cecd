"""The simulated device: pure behaviour, and the real process on a real pty."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path

import pytest

from hal.core.device import RoomDevice
from hal.core.framers import LineFramer


def test_device_answers_commands_and_heats() -> None:
    """The protocol table of hal.core.device, and the heater warming the room."""
    d = RoomDevice(temperature=20.0, outside=20.0)
    assert d.handle(b"T?") == b"T 20.00\n"
    assert d.handle(b"H 1") == b"OK H 1\n"
    assert d.handle(b"H?") == b"H 1\n"
    d.advance(10.0)
    assert d.temperature == pytest.approx(26.0)
    assert d.handle(b"bogus") == b"ERR bogus\n"


def read_lines(fd: int, count: int, timeout: float = 10.0) -> list[bytes]:
    """*count* lines from *fd*; the timeout is a hang guard."""
    framer = LineFramer(b"\n")
    lines: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(lines) < count:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, left))
        if not ready:
            raise AssertionError(f"only {lines} within {timeout}s")
        lines += [x for x in framer.feed(os.read(fd, 4096)) if isinstance(x, bytes)]
    return lines


@pytest.mark.slow
def test_simulator_streams_and_answers_on_a_real_pty() -> None:
    """python -m hal.sim prints its pty path, streams readings and takes commands."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hal.sim", "--interval", "0.05"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/pts/")
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd, termios.TCSANOW)
            assert all(line.startswith(b"T ") for line in read_lines(fd, 3))
            os.write(fd, b"H 1\n")
            lines = read_lines(fd, 20)
            assert b"OK H 1" in lines
            temps = [float(x[2:]) for x in lines if x.startswith(b"T ")]
            assert temps[-1] > temps[0]  # the heater warms the simulated room
        finally:
            os.close(fd)
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.slow
def test_simulator_unplugs_and_replugs_behind_a_stable_link(tmp_path: Path) -> None:
    """--link: 'unplug' closes the pty (the opener's reads fail) and removes the link;
    'plug' opens a new pty and points the link at it."""
    link = tmp_path / "dev" / "room"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hal.sim", "--interval", "0.05", "--link", str(link)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == str(link)
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd, termios.TCSANOW)
            assert read_lines(fd, 1)[0].startswith(b"T ")
            proc.stdin.write("unplug\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "unplugged"
            assert not link.exists()
            with pytest.raises(OSError):  # the device is gone: EIO (or end of file)
                if os.read(fd, 4096) == b"":
                    raise OSError("end of file")
        finally:
            os.close(fd)
        proc.stdin.write("plug\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == f"plugged {link}"
        assert os.path.realpath(link).startswith("/dev/pts/")
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd, termios.TCSANOW)
            assert read_lines(fd, 1)[0].startswith(b"T ")
        finally:
            os.close(fd)
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        proc.stdin.close()
        proc.stdout.close()
    assert not link.exists()  # the simulator removes its link when it ends
