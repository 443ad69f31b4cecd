"""Running the command line from tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def supervisor_cli(
    *args: str,
    config: Path | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m supervisor ARGS [--config CONFIG]`` (with *env* added to the
    environment); the timeout is a hang guard."""
    extra = ["--config", str(config)] if config is not None else []
    return subprocess.run(
        [sys.executable, "-m", "supervisor", *args, *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env} if env else None,
    )
