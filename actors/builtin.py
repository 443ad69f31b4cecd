"""Built-in ("common") actors, configured in site.toml like any other.

``actors.builtin:Log`` pushes the log records of every process of the site
(read from their JSON-lines files) at or above a level onto
``$sys.log.<process>``.

``actors.builtin:Status`` follows the supervisor's lifecycle events and every
process's heartbeats and publishes each watched actor's status on
``$sys.status.<name>`` when it changes and every period, and the whole
site's on ``$sys.status.site``. An external tool follows the site by
subscribing to ``$sys.*``::

    [actors.status]
    class = "actors.builtin:Status"
    period = 2.0

``actors.builtin:Modes`` runs the site in one of its modes, each a set of
actors, and changes mode on request (see :mod:`actors.modes`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from actors.core.actor import Actor
from actors.core.declarations import Input, Output, Param, State
from actors.core.topics import SYS_HEARTBEAT
from actors.logs import LEVELS
from actors.modes import Modes

__all__ = ["Log", "Modes", "Status"]

STATUS_PREFIX = "$sys.status."
_EVENT_STATE = {
    "spawned": "starting",
    "ready": "running",
    "restarted": "running",
    "exited": "exited",
    "restarting": "backoff",
    "stopped": "stopped",
    "gave_up": "failed",
}


class Status(Actor):
    """Publishes the status of the site and of its actors on $sys.status.*."""

    heartbeat = Input(SYS_HEARTBEAT + "*", dict, doc="Heartbeat of any process", default={})
    event = Input("$sys.event", dict, doc="A supervisor lifecycle event", default={})
    status = Output(
        STATUS_PREFIX + "*",
        dict,
        doc="Status of one process ($sys.status.<name>) or of the site ($sys.status.site)",
    )
    watch = Param([], type=list, doc="Names whose status is published (empty: every process seen)")
    processes = State({}, type=dict, doc="Last known status of each process, by name")
    period = 2.0

    def step(self) -> None:
        """Runs in the status actor's process on each heartbeat, event and period."""
        trigger = self.enlil.trigger
        if trigger == "heartbeat":
            name = (self.enlil.topic or "").removeprefix(SYS_HEARTBEAT)
            beat = self.heartbeat
            changed = self._update(
                name,
                {
                    "state": "running"
                    if beat.get("state") in ("ready", "running")
                    else beat.get("state"),
                    "pid": beat.get("pid"),
                    "uptime": beat.get("uptime"),
                },
            )
            self._record(name)["stats"] = beat.get("stats", {})
        elif trigger == "event":
            event = self.event
            name = str(event.get("actor", ""))
            kind = str(event.get("event", ""))
            if not name or kind not in _EVENT_STATE:
                return
            fields: dict[str, Any] = {"state": _EVENT_STATE[kind], "last_event": kind}
            if "pid" in event:
                fields["pid"] = event["pid"]
            if "exit" in event:
                fields["last_exit"] = event["exit"]
            changed = self._update(name, fields)
        else:
            for name in self.processes:
                self._publish(name)
            self._publish_site()
            return
        if changed:
            self._publish(name)
            self._publish_site()

    def _record(self, name: str) -> dict[str, Any]:
        record: dict[str, Any] = self.processes.setdefault(name, {"name": name})
        return record

    def _update(self, name: str, fields: dict[str, Any]) -> bool:
        record = self._record(name)
        changed = any(record.get(k) != v for k, v in fields.items() if k != "uptime")
        record.update(fields)
        return changed

    def _watched(self, name: str) -> bool:
        return not self.watch or name in self.watch

    def _publish(self, name: str) -> None:
        if self._watched(name):
            self.enlil.send("status", dict(self.processes[name]), topic=STATUS_PREFIX + name)

    def _publish_site(self) -> None:
        states = {n: r.get("state") for n, r in self.processes.items() if self._watched(n)}
        running = all(s == "running" for s in states.values())
        self.enlil.send(
            "status", {"processes": states, "all_running": running}, topic=STATUS_PREFIX + "site"
        )


class Log(Actor):
    """Pushes log records at or above a level, from every process, onto $sys.log.*."""

    record = Output("$sys.log.*", dict, doc="One log record of process <name>, on $sys.log.<name>")
    level = Param(
        "warning",
        doc="Lowest level pushed: debug, info, warning, error, critical",
        choices=tuple(LEVELS),
    )
    folder = Param("", doc="Folder of the log files (default: the site's run_dir/logs)")
    offsets = State({}, type=dict, doc="Bytes already read of each log file")
    period = 0.5
    step_on_input = False

    def on_start(self) -> None:
        """Runs in the log actor's process at start: only records written from now are pushed.

        Raises ValueError (the actor fails to start, with this message) on an unknown level.
        """
        if self.level not in LEVELS:
            raise ValueError(f"Log.level {self.level!r} is not one of {', '.join(LEVELS)}")
        for path in self._files():
            self.offsets[path.name] = path.stat().st_size

    def _files(self) -> list[Path]:
        folder = Path(self.folder or self.enlil.log_dir or ".")
        return sorted(folder.glob("*.log")) if folder.is_dir() else []

    def step(self) -> None:
        """Runs every period in the log actor's process: reads what the files gained."""
        threshold = LEVELS[self.level]
        for path in self._files():
            size = path.stat().st_size
            offset = self.offsets.get(path.name, 0)
            if size < offset:
                offset = 0  # the file was rotated
            if size == offset:
                continue
            with path.open("rb") as f:
                f.seek(offset)
                data = f.read(size - offset)
            complete = data.rfind(b"\n") + 1  # a line being written is read next time
            self.offsets[path.name] = offset + complete
            for line in data[:complete].splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                if LEVELS.get(str(record.get("level")), 0) >= threshold:
                    self.enlil.send("record", record, topic="$sys.log." + path.stem)
