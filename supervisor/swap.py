"""Hot swap of a running actor, coordinated by the supervisor (shell).

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
any time. Which answer is taken in which phase, and where it leads, is the table
of :mod:`supervisor.core.swap_phases`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from actors.core.control import (
    SWAP_SUFFIX,
    Exit,
    Op,
    Reply,
    Request,
    Standby,
    TookOver,
    swap_failure_name,
)
from actors.core.topics import SYS_CONTROL
from actors.site import ActorConfig
from supervisor.children import Child
from supervisor.core import replies
from supervisor.core.lifecycle import ChildState, Transition
from supervisor.core.liveness import LivenessWatch
from supervisor.core.protocol import ProtocolError, encode_error, encode_result
from supervisor.core.site_events import SwapFailed, Swapped
from supervisor.core.swap_phases import HOLDING, Phase, SwapStep, next_phase, takes
from supervisor.supervision import Supervision

#: Seconds a failed new version's report may trail its exit.
EXIT_GRACE: Final = 0.5


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
    phase: Phase = Phase.STARTING
    request_ids: dict[Op, int] = field(default_factory=dict)
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


class SwapCoordinator:
    """The swaps under way, the processes of swapped-out versions, each actor's overrides."""

    def __init__(
        self,
        supervision: Supervision,
        publish: Callable[[str, Any], None],
        next_id: Callable[[], int],
    ) -> None:
        self.supervision = supervision
        self.loop = supervision.loop
        self.events = supervision.events
        self._publish = publish
        self._next_id = next_id
        self._tokens = itertools.count(1)
        #: Hot swaps under way, by actor.
        self.swaps: dict[str, Swap] = {}
        #: Processes of swapped-out versions (and failed new ones), until they exit.
        self.retiring: list[Child] = []
        #: What swaps changed of each actor's table (``class``, ``params``), by actor.
        self.overrides: dict[str, dict[str, Any]] = {}
        supervision.exit_listeners.append(self._actor_exited)

    def etag_of(self, name: str) -> str:
        """The config version of actor *name*."""
        return etag(self.supervision.site.actors[name], self.overrides.get(name))

    @property
    def _timeout(self) -> float:
        return self.supervision.site.supervisor.ready_timeout

    def _table(self, name: str) -> list[str]:
        """The arguments that give an actor added at run time its table (none for one of
        site.toml): a new version of it runs from that table too."""
        table = self.supervision.added.get(name)
        return ["--table", json.dumps(table)] if table is not None else []

    def start(
        self,
        identity: bytes | None,
        req_id: int,
        child: Child,
        cls: str | None,
        params: dict[str, Any] | None,
        *,
        done: Callable[[bool, str], None] | None = None,
    ) -> None:
        """Start swapping *child* to *cls* / *params* (the code on disk when None)."""
        if child.state is not ChildState.RUNNING:
            raise ProtocolError("failed", f"actor {child.name!r} is {child.state}, not running")
        if child.name in self.swaps:
            raise ProtocolError("failed", f"a swap of {child.name!r} is already under way")
        token = str(next(self._tokens))
        current = self.overrides.get(child.name, {})
        cls = cls or current.get("class")
        if params is not None:
            params = {**current.get("params", {}), **params}
        else:
            params = current.get("params")
        new = Child(
            child.name,
            "actor",
            child.argv,
            class_path=cls or child.class_path,
            after=child.after,
            extra=[*self._table(child.name), *swap_arguments(token, cls, params)],
            retained=child.retained,
        )
        if self.supervision.faults_used is not None:
            new.faults_used = self.supervision.faults_used()
        swap = Swap(child.name, token, identity, req_id, new, child.pid, cls, params, done=done)
        self.swaps[child.name] = swap
        self.supervision.spawner.spawn([new], lambda _: self._new_exited(swap))
        self.events.log.info("swap starting", actor=child.name, new_pid=new.pid, cls=cls)
        self.loop.after(self._timeout, lambda: self._timed_out(swap, Phase.STARTING))

    def _timed_out(self, swap: Swap, phase: Phase) -> None:
        if self.swaps.get(swap.name) is swap and swap.phase is phase:
            swap.new.signal(signal.SIGKILL)
            self._failed(
                swap, f"timed out while {phase.replace('_', ' ')}", step=SwapStep.TIMED_OUT
            )

    def _send(self, swap: Swap, target: str, request: Request) -> None:
        swap.request_ids[request.op] = request.id
        self._publish(SYS_CONTROL + target, request.encode())

    def message(self, sender: str, message: Reply | Standby | TookOver) -> None:
        """A swap step's answer from *sender* (``NAME`` or ``NAME:swap``)."""
        name = sender.removesuffix(SWAP_SUFFIX)
        swap = self.swaps.get(name)
        if swap is None:
            return
        from_new = sender.endswith(SWAP_SUFFIX)
        if isinstance(message, Standby):
            if takes(swap.phase, SwapStep.STANDBY, from_new):
                self._standby(swap, message)
        elif isinstance(message, TookOver):
            if takes(swap.phase, SwapStep.TOOK_OVER, from_new):
                self._took_over(swap, message)
        elif message.op == Op.HANDOVER and takes(swap.phase, SwapStep.HANDED_OVER, from_new):
            self._handed_over(swap, message)

    def _standby(self, swap: Swap, message: Standby) -> None:
        if message.token != swap.token or message.pid != swap.new.pid:
            return
        swap.phase = next_phase(swap.phase, SwapStep.STANDBY)
        self._send(swap, swap.name, Request(Op.HANDOVER, self._next_id(), pid=swap.old_pid))
        self.loop.after(self._timeout, lambda: self._timed_out(swap, Phase.HANDING_OVER))

    def _handed_over(self, swap: Swap, reply: Reply) -> None:
        if reply.id != swap.request_ids.get(Op.HANDOVER):
            return
        if not reply.ok:
            swap.new.signal(signal.SIGKILL)
            self._failed(swap, f"the running version refused: {reply.error or None}")
            return
        swap.phase = next_phase(swap.phase, SwapStep.HANDED_OVER)
        takeover = Request(
            Op.TAKEOVER,
            self._next_id(),
            memory=reply.result.get("memory"),
            sequences=reply.result.get("sequences"),
            version=reply.result.get("version", 1),
        )
        self._send(swap, swap.name + SWAP_SUFFIX, takeover)
        self.loop.after(self._timeout, lambda: self._timed_out(swap, Phase.TAKING_OVER))

    def _took_over(self, swap: Swap, message: TookOver) -> None:
        if not message.ok:
            swap.new.signal(signal.SIGKILL)
            self._failed(swap, message.error)
            return
        sup = self.supervision
        child = sup.actors[swap.name]
        self._send(swap, swap.name, Request(Op.COMMIT, self._next_id(), pid=swap.old_pid))
        old = Child(f"{swap.name} (swapped out)", "actor", child.argv)
        old.proc = child.proc
        old.move(Transition.RETIRE)
        self._retire(old)
        self.loop.after(sup.site.supervisor.stop_timeout, lambda: old.signal(signal.SIGKILL))
        new = swap.new
        child.proc, new.proc = new.proc, None
        sup.spawner.watch(child, sup.exited)
        child.started_at = new.started_at
        child.ready_at = self.loop.clock()
        child.move(Transition.SWAP_IN)
        child.heartbeat, child.heartbeat_at = None, 0.0
        child.watch = LivenessWatch(sup.limits[child.name])
        overrides = {k: v for k, v in (("class", swap.cls), ("params", swap.params)) if v}
        self.overrides[swap.name] = overrides
        child.class_path = swap.cls or child.class_path
        # Restarts run this version (an actor added at run time: from the table it was added with).
        child.extra = [*self._table(child.name), *swap_arguments("", swap.cls, swap.params)]
        swap.phase = next_phase(swap.phase, SwapStep.TOOK_OVER)
        del self.swaps[swap.name]
        result = replies.Swapped(
            child.status(self.loop.clock()),
            etag=self.etag_of(swap.name),
            old_pid=swap.old_pid,
            processed=message.processed,
            dropped=list(message.dropped),
        )
        self.events.emit(
            Swapped(
                actor=child.name,
                kind=child.kind,
                pid=child.pid,
                old_pid=swap.old_pid,
                cls=child.class_path,
            )
        )
        if swap.done is not None:
            swap.done(True, "")
        elif swap.identity is not None:
            sup.reply(swap.identity, encode_result(swap.request_id, result))

    def _failed(
        self, swap: Swap, error: str, resume: bool = True, step: SwapStep = SwapStep.FAILED
    ) -> None:
        """Roll back: the old version resumes with its state; the caller hears why."""
        if self.swaps.get(swap.name) is not swap:
            return
        del self.swaps[swap.name]
        self._failure_said(swap)  # its file, if the message came first: read or not, gone
        if resume and swap.phase in HOLDING:
            self._send(swap, swap.name, Request(Op.RESUME, self._next_id(), pid=swap.old_pid))
        swap.phase = next_phase(swap.phase, step)
        self.events.log.warning("swap rolled back", actor=swap.name, error=error)
        self.events.emit(SwapFailed(actor=swap.name, error=error))
        message = f"swap of {swap.name!r} rolled back, the running version kept: {error}"
        if swap.done is not None:
            swap.done(False, message)
        elif swap.identity is not None:
            self.supervision.reply(swap.identity, encode_error(swap.request_id, "failed", message))
        if swap.new.alive:
            self._retire(swap.new)

    def _actor_exited(self, child: Child) -> None:
        swap = self.swaps.get(child.name)
        if (
            swap is not None
            and child.kind == "actor"
            and child is self.supervision.actors.get(child.name)
        ):
            swap.new.signal(signal.SIGKILL)
            self._failed(swap, "the running version exited during the swap", resume=False)

    def _new_exited(self, swap: Swap) -> None:
        if not swap.new.alive:
            return  # retired meanwhile: its exit is the retiring list's
        code = swap.new.reap()
        said = self._failure_said(swap)
        why = said or (
            f"the new version could not be loaded (exit {Exit.CONFIG}; see its log)"
            if code == Exit.CONFIG
            else f"the new version exited ({'signal ' + str(-code) if code < 0 else code})"
        )
        if said and swap.phase is not Phase.DONE:
            self._failed(swap, why)  # its own reason, written before it exited
        elif swap.phase is not Phase.DONE:
            # Its last message (why it failed) was sent before it exited but may still be
            # on its way through the broker: it wins if it comes within the grace.
            self.loop.after(EXIT_GRACE, lambda: self._failed(swap, why))

    def _failure_said(self, swap: Swap) -> str:
        """What the new version wrote about why it failed (and the file removed), or ""."""
        path = (
            self.supervision.site.site.run_dir / "actors" / swap_failure_name(swap.name, swap.token)
        )
        try:
            text = path.read_bytes()[:4000].decode(errors="replace")
        except OSError:
            return ""
        path.unlink(missing_ok=True)
        return text

    def _retire(self, child: Child) -> None:
        self.retiring.append(child)
        self.supervision.spawner.watch(child, self._retired)

    def _retired(self, child: Child) -> None:
        code = child.reap()
        self.retiring.remove(child)
        self.events.log.info("old version exited", actor=child.name, code=code)
