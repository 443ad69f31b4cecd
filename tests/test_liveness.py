"""Liveness rules as pure functions of samples."""

from __future__ import annotations

from supervisor.core.liveness import Limits, LivenessWatch


def test_hung_after_the_timeout_only() -> None:
    """Silence longer than hang_timeout is a 'hung' violation."""
    watch = LivenessWatch(Limits(hang_timeout=2.0))
    assert watch.heartbeat(now=11.9, last_heartbeat=10.0) is None
    violation = watch.heartbeat(now=12.5, last_heartbeat=10.0)
    assert violation is not None and violation.kind == "hung"
    assert "no heartbeat for 2.5s" in violation.reason


def test_rss_over_the_limit() -> None:
    """RSS above max_rss_mb is a 'limit' violation at once."""
    watch = LivenessWatch(Limits(hang_timeout=5, max_rss_mb=100))
    assert watch.resources(0.0, 99 * 1048576, 0.0) is None
    violation = watch.resources(1.0, 150 * 1048576, 0.0)
    assert violation is not None and violation.kind == "limit"
    assert "rss 150 MiB > max_rss_mb = 100" in violation.reason


def test_cpu_must_stay_over_the_limit_for_the_whole_window() -> None:
    """A CPU spike is tolerated; a sustained load over the window is not."""
    watch = LivenessWatch(Limits(hang_timeout=5, max_cpu_percent=50, cpu_window=3.0))
    for t, cpu in [(0, 90), (1, 90), (2, 10), (3, 90), (4, 90), (5, 90)]:
        assert watch.resources(float(t), 0, float(cpu)) is None, t
    violation = watch.resources(6.0, 0, 95.0)
    assert violation is not None and "cpu 91% for 3s" in violation.reason
