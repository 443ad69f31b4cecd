"""The retained-value cache: the last message of each retained topic (shell).

The supervisor's SUB socket subscribes to every retained Output's topic (the
cache is fed by the broker, not by the publishers' hot path) and keeps the
last message of each; a starting actor that reads one asks on
``$sys.retained.<name>`` and gets them all on its control topic before
``on_start``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from actors.core.control import Retained
from actors.core.topics import SYS_CONTROL, SYS_RETAINED, Pattern, TopicError, parse_pattern
from actors.core.wire import WireError, decode_message, decode_topic
from supervisor.core.design import overlaps
from supervisor.inspect import ActorFacts

_REQUEST: Final = SYS_RETAINED.encode()


class RetainedCache:
    """Retained topics, the actors that read them, and the last message of each topic."""

    def __init__(self, publish: Callable[[str, Any], None]) -> None:
        self._publish = publish
        #: Topics (or families) of retained Outputs.
        self.patterns: list[Pattern] = []
        #: The last message seen on each retained topic: topic -> envelope.
        self.cache: dict[bytes, bytes] = {}
        #: Actors with an Input on a retained topic.
        self.readers: set[str] = set()
        #: Called with each pattern new since the last :meth:`take` (to subscribe to it).
        self.subscribe: Callable[[str], object] | None = None
        #: The other hosts' retained topics, on a site of several (the runner sets it).
        self.remote: Callable[[], set[str]] = set

    def take(self, actors: dict[str, ActorFacts]) -> None:
        """Which topics are retained, and which actors read one of them."""
        known = {p.text for p in self.patterns}
        retained = sorted({t for facts in actors.values() for t in facts.retained} | self.remote())
        self.patterns = [parse_pattern(t) for t in retained]
        for pattern in self.patterns:
            if self.subscribe is not None and pattern.text not in known:
                self.subscribe(pattern.text)  # a retained topic new since the start (reload)
        self.readers = {
            name
            for name, facts in actors.items()
            if any(overlaps(topic, p.text) for topic in facts.inputs for p in self.patterns)
        }

    def message(self, topic: bytes, envelope: bytes) -> bool:
        """Keep *envelope* if *topic* is retained, or answer a request; False if not ours."""
        if topic.startswith(_REQUEST):
            self._answer(topic, envelope)
            return True
        if not self.patterns or topic.startswith(b"$"):
            return False
        try:
            text = decode_topic(topic)
        except WireError:
            return False
        if any(p.matches(text) for p in self.patterns):
            self.cache[topic] = envelope
            return True
        return False

    def _answer(self, topic: bytes, envelope: bytes) -> None:
        name = topic[len(_REQUEST) :].decode("utf-8", "replace")
        try:
            wanted = decode_message([topic, envelope]).envelope.payload
            patterns = [parse_pattern(p) for p in wanted]
        except (WireError, TopicError, TypeError, AttributeError):
            return
        messages = [
            [t, env]
            for t, env in self.cache.items()
            if any(p.matches(t.decode()) for p in patterns)
        ]
        self._publish(SYS_CONTROL + name, Retained(messages=messages).encode())
