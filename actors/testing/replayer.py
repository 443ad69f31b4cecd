"""Replay a snapshot in-process: the same step logic, no sockets, a fake clock.

>>> replay("run/snapshots/thermostat/20261123T101500.120Z-42-exception.snap")  # doctest: +SKIP

The actor is rebuilt from the snapshot's class path, params and topic remaps
(the class from the project and its installed packages: a module found only in
a folder the snapshot names is imported from there only when trusted, see
:func:`plan_import`),
its memory is restored as it was before the oldest recorded event, and the
recorded events (messages, periodic ticks, start) are fed again in order on
a fake clock set to their recorded times. A snapshot taken under fault
injection replays without the faults unless asked (``faults=True`` applies the
step's rules again: the same seed and rules, the same step fails). Calls are not made: each gets the
outcome recorded for it (so a breaker's refusals, a retry's final result and
a fallback replay as they happened), and the callbacks of calls started
without waiting run where they ran. An exception raised by a hook
propagates unchanged (use ``pytest.raises``); otherwise the final state,
outputs and everything published come back in a :class:`ReplayResult`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.core.actor import Actor
from actors.core.snapshot import Snapshot
from actors.core.wire import Message, encode_envelope
from actors.loader import UntrustedCode, load_class, module_origin
from actors.snapshots import read_snapshot, source_hash
from actors.testing.harness import FakeClock, Harness


@dataclass(frozen=True)
class ReplayResult:
    """What the actor ended with after a replay that raised nothing."""

    snapshot: Snapshot
    state: dict[str, Any]
    outputs: dict[str, Any]
    published: list[Message]
    harness: Harness
    code_changed: bool
    #: How many of the snapshot's events were fed (one with ``last_only``).
    ran: int = 0


@dataclass(frozen=True)
class ImportPlan:
    """What a replay imports: the snapshot's module, the file it comes from, and whether
    that file is the project's (or an installed package's) or only the snapshot's."""

    module: str
    origin: str
    trusted: bool
    #: The folders to import it from (the project's, or those the snapshot names).
    paths: tuple[Path, ...]

    def __str__(self) -> str:
        if not self.origin:
            return f"module {self.module!r} is nowhere in this project or its packages"
        where = "this project or an installed package" if self.trusted else "the snapshot only"
        return f"imports {self.module!r} from {self.origin} ({where})"


def plan_import(snapshot: Snapshot, import_paths: Iterable[str | Path] = ()) -> ImportPlan:
    """Where the snapshot's class would come from, found without importing anything.

    The project (*import_paths*, then this process's ``sys.path`` with the installed
    packages) always wins; the folders the snapshot was captured with are looked at
    only when the module is nowhere there, and what is found in them is untrusted:
    a snapshot file is data, and may have been crafted to run code.
    """
    module = snapshot.class_path.partition(":")[0]
    paths = tuple(Path(p) for p in import_paths)
    origin = module_origin(module, paths)
    if origin:
        return ImportPlan(module, origin, True, paths)
    captured = tuple(Path(p) for p in snapshot.detail.get("import_paths", []) if isinstance(p, str))
    origin = module_origin(module, captured, installed=False)
    return ImportPlan(module, origin, not origin, captured if origin else paths)


def load_actor_class(
    snapshot: Snapshot, import_paths: Iterable[str | Path] = (), *, trust: bool = False
) -> type[Actor]:
    """The snapshot's class from *import_paths* and this process's own ``sys.path`` (the
    code beside the test wins). A module found only in the folders the snapshot was
    captured with is imported from there only with *trust* (UntrustedCode otherwise,
    before anything is imported), so that a snapshot replays the same from any checkout
    its owner trusts, and a crafted one runs nothing."""
    plan = plan_import(snapshot, import_paths)
    if not plan.trusted and not trust:
        raise UntrustedCode(
            f"snapshot of actor {snapshot.actor!r} names class {snapshot.class_path!r}, whose "
            f"module is found only at {plan.origin}, in a folder the snapshot names, outside "
            "this project and its installed packages: not imported (trust it with --trust)"
        )
    return load_class(snapshot.class_path, plan.paths)


def build(
    snapshot: Snapshot,
    import_paths: Iterable[str | Path] = (),
    *,
    trust: bool = False,
    faults: bool = False,
) -> tuple[Harness, bool]:
    """A harness holding the snapshot's actor, not started; and whether its code changed
    (*faults*: with the step's fault rules in force when it was taken)."""
    cls = load_actor_class(snapshot, import_paths, trust=trust)
    start = snapshot.events[0].time if snapshot.events else snapshot.time
    harness = Harness(
        cls,
        name=snapshot.actor,
        params=snapshot.params,
        topics=snapshot.topics,
        period=snapshot.period,
        clock=FakeClock(start),
        start=False,
        faults=_step_faults(snapshot) if faults else None,
    )
    changed = bool(snapshot.source_hash) and snapshot.source_hash != source_hash(cls)
    return harness, changed


def _step_faults(snapshot: Snapshot) -> dict[str, Any] | None:
    """The fault rules of the step in force when the snapshot was taken (the recorded
    events are messages as they were delivered: only the step's faults are applied again)."""
    faults = snapshot.detail.get("faults")
    if not isinstance(faults, dict) or not isinstance(faults.get("rules"), list):
        return None
    rules = [r for r in faults["rules"] if isinstance(r, dict) and r.get("hop") == "step"]
    if not rules:
        return None
    return {"seed": faults.get("seed", 0), "started": faults.get("started", 0.0), "rules": rules}


def replay(
    snapshot: Snapshot | str | Path,
    *,
    import_paths: Iterable[str | Path] = (),
    last_only: bool = False,
    trust: bool = False,
    faults: bool = False,
) -> ReplayResult:
    """Re-run a snapshot's events; see the module docstring.

    A snapshot taken under fault injection replays without the faults: the actor's
    own code, as a test wants it. With *faults*, the step's rules in force then are
    applied again (the recorded messages are as they were delivered), so an injected
    crash happens again where it did.

    The class comes from the project (see :func:`load_actor_class`); *trust* lets a
    module found only in the folders the snapshot names be imported from there.

    With *last_only*, start from the memory just before the failing event and
    feed only that event (for actors whose earlier steps are not repeatable).
    A snapshot of a large memory holds no copy from just before the failing
    event (the recorder checkpoints it less often, see
    :mod:`actors.core.recorder`): the events since its checkpoint are then fed
    first, which rebuilds that memory exactly.
    """
    snap = snapshot if isinstance(snapshot, Snapshot) else read_snapshot(snapshot)
    harness, changed = build(snap, import_paths, trust=trust, faults=faults)
    harness.engine.reliable.replaying = True  # reliable Inputs: recorded in delivered order
    events, memory = snap.events, snap.initial
    if last_only and snap.failed_event is not None and snap.state is not None:
        events, memory = [snap.events[snap.failed_event]], snap.state
    if memory:
        harness.engine.keeper.restore(memory)
    # Calls get their recorded outcomes back: those recorded from the first event fed on,
    # of calls begun inside the window (a call begun before it has no start to replay).
    first = snap.failed_event if events is not snap.events else 0
    window_start = events[0].time if events else snap.time
    harness.engine.calls.replay(
        [
            (e.topic, bool(e.payload[1]), e.payload[2])
            for e in snap.events[first or 0 :]
            if e.kind == "call"
            and isinstance(e.payload, list)
            and len(e.payload) == 3  # noqa: PLR2004 - began, ok, body
            and isinstance(e.payload[0], int | float)
            and e.payload[0] >= window_start
        ]
    )
    ran = 0
    for event in events:
        harness.clock.now = max(harness.clock.now, event.time)
        if event.kind == "start":
            harness.start()
        elif event.kind == "stop":
            harness.stop()
        elif event.kind == "tick":
            harness.tick_now()
        elif event.kind in ("io", "timer", "call"):
            continue  # a device's doing, which a replay cannot repeat; outcomes given above
        elif event.kind == "reply":
            harness.run_reply_callback()
        else:
            envelope = encode_envelope(
                event.sender, event.seq, event.timestamp_ns, event.payload, event.trace
            )
            harness.feed_frames([event.topic.encode(), envelope])
        ran += 1
    return ReplayResult(
        snapshot=snap,
        state=harness.state,
        outputs=harness.outputs,
        published=list(harness.published),
        harness=harness,
        code_changed=changed,
        ran=ran,
    )
