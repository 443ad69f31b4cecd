"""Actor classes of the tests of a site on several hosts (found through its python_path)."""

from __future__ import annotations

from actors import Actor, Input, Output, State


class Beacon(Actor):
    """Publishes a count every period (its topic remapped per instance)."""

    n = Output("beacon.n", int, doc="Counts since start")
    count = State(0, doc="Counts so far")
    period = 0.02

    def step(self) -> None:
        """Runs in the beacon's process every period."""
        self.count += 1
        self.n = self.count


class Listener(Actor):
    """Reads a beacon of its own host and one of another (topics remapped per instance)."""

    near = Input("near.n", int, doc="A count from this host", default=0)
    far = Input("far.n", int, doc="A count from another host", default=0)

    def step(self) -> None:
        """Runs in the listener's process on each count: nothing to do but take it."""
