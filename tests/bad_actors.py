"""Actor modules with mistakes, for the config checks (imported only by those tests)."""

from actors import Actor, Output, Param


class Fine(Actor):
    """A valid actor."""

    level = Param(1.0, doc="A level")
    out = Output("fine.out", float, doc="Output")


class NotAnActor:
    """Not an Actor subclass."""
