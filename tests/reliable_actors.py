"""Actors of the reliable-topic tests (imported by actor processes)."""

from __future__ import annotations

import time

from actors import Actor, Input, Output, Param, Reliability, State


class Commander(Actor):
    """On ``cmd.go`` N, sends the next N commands (numbered from 1) on a reliable topic."""

    go = Input("cmd.go", int, doc="how many commands to send now", external=True)
    command = Output("cmd.out", int, doc="a numbered command", reliable=Reliability(window=50_000))
    sent = State(0, doc="commands sent so far")

    def step(self) -> None:
        for _ in range(self.go):
            self.sent += 1
            self.enlil.send("command", self.sent)


class Executor(Actor):
    """Executes each command once, in order, and says how far it got every 500 and on
    every command from number 9,990 on."""

    command = Input("cmd.out", int, doc="a numbered command", reliable=True)
    progress = Output("cmd.progress.{name}", dict, doc="how far it got")
    last = State(0, doc="the last command executed")
    count = State(0, doc="commands executed")
    out_of_order = State(0, doc="commands that did not follow the last one")

    def step(self) -> None:
        if self.command != self.last + 1:
            self.out_of_order += 1
        self.last = self.command
        self.count += 1
        if self.count % 500 == 0 or self.last >= 9_990:
            self.progress = {
                "last": self.last,
                "count": self.count,
                "out_of_order": self.out_of_order,
            }


class Flooder(Actor):
    """On ``flood.go`` N, sends N numbers at once on a reliable topic with a small window
    (policy ``block``: the step waits for the readers)."""

    go = Input("flood.go", int, doc="how many numbers to send now", external=True)
    number = Output(
        "flood.out", int, doc="a number", reliable=Reliability(window=50, block_for=30.0)
    )
    sent = State(0, doc="numbers sent so far")

    def step(self) -> None:
        for _ in range(self.go):
            self.sent += 1
            self.enlil.send("number", self.sent)


class FlooderShedding(Flooder):
    """The Flooder, whose full window drops its oldest number."""

    number = Output(
        "flood.out", int, doc="a number", reliable=Reliability(window=50, policy="drop_oldest")
    )


class FlooderRaising(Flooder):
    """The Flooder, whose full window raises in the step."""

    number = Output(
        "flood.out", int, doc="a number", reliable=Reliability(window=50, policy="raise")
    )


class Slow(Actor):
    """Takes each number slowly (a millisecond of work each), and says how far it got."""

    number = Input("flood.out", int, doc="a number", reliable=True)
    progress = Output("flood.progress", dict, doc="how many it took, and the last")
    count = State(0, doc="numbers taken")

    def step(self) -> None:
        end = time.perf_counter() + 0.001
        while time.perf_counter() < end:  # work, not a wait for anything
            pass
        self.count += 1
        self.progress = {"count": self.count, "last": self.number}


class DurableExecutor(Executor):
    """The Executor with durable State: its inbox is stored with it, so a kill -9 neither
    skips a command nor executes one twice."""

    last = State(0, doc="the last command executed", durable=True)
    count = State(0, doc="commands executed", durable=True)
    out_of_order = State(0, doc="commands that did not follow the last one", durable=True)


class Pacer(Actor):
    """Sends the next 20 numbered commands at each periodic step, up to ``total``, with
    durable State: the commands a step sends and the count it keeps are stored together
    (its outbox) before they leave."""

    total = Param(30_000, doc="how many commands to send in all")

    command = Output("cmd.out", int, doc="a numbered command", reliable=Reliability(window=50_000))
    sent = State(0, doc="commands sent so far", durable=True)
    ballast = State(
        b"", type=bytes, doc="4 MB stored with it: each write takes a while", durable=True
    )

    def on_start(self) -> None:
        self.ballast = bytes(4_000_000)

    def step(self) -> None:
        for _ in range(min(20, self.total - self.sent)):
            self.sent += 1
            self.enlil.send("command", self.sent)


class Tally(Executor):
    """The Executor, saying how far it got after every command."""

    def step(self) -> None:
        super().step()
        self.progress = {"last": self.last, "count": self.count, "out_of_order": self.out_of_order}


class Fragile(Executor):
    """The Executor, failing on command 1,500 (to replay)."""

    def step(self) -> None:
        if self.command == 1_500:
            raise RuntimeError(f"command {self.command} after {self.count} executed")
        super().step()
