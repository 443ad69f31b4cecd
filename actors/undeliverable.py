"""Messages a reliable writer gave up: kept as files, announced, and sent again on request (shell).

A message sent ``max_deliver`` times without every expected reader acknowledging it
is *undeliverable* (:class:`~actors.core.reliable_writer.Undeliverable`): its readers
are told to skip it and count it lost. The writer's process keeps it, for inspection,
as one owner-only file in the actor's snapshot folder
(``<snapshots.dir>/<actor>/undeliverable/``, the newest :data:`KEEP`), and publishes
an ``undeliverable`` event on ``$sys.event``. ``ctl redeliver NAME`` has the running
writer send every kept message again, as a new message on its topic (a new sequence
number: its readers skipped the old one), and delete the files of those it sent;
``ctl undeliverable`` lists them.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any, Final

import msgpack

from actors.core.reliable_writer import Undeliverable
from actors.core.topics import SYS_EVENT
from actors.core.wire import WireError, decode_message

#: The folder under an actor's snapshot folder.
FOLDER: Final = "undeliverable"
SUFFIX: Final = ".undeliverable"
#: Files kept per actor, at most (the oldest go first).
KEEP: Final = 1000
#: Bytes read of a kept file, at most.
MAX_BYTES: Final = 64 * 1024 * 1024


def keep(folder: Path, item: Undeliverable, now: float) -> Path:
    """Write *item* under *folder* (the actor's snapshot folder), owner-only and atomic."""
    target = folder / FOLDER
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    when = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    path = target / f"{when}.{int(now * 1000) % 1000:03d}Z-{item.seq:012d}{SUFFIX}"
    tmp = target / f".{path.name}.tmp"
    record = {
        "topic": item.topic,
        "seq": item.seq,
        "envelope": item.envelope,
        "readers": list(item.readers),
        "sends": item.sends,
        "time": now,
    }
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, msgpack.packb(record, use_bin_type=True))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    for old in sorted(target.glob(f"*{SUFFIX}"))[:-KEEP]:
        old.unlink(missing_ok=True)
    return path


def read(path: Path) -> dict[str, Any]:
    """A kept file's record; ValueError naming the file when it is not one."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path}: larger than {MAX_BYTES} bytes")
    try:
        record = msgpack.unpackb(data, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise ValueError(f"{path}: not a kept message: {exc}") from None
    match record:
        case {
            "topic": str(),
            "seq": int(),
            "envelope": bytes(),
            "readers": list(),
            "sends": int(),
            "time": float() | int(),
        }:
            return dict(record)
    raise ValueError(f"{path}: not a kept message")


def listed(snapshots: Path, actor: str | None = None) -> list[dict[str, Any]]:
    """The kept messages under the site's snapshot folder (of one actor, or all), oldest
    first: actor, topic, seq, readers, sends, time, file (a file that cannot be read is
    listed with its error)."""
    if not snapshots.is_dir():
        return []
    actors = [actor] if actor else sorted(p.name for p in snapshots.iterdir() if p.is_dir())
    out: list[dict[str, Any]] = []
    for name in actors:
        for path in sorted((snapshots / name / FOLDER).glob(f"*{SUFFIX}")):
            entry: dict[str, Any] = {"actor": name, "file": str(path)}
            try:
                record = read(path)
            except ValueError as exc:
                entry["error"] = str(exc)
            else:
                entry.update({k: v for k, v in record.items() if k != "envelope"})
            out.append(entry)
    return out


class Undelivered:
    """An actor process's undeliverable messages: kept and announced as they come, sent
    again on the supervisor's request."""

    def __init__(self, folder: Path | None, engine: Any, log: Any) -> None:
        #: The actor's snapshot folder (None: none configured; nothing is kept).
        self.folder = folder
        self.engine = engine
        self.log = log
        #: Files that could not be written (a full disk).
        self.failed = 0

    def take(self, now: float) -> list[tuple[bytes, bytes]]:
        """Keep what the writer gave up since the last call; the events to send."""
        engine = self.engine
        out: list[tuple[bytes, bytes]] = []
        for item in engine.reliable.take_undeliverable():
            path: Path | None = None
            if self.folder is not None:
                try:
                    path = keep(self.folder, item, now)
                except OSError as exc:
                    self.failed += 1
                    self.log.error("undeliverable message not kept", error=str(exc))
            event = {
                "event": "undeliverable",
                "actor": engine.name,
                "kind": "actor",
                "topic": item.topic,
                "seq": item.seq,
                "readers": list(item.readers),
                "sends": item.sends,
                "file": str(path) if path is not None else None,
            }
            out.append(engine.publish(SYS_EVENT.encode(), event))
        return out

    def redeliver(self) -> dict[str, Any]:
        """Send every kept message again, as a new message on its topic; delete the files
        of those sent. What was sent (old and new sequence numbers) and what was not."""
        sent: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        if self.folder is None:
            return {"redelivered": sent, "failed": failed}
        for path in sorted((self.folder / FOLDER).glob(f"*{SUFFIX}")):
            try:
                record = read(path)
                new = self._send(record["topic"], record["envelope"])
            except (ValueError, TypeError, KeyError, WireError) as exc:
                failed.append({"file": str(path), "error": str(exc)})
                continue
            sent.append({"topic": record["topic"], "seq": record["seq"], "new_seq": new})
            with contextlib.suppress(OSError):
                path.unlink()
        if sent:
            self.log.info("redelivered", count=len(sent))
        return {"redelivered": sent, "failed": failed}

    def _send(self, topic: str, envelope: bytes) -> int:
        """Send *envelope*'s payload again on *topic* (one of the actor's reliable
        Outputs); the new sequence number."""
        engine = self.engine
        if topic.encode() not in engine.reliable.output_topics:
            raise ValueError(f"{topic!r} is not a reliable Output topic of {engine.name!r}")
        payload = decode_message([topic.encode(), envelope]).envelope.payload
        patterns = engine.routes.output_patterns
        for name in engine.spec.outputs:
            if engine.topics.get(name) == topic:
                engine.send(name, payload)
                break
            if any(p.matches(topic) for p in patterns.get(name, ())):
                engine.send(name, payload, topic=topic)
                break
        else:
            raise ValueError(f"{engine.name!r} has no Output on {topic!r}")
        return int(engine.reliable.writer.topics[topic.encode()].last)
