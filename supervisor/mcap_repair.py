"""Recovering a recording that was never finished (shell: reads and writes files).

A recording killed mid-stream (``kill -9`` of ``record`` or of the Recorder
actor, a power cut) has whole chunks up to its last flush, then perhaps part of
one, and no summary or footer, so a seeking reader refuses it. As the MCAP spec
allows, :func:`salvage` reads it front to back with the stream reader and keeps
every schema, channel and message of the whole records, up to where the file
stops making sense; :func:`repair` writes them back as a complete file in place
(``python -m supervisor record repair FILE``), the way ``ros2 bag reindex``
mends a bag. ``play`` reads an unfinished file the same way, and says so.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import Channel, DataEnd, Footer, Message, Schema
from mcap.stream_reader import StreamReader
from mcap.writer import Writer

from actors.mcap_out import LIBRARY


@dataclass
class Salvage:
    """What could be read of a recording, front to back."""

    schemas: dict[int, Schema] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    #: Whether the file was complete (a footer was read).
    complete: bool = False
    #: Why reading stopped before a footer ("" when it did not).
    stopped: str = ""


def is_complete(path: Path) -> bool:
    """Whether *path* has its summary and footer (a seeking reader opens it)."""
    with path.open("rb") as f:
        try:
            return make_reader(f).get_summary() is not None
        except (McapError, struct.error, ValueError, EOFError):
            return False


def salvage(path: Path) -> Salvage:
    """Every whole record of *path*, in the order written; stops at the first that is cut
    or corrupt (a kill's last chunk)."""
    found = Salvage()
    with path.open("rb") as f:
        try:
            for record in StreamReader(f, skip_magic=False).records:
                if isinstance(record, Schema):
                    found.schemas[record.id] = record
                elif isinstance(record, Channel):
                    found.channels[record.id] = record
                elif isinstance(record, Message):
                    found.messages.append(record)
                elif isinstance(record, DataEnd | Footer):
                    found.complete = isinstance(record, Footer) or found.complete
        except (McapError, struct.error, zlib.error, ValueError, EOFError) as exc:
            found.stopped = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return found


def repair(path: Path) -> Salvage:
    """Rewrite *path* as a complete recording of what :func:`salvage` reads (through a
    temporary file beside it, owner-only, then renamed over it); what was read."""
    found = salvage(path)
    tmp = path.with_name(f".{path.name}.repair")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            writer = Writer(out)
            writer.start(profile="", library=LIBRARY)
            schema_ids = {
                old: writer.register_schema(s.name, s.encoding, s.data)
                for old, s in found.schemas.items()
            }
            channel_ids = {
                old: writer.register_channel(
                    c.topic, c.message_encoding, schema_ids.get(c.schema_id, 0), c.metadata
                )
                for old, c in found.channels.items()
            }
            for m in found.messages:
                if m.channel_id in channel_ids:
                    writer.add_message(
                        channel_ids[m.channel_id], m.log_time, m.data, m.publish_time, m.sequence
                    )
            writer.finish()  # type: ignore[no-untyped-call]  # mcap's own annotations
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return found
