"""MCAP files being written: a channel per topic, JSON records (shell).

Used by ``python -m supervisor record`` (with the topics' declared types) and
the built-in :class:`~actors.recorder.Recorder` actor. Files are created
owner-only, whatever the umask. The chunk in progress is written out at least
every :data:`FLUSH_EVERY` seconds (on the next message, or :meth:`McapOut.tick`),
so that a kill loses at most that much: what reached the file is whole chunks,
which a reader recovers without the footer a kill never wrote (``record repair``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

from mcap.writer import Writer

from actors.core.records import (
    MESSAGE_ENCODING,
    SCHEMA_ENCODING,
    channel_form,
)

#: The library name written in a recording's header.
LIBRARY: Final = "enlil"
_UNSIGNED32: Final = 0xFFFFFFFF
#: Seconds a message may wait in the chunk in progress before the chunk is written out.
FLUSH_EVERY: Final = 1.0


class McapOut:
    """An MCAP file being written: a channel per topic, made when its first message comes."""

    def __init__(
        self,
        path: Path,
        types: dict[str, Any],
        chunk_size: int = 1024 * 1024,
        flush_every: float = FLUSH_EVERY,
    ) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file too
        self.path = path
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._writer = Writer(self._file, chunk_size=chunk_size)
        self._writer.start(profile="", library=LIBRARY)
        self._types = types
        #: Each topic's channel id and how its messages are encoded.
        self._channels: dict[str, tuple[int, Callable[[Any, str, int], bytes]]] = {}
        self.written = 0
        self._flush_every = flush_every
        #: When the oldest message not yet written out must be (monotonic; 0: none waits).
        self._flush_at = 0.0

    def write(  # noqa: PLR0913, PLR0917 - a message's own fields, then its log time
        self,
        topic: str,
        sender: str,
        seq: int,
        sent_ns: int,
        payload: Any,
        log_ns: int | None = None,
    ) -> None:
        """One message, logged at *log_ns* (default: now) and published at *sent_ns*."""
        found = self._channels.get(topic)
        if found is None:
            form = channel_form(topic, self._types.get(topic, object))
            schema = self._writer.register_schema(
                name=form.schema_name,
                encoding=SCHEMA_ENCODING,
                data=json.dumps(form.schema).encode(),
            )
            channel = self._writer.register_channel(
                topic=topic, message_encoding=MESSAGE_ENCODING, schema_id=schema
            )
            found = self._channels[topic] = (channel, form.encode)
        channel, encode = found
        self._writer.add_message(
            channel,
            log_time=time.time_ns() if log_ns is None else log_ns,
            data=encode(payload, sender, seq),
            publish_time=sent_ns,
            sequence=seq & _UNSIGNED32,
        )
        self.written += 1
        if not self._flush_at:
            self._flush_at = time.monotonic() + self._flush_every
        else:
            self.tick()

    def tick(self) -> None:
        """Write the chunk in progress out if its oldest message has waited long enough
        (call it now and then when messages may stop coming)."""
        if self._flush_at and time.monotonic() >= self._flush_at:
            self._writer.flush()  # type: ignore[no-untyped-call]  # mcap's own annotations
            self._flush_at = 0.0

    @property
    def size(self) -> int:
        """Bytes written to the file so far (whole chunks)."""
        return self._file.tell()

    def close(self) -> None:
        """Write the summary and close the file."""
        self._writer.finish()  # type: ignore[no-untyped-call]  # mcap's own annotations
        self._file.close()
