"""A device on the far end of a pty pair, for tests and the demo (shell).

:class:`PtyDevice` opens a pseudo-terminal pair and plays a
:class:`~hal.core.device.RoomDevice` over the line protocol documented there
on the master end; the slave end is the device a serial link opens (like
``/dev/ttyUSB0``). Unplugging closes the pair (the link's reads fail, as with
a pulled USB cable); plugging opens a new pair. With a *link* path, a symlink
there always points at the current device, so a link configured with that
path finds the device again after a replug.

Two ways to run it:

* ``python -m hal.sim [--link PATH] [--interval S]`` prints the device path
  as its first line on stdout, streams readings every interval and answers
  commands; the lines ``unplug`` and ``plug`` on its stdin unplug and replug
  it (it answers ``unplugged`` and ``plugged PATH``). SIGTERM or SIGINT ends it.
* the actor ``hal.sim:RoomSim`` does the same inside a site (the demo's
  device): ``<name>.plug`` false/true unplugs and replugs it, and it publishes
  the simulated truth (``<name>.air``, ``<name>.heater``) for comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pty
import select
import signal
import sys
import termios
import time
import tty
from pathlib import Path

from actors import Actor, Input, Output, Param
from actors.process import SignalWakeup
from hal.core.device import RoomDevice
from hal.core.framers import LineFramer


class PtyDevice:
    """A :class:`RoomDevice` on the master end of a pty pair that can be unplugged."""

    def __init__(self, device: RoomDevice, link: str | None = None) -> None:
        self.device = device
        self.link = link
        self.master: int | None = None
        self._slave: int | None = None
        self.path = ""
        self._framer = LineFramer(b"\n", max_length=256)

    def plug(self) -> str:
        """Open a new pty pair (pointing the link at it); return the device path."""
        if self.master is not None:
            return self.path
        master, slave = pty.openpty()
        tty.setraw(slave, termios.TCSANOW)  # bytes as they are: no echo, no line discipline
        os.set_blocking(master, False)  # nobody reading: drop output, as a UART would
        self.master, self._slave = master, slave
        self._framer = LineFramer(b"\n", max_length=256)
        self.path = os.ttyname(slave)
        if self.link:
            # Atomically re-point the link: an opener sees the old device or the new one.
            tmp = f"{self.link}.{os.getpid()}.tmp"
            Path(self.link).parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.path, tmp)
            os.replace(tmp, self.link)
            return self.link
        return self.path

    def unplug(self) -> None:
        """Close the pty pair and remove the link: the device is gone."""
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link)
        for fd in (self.master, self._slave):
            if fd is not None:
                os.close(fd)
        self.master = self._slave = None

    def readable(self) -> None:
        """Read commands from the host and answer them."""
        if self.master is None:
            return
        try:
            data = os.read(self.master, 4096)
        except OSError:
            return  # EIO: nobody has the device open; keep serving the next opener
        for line in self._framer.feed(data):
            if isinstance(line, bytes):
                self._send(self.device.handle(line))

    def stream(self) -> None:
        """Send the streamed reading."""
        self._send(self.device.reading())

    def _send(self, data: bytes) -> None:
        # Without blocking; what does not fit is lost (the host sees a gap), as on a UART.
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.write(self.master, data)


def serve(interval: float, sim: PtyDevice) -> int:
    """Plug the device, announce its path and play it until told to stop."""
    sys.stdout.write(sim.plug() + "\n")
    sys.stdout.flush()
    wakeup = SignalWakeup((signal.SIGTERM, signal.SIGINT))
    stdin: int | None = sys.stdin.fileno()
    last = time.monotonic()
    next_reading = last + interval
    try:
        while True:
            timeout = max(0.0, next_reading - time.monotonic())
            fds = [fd for fd in (sim.master, wakeup.fileno(), stdin) if fd is not None]
            ready, _, _ = select.select(fds, [], [], timeout)
            if wakeup.fileno() in ready and wakeup.drain():
                return 0
            now = time.monotonic()
            sim.device.advance(now - last)
            last = now
            if stdin is not None and stdin in ready:
                command = sys.stdin.readline()
                if not command:
                    stdin = None  # end of input: no more commands
                elif command.strip() == "unplug":
                    sim.unplug()
                    _say("unplugged")
                elif command.strip() == "plug":
                    _say("plugged " + sim.plug())
            if sim.master is not None and sim.master in ready:
                sim.readable()
            if now >= next_reading:
                next_reading = now + interval
                sim.stream()
    finally:
        wakeup.close()
        sim.unplug()


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class RoomSim(Actor):
    """Plays the room-and-heater device at the far end of a pty: the demo's hardware."""

    plugged = Input(
        "{name}.plug",
        bool,
        doc="False unplugs the device, true plugs it back (from tools: pub device.plug false)",
        default=True,
        external=True,
    )
    air = Output(
        "{name}.air", float, doc="True temperature of the simulated room", unit="degC", metric=True
    )
    relay = Output("{name}.heater", bool, doc="The simulated heater relay", metric=True)
    link = Param(
        "dev/room", doc="Where the device appears (a symlink), relative to run_dir", path=True
    )
    interval = Param(0.5, doc="Seconds between streamed readings", unit="s")
    start = Param(17.0, doc="Room temperature at start", unit="degC")
    outside = Param(12.0, doc="Outside temperature", unit="degC")

    hal = True
    period = 2.0  # how often the simulated truth is published

    def __init__(self) -> None:
        self._sim: PtyDevice | None = None
        self._last = 0.0

    def on_start(self) -> None:
        """Runs in the simulator's process: plugs the device in and starts streaming."""
        link = Path(self.link)
        if not link.is_absolute() and self.enlil.run_dir:
            link = Path(self.enlil.run_dir) / link
        device = RoomDevice(temperature=self.start, outside=self.outside)
        self._sim = PtyDevice(device, str(link))
        self._last = time.monotonic()
        self._plug()
        self.enlil.call_later(self.interval, self._reading)

    def on_stop(self) -> None:
        """Runs at stop: unplugs the device."""
        if self._sim is not None:
            self._unplug()

    def step(self) -> None:
        """Plugs or unplugs on <name>.plug; publishes the simulated truth every period."""
        assert self._sim is not None
        self._advance()
        if self.enlil.trigger == "plugged":
            if self.plugged and self._sim.master is None:
                self._plug()
            elif not self.plugged and self._sim.master is not None:
                self._unplug()
            return
        self.air = round(self._sim.device.temperature, 3)
        self.relay = self._sim.device.heater

    def _plug(self) -> None:
        assert self._sim is not None
        path = self._sim.plug()
        assert self._sim.master is not None
        self.enlil.watch(self._sim.master, self._readable)
        self.enlil.log.info("device plugged", path=path, pty=self._sim.path)

    def _unplug(self) -> None:
        assert self._sim is not None
        if self._sim.master is not None:
            self.enlil.watch(self._sim.master)
        self._sim.unplug()
        self.enlil.log.info("device unplugged")

    def _advance(self) -> None:
        assert self._sim is not None
        now = time.monotonic()
        self._sim.device.advance(now - self._last)
        self._last = now

    def _readable(self) -> None:
        assert self._sim is not None
        self._advance()
        self._sim.readable()

    def _reading(self) -> None:
        assert self._sim is not None
        self._advance()
        self._sim.stream()
        self.enlil.call_later(self.interval, self._reading)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m hal.sim", description=__doc__.split("\n")[0])
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between readings")
    parser.add_argument("--temperature", type=float, default=17.0, help="start temperature")
    parser.add_argument("--link", help="keep a symlink here pointing at the current device")
    args = parser.parse_args(argv)
    return serve(args.interval, PtyDevice(RoomDevice(temperature=args.temperature), args.link))


if __name__ == "__main__":
    sys.exit(main())
