"""MCAP files being written: a channel per topic, JSON records (shell).

Used by ``python -m supervisor record`` (with the topics' declared types) and
the built-in :class:`~actors.recorder.Recorder` actor. Files are created
owner-only, whatever the umask.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO, Any, Final

from mcap.writer import Writer

from actors.core.records import (
    MESSAGE_ENCODING,
    SCHEMA_ENCODING,
    encode_record,
    record_schema,
    schema_name,
)

#: The library name written in a recording's header.
LIBRARY: Final = "enlil"
_UNSIGNED32: Final = 0xFFFFFFFF


class McapOut:
    """An MCAP file being written: a channel per topic, made when its first message comes."""

    def __init__(self, path: Path, types: dict[str, Any], chunk_size: int = 1024 * 1024) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file too
        self.path = path
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._writer = Writer(self._file, chunk_size=chunk_size)
        self._writer.start(profile="", library=LIBRARY)
        self._types = types
        self._channels: dict[str, int] = {}
        self.written = 0

    def write(self, topic: str, sender: str, seq: int, sent_ns: int, payload: Any) -> None:
        """One message."""
        channel = self._channels.get(topic)
        if channel is None:
            tp = self._types.get(topic, object)
            schema = self._writer.register_schema(
                name=schema_name(topic),
                encoding=SCHEMA_ENCODING,
                data=json.dumps(record_schema(topic, tp)).encode(),
            )
            channel = self._writer.register_channel(
                topic=topic, message_encoding=MESSAGE_ENCODING, schema_id=schema
            )
            self._channels[topic] = channel
        self._writer.add_message(
            channel,
            log_time=time.time_ns(),
            data=encode_record(payload, sender, seq),
            publish_time=sent_ns,
            sequence=seq & _UNSIGNED32,
        )
        self.written += 1

    @property
    def size(self) -> int:
        """Bytes written to the file so far (whole chunks)."""
        return self._file.tell()

    def close(self) -> None:
        """Write the summary and close the file."""
        self._writer.finish()  # type: ignore[no-untyped-call]  # mcap's own annotations
        self._file.close()
