"""Lifecycle events: logged, and published on ``$sys.event`` while the broker runs (shell)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from actors.core.topics import SYS_EVENT

#: Every event published on ``$sys.event`` (its ``event`` field).
EVENT_KINDS: Final = (
    "spawned",
    "ready",
    "exited",
    "restarting",
    "restarted",
    "stopped",
    "gave_up",
    "escalated",
    "added",
    "removed",
    "swapped",
    "swap_failed",
    "write_failed",
    "shutting_down",
    # Published by an actor, not the supervisor: a call's circuit breaker moved.
    "breaker",
    # A secured site: a control request its sender's role does not allow, and a message
    # or subscription the broker refused (from the broker's heartbeat).
    "forbidden",
    "denied",
    # An actor asked the supervisor to start, stop or restart another (``by`` names it).
    "control",
)


class Events:
    """Where every part of the supervisor reports what happened to a child or the site.

    *publish* sends a payload on a topic (the supervisor's broker link); *can_publish*
    says whether the broker is there to take it (plugins and tools read the
    events from there, see :class:`~supervisor.client.EventStream`).
    """

    def __init__(
        self, log: Any, publish: Callable[[str, Any], None], can_publish: Callable[[], bool]
    ) -> None:
        self.log = log
        self._publish = publish
        self._can_publish = can_publish
        #: Parts told of every event, whether or not the broker is there (the directory).
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def child(self, kind: str, name: str, child_kind: str, **fields: Any) -> None:
        """An event about one child (``spawned``, ``exited``, ``swapped``...)."""
        # The logger's own "pid" is the supervisor's; the child's goes in as actor_pid.
        self.log.info(
            kind, actor=name, **{("actor_pid" if k == "pid" else k): v for k, v in fields.items()}
        )
        self.site({"event": kind, "actor": name, "kind": child_kind, **fields})

    def site(self, payload: dict[str, Any]) -> None:
        """An event as it goes out on ``$sys.event`` (already logged by the caller)."""
        for listener in self.listeners:
            listener(payload)
        if self._can_publish():
            self._publish(SYS_EVENT, payload)
