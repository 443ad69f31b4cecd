"""Whether each other host is reached, from its link and its reports, as events (pure core,
no IO).

Two things tell that another host is there: this host's broker's import from it
(its heartbeat's link report: ``never`` until the first handshake, then ``up``
or ``down``), and that host's own reports arriving (every heartbeat interval).
:class:`HostLinks` makes one state of the two: ``up`` when the link is up and
its reports keep coming; ``down`` when the link is down; ``silent`` when the
link is up but nothing has come for ``silent_after`` seconds (a partition that
drops messages and not the connection, a host whose supervisor is stuck). It
returns the events a change makes: ``host_lost`` when a host goes from up to
down or silent, or has not been reached :data:`NEVER_REACHED` seconds after
the start (a wrong address, a firewall, a key it refuses: said loudly, never
left to a silent edge), and ``host_back`` when it is up again after either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from supervisor.core.site_events import HostBack, HostLost, SiteEvent

#: Seconds after the start by which every peer host should have been reached.
NEVER_REACHED: Final = 5.0
_LINK_STATES: Final = ("never", "up", "down")
_WHY: Final = {
    "down": "link cut or host down",
    "silent": "its messages stopped coming while the link is up: a partition, or its "
    "supervisor stuck",
}


@dataclass
class _Peer:
    link: str = "never"
    heard: float | None = None
    #: The state last told (``never``, ``up``, ``down``, ``silent``) and since when.
    state: str = "never"
    since: float = 0.0
    #: Whether a ``host_lost`` was said and no ``host_back`` since.
    lost: bool = False


@dataclass
class HostLinks:
    """Each other host's state, from this host's broker and those hosts' reports."""

    #: This host's name (what the events say noticed it).
    host: str
    #: When this host started (clock seconds), for :data:`NEVER_REACHED`.
    started: float
    #: Seconds without a report, link up, after which a host is ``silent``.
    silent_after: float = 3.0
    _peers: dict[str, _Peer] = field(default_factory=dict)

    def _peer(self, name: str) -> _Peer:
        if name not in self._peers:
            self._peers[name] = _Peer(since=self.started)
        return self._peers[name]

    def report(self, link: Any, now: float) -> list[SiteEvent]:
        """The events of a broker heartbeat's ``link`` report (a malformed one: none)."""
        peers = link.get("peers") if isinstance(link, dict) else None
        if not isinstance(peers, dict):
            return []
        events: list[SiteEvent] = []
        for name, entry in list(peers.items())[:256]:
            state = entry.get("state") if isinstance(entry, dict) else None
            if isinstance(name, str) and state in _LINK_STATES:
                self._peer(name).link = state
                events += self._settle(name, now)
        return events

    def heard(self, name: str, now: float) -> list[SiteEvent]:
        """Host *name*'s report came."""
        self._peer(name).heard = now
        return self._settle(name, now)

    def tick(self, now: float) -> list[SiteEvent]:
        """Time passed: a host whose reports stopped is silent."""
        return [e for name in list(self._peers) for e in self._settle(name, now)]

    def _state(self, peer: _Peer, now: float) -> str:
        if peer.link == "down":
            return "down"
        if peer.link == "up" and peer.heard is not None:
            return "up" if now - peer.heard <= self.silent_after else "silent"
        return "never"  # no handshake yet, or no report since it

    def _settle(self, name: str, now: float) -> list[SiteEvent]:
        peer = self._peer(name)
        state = self._state(peer, now)
        if state == "never" or (peer.state == "never" and state != "up"):
            return self._never(name, peer, now)  # not reached yet
        if state == peer.state:
            return []
        before, since = peer.state, peer.since
        peer.state = state
        if state != "up":
            if before != "up":
                return []  # still away: since when is kept
            peer.since, peer.lost = now, True
            return [HostLost(host=name, by=self.host, reason=_WHY[state])]
        peer.since = now
        if not peer.lost:
            return []  # first reached: nothing was said of it
        peer.lost = False
        return [HostBack(host=name, by=self.host, down_s=round(now - since, 3))]

    def _never(self, name: str, peer: _Peer, now: float) -> list[SiteEvent]:
        """A host not reached yet: lost, once, past :data:`NEVER_REACHED`."""
        if peer.lost or peer.state != "never" or now - self.started < NEVER_REACHED:
            return []
        peer.lost = True
        reason = (
            f"never reached in {now - self.started:.0f} s since the start: check its address "
            "and port, a firewall between, that it runs, and its key"
        )
        return [HostLost(host=name, by=self.host, reason=reason)]

    def summary(self) -> dict[str, str]:
        """Peer -> its state (what ``ctl status`` shows)."""
        return {name: peer.state for name, peer in self._peers.items()}
