"""Actor classes used by the multi-process tests (found through the mesh's python_path)."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from actors import Actor, CallError, Input, Output, Param, State


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


class Counter(Actor):
    """On count.go [limit, per_tick], publishes 1..limit on count.n, per_tick every 10 ms."""

    go = Input("count.go", list, doc="[how many numbers, how many per 10 ms]", default=[])
    n = Output("count.n", int, doc="The next number")
    sent = State(0, doc="Numbers sent")
    period = 0.01
    step_on_input = False

    def step(self) -> None:
        """Runs in the counter's process every 10 ms."""
        if not self.go:
            return
        limit, per_tick = self.go
        for _ in range(per_tick):
            if self.sent >= limit:
                return
            self.sent += 1
            self.enlil.send("n", self.sent)


class Tally(Actor):
    """Counts the numbers it processes; publishes [number, count so far] for each."""

    n = Input("count.n", int, doc="A number")
    seen = Output("tally.seen", list, doc="[the number, how many processed so far]")
    count = State(0, doc="Numbers processed, across versions")
    total = State(0, doc="Sum of the numbers processed")
    version = 1

    def step(self) -> None:
        """Runs in the tally's process on each number."""
        self.count += 1
        self.total += self.n
        self.seen = [self.n, self.count]


class TallyV2(Tally):
    """Version 2: keeps the sum as 'sum_' (migrated from 'total')."""

    sum_ = State(0, doc="Sum of the numbers processed (was 'total')")
    version = 2

    @classmethod
    def migrate_state(cls, state: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Version 1 called the sum 'total'."""
        if from_version == 1:
            state = {**state, "sum_": state.pop("total", 0)}
        return state

    def step(self) -> None:
        """Runs in the tally's process on each number."""
        self.count += 1
        self.sum_ += self.n
        self.seen = [self.n, self.count]


class TallyFailsStep(Tally):
    """A broken new version: its first step raises."""

    def step(self) -> None:
        """Always fails."""
        raise RuntimeError("broken step")


class TallyFailsMigrate(Tally):
    """A broken new version: it cannot migrate the state."""

    version = 3

    @classmethod
    def migrate_state(cls, state: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Always fails."""
        raise ValueError(f"cannot migrate from version {from_version}")


class Forker(Actor):
    """Starts a long-lived subprocess on each input and says its pid."""

    go = Input("fork.go", int, doc="Any number: start one more subprocess")
    started = Output("fork.pid", int, doc="The pid of the subprocess just started")

    def step(self) -> None:
        """Starts ``sleep 600`` (never waited for: it must go when this actor goes)."""
        child = subprocess.Popen(["sleep", "600"])
        self.started = child.pid


class TallyRenamed(Actor):
    """Tally with its 'total' renamed 'amount', and the version left at 1 (a mistake)."""

    n = Input("count.n", int, doc="A number")
    seen = Output("tally.seen", list, doc="[the number, how many processed so far]")
    count = State(0, doc="Numbers processed, across versions")
    amount = State(0, doc="Sum of the numbers processed")
    version = 1

    def step(self) -> None:
        """Runs in the tally's process on each number."""
        self.count += 1
        self.amount += self.n
        self.seen = [self.n, self.count]


class TallySlim(Actor):
    """Version 2 of Tally that keeps only the count: its migration drops 'total'."""

    n = Input("count.n", int, doc="A number")
    seen = Output("tally.seen", list, doc="[the number, how many processed so far]")
    count = State(0, doc="Numbers processed, across versions")
    version = 2

    @classmethod
    def migrate_state(cls, state: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Keeps the state as it is (the sum is no longer kept)."""
        return state

    def step(self) -> None:
        """Runs in the tally's process on each number."""
        self.count += 1
        self.seen = [self.n, self.count]


class Blobs(Actor):
    """Counts the bytes of the blobs it receives."""

    blob = Input("blob.in", bytes, doc="A blob")
    total = State(0, doc="Bytes seen")
    out = Output("blob.total", int, doc="Bytes seen so far")

    def step(self) -> None:
        """Adds the blob's length."""
        self.total += len(self.blob)
        self.out = self.total


class TickCounter(Actor):
    """Counts the ticks it receives and says how many."""

    tick = Input("ticks", int, doc="A tick")
    seen = Output("ticks.seen", int, doc="Ticks received so far")
    count = State(0, doc="Ticks received")

    def step(self) -> None:
        """Runs in the counter's process on each tick."""
        self.count += 1
        self.seen = self.count


class DoublerPlus(Doubler):
    """A new version of the Doubler that also publishes each number plus one."""

    plus = Output("numbers.plus", float, doc="The last number plus one")

    def step(self) -> None:
        """Runs in the doubler's process on each number."""
        super().step()
        self.plus = self.value + 1


class Keeper(Actor):
    """Adds up what it receives, and keeps the sum across restarts (durable State)."""

    value = Input("keep.in", int, doc="A number to add")
    total = Output("keep.total", int, doc="The sum so far")
    kept = State(0, doc="The sum, kept across restarts", durable=True)
    steps = State(0, doc="Steps of this process (not durable)")

    def step(self) -> None:
        """Runs in the keeper's process on each number."""
        self.kept += self.value
        self.steps += 1
        self.total = self.kept


class KeeperV2(Actor):
    """Version 2 of the Keeper: the sum in hundredths, migrated from version 1."""

    version = 2
    value = Input("keep.in", int, doc="A number to add")
    total = Output("keep.total", int, doc="The sum so far, in hundredths")
    cents = State(0, doc="The sum in hundredths, kept across restarts", durable=True)

    @classmethod
    def migrate_state(cls, state: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Version 1 kept ``kept``, in units."""
        if from_version == 1 and "kept" in state:
            return {"cents": state["kept"] * 100}
        return state

    def step(self) -> None:
        """Runs in the keeper's process on each number."""
        self.cents += self.value * 100
        self.total = self.cents


class Hoarder(Actor):
    """Keeps every text it receives, durably (a durable value that grows)."""

    text = Input("hoard.in", str, doc="A text to keep")
    size = Output("hoard.size", int, doc="Texts kept so far")
    kept = State([], type=list[str], doc="Every text received", durable=True)

    def step(self) -> None:
        """Runs in the hoarder's process on each text."""
        self.kept.append(self.text)
        self.size = len(self.kept)


class KeeperBroken(Keeper):
    """A version of the Keeper whose migration from version 1 fails."""

    version = 3

    @classmethod
    def migrate_state(cls, state: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Cannot read what version 1 kept."""
        raise ValueError(f"no way from version {from_version}")


class KeeperFallback(KeeperBroken):
    """The same, but it starts from its defaults when the stored State cannot be used."""

    durable_fallback = True


class Warden(Actor):
    """Starts, stops, restarts or asks about another actor when told; publishes what came
    back (control from inside the site)."""

    order = Input("warden.do", dict, doc="{op, actor}: what to ask the supervisor")
    result = Output("warden.done", dict, doc="The answer: ok and status, or the error")

    def step(self) -> None:
        """Runs in the warden's process on each order; an error is published, not raised."""
        op, actor = self.order["op"], self.order["actor"]
        try:
            status = getattr(self.enlil, op)(actor, timeout=self.order.get("timeout"))
        except CallError as exc:
            self.result = {"ok": False, "kind": exc.kind, "message": str(exc), "actor": actor}
        else:
            self.result = {"ok": True, "status": status, "actor": actor}
