"""The directory of live servers: which running actor serves which service (shell).

Every actor's heartbeat says what it serves (``topics.serves``); an actor
that exits, is stopped or removed serves nothing any more. On each change
(and whenever an actor becomes ready) the supervisor publishes the directory
on ``$sys.services`` (with the supervisor itself as the server of
``supervisor.control``, the actors' control calls), and keeps the last one for
starting actors (they ask for it with their retained values). A caller fails a call at once when the
directory lists no server (``no_responders``), and fails a call in flight at
once when its server leaves the directory (``server_gone``) instead of
waiting for its deadline. A hot swap keeps the actor listed: its calls are
held and answered by the new version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from actors.core.access import SUPERVISOR
from actors.core.calls import SYS_SERVICES
from actors.core.control import Heartbeat
from actors.core.control_calls import CONTROL_SERVICE
from actors.core.wire import encode_envelope
from supervisor.core.site_events import GONE, Ready, SiteEvent

_TOPIC: Final = SYS_SERVICES.encode()
#: Events after which an actor serves nothing.
#: Services one actor may list, at most (a heartbeat is a peer's frame: bounded).
_MAX_SERVED: Final = 256


class ServiceDirectory:
    """The services of every running actor; published on each change."""

    def __init__(
        self, send: Callable[[bytes, bytes], None], keep: Callable[[bytes, bytes], None]
    ) -> None:
        #: Sends an encoded message (the supervisor's broker link).
        self._send = send
        #: Keeps the last directory for starting actors (the retained cache).
        self._keep = keep
        self.served: dict[str, tuple[str, ...]] = {}
        #: The other hosts' servers, on a site of several (their reports; the runner sets
        #: it): each host's directory lists the whole site's, and never crosses hosts.
        self.remote: Callable[[], dict[str, tuple[str, ...]]] = dict
        self._seq = 0
        self.publish(send=False)  # an empty directory until an actor serves something

    def table(self) -> dict[str, list[str]]:
        """Service -> the actors serving it, sorted."""
        out: dict[str, list[str]] = {CONTROL_SERVICE: [SUPERVISOR]}  # control from inside
        for actor, services in sorted({**self.remote(), **self.served}.items()):
            for service in services:
                out.setdefault(service, []).append(actor)
        return out

    def heartbeat(self, name: str, beat: Heartbeat) -> None:
        """A running actor's heartbeat: what it serves now."""
        serves = beat.topics.get("serves")
        if not isinstance(serves, list):
            serves = []
        services = tuple(sorted({s for s in serves[:_MAX_SERVED] if isinstance(s, str)}))
        if self.served.get(name) != services:
            if services:
                self.served[name] = services
            else:
                self.served.pop(name, None)
            self.publish()

    def event(self, event: SiteEvent) -> None:
        """A lifecycle event: an actor that is gone serves nothing; one that is ready may
        be a caller that wants the directory now."""
        if isinstance(event, GONE) and event.kind == "actor" and event.actor in self.served:
            del self.served[event.actor]
            self.publish()
        elif isinstance(event, Ready):
            self.publish()

    def publish(self, *, send: bool = True) -> None:
        """Send the directory (unless not *send*) and keep it for starting actors."""
        self._seq += 1
        envelope = encode_envelope(
            "supervisor", self._seq, time.time_ns(), {"services": self.table()}
        )
        self._keep(_TOPIC, envelope)
        if send:
            self._send(_TOPIC, envelope)
