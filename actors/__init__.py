"""enlil actors: declare inputs, outputs, state and params; the runtime does the rest.

>>> from actors import Actor, Input, Output, State, Param
"""

from actors.core.actor import Actor, ActorContext
from actors.core.declarations import DeclarationError, Input, Output, Param, State

__all__ = ["Actor", "ActorContext", "DeclarationError", "Input", "Output", "Param", "State"]
