"""``actors.recorder:Recorder``: always-on recording of a site's topics into MCAP files.

Configured like any actor; what it records is its Input's topic, remapped in
site.toml (a topic or a ``prefix.*`` family)::

    [actors.recorder]
    class = "actors.recorder:Recorder"
    topics = { data = "sensor.*" }
    params = { folder = "recordings", rotate_mb = 64, rotate_seconds = 3600, keep = 24 }

Each file (``<folder>/<name>-<UTC time>.mcap``, owner-only) holds the same
records as ``python -m supervisor record`` (``{"value", "sender", "seq"}``,
one channel per topic); a new file starts when the current one reaches
``rotate_mb`` or ``rotate_seconds``, and the oldest go past ``keep``. A file
is complete (its summary written) once it is rotated or the actor stops; a
process killed mid-file leaves a file the ``mcap`` tools can still recover.
The schemas say only the record's shape (the declared types are the
command's, which reads the site's classes). A write that fails (a full disk)
is logged and counted in ``errors``, and the next file is tried at the next
rotation; the actor goes on.
"""

from __future__ import annotations

import time
from pathlib import Path

from actors import Actor, Input, Param, State
from actors.mcap_out import McapOut

_MIB = 1024 * 1024
#: Bytes a file's chunks hold before they are written out, at most (a quarter of the
#: rotation size when that is smaller: rotation follows the file's real size).
_CHUNK = 256 * 1024


def file_name(actor: str, now: float, count: int) -> str:
    """The name of the recording started at *now* (epoch seconds), the *count*-th of this
    process: ``NAME-<UTC time to the millisecond>Z-<count>.mcap``. Names sort in the
    order the files were started (``keep`` removes the first ones): the time is read
    once (its seconds and milliseconds from one reading), and the count tells apart two
    files started within one millisecond."""
    millis = int(now * 1000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}"
    return f"{actor}-{stamp}Z-{count:06d}.mcap"


class Recorder(Actor):
    """Records what it reads into MCAP files under the run folder, rotated by size and age."""

    data = Input(
        "record.*",
        object,
        doc="What is recorded (remap it in site.toml: topics = { data = 'sensor.*' })",
        default=None,
    )
    folder = Param(
        "recordings", doc="Folder of the files (relative: under the run folder)", path=True
    )
    rotate_mb = Param(64.0, doc="Size at which a new file starts", unit="MiB", minimum=0.01)
    rotate_seconds = Param(3600.0, doc="Age at which a new file starts", unit="s", minimum=1.0)
    keep = Param(24, doc="Files kept (the oldest are removed)", minimum=1)
    written = State(0, doc="Messages recorded", metric="counter")
    period = 1.0  # what waited a second in the chunk in progress is written out
    files = State(0, doc="Files started", metric="counter")
    errors = State(0, doc="Messages that could not be written (a full disk)", metric="counter")

    def __init__(self) -> None:
        self._out: McapOut | None = None
        self._began = 0.0

    def on_start(self) -> None:
        """Runs in the recorder's process: the first file."""
        self._rotate()

    def on_stop(self) -> None:
        """Runs in the recorder's process at stop: the file is completed."""
        self._close()

    def _where(self) -> Path:
        folder = Path(self.folder)
        if not folder.is_absolute() and self.enlil.run_dir:
            folder = Path(self.enlil.run_dir) / folder
        return folder

    def _close(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            try:
                out.close()
            except OSError as exc:
                self.errors += 1
                log = self.enlil.log
                log.error("cannot complete a recording", file=str(out.path), error=str(exc))

    def _rotate(self) -> None:
        self._close()
        folder = self._where()
        path = folder / file_name(self.enlil.name, time.time(), self.files + 1)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            chunk = max(4096, min(_CHUNK, int(self.rotate_mb * _MIB / 4)))
            self._out = McapOut(path, {}, chunk_size=chunk)
        except OSError as exc:
            self.enlil.log.error("cannot start a recording", file=str(path), error=str(exc))
            return
        self._began = time.monotonic()
        self.files += 1
        for old in sorted(folder.glob(f"{self.enlil.name}-*.mcap"))[: -self.keep]:
            old.unlink(missing_ok=True)

    def step(self) -> None:
        """Runs in the recorder's process on each message (one record) and every second
        (what waited a second in the chunk in progress is written out: a kill loses no
        more)."""
        if self.enlil.trigger is None:
            if self._out is not None:
                self._tick(self._out)
            return
        out = self._out
        if out is None or out.size >= self.rotate_mb * _MIB or self._aged():
            self._rotate()
            out = self._out
        if out is None:
            self.errors += 1
            return
        try:
            out.write(
                self.enlil.topic or "", self.enlil.sender or "", self.enlil.seq, time.time_ns(),
                self.data,
            )  # fmt: skip
        except OSError as exc:
            self.errors += 1
            self.enlil.log.error("cannot write a recording", file=str(out.path), error=str(exc))
            self._close()  # a new file at the next message
            return
        self.written += 1

    def _tick(self, out: McapOut) -> None:
        try:
            out.tick()
        except OSError as exc:
            self.errors += 1
            self.enlil.log.error("cannot write a recording", file=str(out.path), error=str(exc))
            self._close()

    def _aged(self) -> bool:
        return bool(time.monotonic() - self._began >= self.rotate_seconds)
