"""Fault injection's cost (#15): throughput Source -> Sink with no rule, with a 1% drop
rule on the Sink's deliveries, and (``--before REV``) with the code of an older commit,
all in one run, alternating round by round.

Run: ``python bench/faults.py [--before REV] [--count N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, HWM, close_cleanly, machine, median
from bench.throughput import actors_rate, start_site

ROOT = Path(__file__).resolve().parent.parent
SEED = 7
#: The last commit before fault injection (#15): what "no rule" is held against.
BEFORE: Final = "0edd5db"
RULE = {"hop": "deliver", "to": "sink", "topic": "bench.data", "kind": "drop", "probability": 0.01}


def _rate(site: Any, count: int, expected: int, size: int) -> float:
    """Messages a second into the Sink, which expects *expected* of the *count* sent."""
    cursor = site.publish("bench.reset", expected)
    site.wait_for("bench.armed", after=cursor)
    cursor = site.publish("bench.go", [count, size])
    done = site.wait_for(
        "bench.done", lambda p: p["count"] == expected, timeout=120, after=cursor
    ).envelope.payload
    return (expected - 1) / (done["ns"] / 1e9)


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """A work tree of *rev* (removed after)."""
    parent = Path(tempfile.mkdtemp(prefix="enlil-before-"))
    folder = parent / "tree"
    try:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", str(folder), rev], check=True
        )
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False
        )
        shutil.rmtree(parent, ignore_errors=True)  # the folder the work tree was made in


def measure(count: int, rounds: int, before: Path | None = None) -> dict[str, float]:
    """Median msgs/s: no rule, a 1% drop rule, and the code in *before* (if given)."""
    from actors.core.faults import fires, parse_rule
    from actors.testing import MeshFactory

    rule = parse_rule(0, RULE, "bench")
    factory = MeshFactory(python_path=[HERE])
    plain: list[float] = []
    faulty: list[float] = []
    old: list[float] = []
    try:
        site = start_site(factory)
        chaos = factory.start(
            {
                "broker": {"hwm": HWM},
                "supervisor": {"heartbeat_interval": 1.0},
                "faults": {"seed": SEED, "rules": [RULE]},
                "actors": {
                    "source": {"class": "bench_actors:Source"},
                    "sink": {"class": "bench_actors:Sink"},
                },
            },
            subscribe=["bench.armed", "bench.done"],
        )
        older = None
        if before is not None:
            saved = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = str(before)  # its supervisor and actors run that code
            try:
                older = start_site(factory)
            finally:
                if saved is None:
                    del os.environ["PYTHONPATH"]
                else:
                    os.environ["PYTHONPATH"] = saved
        sent = 0
        for _ in range(rounds):
            plain.append(actors_rate(site, count, 64))
            seqs = range(sent + 1, sent + count + 1)
            dropped = sum(fires(rule, SEED, "source", "bench.data", seq) for seq in seqs)
            sent += count
            faulty.append(_rate(chaos, count, count - dropped, 64))
            if older is not None:
                old.append(actors_rate(older, count, 64))
    finally:
        close_cleanly(factory)
    out = {"plain": median(plain), "drop": median(faulty)}
    if old:
        out["before"] = median(old)
    return out


def main() -> int:
    """Print the rates and their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="a commit to measure against (a work tree of it)")
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    with contextlib.ExitStack() as stack:
        before = stack.enter_context(checkout(args.before)) if args.before else None
        r = measure(args.count, args.rounds, before)
    ratio = r["drop"] / r["plain"]
    line = f"no rule {r['plain']:,.0f}/s; 1% drop rule {r['drop']:,.0f}/s ({ratio:.2f}x)"
    if "before" in r:
        line += f"; {args.before} {r['before']:,.0f}/s (no rule: {r['plain'] / r['before']:.2f}x)"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
