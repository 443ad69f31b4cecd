"""``hal.serial:SerialLink``: the actor that owns one serial link (shell: real ports).

Frames received from the device are published on ``<name>.rx`` (text for
line framing with an ``encoding``, bytes otherwise); what arrives on
``<name>.tx`` is framed and written. The link's status is a set of declared
Outputs (``<name>.connected``, byte, frame, error and reconnect counters), so
it shows in the data dictionary, the metrics and ``tap``.

No busy loop, no blocking step: the port is opened non-blocking and its file
descriptor is polled by the runtime together with the actor's sockets
(``self.enlil.watch``). Writes go through a bounded queue; past ``queue_limit``
frames, ``overflow`` says which frame is dropped (``drop_oldest`` or
``drop_newest``), and every dropped frame is counted in ``tx_dropped``.

When the device goes away (a read or write fails, the path disappears), the
link reports ``connected = false`` and reopens with exponential backoff and
jitter (``retry_initial`` doubling up to ``retry_max``) until the device is
back; it never crashes for that. With ``exclusive`` (the default) the port is
locked while open; the lock is the open descriptor's, so a killed actor's
successor can open the port at once. Ports that have no modem control lines
(ptys) are fine: pyserial's ``OSError`` on those lines is tolerated.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from pathlib import Path
from typing import Any

import serial
import serial.serialposix

from actors import Actor, Input, Output, Param, State
from actors.core.backoff import jittered, next_delay
from actors.core.faults import UNPLUG
from hal.core.framers import (
    CobsFramer,
    Framer,
    FramingError,
    LengthCrcFramer,
    LineFramer,
    RawFramer,
)
from hal.core.links import publish_counts

#: Framing names accepted by the ``framing`` param.
FRAMINGS = ("line", "cobs", "length", "raw")
OVERFLOW = ("drop_oldest", "drop_newest")


def make_framer(framing: str, terminator: bytes, max_length: int, strip_cr: bool = True) -> Framer:
    """The framer called *framing* (one of :data:`FRAMINGS`); *strip_cr*: line framing
    drops a ``\r`` before a ``\n`` terminator."""
    if framing == "line":
        return LineFramer(terminator, max_length=max_length, strip_cr=strip_cr)
    if framing == "cobs":
        return CobsFramer(max_length=max_length)
    if framing == "length":
        return LengthCrcFramer(max_length=max_length)
    if framing == "raw":
        return RawFramer()
    raise ValueError(f"framing {framing!r} is not one of {', '.join(FRAMINGS)}")


class SerialLink(Actor):
    """Owns one serial link: device frames out on <name>.rx, <name>.tx written to the device."""

    tx = Input(
        "{name}.tx", object, doc="A frame to write: bytes, or text for line framing", default=None
    )
    rx = Output("{name}.rx", object, doc="A frame from the device: text (line framing) or bytes")
    connected = Output("{name}.connected", bool, doc="Whether the port is open", metric=True)
    bytes_in = Output("{name}.bytes_in", int, doc="Bytes read", unit="By", metric="counter")
    bytes_out = Output("{name}.bytes_out", int, doc="Bytes written", unit="By", metric="counter")
    frames_in = Output("{name}.frames_in", int, doc="Frames received", metric="counter")
    frames_out = Output("{name}.frames_out", int, doc="Frames written", metric="counter")
    framing_errors = Output(
        "{name}.framing_errors", int, doc="Frames that failed to decode", metric="counter"
    )
    reconnects = Output("{name}.reconnects", int, doc="Reopens after the first", metric="counter")
    tx_dropped = Output(
        "{name}.tx_dropped",
        int,
        doc="Frames dropped: queue full, not bytes, or cut off",
        metric="counter",
    )

    url = Param(
        "",
        doc="Device path (relative: under the site's run_dir) or pyserial URL (loop://, socket://...)",
        required=True,
        path=True,
    )
    baudrate = Param(115200, doc="Baud rate", unit="Bd", minimum=1)
    bytesize = Param(8, doc="Data bits: 5, 6, 7 or 8", choices=(5, 6, 7, 8))
    parity = Param("N", doc="Parity: N, E, O, M or S", choices=("N", "E", "O", "M", "S"))
    stopbits = Param(1.0, doc="Stop bits: 1, 1.5 or 2", choices=(1.0, 1.5, 2.0))
    framing = Param(
        "line",
        doc="line, cobs (zero-delimited, CRC-16), length (CRC-16) or raw",
        choices=FRAMINGS,
    )
    terminator = Param("\n", doc="End of a frame, for line framing")
    strip_cr = Param(
        True,
        doc="Line framing with a \\n terminator: drop a \\r before it (CRLF lines: NMEA, "
        "most instruments)",
    )
    encoding = Param("utf-8", doc="Text encoding of lines; empty: lines are bytes")
    max_frame = Param(
        4096, doc="Longest frame; longer ones are framing errors", unit="By", minimum=1
    )
    exclusive = Param(True, doc="Lock the port while it is open")
    queue_limit = Param(256, doc="Frames waiting to be written, at most", minimum=1)
    overflow = Param(
        "drop_oldest", doc="When the queue is full: drop_oldest or drop_newest", choices=OVERFLOW
    )
    retry_initial = Param(0.1, doc="First reopen delay", unit="s", minimum=0.001, maximum=3600)
    retry_max = Param(5.0, doc="Longest reopen delay", unit="s", minimum=0.001, maximum=3600)

    opens = State(0, doc="Successful opens of the port")
    retry_delay = State(0.0, doc="Delay before the next reopen attempt", unit="s")
    last_error = State("", doc="Why the port last closed or failed to open")

    hal = True
    period = 1.0  # how often the counters are published (when they changed)

    def __init__(self) -> None:
        if not self.url:
            raise ValueError("url is not set (a device path or a pyserial URL)")
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing {self.framing!r} is not one of {', '.join(FRAMINGS)}")
        if self.overflow not in OVERFLOW:
            raise ValueError(f"overflow {self.overflow!r} is not one of {', '.join(OVERFLOW)}")
        self._port: Any = None
        self._fd: int | None = None
        self._queue: deque[bytes] = deque()
        self._pending = b""  # the part of the head frame not yet written
        self._counts = dict.fromkeys(
            ("bytes_in", "bytes_out", "frames_in", "frames_out", "framing_errors", "tx_dropped"), 0
        )
        self._framer = self._new_framer()
        self._text = self.framing == "line" and bool(self.encoding)

    # -- hooks ---------------------------------------------------------------

    def on_start(self) -> None:
        """Runs in the link's process: opens the port (or schedules retries)."""
        self.connected = False
        self.reconnects = 0
        publish_counts(self, self._counts, changed_only=False)
        self._open()

    def on_stop(self) -> None:
        """Runs in the link's process at stop: closes the port."""
        self._close("stopped")

    def step(self) -> None:
        """Queues a frame from <name>.tx; every period, publishes the link's status.

        ``connected`` goes out every period (for whoever joined since); the
        counters only when they changed.
        """
        if self.enlil.trigger == "tx":
            self._enqueue(self.tx)
            return
        self.connected = self._port is not None
        publish_counts(self, self._counts)

    # -- the port --------------------------------------------------------------

    def _new_framer(self) -> Framer:
        return make_framer(
            self.framing, self.terminator.encode(), self.max_frame, strip_cr=self.strip_cr
        )

    def _path(self) -> str:
        url = str(self.url)
        if "://" in url or os.path.isabs(url) or not self.enlil.run_dir:
            return url
        return str(Path(self.enlil.run_dir) / url)  # relative paths: under the site's run_dir

    def _open(self) -> None:
        path = self._path()
        try:
            port = serial.serial_for_url(
                path,
                do_not_open=True,
                baudrate=self.baudrate,
                bytesize=self.bytesize,
                parity=self.parity,
                stopbits=self.stopbits,
                timeout=0,
                # Device paths: non-blocking writes. URL handlers write their own way
                # (loop:// at once, socket:// with sendall) and reject a zero timeout.
                write_timeout=None if "://" in path else 0,
                exclusive=self.exclusive,
            )
            port.open()
        except (OSError, serial.SerialException, ValueError) as exc:
            self._retry(f"open failed: {exc}")
            return
        self._port = port
        self._framer = self._new_framer()
        try:
            self._fd = port.fileno()
        except (AttributeError, OSError, serial.SerialException):
            self._fd = None  # loop:// has no descriptor: read right after each write
        self.opens += 1
        if self.opens > 1:
            self.reconnects = self.opens - 1
        self.retry_delay = 0.0
        self.connected = True
        self.enlil.log.info("port open", url=self.url, fd=self._fd)
        self._watch()
        self._flush_queue()

    def _watch(self) -> None:
        if self._fd is not None:
            writable = self._on_writable if self._pending or self._queue else None
            self.enlil.watch(self._fd, self._on_readable, writable)

    def _close(self, why: str) -> None:
        if self._fd is not None:
            self.enlil.watch(self._fd)
            self._fd = None
        if self._port is not None:
            # Closing a vanished device can fail; the descriptor is gone either way.
            with contextlib.suppress(OSError, serial.SerialException):
                self._port.close()
            self._port = None
        self._pending = b""
        self.last_error = why

    def _lost(self, why: str) -> None:
        self.enlil.log.warning("port lost", url=self.url, error=why)
        if self._pending:
            self._counts["tx_dropped"] += 1  # a frame half written is lost with the port
        self._close(why)
        self.connected = False
        self.retry_delay = 0.0
        self._retry(why)

    def _retry(self, why: str) -> None:
        self.retry_delay = next_delay(self.retry_delay, self.retry_initial, self.retry_max)
        self.last_error = why
        self.enlil.call_later(jittered(self.retry_delay, self.enlil.random), self._open)

    # -- reading ---------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = self._port.read(65536)
            if not data and self._fd is not None:
                raise serial.SerialException("device reports readiness but returned no data")
        except (OSError, serial.SerialException) as exc:
            self._lost(f"read failed: {exc}")
            return
        fault = self.enlil.link_fault
        if fault is not None:  # fault injection (a [faults] link rule): lost, flipped, unplugged
            changed = fault("rx", data)
            if changed == UNPLUG:
                self._lost("fault injection: unplugged")
                return
            if not isinstance(changed, bytes):
                return
            data = changed
        self._received(data)

    def _received(self, data: bytes) -> None:
        self._counts["bytes_in"] += len(data)
        send = self.enlil.send
        for frame in self._framer.feed(data):
            if isinstance(frame, FramingError):
                self._counts["framing_errors"] += 1
                self.enlil.log.warning("framing error", reason=frame.reason, dropped=frame.dropped)
                continue
            self._counts["frames_in"] += 1
            send("rx", frame.decode(self.encoding, "replace") if self._text else frame)

    # -- writing ---------------------------------------------------------------

    def _enqueue(self, value: Any) -> None:
        if isinstance(value, str):
            value = value.encode(self.encoding or "utf-8")
        if not isinstance(value, bytes):
            self._counts["tx_dropped"] += 1
            self.enlil.log.warning("tx dropped: not bytes or text", type=type(value).__name__)
            return
        if len(self._queue) >= self.queue_limit:
            self._counts["tx_dropped"] += 1
            if self.overflow == "drop_newest":
                return
            self._queue.popleft()
        self._queue.append(self._framer.encode(value))
        self._flush_queue()

    def _write_some(self, data: bytes) -> int:
        """Write what the device takes now, without blocking; return how many bytes."""
        fault = self.enlil.link_fault
        if fault is not None:  # fault injection: the chunk lost (taken as written), flipped
            changed = fault("tx", data)
            if changed == UNPLUG:
                raise OSError("fault injection: unplugged")
            if not isinstance(changed, bytes):
                return len(data)
            data = changed
        if self._fd is not None and isinstance(self._port, serial.serialposix.Serial):
            try:
                return os.write(self._fd, data)
            except BlockingIOError:
                return 0  # pyserial would spin here until writable
        written: int | None = self._port.write(data)  # URL handlers write their own way
        return len(data) if written is None else written

    def _on_writable(self) -> None:
        self._flush_queue()

    def _flush_queue(self) -> None:
        port = self._port
        if port is None:
            return  # kept until the port is back (or dropped by the queue limit)
        try:
            while self._pending or self._queue:
                if not self._pending:
                    self._pending = self._queue.popleft()
                written = self._write_some(self._pending)
                self._counts["bytes_out"] += written
                self._pending = self._pending[written:]
                if self._pending:
                    break  # the device is slow: wait until it is writable
                self._counts["frames_out"] += 1
        except (OSError, serial.SerialException) as exc:
            self._lost(f"write failed: {exc}")
            return
        if self._fd is None and port.in_waiting:
            self._received(port.read(port.in_waiting))  # loop://: what we wrote is back
        self._watch()
