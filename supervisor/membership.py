"""Run-time membership: ``ctl add``, ``ctl remove`` and ``ctl reload`` (shell).

A reload re-reads site.toml and applies only the difference: actors added
are started, actors removed are stopped (dependants first) and dropped,
actors whose table changed are hot-swapped, and the rest are left alone.
The site's ``config_etag`` and each actor's etag refuse stale requests.
The classes an add or a reload names are checked against the code on disk
in a process of their own (:mod:`supervisor.inspect`), never imported here;
the loop serves other requests meanwhile, and the request is answered once
the check is done.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Iterable
from typing import Any

from actors.site import ConfigError, SiteConfig, file_etag, load_site
from supervisor.children import Child
from supervisor.core.lifecycle import ChildState, Order, Transition
from supervisor.core.protocol import ProtocolError, Request, encode_error, encode_result
from supervisor.core.replies import Reloaded
from supervisor.core.site_events import Added, Removed, SiteEvent, SwapFailed, Swapped
from supervisor.inspect import ActorFacts, Inspection, SiteFacts
from supervisor.loop import Priority
from supervisor.retained import RetainedCache
from supervisor.supervision import Supervision
from supervisor.swap import SwapCoordinator


class Membership:
    """Which actors the site has, changed while it runs."""

    def __init__(
        self, supervision: Supervision, swaps: SwapCoordinator, retained: RetainedCache
    ) -> None:
        self.supervision = supervision
        self.swaps = swaps
        self.retained = retained
        self.config_etag = file_etag(supervision.site.path)
        #: Told of the whole site and its actors' declarations each time they change.
        self.on_facts: Callable[[SiteConfig, dict[str, ActorFacts]], None] = lambda s, f: None
        #: Every actor's declarations now (what its rights come from).
        self.facts: dict[str, ActorFacts] = {}
        #: The declarations an actor in a hot swap had before it: both versions run until
        #: the swap ends, so both have their rights; a rollback gives back these.
        self.swapping: dict[str, ActorFacts] = {}
        #: The site the facts were read for (its control rights, its classes).
        self.facts_site = supervision.site
        supervision.on_removed = self.forget
        supervision.events.listeners.append(self._swap_ended)

    def apply(self, site: SiteConfig) -> None:
        """Make *site* the site: its settings, order and actors (new ones get a Child)."""
        self.supervision.apply(site, self.retained.readers)
        self.swaps.overrides = {n: self.swaps.overrides.get(n, {}) for n in site.actors}

    def take_facts(
        self, site: SiteConfig, actors: dict[str, ActorFacts], swapping: Iterable[str] = ()
    ) -> None:
        """The whole *site*'s declarations: which topics are retained, and who reads them
        (and, on a checked site, what each actor may publish and read: :attr:`on_facts`).
        The actors in *swapping* are about to be hot-swapped: until the swap ends they keep
        their old declarations' rights beside the new ones."""
        for name in swapping:
            old = self.swapping.get(name, self.facts.get(name))
            if old is not None and name in actors:
                self.swapping[name] = old
        # An actor the new site drops keeps its rights until it has exited (forget).
        leaving = {
            n: f for n, f in self.facts.items() if n not in actors and n in self.supervision.actors
        }
        self.facts = {**actors, **leaving}
        self.facts_site = site
        self._tell()

    def _tell(self) -> None:
        """Hand the facts in force on (each swapping actor's old and new together)."""
        swapping = self.swapping
        facts = {
            name: each.union(swapping[name]) if name in swapping else each
            for name, each in self.facts.items()
        }
        self.retained.take(facts)
        self.on_facts(self.facts_site, facts)

    def _swap_ended(self, event: SiteEvent) -> None:
        """A swap ended: the new version's declarations alone (``swapped``), or the old
        one's back (``swap_failed``: the running version was kept)."""
        if not isinstance(event, Swapped | SwapFailed):
            return
        name = event.actor
        old = self.swapping.pop(name, None)
        if old is None:
            return
        if isinstance(event, SwapFailed) and name in self.facts:
            self.facts[name] = old
        self._tell()

    def _load(
        self,
        identity: bytes,
        req_id: int,
        added: dict[str, dict[str, Any]],
        then: Callable[[SiteConfig], None],
        swapping: Iterable[str] | None = None,
    ) -> None:
        """site.toml as it is now plus *added* tables, its classes checked in a process of
        their own; *then* gets it, or the client the problems (file or ``ctl add``, key,
        reason). Its declarations become the site's facts first (*swapping*: the actors
        about to be hot-swapped; by default the running ones whose table changed)."""
        sup = self.supervision
        path = sup.site.path
        try:
            site = load_site(path, extra_actors=added)
        except ConfigError as exc:
            raise ProtocolError("bad_request", self._problems(exc.problems, added)) from None

        def checked(facts: SiteFacts) -> None:
            if facts.problems:
                text = self._problems(facts.problems, added)
                sup.reply(identity, encode_error(req_id, "bad_request", text))
                return
            running = sup.site.actors
            swaps = swapping
            if swaps is None:
                swaps = [
                    n
                    for n, table in site.actors.items()
                    if n in running and running[n] != table and sup.actors[n].alive
                ]
            # Before applying: who reads a retained topic, and every actor's rights.
            self.take_facts(site, facts.actors, swaps)
            try:
                then(site)
            except ProtocolError as exc:
                sup.reply(identity, encode_error(req_id, exc.kind, str(exc)))

        loop = sup.loop
        Inspection(
            str(path),
            added,
            checked,
            watch=lambda fd, read: loop.watch(fd, read, Priority.CONTROL),
            unwatch=loop.unwatch,
            after=loop.after,
            timeout=max(sup.site.supervisor.ready_timeout, 30.0),
        )

    @staticmethod
    def _problems(problems: list[Any], added: dict[str, dict[str, Any]]) -> str:
        """The problems as one text; those of an added actor blamed on ``ctl add``, not on
        a site.toml key that does not exist."""
        texts = []
        for p in problems:
            name = p.key.split(".")[1] if p.key.startswith("actors.") else ""
            texts.append(f"ctl add {name}: {p.key}: {p.reason}" if name in added else str(p))
        return "; ".join(texts)

    def add(self, identity: bytes, req: Request) -> None:
        """``ctl add``: a new actor from a class and params (or a whole table)."""
        sup = self.supervision
        name = req.name or ""
        if name in sup.actors:
            raise ProtocolError("failed", f"actor {name!r} already exists")
        table = dict(req.table or {})
        if req.cls:
            table["class"] = req.cls
        if req.params is not None:
            table["params"] = req.params

        def checked(site: SiteConfig) -> None:
            if name in sup.actors:  # added by another request while this one was checked
                raise ProtocolError("failed", f"actor {name!r} already exists")
            sup.added[name] = table
            self.apply(site)
            child = sup.actors[name]
            blocked = sup.blocked(child)
            if blocked:
                sup.events.log.info(
                    "added; waiting for its after list", actor=name, blocked=blocked
                )
            if child.wanted:
                sup.wait_for(child, identity, req.id, ChildState.RUNNING)
            else:  # autostart = false: added, stopped until started
                sup.reply(identity, encode_result(req.id, child.status(sup.loop.clock()).encode()))
            sup.events.emit(Added(actor=child.name, kind=child.kind, cls=child.class_path))
            sup.spawn_due()

        self._load(identity, req.id, {**sup.added, name: table}, checked)

    def remove(
        self,
        identity: bytes | None,
        req_id: int,
        child: Child,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Stop *child* and drop it from the site (*then* runs once it is gone)."""
        sup = self.supervision
        if identity is not None:
            users = [n for n in sup.dependants[child.name] if n in sup.actors]
            if users:
                raise ProtocolError(
                    "failed", f"actor {child.name!r} is in the after list of {', '.join(users)}"
                )
            sup.wait_for(child, identity, req_id, ChildState.STOPPED)
        child.order(Order.REMOVE)
        child.on_removed = then
        if child.alive:
            sup.terminate(child)
        else:
            self.forget(child)

    def forget(self, child: Child) -> None:
        """Drop a removed actor from the site once it has exited."""
        sup = self.supervision
        if child.state is not ChildState.STOPPED:
            child.move(Transition.RESET)
        sup.answer(child)
        sup.added.pop(child.name, None)
        sup.actors.pop(child.name, None)
        actors = {n: a for n, a in sup.site.actors.items() if n != child.name}
        self.apply(dataclasses.replace(sup.site, actors=actors))
        if child.name in self.facts:  # gone: no rights left behind for its name
            self.facts.pop(child.name)
            self.swapping.pop(child.name, None)
            self.facts_site = sup.site
            self._tell()
        sup.events.emit(Removed(actor=child.name, kind=child.kind))
        if child.on_removed is not None:
            child.on_removed()

    def inspect_swap(
        self, identity: bytes, req: Request, name: str, then: Callable[[], None]
    ) -> None:
        """On a checked site: the declarations of *name*'s new version (its class and params
        as the swap will run them, read from disk in the inspector's process) become its
        rights before the new version starts; *then* starts the swap."""
        sup = self.supervision
        raw: Any = sup.added.get(name)  # an actor added at run time: as it was added
        if raw is None:
            try:
                raw = tomllib.loads(sup.site.path.read_text(encoding="utf-8"))["actors"][name]
            except (OSError, KeyError, TypeError, ValueError):
                raw = {"class": sup.actors[name].class_path}
        table = dict(raw) if isinstance(raw, dict) else {}
        current = self.swaps.overrides.get(name, {})
        table["class"] = req.cls or current.get("class") or table.get("class")
        table["params"] = {
            **table.get("params", {}),
            **current.get("params", {}),
            **(req.params or {}),
        }
        # The whole site: the file's actors, those added at run time, this one's new version.
        added = {**sup.added, name: table}
        self._load(identity, req.id, added, lambda site: then(), swapping=[name])

    def reload(self, identity: bytes, req: Request) -> None:
        """Apply what changed in site.toml: add, remove, swap; leave the rest untouched."""
        sup = self.supervision
        if req.etag is not None and req.etag != self.config_etag:
            raise ProtocolError(
                "stale",
                f"{sup.site.path} was at version {self.config_etag} when last applied, "
                f"not {req.etag}",
            )
        self._load(identity, req.id, {}, lambda site: self._apply_reload(identity, req, site))

    def _apply_reload(self, identity: bytes, req: Request, site: SiteConfig) -> None:
        """The rest of a reload, once the classes of *site* are checked."""
        sup = self.supervision
        old, new = sup.site.actors, site.actors
        removed = [n for n in sup.order if n not in new]
        report: dict[str, Any] = {
            "added": [n for n in new if n not in old],
            "removed": removed,
            "swapped": [],
            "unchanged": [n for n in new if n in old and new[n] == old[n]],
            "failed": {},
        }
        changed = [n for n in new if n in old and new[n] != old[n]]
        pending = [1]

        def done() -> None:
            pending[0] -= 1
            if pending[0] == 0:
                self.config_etag = file_etag(sup.site.path)
                reloaded = Reloaded(
                    added=report["added"],
                    removed=report["removed"],
                    unchanged=report["unchanged"],
                    swapped=report["swapped"],
                    failed=report["failed"],
                    etag=self.config_etag,
                )
                sup.reply(identity, encode_result(req.id, reloaded))

        # The new tables take effect (settings, order, restart types); the removed
        # actors stay until they have exited.
        sup.added = {}
        self.apply(dataclasses.replace(site, actors={**new, **{n: old[n] for n in removed}}))
        for name in reversed(removed):  # dependants first
            pending[0] += 1
            self.remove(None, 0, sup.actors[name], done)
        for name in changed:
            self.swaps.overrides[name] = {}
            child = sup.actors[name]
            if child.state is not ChildState.RUNNING:
                continue  # it will start from its new table
            pending[0] += 1

            def swapped(ok: bool, detail: str, name: str = name) -> None:
                if ok:
                    report["swapped"].append(name)
                else:
                    report["failed"][name] = detail
                done()

            try:
                self.swaps.start(None, 0, child, None, None, done=swapped)
            except ProtocolError as exc:
                report["failed"][name] = str(exc)
                pending[0] -= 1
        sup.spawn_due()
        done()
