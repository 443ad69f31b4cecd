"""``python -m supervisor tap TOPIC...`` and ``pub TOPIC JSON``: a site's topics from a
shell (shell).

``tap`` prints the decoded messages of topics or patterns as JSON lines; ``pub``
publishes one message. On a checked site both ask the supervisor first (the
``rights`` op) and say ``forbidden`` (exit 77) instead of subscribing or sending
what the broker would refuse.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import zmq

from actors.core.topics import TopicError, check_topic, parse_pattern
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
    """Print decoded messages on *topics* (exact or patterns) as JSON lines."""
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
    link = BrokerLink.to_site(ctx, site, "tap", topics)
    seen = 0
    deadline = time.monotonic() + timeout if timeout else None
    try:
        link.wait_connected(5.0)
        while not count or seen < count:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            message = link.recv(left)
            if message is None:
                break
            env = message.envelope
            print(
                json.dumps(
                    {
                        "topic": message.topic,
                        "sender": env.sender,
                        "seq": env.seq,
                        "time": env.timestamp_ns / 1e9,
                        "payload": jsonable(env.payload),
                    }
                ),
                flush=True,
            )
            seen += 1
    except BrokerUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    finally:
        link.close(linger_ms=0)
        ctx.term()
    return 0


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
