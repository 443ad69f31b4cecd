"""Hosts for tests: Linux network namespaces that the test creates, joined by veth links
to a bridge, and removed after (needs root and iproute2).

Each host is a namespace with one interface, ``eth0``, at ``10.X.Y.(i+1)/24``;
its veth's other end is in a *switch* namespace, on a bridge with the
others'. :meth:`Hosts.cut` takes a host's port on the switch down (its link
is cut: nothing crosses, no one is told), :meth:`Hosts.mend` puts it back.
Processes run in a host with ``ip netns exec``, which execs the command: the
pid it returns is the program's own. Nothing leaves these namespaces: the
test process reaches the hosts' processes only through their Unix sockets.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from typing import Any

_counter = 0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


class Hosts:
    """Network namespaces, one per host name, joined on one subnet (see the module
    docstring). Use as a context manager: every namespace is removed on exit."""

    def __init__(self, names: Sequence[str]) -> None:
        global _counter  # noqa: PLW0603 - unique names per test process
        _counter += 1
        tag = f"{os.getpid() % 100000}{_counter}"
        self.names = list(names)
        self.switch = f"enl{tag}sw"
        self.ns = {name: f"enl{tag}{name}" for name in names}
        subnet = 100 + (os.getpid() + _counter) % 150
        self.address = {name: f"10.213.{subnet}.{i + 1}" for i, name in enumerate(names)}
        self._ports = {name: f"s{tag}{i}"[:15] for i, name in enumerate(names)}
        self._made: list[str] = []
        try:
            self._make()
        except BaseException:
            self.close()
            raise

    def _make(self) -> None:
        _ip("netns", "add", self.switch)
        self._made.append(self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for name in self.names:
            ns, port = self.ns[name], self._ports[name]
            _ip("netns", "add", ns)
            self._made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns",
                self.switch)  # fmt: skip
            _ip("-n", self.switch, "link", "set", port, "master", "br0")
            _ip("-n", self.switch, "link", "set", port, "up")
            _ip("-n", ns, "addr", "add", f"{self.address[name]}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def cut(self, name: str) -> None:
        """Cut host *name* off the others (its switch port down)."""
        _ip("-n", self.switch, "link", "set", self._ports[name], "down")

    def mend(self, name: str) -> None:
        """Join host *name* to the others again."""
        _ip("-n", self.switch, "link", "set", self._ports[name], "up")

    def popen(self, name: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start *argv* in host *name*'s namespace (its pid is the program's own)."""
        return subprocess.Popen(["ip", "netns", "exec", self.ns[name], *argv], **kwargs)

    def run(
        self, name: str, argv: Sequence[str], timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run *argv* in host *name*'s namespace to its end (*timeout*: a hang guard)."""
        return subprocess.run(
            ["ip", "netns", "exec", self.ns[name], *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def close(self) -> list[str]:
        """Remove every namespace made (their veths go with them); return what could not
        be removed."""
        problems = []
        for ns in reversed(self._made):
            try:
                _ip("netns", "del", ns)
            except subprocess.CalledProcessError as exc:
                problems.append(f"network namespace {ns} left behind: {exc.stderr.strip()}")
        self._made.clear()
        return problems

    def left(self) -> set[str]:
        """This object's namespaces that still exist (none, once closed)."""
        return namespaces() & {self.switch, *self.ns.values()}

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def namespaces() -> set[str]:
    """The network namespaces that exist now (to check that a test left none behind)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
