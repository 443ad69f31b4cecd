"""Topic names and subscription patterns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.core.topics import TopicError, check_topic, matches, parse_pattern

segment = st.from_regex(r"[a-z0-9_]{1,6}", fullmatch=True)
topics = st.lists(segment, min_size=1, max_size=4).map(".".join)


def test_exact_never_matches_a_longer_sibling() -> None:
    """``a.b`` is not delivered to a subscriber of ``a.bc`` and vice versa."""
    assert matches("a.b", "a.b")
    assert not matches("a.bc", "a.b")
    assert not matches("a.b", "a.bc")
    assert not matches("a.b", "a.b.c")


def test_wildcard_matches_everything_below() -> None:
    """``a.*`` matches any depth below ``a`` but not ``a`` or ``ab``."""
    assert matches("a.*", "a.b")
    assert matches("a.*", "a.b.c")
    assert not matches("a.*", "a")
    assert not matches("a.*", "ab.c")
    assert matches("*", "anything.at.all")
    assert matches("$sys.*", "$sys.heartbeat.x")


@given(topics, topics)
def test_zmq_prefix_is_only_a_prefilter(pattern: str, topic: str) -> None:
    """Whatever matches passes ZeroMQ's byte-prefix filter; exact means equal."""
    p = parse_pattern(pattern)
    if p.matches(topic):
        assert topic.encode().startswith(p.zmq_filter)
    assert p.matches(topic) == (pattern == topic)


@pytest.mark.parametrize("bad", ["", "a..b", ".a", "a.", "a b", "a.$b", "a.*.b", "a*"])
def test_bad_topics_and_patterns_are_rejected(bad: str) -> None:
    """Malformed names raise TopicError with the name in the message."""
    with pytest.raises(TopicError):
        parse_pattern(bad)


def test_long_topics_are_rejected() -> None:
    """A topic frame from a peer cannot be arbitrarily long."""
    with pytest.raises(TopicError, match="longer"):
        check_topic("a" * 300)
