"""Recordings in MCAP: ``record`` a running site's topics, ``play`` them back (shell).

Each topic is an MCAP channel with ``json`` messages (records, see
:mod:`supervisor.core.records`) and a ``jsonschema`` schema from the topic's
declared type; each message keeps the envelope's time (``publish_time``), the
time it was received (``log_time``) and its sequence number. Files are
written owner-only. ``play`` publishes a recording's messages back into a
site in their recorded order, at the recorded pace times ``rate`` (0: as fast
as they go), from a link of its own (sender ``play``, its own sequence
numbers: the recorded sender and sequence stay in the records).
"""

from __future__ import annotations

import contextlib
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import zmq
from mcap.reader import make_reader
from mcap.records import Schema

from actors.core.records import decode_record, decode_recorded
from actors.core.snapshot import Snapshot
from actors.link import BrokerLink
from actors.mcap_out import McapOut
from actors.site import SiteConfig
from supervisor.docs import declared_types
from supervisor.mcap_repair import is_complete, salvage


def record(
    site: SiteConfig,
    patterns: list[str],
    out: Path,
    until: tuple[float | None, int],
    on_ready: Callable[[], None] = lambda: None,
) -> int:
    """Record what *patterns* match (every topic but the framework's by default) into
    *out* until (*seconds*, *count*) = *until*: that long, that many messages (0: no
    limit), or SIGINT/SIGTERM; return how many were written. *on_ready*: called once the
    broker delivers to the recorder."""
    seconds, count = until
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda s, f: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    link = BrokerLink.to_site(ctx, site, "record", patterns or ["*"])
    every = not patterns
    mcap = McapOut(out, declared_types(site))
    try:
        link.wait_connected(10.0)
        on_ready()
        deadline = None if seconds is None else time.monotonic() + seconds
        while not stop.is_set() and not (count and mcap.written >= count):
            left = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
            if left <= 0:
                break
            message = link.recv(left)
            mcap.tick()  # a kill loses at most the last second
            if message is None or (every and message.topic.startswith("$")):
                continue
            env = message.envelope
            mcap.write(message.topic, env.sender, env.seq, env.timestamp_ns, env.payload)
    finally:
        mcap.close()
        link.close(linger_ms=0)
        ctx.term()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return mcap.written


def recorded(path: Path, topics: Iterable[str] = ()) -> Iterator[tuple[str, int, Any]]:
    """(topic, log_time ns, payload) of each message of a recording, in log-time order; of
    an unfinished one (no footer: a killed recorder), what its whole chunks hold."""
    if not is_complete(path):
        yield from _salvaged(path, topics)
        return
    with path.open("rb") as f:
        reader = make_reader(f)
        chosen = list(topics) or None
        try:
            for schema, channel, message in reader.iter_messages(
                topics=chosen, log_time_order=True
            ):
                try:
                    payload = _payload(schema, message.data)
                except ValueError as exc:
                    raise ValueError(
                        f"message {message.sequence} on {channel.topic!r} "
                        f"(log time {message.log_time}): {exc}"
                    ) from None
                yield channel.topic, message.log_time, payload
        except struct.error as exc:  # cut short
            raise ValueError(f"the recording ends in the middle of a record ({exc})") from None


def _salvaged(path: Path, topics: Iterable[str]) -> Iterator[tuple[str, int, Any]]:
    found = salvage(path)
    chosen = set(topics)
    for m in sorted(found.messages, key=lambda m: m.log_time):
        channel = found.channels.get(m.channel_id)
        if channel is None or (chosen and channel.topic not in chosen):
            continue
        try:
            payload = _payload(found.schemas.get(channel.schema_id), m.data)
        except ValueError as exc:
            raise ValueError(f"message {m.sequence} on {channel.topic!r}: {exc}") from None
        yield channel.topic, m.log_time, payload


def _payload(schema: Schema | None, data: bytes) -> Any:
    """A recorded message's payload, in the form its channel's schema says."""
    if schema is None:
        return decode_record(data)[0]
    return decode_recorded(schema.name, schema.data, data)


def check_recording(path: Path) -> None:
    """Raise OSError, McapError or ValueError unless *path* opens as an MCAP file."""
    with path.open("rb") as f:
        try:
            make_reader(f).get_header()
        except struct.error as exc:  # shorter than the magic
            raise ValueError(f"too short to be MCAP ({exc})") from None


def play(site: SiteConfig, path: Path, rate: float, topics: list[str]) -> int:
    """Publish a recording's messages into *site*; return how many were published."""
    check_recording(path)  # a bad file is an error before any site is needed
    stopping: list[int] = []

    def on_signal(sig: int, frame: FrameType | None) -> None:
        stopping.append(sig)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    link = BrokerLink.to_site(ctx, site, "play")
    sent = 0
    try:
        link.wait_connected(10.0)
        first: tuple[int, float] | None = None
        for topic, log_time, payload in recorded(path, topics):
            if stopping:
                break
            if first is None:
                first = (log_time, time.monotonic())
            elif rate > 0:
                due = first[1] + (log_time - first[0]) / 1e9 / rate
                with contextlib.suppress(ValueError):
                    time.sleep(max(0.0, due - time.monotonic()))  # the recording's pace
            try:
                link.publish(topic, payload)
            except (ValueError, TypeError, OverflowError) as exc:  # msgpack's limits
                raise ValueError(f"a message on {topic!r} cannot be sent: {exc}") from None
            sent += 1
        link.drain(10.0)  # everything passed the broker before we go
    finally:
        link.close(linger_ms=1000)
        ctx.term()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return sent


def snapshot_to_mcap(snapshot: Snapshot, out: Path, types: dict[str, Any]) -> int:
    """The messages of a snapshot's input window as an MCAP recording; how many."""
    mcap = McapOut(out, types)
    try:
        for event in snapshot.events:
            if event.kind == "message" and event.topic:
                mcap.write(
                    event.topic,
                    event.sender or "",
                    event.seq,
                    event.timestamp_ns,
                    event.payload,
                    log_ns=int(event.time * 1e9),  # when the actor handled it, as recorded
                )
    finally:
        mcap.close()
    return mcap.written
