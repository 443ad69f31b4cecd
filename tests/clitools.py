"""Running the command line from tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def supervisor_cli(
    *args: str, config: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m supervisor ARGS [--config CONFIG]``; the timeout is a hang guard."""
    extra = ["--config", str(config)] if config is not None else []
    return subprocess.run(
        [sys.executable, "-m", "supervisor", *args, *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
