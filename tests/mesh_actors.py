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


class Fragile(Actor):
    """Counts numbers and raises on its 37th."""

    number = Input("fragile.in", int, doc="A number")
    total = Output("fragile.total", int, doc="Running total")
    count = State(0, doc="Numbers seen")
    sum = State(0, doc="Sum of the numbers")
    fail_at = Param(37, doc="Which input raises")

    def step(self) -> None:
        """Runs in the fragile actor's process; raises on input number fail_at."""
        self.count += 1
        if self.count == self.fail_at:
            raise ZeroDivisionError(f"input {self.count} breaks me")
        self.sum += self.number
        self.total = self.sum


class Hanger(Actor):
    """Hangs forever in step() on 'hang'."""

    command = Input("hang.in", str, doc="'hang' makes step loop forever")

    def step(self) -> None:
        """Runs in the hanger's process; never returns on 'hang'."""
        while self.command == "hang":
            pass


class Hog(Actor):
    """Allocates memory on 'eat'."""

    command = Input("hog.in", int, doc="Mebibytes to allocate and keep")
    food = State([], doc="What it ate (kept to hold the memory)", type=list)

    def step(self) -> None:
        """Runs in the hog's process; keeps the allocation alive."""
        self.food.append(bytearray(self.command * 1024 * 1024))


class StartCrasher(Actor):
    """Raises in on_start, so it crashes in a loop."""

    def on_start(self) -> None:
        """Runs in the actor's process at start; always raises."""
        raise RuntimeError("cannot start")


class Chatty(Actor):
    """Logs every number it receives at info level."""

    value = Input("chatty.in", int, doc="A number to log")
    echo = Output("chatty.out", int, doc="The number, once logged")

    def step(self) -> None:
        """Runs in the chatty actor's process; logs at info."""
        self.enlil.log.info("got a number", value=self.value)
        self.echo = self.value


class Relay(Actor):
    """Passes each number on, plus one (remap its topics to chain several)."""

    value = Input("relay.in", int, doc="A number")
    out = Output("relay.out", int, doc="The number plus one")

    def step(self) -> None:
        """Runs in the relay's process on each number."""
        self.out = self.value + 1


class Metered(Actor):
    """Adds up numbers into a State declared as a metric."""

    value = Input("metered.in", int, doc="A number to add")
    total = State(0, doc="Sum of the numbers so far", unit="{item}", metric=True)

    def step(self) -> None:
        """Runs in the metered actor's process on each number."""
        self.total += self.value


class TextReader(Actor):
    """Reads numbers.out as text: a design error next to a Doubler (float)."""

    text = Input("numbers.out", str, doc="What the doubler sends, wrongly taken as text")

    def step(self) -> None:
        """Runs in the reader's process on each message."""


class Setting(Actor):
    """Keeps a setting: what arrives on setting.set goes out retained on setting.value."""

    new = Input("setting.set", int, doc="A new value for the setting")
    value = Output("setting.value", int, doc="The current setting", retained=True)

    def step(self) -> None:
        """Runs in the setting's process on each new value."""
        self.value = self.new


class LateJoiner(Actor):
    """Reports, from on_start, the retained setting it started with."""

    setting = Input("setting.value", int, doc="The current setting", default=-1)
    started_with = Output("joiner.started", int, doc="The setting seen in on_start")

    def on_start(self) -> None:
        """Runs before the actor is ready: retained values are already in the Inputs."""
        self.started_with = self.setting

    def step(self) -> None:
        """Nothing per message."""
