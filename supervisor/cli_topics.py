"""``python -m supervisor tap TOPIC...`` and ``pub TOPIC JSON``: a site's topics from a
shell (shell).

``tap`` prints the decoded messages of topics or patterns as JSON lines; ``pub``
publishes one message. On a checked site both ask the supervisor first (the
``rights`` op) and say ``forbidden`` (exit 77) instead of subscribing or sending
what the broker would refuse.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import zmq

from actors.core.control import Op
from actors.core.topics import (
    SYS_CONTROL,
    SYS_RETAINED,
    TopicError,
    check_topic,
    parse_pattern,
)
from actors.core.wire import Message, WireError, decode_message
from actors.link import BrokerLink, BrokerUnreachable
from actors.site import SiteConfig
from supervisor.cli_calls import asked_first
from supervisor.cli_format import jsonable, unreachable_exit
from supervisor.client import publish_refusal, read_refusal

EXIT_USAGE = 2


def add_commands(sub: Any, config_arg: Any) -> None:
    """Add ``tap`` and ``pub`` to the command line's subcommands."""
    tap = sub.add_parser(
        "tap", help="print live messages on topics or patterns ('a.*', '*'), one or more"
    )
    config_arg(tap)
    tap.add_argument("topic", nargs="+")
    tap.add_argument("--count", type=int, default=0, help="stop after N messages")
    tap.add_argument("--timeout", type=float, default=0.0, help="stop after N seconds")
    pub = sub.add_parser("pub", help="publish one message: TOPIC and a JSON payload")
    config_arg(pub)
    pub.add_argument("topic")
    pub.add_argument("payload", help="JSON text, e.g. 21.5 or '{\"on\": true}'")
    pub.add_argument("--sender", default="cli", help="sender name in the envelope")


def cmd_tap(site: SiteConfig, topics: list[str], count: int, timeout: float) -> int:
    """Print decoded messages on *topics* (exact or patterns) as JSON lines: first the
    retained values of those topics the site keeps (``"retained": true``), then what
    flows."""
    for topic in topics:
        try:
            parse_pattern(topic)
        except TopicError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    refused = asked_first(lambda: read_refusal(site, topics))
    if refused:
        return refused
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    link = BrokerLink.to_site(ctx, site, f"tap-{os.getpid()}", topics)
    deadline = time.monotonic() + timeout if timeout else None
    try:
        tap = _Tap(link, topics, count)
        # The probe's echo also proves the answer's subscription reached the broker, so the
        # supervisor's answer to the question asked next cannot pass it by.
        link.wait_connected(5.0)
        tap.ask()
        while not tap.done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            message = link.recv(left if tap.answered else min(left or RETAINED_WAIT, tap.wait()))
            if message is None:
                if tap.answered:
                    break
                tap.give_up_asking()
                continue
            tap.take(message)
    except BrokerUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    finally:
        link.close(linger_ms=0)
        ctx.term()
    return 0


#: Seconds ``tap`` waits for the supervisor's retained values before it prints what flows
#: (a supervisor answers in milliseconds; a busy machine's may take a second or two).
RETAINED_WAIT = 3.0


class _Tap:
    """What ``tap`` prints: the retained values the supervisor sends when asked, before
    the messages that flowed meanwhile (held until then), and then every message."""

    def __init__(self, link: BrokerLink, topics: list[str], count: int) -> None:
        self.link = link
        self.count = count
        self.printed = 0
        self.topics = topics
        self._answer = SYS_CONTROL + link.sender
        link.subscribe(self._answer)
        self._asked_until = time.monotonic() + RETAINED_WAIT
        self.answered = False
        self._had_answer = False
        #: Topics on which a message that flowed was printed (a late retained one is older).
        self._flowed: set[str] = set()
        self._held: list[Message] = []
        self._seen: set[tuple[str, str, int]] = set()

    @property
    def done(self) -> bool:
        return bool(self.count) and self.printed >= self.count

    def ask(self) -> None:
        """Ask the supervisor for the retained values (once the link is connected)."""
        self.link.publish(SYS_RETAINED + self.link.sender, self.topics)
        self._asked_until = time.monotonic() + RETAINED_WAIT

    def wait(self) -> float:
        """Seconds left to wait for the retained values."""
        return max(0.0, self._asked_until - time.monotonic())

    def give_up_asking(self) -> None:
        """No answer (no supervisor): what flowed meanwhile is printed."""
        self.answered = True
        held, self._held = self._held, []
        for message in held:
            self._print(message, retained=False)

    def take(self, message: Message) -> None:
        payload = message.envelope.payload
        if message.topic == self._answer:
            # An answer later than the wait (a busy supervisor) still prints the values of
            # the topics on which nothing flowed meanwhile.
            if not self._had_answer and message.envelope.sender == "supervisor":
                self._had_answer = True
                if isinstance(payload, dict) and payload.get("op") == Op.RETAINED:
                    for item in payload.get("messages") or []:
                        self._retained(item)
                self.give_up_asking()
            return
        if not self.link.wants(message.topic):
            return
        if self.answered:
            self._print(message, retained=False)
        else:
            self._held.append(message)

    def _retained(self, item: Any) -> None:
        if not isinstance(item, list) or len(item) != 2:  # noqa: PLR2004 - topic, envelope
            return
        try:
            message = decode_message([bytes(item[0]), bytes(item[1])])
        except (WireError, TypeError):
            return
        if self.link.wants(message.topic) and message.topic not in self._flowed:
            self._print(message, retained=True)

    def _print(self, message: Message, *, retained: bool) -> None:
        env = message.envelope
        key = (message.topic, env.sender, env.seq)
        if key in self._seen or self.done:
            return  # the retained copy of a message that also flowed
        if len(self._seen) < _SEEN:
            self._seen.add(key)
        line = {
            "topic": message.topic,
            "sender": env.sender,
            "seq": env.seq,
            "time": env.timestamp_ns / 1e9,
            "payload": jsonable(env.payload),
        }
        if retained:
            line["retained"] = True
        elif len(self._flowed) < _SEEN:
            self._flowed.add(message.topic)
        print(json.dumps(line), flush=True)
        self.printed += 1


#: Messages remembered to skip a retained copy of one that also flowed (the first ones).
_SEEN = 1000


def cmd_pub(site: SiteConfig, topic: str, text: str, sender: str) -> int:
    """Publish one message whose payload is the JSON *text*."""
    try:
        check_topic(topic)
        payload = json.loads(text)
    except TopicError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except json.JSONDecodeError as exc:
        print(f"error: payload is not JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    refused = asked_first(lambda: publish_refusal(site, topic))
    if refused:
        return refused
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    link = BrokerLink.to_site(ctx, site, sender)
    try:
        link.wait_connected(5.0)
        link.publish(topic, payload)
    except BrokerUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    finally:
        link.close(linger_ms=2000)
        ctx.term()
    return 0
