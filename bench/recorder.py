"""The flight recorder's cost for an actor with a large memory (issue #12).

Source -> BigSink (a 10,000-entry dict in its State, one entry changed per
message), with the flight recorder on (the default, 100 events) and off
(``recorder = 0``), in two sites that alternate round by round.

Run: ``python bench/recorder.py [--count N] [--rounds R]``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, HWM, close_cleanly, median, paired_args
from bench.throughput import actors_rate


def _site(factory: object, recorder: int | None) -> object:
    sink: dict[str, object] = {"class": "bench_actors:BigSink"}
    if recorder is not None:
        sink["recorder"] = recorder
    return factory.start(  # type: ignore[attr-defined]
        {
            "broker": {"hwm": HWM},
            "supervisor": {"heartbeat_interval": 1.0},
            "actors": {"source": {"class": "bench_actors:Source"}, "sink": sink},
        },
        subscribe=["bench.armed", "bench.done"],
    )


def measure(count: int, rounds: int) -> dict[str, float]:
    """Median msgs/s into a BigSink with the recorder on and off."""
    from actors.testing import MeshFactory

    on: list[float] = []
    off: list[float] = []
    factory = MeshFactory(python_path=[HERE])
    try:
        with_recorder, without = _site(factory, None), _site(factory, 0)
        for _ in range(rounds):
            on.append(actors_rate(with_recorder, count, 64))
            off.append(actors_rate(without, count, 64))
    finally:
        close_cleanly(factory)
    return {"on": median(on), "off": median(off)}


def main() -> int:
    """Print both rates and their ratio."""
    args = paired_args(__doc__)
    r = measure(args.count, args.rounds)
    print(
        f"10,000-entry State: recorder on {r['on']:,.0f}/s, off {r['off']:,.0f}/s "
        f"({r['on'] / r['off']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
