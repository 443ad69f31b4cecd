"""What this host's broker says of its links to the other hosts, turned into events (pure
core, no IO).

The broker's heartbeat carries its link's report (:mod:`broker.link`): each peer
host's import connection ``never`` (no handshake yet), ``up`` or ``down``, and
since when. :class:`HostLinks` keeps the last state of each and returns the
events a change makes: ``host_lost`` when a link goes down, or when a peer
has not been reached :data:`NEVER_REACHED` seconds after the start (a wrong
address, a firewall, a key it refuses: said loudly, never left to a silent
edge), and ``host_back`` when it comes up after either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from supervisor.core.site_events import HostBack, HostLost, SiteEvent

#: Seconds after the start by which every peer host should have been reached.
NEVER_REACHED: Final = 5.0
_STATES: Final = ("never", "up", "down")


@dataclass
class HostLinks:
    """The state of this host's link to each other host, from its broker's heartbeats."""

    #: This host's name (what the events say noticed it).
    host: str
    #: When the broker started (clock seconds), for :data:`NEVER_REACHED`.
    started: float
    #: Peer -> its state, and when that state was first seen (clock seconds).
    state: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: Peers already reported as never reached.
    _said: set[str] = field(default_factory=set)

    def report(self, link: Any, now: float) -> list[SiteEvent]:
        """The events of a broker heartbeat's ``link`` report (a malformed one: none)."""
        peers = link.get("peers") if isinstance(link, dict) else None
        if not isinstance(peers, dict):
            return []
        events: list[SiteEvent] = []
        for peer, entry in list(peers.items())[:256]:
            state = entry.get("state") if isinstance(entry, dict) else None
            if not isinstance(peer, str) or state not in _STATES:
                continue
            before, since = self.state.get(peer, ("never", self.started))
            if state == "never":
                if peer not in self._said and now - self.started >= NEVER_REACHED:
                    self._said.add(peer)
                    reason = (
                        f"never reached in {now - self.started:.0f} s since the start: check "
                        "its address and port, a firewall between, that it runs, and its key"
                    )
                    events.append(HostLost(host=peer, by=self.host, reason=reason))
                self.state[peer] = (state, since)
                continue
            if state == before:
                continue
            self.state[peer] = (state, now)
            if state == "down":
                events.append(HostLost(host=peer, by=self.host, reason="link cut or host down"))
            elif before == "down" or peer in self._said:
                self._said.discard(peer)
                events.append(HostBack(host=peer, by=self.host, down_s=round(now - since, 3)))
        return events

    def summary(self) -> dict[str, str]:
        """Peer -> its state (what ``ctl status`` shows)."""
        return {peer: state for peer, (state, _) in self.state.items()}
