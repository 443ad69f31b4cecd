"""Helpers shared by the benchmarks: machine facts, statistics, the raw baseline proxy."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import zmq

HERE = Path(__file__).resolve().parent
HWM = 1_000_000


def machine() -> str:
    """One line of facts about this machine and the libraries measured."""
    mem = psutil.virtual_memory().total / 2**30
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, "
        f"Linux {platform.release()}, Python {platform.python_version()}, "
        f"libzmq {zmq.zmq_version()}, pyzmq {zmq.__version__}"
    )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


def proxy(front: str, back: str) -> None:
    """A bare ``zmq.proxy`` (the raw baseline broker), until terminated."""
    ctx = zmq.Context()
    xsub = ctx.socket(zmq.XSUB)
    xpub = ctx.socket(zmq.XPUB)
    for sock in (xsub, xpub):
        sock.setsockopt(zmq.SNDHWM, HWM)
        sock.setsockopt(zmq.RCVHWM, HWM)
    xsub.bind(front)
    xpub.bind(back)
    zmq.proxy(xsub, xpub)  # runs until the benchmark terminates this process


@contextmanager
def ipc_dir() -> Iterator[Path]:
    """A short temporary folder for ipc:// socket files, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="enlil-bench-"))
    try:
        yield root
    finally:
        for f in root.iterdir():
            f.unlink()  # a terminated proxy cannot remove its socket files
        root.rmdir()


def log_events(path: Path, event: str) -> list[dict[str, Any]]:
    """The supervisor's JSON log records of one event kind, with 'at' as epoch seconds."""
    out = []
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("event") == event and record.get("process") == "supervisor":
            stamp = record["timestamp"].replace("Z", "+00:00")
            record["at"] = datetime.fromisoformat(stamp).timestamp()
            out.append(record)
    return out


def close_cleanly(factory: Any) -> None:
    """Close every mesh a benchmark's MeshFactory started; RuntimeError naming what was
    left behind (a process, a socket file)."""
    problems = factory.close()
    if problems:
        raise RuntimeError("\n".join(problems))


def paired_args(doc: str) -> argparse.Namespace:
    """``--count`` (messages per round) and ``--rounds`` of a benchmark that alternates
    its variants round by round; prints the machine line."""
    parser = argparse.ArgumentParser(description=doc.split("\n", maxsplit=1)[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    return args
