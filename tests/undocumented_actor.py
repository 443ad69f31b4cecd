"""An actor module whose class forgets a doc=: importing it fails."""

from actors import Actor, Input


class Undocumented(Actor):
    """Reads a value it does not document."""

    speed = Input("motor.speed", float)
