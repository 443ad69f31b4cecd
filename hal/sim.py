"""``python -m hal.sim``: a device on the far end of a pty pair, for tests and the demo (shell).

It opens a pseudo-terminal pair, prints the path of the device end (what a
serial link opens, like ``/dev/ttyUSB0``) as its first line on stdout, and
then plays a :class:`~hal.core.device.RoomDevice` over the line protocol
documented there: it streams readings every ``--interval`` seconds and
answers commands. SIGTERM or SIGINT ends it; closing ends the pty pair, which
is what an unplugged device looks like from the other end.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import signal
import sys
import termios
import time
import tty

from actors.process import SignalWakeup
from hal.core.device import RoomDevice
from hal.core.framers import LineFramer


def serve(interval: float, device: RoomDevice) -> int:
    """Open the pty pair, announce its path and play the device until told to stop."""
    master, slave = pty.openpty()
    tty.setraw(slave, termios.TCSANOW)  # bytes as they are: no echo, no line discipline
    os.set_blocking(master, False)  # nobody reading: drop output, as a UART would
    sys.stdout.write(os.ttyname(slave) + "\n")
    sys.stdout.flush()
    wakeup = SignalWakeup((signal.SIGTERM, signal.SIGINT))
    framer = LineFramer(b"\n", max_length=256)
    last = time.monotonic()
    next_reading = last + interval
    try:
        while True:
            timeout = max(0.0, next_reading - time.monotonic())
            ready, _, _ = select.select([master, wakeup.fileno()], [], [], timeout)
            if wakeup.fileno() in ready and wakeup.drain():
                return 0
            now = time.monotonic()
            device.advance(now - last)
            last = now
            if master in ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""  # EIO: the other end is closed; keep serving the next opener
                for line in framer.feed(data):
                    if isinstance(line, bytes):
                        _send(master, device.handle(line))
            if now >= next_reading:
                next_reading = now + interval
                _send(master, device.reading())
    finally:
        wakeup.close()
        os.close(master)
        os.close(slave)


def _send(fd: int, data: bytes) -> None:
    """Write without blocking; what does not fit is lost (and the host sees a gap)."""
    try:
        os.write(fd, data)
    except (BlockingIOError, OSError):
        return


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m hal.sim", description=__doc__.split("\n")[0])
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between readings")
    parser.add_argument("--temperature", type=float, default=17.0, help="start temperature")
    args = parser.parse_args(argv)
    return serve(args.interval, RoomDevice(temperature=args.temperature))


if __name__ == "__main__":
    sys.exit(main())
