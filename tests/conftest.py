"""Shared test settings: hypothesis profiles (CI runs more examples), the OTLP receiver."""

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from otlp_receiver import OtlpReceiver

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver on loopback for one test (ask for it before `mesh`, so
    that it outlives the site's last exports)."""
    r = OtlpReceiver()
    yield r
    r.close()
