"""Actor classes of the tests of a site on several hosts (found through its python_path)."""

from __future__ import annotations

from actors import Actor, Input, Output, Reliability, State


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


class Commands(Actor):
    """Sends a numbered command every period on a reliable topic (its history covers a
    few seconds' cut)."""

    command = Output("cmd.n", int, doc="A numbered command", reliable=Reliability(window=10_000))
    sent = State(0, doc="Commands sent so far", metric=True)
    period = 0.01

    def step(self) -> None:
        """Runs in the sender's process every period."""
        self.sent += 1
        self.command = self.sent


class Executor(Actor):
    """Executes each command of a reliable topic, counting those out of order."""

    command = Input("cmd.n", int, doc="A numbered command", reliable=True)
    last = State(0, doc="The last command executed", metric=True)
    count = State(0, doc="Commands executed", metric=True)
    out_of_order = State(0, doc="Commands that did not follow the last one", metric=True)

    def step(self) -> None:
        """Runs in the executor's process on each command."""
        if self.command != self.last + 1:
            self.out_of_order += 1
        self.last = self.command
        self.count += 1
