"""The other side of a bridge: the messaging system an actor links the site to (pure core).

An actor that forwards topics between the site and another messaging system
(``hal.mqtt:MqttBridge`` and an MQTT broker; later another broker or a
fieldbus) describes that system with :meth:`Actor.boundary_from_params`: a
:class:`Boundary` per system it talks to, with its protocol, address and
payload encoding, and a :class:`Route` per mapped topic. The site's AsyncAPI
document then gains the system as a server, a channel per route (with the
payload schema of the enlil topic's declared type) and the bridge's send and
receive operations; the dictionary and the graph show it as a boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Route:
    """One mapped topic. ``address`` is the topic on the other side, with ``{name}`` where
    a variable part goes (``lab/cmd/{rest}``); ``topic`` the enlil topic or family it maps
    to; ``inbound`` is True when messages come from the other side into the site.
    ``parameters`` describe each ``{name}`` of the address."""

    address: str
    topic: str
    inbound: bool
    parameters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Boundary:
    """A messaging system outside the site that an actor talks to."""

    #: What it is called in the documents (``mqtt``): unique per actor.
    name: str
    #: Its protocol, as AsyncAPI names it (``mqtt``, ``amqp``, ``kafka``...).
    protocol: str
    host: str
    port: int
    #: The media type of the payloads on that side (``application/json``).
    content_type: str
    description: str
    routes: tuple[Route, ...] = ()
    protocol_version: str = ""
    #: AsyncAPI bindings of the server and of each operation, by protocol
    #: (``{"mqtt": {"qos": 1, "bindingVersion": "0.2.0"}}``).
    server_bindings: Mapping[str, Any] = field(default_factory=dict)
    operation_bindings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        """``host:port`` (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"
