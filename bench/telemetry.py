"""Per-message cost of tracing: off, on but unsampled, and sampled, against the plain path.

In-process, on the engine that every actor runs (no sockets): a Relay actor
receives 100,000 messages in each mode. "Unsampled" has tracing configured
with sampling 0 and messages without trace context (the SDK is never called);
"sampled" has every message carry a parent trace context, so every step runs
in a span that is exported over OTLP/HTTP to a receiver on loopback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from bench.common import median


def per_message(mode: str, count: int, endpoint: str) -> float:
    """Microseconds per message through ActorEngine.receive in *mode*."""
    from mesh_actors import Relay

    from actors.core.engine import ActorEngine
    from actors.core.engine_types import EngineConfig
    from actors.core.wire import encode_envelope
    from actors.site.parse import actor_record
    from actors.telemetry import Tracing, TracingConfig

    engine = ActorEngine(
        Relay,
        EngineConfig(actor_record("relay"), {}, "", recorder=0, recorder_bytes=0),
        wall_ns=time.time_ns,
        monotonic=time.monotonic,
    )
    tracing = None
    if mode != "off":
        tracing = Tracing(
            TracingConfig(
                endpoint=endpoint,
                site="bench",
                actor="relay",
                ratio=0.0 if mode == "unsampled" else 1.0,
            )
        )
        engine.tracing = tracing
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    trace = parent if mode == "sampled" else None
    frames = [[b"relay.in", encode_envelope("src", i + 1, 0, i, trace)] for i in range(count)]
    engine.start()
    start = time.perf_counter()
    for f in frames:
        engine.receive(f)
    elapsed = time.perf_counter() - start
    if tracing is not None:
        tracing.shutdown()
    return elapsed / count * 1e6


def measure(count: int = 100_000, rounds: int = 5) -> dict[str, float]:
    """Median microseconds per message for each mode."""
    from otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver()
    modes = ("off", "unsampled", "sampled")
    times: dict[str, list[float]] = {m: [] for m in modes}
    try:
        per_message("off", count, receiver.endpoint)  # warm-up
        for _ in range(rounds):  # interleaved, so drift hits every mode alike
            for mode in modes:
                # Fewer sampled messages: the exporter's queue holds 2,048 spans.
                n = count if mode != "sampled" else 1500
                times[mode].append(per_message(mode, n, receiver.endpoint))
        return {m: median(t) for m, t in times.items()}
    finally:
        receiver.close()


if __name__ == "__main__":
    r = measure()
    print(
        f"off {r['off']:.2f} us/msg; unsampled {r['unsampled']:.2f} us/msg "
        f"(+{r['unsampled'] - r['off']:.2f} us); sampled {r['sampled']:.2f} us/msg "
        f"(+{r['sampled'] - r['off']:.2f} us, {r['sampled'] / r['off']:.1f}x)"
    )
