"""What a site's actor classes declare, found in a process of its own (shell).

The supervisor never imports an actor module into its own process: a module
may be slow or hostile at import, and one imported once would be checked
against forever after, even once edited on disk. At start and at each
``ctl add`` and ``ctl reload`` it runs ``python -m supervisor.inspect CONFIG
[EXTRA]``, which imports the classes fresh from disk, as the actors will,
and prints one JSON line: the problems (file, key, reason) and, per actor,
the :class:`ActorFacts` the supervisor needs (what it reads, which retained
topics it writes). :class:`Inspection` runs it without blocking the
supervisor's loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from actors.core.access import ActorAccess
from actors.site import ConfigProblem

_FACTS: Final = ("inputs", "retained", "outputs", "serves", "calls")
#: Bytes of the inspector's answer read per loop turn (the answer is small).
_CHUNK: Final = 65536
_MAX_ANSWER: Final = 16 * 1024 * 1024


@dataclass(frozen=True)
class ActorFacts:
    """What the supervisor needs to know of one actor's declarations."""

    #: Topics (or families) of each Input, resolved with the actor's params and topics.
    inputs: tuple[str, ...]
    #: Topics (or families) of its retained Outputs.
    retained: tuple[str, ...]
    #: Topics (or families) of all its Outputs.
    outputs: tuple[str, ...] = ()
    #: Services it serves, and services it calls.
    serves: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    #: Its declared metrics: (variable, kind, doc, unit, class name) each.
    metrics: tuple[tuple[str, str, str, str, str], ...] = ()
    #: Its class owns hardware (``hal = True``): the live graph may fold its status topics.
    hal: bool = False
    #: Topics (or families) of its reliable Inputs, and the topics of its reliable Outputs.
    reliable_in: tuple[str, ...] = ()
    reliable_out: tuple[str, ...] = ()

    def access(self) -> ActorAccess:
        """What its rights on a checked site come from."""
        return ActorAccess(self.outputs, self.inputs, self.serves, self.calls)

    def union(self, other: ActorFacts) -> ActorFacts:
        """Both declarations at once (two versions of one actor, during a hot swap)."""

        def both(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(a + b))

        return ActorFacts(
            inputs=both(self.inputs, other.inputs),
            retained=both(self.retained, other.retained),
            outputs=both(self.outputs, other.outputs),
            serves=both(self.serves, other.serves),
            calls=both(self.calls, other.calls),
            metrics=tuple(dict.fromkeys(self.metrics + other.metrics)),
            hal=self.hal or other.hal,
            reliable_in=both(self.reliable_in, other.reliable_in),
            reliable_out=both(self.reliable_out, other.reliable_out),
        )


@dataclass(frozen=True)
class SiteFacts:
    """The inspector's answer: the actors that resolved, and every problem found."""

    actors: dict[str, ActorFacts]
    problems: list[ConfigProblem]
    #: The reliable Inputs of the other hosts' actors that start with the site, those
    #: whose classes load on this host (a site of several hosts).
    elsewhere_reads: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def decode(cls, text: str) -> SiteFacts:
        """Read the inspector's JSON line (ValueError when it is not one)."""
        data = json.loads(text)
        actors = {str(name): _facts(a) for name, a in data["actors"].items()}
        problems = [ConfigProblem(str(f), str(k), str(r)) for f, k, r in data["problems"]]
        reads = {str(n): tuple(map(str, r)) for n, r in data.get("elsewhere_reads", {}).items()}
        return cls(actors, problems, reads)


def _facts(data: dict[str, Any]) -> ActorFacts:
    """One actor's facts from the inspector's answer."""

    def texts(key: str) -> tuple[str, ...]:
        return tuple(map(str, data.get(key, [])))

    return ActorFacts(
        inputs=texts("inputs"),
        retained=texts("retained"),
        outputs=texts("outputs"),
        serves=texts("serves"),
        calls=texts("calls"),
        metrics=tuple(_metric(m) for m in data.get("metrics", [])),
        hal=data.get("hal") is True,
        reliable_in=texts("reliable_in"),
        reliable_out=texts("reliable_out"),
    )


def _metric(item: Any) -> tuple[str, str, str, str, str]:
    """One declared metric from the inspector's answer (ValueError when it is not one)."""
    if not isinstance(item, list) or len(item) != 5:  # noqa: PLR2004 - its five fields
        raise ValueError(f"a declared metric must be five strings, got {item!r}")
    name, kind, doc, unit, cls = (str(x) for x in item)
    return name, kind, doc, unit, cls


def _inspect(config: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    """In the inspector's process: import the classes and resolve them."""
    from actors.core.declarations import NAME_FIELD, metric_kind  # noqa: PLC0415
    from actors.site import ConfigError, load_site  # noqa: PLC0415 - the child's own imports
    from supervisor.site import declared_actors  # noqa: PLC0415

    try:
        site = load_site(config, extra_actors=extra)
    except ConfigError as exc:
        return {"actors": {}, "problems": [[p.file, p.key, p.reason] for p in exc.problems]}
    decls, problems = declared_actors(site)
    actors = {
        d.name: {
            "inputs": sorted({t for name in d.spec.inputs for t in d.topics.get(name, [])}),
            "retained": sorted(
                {
                    t
                    for name, var in d.spec.outputs.items()
                    if var.retained
                    for t in d.topics.get(name, [])
                }
            ),
            "outputs": sorted({t for name in d.spec.outputs for t in d.topics.get(name, [])}),
            "serves": sorted(
                {s.service.replace(NAME_FIELD, d.name) for s in d.spec.services.values()}
            ),
            "calls": sorted({c.service for c in d.spec.calls.values()}),
            "metrics": [
                [name, kind, var.doc, var.unit or "", d.spec.cls_name]
                for name, var in (*d.spec.states.items(), *d.spec.outputs.items())
                if (kind := metric_kind(getattr(var, "metric", False)))
            ],
            "hal": d.hal,
            "reliable_in": sorted(
                {t for n, v in d.spec.inputs.items() if v.reliable for t in d.topics.get(n, [])}
            ),
            "reliable_out": sorted(
                {t for n, v in d.spec.outputs.items() if v.reliable for t in d.topics.get(n, [])}
            ),
        }
        for d in decls
    }
    # The other hosts' actors whose classes load here: the reliable Inputs of those
    # that start with the site, so that this host's writers keep their messages for them
    # from the start (a class that does not load here is its own host's to report).
    others, _ = declared_actors(site, {n: a for n, a in site.elsewhere.items() if a.autostart})
    reads = {
        d.name: sorted(
            {t for n, v in d.spec.inputs.items() if v.reliable for t in d.topics.get(n, [])}
        )
        for d in others
    }
    return {
        "actors": actors,
        "problems": [[p.file, p.key, p.reason] for p in problems],
        "elsewhere_reads": {n: r for n, r in reads.items() if r},
    }


def _argv(config: str, extra: dict[str, Any] | None) -> list[str]:
    return [sys.executable, "-m", "supervisor.inspect", config, json.dumps(extra or {})]


def _failed(config: str, why: str) -> SiteFacts:
    return SiteFacts({}, [ConfigProblem(config, "", f"cannot inspect the actor classes: {why}")])


def inspect_now(
    config: str, extra: dict[str, Any] | None = None, timeout: float = 60.0
) -> SiteFacts:
    """Run the inspector and wait for it (at start, before the loop runs)."""
    try:
        done = subprocess.run(
            _argv(config, extra), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return _failed(config, f"importing them took more than {timeout:g}s")
    try:
        return SiteFacts.decode(done.stdout)
    except (ValueError, KeyError, TypeError):
        return _failed(config, (done.stderr.strip() or f"exit {done.returncode}")[-2000:])


class Inspection:
    """One inspector run watched by the supervisor's loop; *then* gets its facts.

    *watch* and *unwatch* register the answer pipe with the loop, *after*
    schedules the timeout (the inspector is killed by its pid then).
    """

    def __init__(  # noqa: PLR0913 - the loop's three hooks and the run's three settings
        self,
        config: str,
        extra: dict[str, Any] | None,
        then: Callable[[SiteFacts], None],
        *,
        watch: Callable[[int, Callable[[], None]], None],
        unwatch: Callable[[int], None],
        after: Callable[[float, Callable[[], None]], None],
        timeout: float = 60.0,
    ) -> None:
        self.config = config
        self.then = then
        self._unwatch = unwatch
        self._chunks: list[bytes] = []
        self._size = 0
        self._done = False
        # What the modules print goes to a file, never into the pipe: a full pipe
        # would stall the inspector.
        self._stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _finish
        self.proc = subprocess.Popen(
            _argv(config, extra), stdout=subprocess.PIPE, stderr=self._stderr_file
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        watch(self._fd, self._read)
        after(timeout, lambda: self._finish(_failed(config, f"no answer within {timeout:g}s")))

    def _read(self) -> None:
        try:
            chunk = os.read(self._fd, _CHUNK)  # one read per turn: bounded
        except BlockingIOError:
            return
        self._chunks.append(chunk)
        self._size += len(chunk)
        if chunk and self._size <= _MAX_ANSWER:
            return
        text = b"".join(self._chunks).decode(errors="replace")
        try:
            facts = SiteFacts.decode(text)
        except (ValueError, KeyError, TypeError):
            facts = _failed(self.config, self._stderr())
        self._finish(facts)

    def _stderr(self) -> str:
        self.proc.wait(5.0)
        self._stderr_file.seek(0)
        err = self._stderr_file.read().decode(errors="replace").strip()
        return (err or f"exit {self.proc.returncode}")[-2000:]

    def _finish(self, facts: SiteFacts) -> None:
        if self._done:
            return
        self._done = True
        self._unwatch(self._fd)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr_file.close()
        self.then(facts)


def main(argv: list[str]) -> int:
    """``python -m supervisor.inspect CONFIG [EXTRA_ACTORS_JSON]``: print the facts."""
    extra = json.loads(argv[1]) if len(argv) > 1 else None
    # The answer has standard output to itself: what the modules print goes to stderr.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    answer.write(json.dumps(_inspect(argv[0], extra or None)) + "\n")
    answer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
