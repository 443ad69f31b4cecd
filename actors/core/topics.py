"""Topic names and subscription patterns (pure core, no IO).

A topic is dot-separated UTF-8 text such as ``sensor.temperature``. A
subscription pattern is either an exact topic or a topic prefix followed by
``.*`` (``sensor.*`` matches ``sensor.temperature`` and ``sensor.a.b`` but not
``sensor`` itself nor ``sensors.x``); the lone pattern ``*`` matches every
topic. ZeroMQ's subscription filter is a byte-prefix match, so it is used only
as a pre-filter: :func:`matches` decides delivery, and ``a.b`` never reaches a
subscriber of ``a.bc``.

Topics starting with ``$`` belong to the framework (``$sys.event``,
``$sys.heartbeat.<actor>``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WILDCARD = "*"
MAX_TOPIC_BYTES = 255

# The framework's own topics.
SYS_HEARTBEAT = "$sys.heartbeat."  #: + process name: heartbeats with counters
SYS_EVENT = "$sys.event"  #: supervisor lifecycle events
SYS_CONTROL = "$sys.control."  #: + actor name: requests from the supervisor to an actor
SYS_REPLY = "$sys.reply."  #: + actor name: an actor's replies to those requests
SYS_PROBE = "$sys.probe."  #: + a link's own id: readiness probes
SYS_RETAINED = "$sys.retained."  #: + actor name: a starting actor asks for retained values

_SEGMENT = re.compile(r"^\$?[A-Za-z0-9_\-:]+$")


class TopicError(ValueError):
    """A topic or pattern is not well formed; the message says why."""


def check_topic(topic: str) -> str:
    """Return *topic* unchanged if it is a valid concrete topic, else raise TopicError."""
    if not topic:
        raise TopicError("topic is empty")
    if len(topic.encode()) > MAX_TOPIC_BYTES:
        raise TopicError(f"topic {topic[:40]!r}... is longer than {MAX_TOPIC_BYTES} bytes")
    segments = topic.split(".")
    for index, segment in enumerate(segments):
        if not segment:
            raise TopicError(f"topic {topic!r} has an empty segment")
        if segment.startswith("$") and index != 0:
            raise TopicError(f"topic {topic!r}: '$' may only start the first segment")
        if not _SEGMENT.match(segment):
            raise TopicError(
                f"topic {topic!r}: segment {segment!r} may hold only letters, digits, '_', '-', ':'"
            )
    return topic


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed subscription pattern: an exact topic or a ``prefix.*`` wildcard."""

    text: str
    prefix: str
    exact: bool

    @property
    def zmq_filter(self) -> bytes:
        """The byte prefix to hand ZeroMQ's SUBSCRIBE: a pre-filter only."""
        return self.prefix.encode()

    def matches(self, topic: str) -> bool:
        """Whether a message on *topic* is delivered to this pattern."""
        if self.exact:
            return topic == self.prefix
        return topic.startswith(self.prefix)


def parse_pattern(text: str) -> Pattern:
    """Parse ``a.b`` (exact), ``a.*`` (everything below ``a``) or ``*`` (all)."""
    if text == WILDCARD:
        return Pattern(text=text, prefix="", exact=False)
    if text.endswith(".*"):
        base = text[:-2]
        check_topic(base)
        return Pattern(text=text, prefix=base + ".", exact=False)
    if WILDCARD in text:
        raise TopicError(f"pattern {text!r}: '*' is allowed only as the last segment ('a.*')")
    return Pattern(text=text, prefix=check_topic(text), exact=True)


def matches(pattern: str, topic: str) -> bool:
    """Whether *topic* is delivered to a subscriber of *pattern*."""
    return parse_pattern(pattern).matches(topic)
