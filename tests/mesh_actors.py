"""Actor classes used by the multi-process tests (found through the mesh's python_path)."""

from __future__ import annotations

import os

from actors import Actor, Input, Output, Param, State


class Doubler(Actor):
    """Publishes twice each number it receives."""

    value = Input("numbers.in", float, doc="A number to double")
    doubled = Output("numbers.out", float, doc="Twice the last number")
    seen = State(0, doc="Numbers received")

    def step(self) -> None:
        """Runs in the doubler's process on each number."""
        self.seen += 1
        self.doubled = 2 * self.value


class Ticker(Actor):
    """Publishes a count every period."""

    tick = Output("ticks", int, doc="Ticks since start")
    count = State(0, doc="Ticks so far")
    period = 0.05

    def step(self) -> None:
        """Runs in the ticker's process every period."""
        self.count += 1
        self.tick = self.count


class Crasher(Actor):
    """Raises on the input value 'crash'; echoes other values with its pid."""

    command = Input("crash.in", str, doc="'crash' makes step raise")
    echo = Output("crash.out", dict, doc="The command and this process's pid")

    def step(self) -> None:
        """Runs in the crasher's process; raises RuntimeError on 'crash'."""
        if self.command == "crash":
            raise RuntimeError("asked to crash")
        self.echo = {"command": self.command, "pid": os.getpid()}


class Quitter(Actor):
    """Exits normally (status 0) when told, to test restart types."""

    command = Input("quit.in", str, doc="'quit' ends the process with status 0")
    rate = Param(1.0, doc="Unused; shows params reach the process")

    def step(self) -> None:
        """Runs in the quitter's process; exits on 'quit'."""
        if self.command == "quit":
            raise SystemExit(0)
