"""The supervisor's word to reliable writers: who their expected readers are (shell).

Whenever the actors' declarations or the set of actors meant to run change, and every
:data:`RESAY` seconds besides (a control message can be lost like any other), each
actor with a reliable Output is told, on its control topic, the expected readers of
each of its reliable topics (:func:`supervisor.core.readers.expected_readers`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from actors.core.control import Readers
from actors.core.topics import SYS_CONTROL
from supervisor.core.readers import expected_readers
from supervisor.core.site_events import Ready
from supervisor.inspect import ActorFacts

#: Seconds between two tellings of the same lists.
RESAY: Final = 2.0


class ReaderLists:
    """The expected readers of every reliable topic, told to their writers."""

    def __init__(
        self,
        publish: Callable[[str, Any], None],
        running: Callable[[], Iterable[str]],
        ready: Callable[[], bool],
    ) -> None:
        self._publish = publish
        self._running = running
        self._ready = ready
        self.facts: dict[str, ActorFacts] = {}
        #: The reliable Inputs of the other hosts' actors meant to run (a site of several).
        self.remote: Callable[[], dict[str, tuple[str, ...]]] = dict
        self._said: dict[str, dict[str, list[str]]] = {}

    def take(self, facts: dict[str, ActorFacts]) -> None:
        """The actors' declarations now."""
        self.facts = facts
        self.say()

    def event(self, event: object) -> None:
        """A lifecycle event: who is meant to run may have changed; a writer that is
        ready (subscribed to its control topic) is told at once."""
        self.say(to=event.actor if isinstance(event, Ready) else None)

    def say(self, again: bool = False, to: str | None = None) -> None:
        """Tell each writer whose lists changed (every writer, *again*; and *to*)."""
        if not self._ready():
            return
        facts = self.facts
        remote = self.remote()
        lists = expected_readers(
            {n: f.reliable_out for n, f in facts.items()},
            {**{n: f.reliable_in for n, f in facts.items()}, **remote},
            [*self._running(), *remote],
        )
        for writer, readers in lists.items():
            if again or writer == to or self._said.get(writer) != readers:
                self._publish(SYS_CONTROL + writer, Readers(readers=readers).encode())
        self._said = lists
