"""enlil actors: declare inputs, outputs, state and params; the runtime does the rest.

>>> from actors import Actor, Input, Output, State, Param
>>> from actors import service, Call, Policy, Retry, Breaker, CallError
"""

from actors.core.actor import Actor, ActorContext
from actors.core.caller import Pending
from actors.core.calls import (
    BulkheadFull,
    CallError,
    CallTimeout,
    CircuitOpen,
    Failed,
    Forbidden,
    NoResponders,
    RateLimited,
    Rejected,
    RemoteError,
    ServerGone,
    Unavailable,
)
from actors.core.declarations import DeclarationError, Input, Output, Param, State
from actors.core.reliable_wire import Reliability, WindowFull
from actors.core.resilience import Breaker, Bulkhead, Fallback, Policy, RateLimit, Retry
from actors.core.services import Call, Service, service

__all__ = [
    "Actor",
    "ActorContext",
    "Breaker",
    "Bulkhead",
    "BulkheadFull",
    "Call",
    "CallError",
    "CallTimeout",
    "CircuitOpen",
    "DeclarationError",
    "Failed",
    "Fallback",
    "Forbidden",
    "Input",
    "NoResponders",
    "Output",
    "Param",
    "Pending",
    "Policy",
    "RateLimit",
    "RateLimited",
    "Rejected",
    "Reliability",
    "RemoteError",
    "Retry",
    "ServerGone",
    "Service",
    "State",
    "Unavailable",
    "WindowFull",
    "service",
]
