"""What ``tap`` prints when the supervisor's retained values come early, late or never
(fast: a stand-in link, no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actors.core.control import Op
from actors.core.topics import SYS_CONTROL, parse_pattern
from actors.core.wire import Message, decode_message, encode_envelope
from supervisor.cli_topics import _Tap


class _Link:
    """What ``_Tap`` uses of a BrokerLink: its name, subscriptions and one publish."""

    sender = "tap-1"

    def __init__(self, topics: list[str]) -> None:
        self.patterns = [parse_pattern(t) for t in topics]
        self.asked: list[tuple[str, Any]] = []

    def subscribe(self, text: str) -> None:
        pass

    def wants(self, topic: str) -> bool:
        return any(p.matches(topic) for p in self.patterns)

    def publish(self, topic: str, payload: Any) -> None:
        self.asked.append((topic, payload))


def _message(topic: str, seq: int, payload: Any, sender: str = "modes") -> Message:
    return decode_message([topic.encode(), encode_envelope(sender, seq, seq, payload)])


def _answer(*messages: Message) -> Message:
    items = [
        [
            m.topic.encode(),
            encode_envelope(m.envelope.sender, m.envelope.seq, 0, m.envelope.payload),
        ]
        for m in messages
    ]
    return _message(SYS_CONTROL + "tap-1", 1, {"op": Op.RETAINED, "messages": items}, "supervisor")


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_the_retained_value_comes_before_what_flowed_meanwhile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tap = _Tap(_Link(["mode.*"]), ["mode.*"], 0)  # type: ignore[arg-type]
    tap.ask()
    tap.take(_message("mode.other", 5, "flowed"))
    tap.take(_answer(_message("mode.current", 3, "auto")))
    assert [(line["seq"], line.get("retained", False)) for line in _lines(capsys)] == [
        (3, True),
        (5, False),
    ]


def test_a_late_answer_still_prints_the_topics_on_which_nothing_flowed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A busy supervisor answers after the wait: its values are not lost, but a retained
    value older than one already printed is left out."""
    tap = _Tap(_Link(["mode.*"]), ["mode.*"], 0)  # type: ignore[arg-type]
    tap.ask()
    tap.take(_message("mode.other", 5, "flowed"))
    tap.give_up_asking()
    old = _message("mode.other", 4, "older")
    tap.take(_answer(_message("mode.current", 3, "auto"), old))
    tap.take(_answer(_message("mode.current", 9, "again")))  # a second answer: ignored
    assert [(line["topic"], line["seq"]) for line in _lines(capsys)] == [
        ("mode.other", 5),
        ("mode.current", 3),
    ]
