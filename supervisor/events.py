"""Lifecycle events: logged, and published on ``$sys.event`` while the broker runs (shell).

The events are records (:mod:`supervisor.core.site_events`, one type per kind); their
maps are made here, at the edge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.core.topics import SYS_EVENT
from supervisor.core.site_events import EVENT_KINDS, ChildEvent, SiteEvent

__all__ = ["EVENT_KINDS", "Events"]


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
        self.listeners: list[Callable[[SiteEvent], None]] = []

    def emit(self, event: SiteEvent, *, logged: bool = False) -> None:
        """Report *event*: a child's is logged at info (unless the caller *logged* it its
        own way), every one goes to the listeners and out on ``$sys.event``."""
        if isinstance(event, ChildEvent) and not logged:
            self.log.info(event.KIND, **event.log_fields())
        for listener in self.listeners:
            listener(event)
        if self._can_publish():
            self._publish(SYS_EVENT, event.payload())
