"""Actor modules with mistakes, for the config checks (imported only by those tests)."""

from actors import Actor, Output, Param


class Fine(Actor):
    """A valid actor."""

    level = Param(1.0, doc="A level")
    out = Output("fine.out", float, doc="Output")


class NotAnActor:
    """Not an Actor subclass."""


class Sneak(Actor):
    """Declares an Output on a framework topic (check refuses it; the broker never grants
    it)."""

    forged = Output("$sys.event", dict, doc="A forged lifecycle event")
