"""Hot swap of a running actor, orchestrated by the supervisor (shell).

The steps, each answered over the broker (``$sys.control.*`` / ``$sys.reply.*``):

1. the new version starts (``--swap TOKEN``): it loads the class from disk,
   subscribes to the actor's inputs and holds every message that arrives, and
   announces itself (``standby``) on ``$sys.reply.<name>:swap``;
2. the old version gets ``handover``: between two steps (the request is a
   message like any other, so everything the broker routed before it has been
   processed) it replies with its memory, the last sequence number it
   processed per sender and topic, the sequence numbers it sent and its
   class ``version``, and from then on holds its messages and publishes nothing;
3. the new version gets ``takeover``: it runs ``migrate_state`` if the versions
   differ, restores the memory and sequences, and processes the held messages
   that the old version had not (its outputs kept back); it replies, and
   publishes those outputs;
4. on success the old version gets ``commit`` and exits without ``on_stop``;
   on any failure (the new version does not load, exits, fails to migrate or in
   its first step, or a step times out) the old version gets ``resume`` and
   processes what it held, and the caller gets the error.

So every message is processed exactly once across the versions (the cut is
per sender and topic, by sequence number), and only one version publishes at
any time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from actors.site import ActorConfig
from supervisor.children import Child

#: Phases of a swap, in order.
STARTING, HANDING_OVER, TAKING_OVER, DONE = "starting", "handing_over", "taking_over", "done"


@dataclass(eq=False)
class Swap:
    """One swap under way."""

    name: str
    token: str
    identity: bytes | None
    request_id: int
    new: Child
    old_pid: int | None
    cls: str | None = None
    params: dict[str, Any] | None = None
    phase: str = STARTING
    request_ids: dict[str, int] = field(default_factory=dict)
    error: str = ""
    #: Called with (ok, error) instead of replying to a client (``ctl reload``).
    done: Callable[[bool, str], None] | None = None


def etag(config: ActorConfig, overrides: dict[str, Any] | None = None) -> str:
    """The config version of one actor: changes whenever its table (or a swap) changes it."""
    data = {**asdict(config), **(overrides or {})}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def swap_arguments(token: str, cls: str | None, params: dict[str, Any] | None) -> list[str]:
    """Extra arguments of the new version's process."""
    extra = ["--swap", token] if token else []
    if cls:
        extra += ["--class", cls]
    if params is not None:
        extra += ["--params", json.dumps(params)]
    return extra
