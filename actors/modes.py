"""The built-in mode actor: runs a site in one of its modes, each a set of actors.

Configured in site.toml like any actor (``actors.builtin:Modes``); it needs
the ``control`` rights to start, stop and ask about every actor its modes
name (``check`` says so when they are missing)::

    [actors.modes]
    class = "actors.builtin:Modes"
    control = ["pump", "logger", "calibrator"]
    params = { initial = "idle", modes = { idle = [], run = ["pump", "logger"],
                                           calibrate = ["calibrator"] } }

    [actors.calibrator]
    class = "bench:Calibrator"
    autostart = false            # runs only in calibrate mode

A change comes on ``mode.request`` (any publisher) or the service
``mode.set`` (which answers at once: the change is under way); ``mode.get``
answers the last outcome. The actor
stops the managed actors the new mode does not name (dependants first), then
starts those it names (each after its ``after`` actors), and publishes the
outcome on the retained topic ``mode.current``: ``{"mode", "state":
"reached", "actors"}``, or, when a start or stop fails, ``{"mode", "state":
"failed", "requested", "error"}`` after going back to the mode it came from
(or, if there was none, stopping every managed actor): the site is never
left half-way. While it works it says ``"state": "changing"``. Actors no
mode names are not its business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.core.actor import Actor
from actors.core.calls import CallError, Rejected
from actors.core.declarations import Input, Output, Param
from actors.core.modes import mode_plan, mode_problems
from actors.core.services import service

#: What a mode change publishes while it works.
CHANGING = "changing"
REACHED = "reached"
FAILED = "failed"


class Modes(Actor):
    """Runs the site in one of its modes (sets of actors) and changes mode on request."""

    request = Input("mode.request", str, doc="The mode wanted next", default="", external=True)
    reached = Input(
        "mode.current", dict, doc="Its own last outcome (at a restart: the mode kept)", default={}
    )
    current = Output(
        "mode.current",
        dict,
        doc="The mode reached ({mode, state, actors}) or why not ({state: failed, error})",
        retained=True,
    )
    modes = Param({}, type=dict, doc="Each mode's actors: {mode = [actor, ...]}")
    initial = Param("", doc="The mode at start (empty: the first mode)")
    timeout = Param(
        30.0,
        doc="Seconds one start or stop of an actor may take",
        unit="s",
        minimum=0.01,
        maximum=86400,
    )

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> list[str]:
        """The modes are lists of names; the initial mode is one of them."""
        return mode_problems(params.get("modes"), params.get("initial"))

    @classmethod
    def actors_from_params(cls, params: Mapping[str, Any]) -> dict[str, list[str]]:
        """Every actor a mode names, by the mode's key."""
        modes = params.get("modes")
        if not isinstance(modes, Mapping):
            return {}
        return {f"modes.{m}": list(a) for m, a in modes.items() if isinstance(a, list)}

    def on_start(self) -> None:
        """Runs in the mode actor's process at start: the mode it kept (after a restart of
        this actor alone), else the initial one, is reached once it runs."""
        kept = self.reached.get("mode") if isinstance(self.reached, dict) else None
        first = self.initial or next(iter(self.modes))
        self._wanted: str = kept if isinstance(kept, str) and kept in self.modes else first
        self._mode: str = ""
        self._last: dict[str, Any] = {"mode": "", "state": CHANGING, "requested": self._wanted}
        self.enlil.call_later(0, self._change)

    def step(self) -> None:
        """Runs on a request: the change happens once this step is done."""
        if self.enlil.trigger != "request" or not self.request:
            return  # its own outcome coming back
        if self.request not in self.modes:
            self.enlil.log.warning("unknown mode requested", mode=self.request)
            self._publish(self._mode, FAILED, requested=self.request, error=self._unknown())
            return
        self._ask(self.request)

    @service("mode.set", str, dict, doc="Change the mode; answers at once (see mode.current)")
    def set_mode(self, mode: str) -> dict[str, Any]:
        """Runs in the mode actor's process: refuses an unknown mode, else starts the change."""
        if mode not in self.modes:
            raise Rejected(self._unknown(mode))
        self._ask(mode)
        return {"mode": self._mode, "state": CHANGING, "requested": mode}

    @service("mode.get", object, dict, doc="The last outcome (as on mode.current)")
    def get_mode(self, request: object) -> dict[str, Any]:
        """Runs in the mode actor's process between steps."""
        return dict(self._last)

    def _unknown(self, mode: str | None = None) -> str:
        return f"no mode {mode or self.request!r} (modes: {', '.join(self.modes)})"

    def _ask(self, mode: str) -> None:
        self._wanted = mode
        self.enlil.call_later(0, self._change)

    def _change(self) -> None:
        """Go to the mode wanted now; on a failure, back to the mode it came from."""
        wanted, before = self._wanted, self._mode
        if wanted == before:
            self._publish(wanted, REACHED)
            return
        self._publish(before, CHANGING, requested=wanted)
        try:
            self._reach(self.modes[wanted])
        except CallError as exc:
            error = f"{exc.kind}: {exc}"
            self.enlil.log.error("mode change failed", mode=wanted, error=error)
            try:
                self._reach(self.modes[before] if before else [])
            except CallError as again:
                error += f"; and going back to {before or 'no mode'}: {again.kind}: {again}"
                before = ""
            self._mode = before
            self._publish(before, FAILED, requested=wanted, error=error)
            return
        self._mode = wanted
        self.enlil.log.info("mode reached", mode=wanted)
        self._publish(wanted, REACHED)

    def _reach(self, actors: list[str]) -> None:
        """Stop what *actors* do not include, then start what they do (CallError: stuck)."""
        managed = sorted({a for names in self.modes.values() for a in names})
        ask, timeout = self.enlil, float(self.timeout)
        known = {name: ask.status(name, timeout=timeout) for name in managed}
        states = {name: str(s.get("state")) for name, s in known.items()}
        after = {name: list(s.get("after") or []) for name, s in known.items()}
        plan = mode_plan(actors, managed, states, after)
        for name in plan.stop:
            ask.stop(name, timeout=timeout)
        for name in plan.start:
            ask.start(name, timeout=timeout)

    def _publish(self, mode: str, state: str, **more: Any) -> None:
        value: dict[str, Any] = {"mode": mode, "state": state, **more}
        if state == REACHED:
            value["actors"] = sorted(self.modes.get(mode, []))
        self._last = value
        self.enlil.send("current", value)
