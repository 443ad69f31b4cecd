"""The idle actor of the memory benchmark, in a module of its own: what it costs is the
framework's, not that of the other benchmark actors' module."""

from __future__ import annotations

from actors import Actor, Input


class Idle(Actor):
    """Does nothing; for measuring the cost of an idle actor."""

    nothing = Input("idle.in", int, doc="Never published")
