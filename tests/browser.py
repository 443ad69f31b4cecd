"""A page in headless Chromium for the tests, driven line by line (tools/js/drive_page.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent.parent / "tools" / "js"


class BrowserError(AssertionError):
    """The page did not do what the test asked (the message says what and why)."""


class Browser:
    """One Chromium page; each method sends one command and waits for its answer."""

    def __init__(self, origin: str) -> None:
        if not (TOOLS / "node_modules").is_dir() or shutil.which("node") is None:
            raise RuntimeError("node and tools/js/node_modules are missing: run ./scripts/test")
        self.proc = subprocess.Popen(
            ["node", str(TOOLS / "drive_page.mjs"), origin],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=TOOLS,
        )

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def do(self, op: str, **args: Any) -> Any:
        """Run one command; its answer, or BrowserError."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BrowserError(f"the browser ended during {op} {args}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise BrowserError(f"{op} {args}: {answer['error']}")
        return answer["value"]

    def close(self) -> None:
        """Close the browser (by its driver's pid: it closes Chromium itself)."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write('{"op": "close"}\n')
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
