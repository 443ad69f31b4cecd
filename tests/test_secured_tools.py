"""A secured site says what happened (issue 27, item 7): a publish or a call the broker
would drop is ``forbidden`` before it is sent, a refused key is ``authentication failed``
at once, and the tools make no false ``denied`` events."""

from __future__ import annotations

import time
from typing import Any

import pytest
import zmq
from clitools import supervisor_cli
from secured import events, raw_link

from actors.core.access import TOOL
from actors.core.wire import encode_envelope
from actors.keys import ClientKeys, Identity, KeyFolder
from actors.sockets import AuthenticationFailed
from actors.testing import MeshFactory
from supervisor.client import ControlAuthFailed, ControlClient

pytestmark = pytest.mark.slow

SITE = {
    "security": {"curve": True, "roles": {"viewer": "read"}},
    "actors": {"server": {"class": "call_actors:SetPoint"}},
}
FORBIDDEN = 77


def test_forbidden_and_authentication_failed_with_their_exit_codes(mesh: MeshFactory) -> None:
    """With a read-role key, ``pub``, ``call`` and ``ctl shutdown`` exit 77 saying
    ``forbidden`` (nothing sent: no ``denied`` event); with a revoked key every tool exits
    77 saying ``authentication failed`` instead of waiting for its timeout; a key the site
    never saw, the same from the library."""
    site = mesh.start(SITE)
    config = site.config_path
    assert supervisor_cli("keys", "add", "viewer", config=config).returncode == 0
    cursor = site.mark()
    pub = supervisor_cli("pub", "--key", "viewer", "sp.handled", "1", config=config)
    assert pub.returncode == FORBIDDEN, pub.stderr
    assert "forbidden: tool:viewer (role read) may not publish on 'sp.handled'" in pub.stderr
    call = supervisor_cli("call", "--key", "viewer", "sp.set", '{"value": 1}', config=config)
    assert call.returncode == FORBIDDEN and "may not call '$svc.sp.set'" in call.stderr
    ctl = supervisor_cli("ctl", "--key", "viewer", "shutdown", config=config)
    assert ctl.returncode == FORBIDDEN and "forbidden: tool:viewer has role read" in ctl.stderr
    shown = supervisor_cli("ctl", "--key", "viewer", "rights", "actor:server", config=config)
    assert shown.returncode == 0 and '"sp.handled"' in shown.stdout, shown.stderr
    allowed = supervisor_cli("call", "sp.set", '{"value": 2}', config=config)  # the operator
    assert allowed.returncode == 0 and allowed.stdout.strip() == "2.0", allowed.stderr
    _no_denied_since(site, cursor)

    assert supervisor_cli("keys", "add", "gone", config=config).returncode == 0
    secret_file = site.site.security.keys / "tools" / "gone.key_secret"
    handed_out = secret_file.read_bytes()  # the copy its user keeps
    assert supervisor_cli("keys", "revoke", "gone", config=config).returncode == 0
    secret_file.write_bytes(handed_out)  # the user still has it; the site no longer knows it
    secret_file.chmod(0o600)
    for args in (
        ("ctl", "--key", "gone", "status"),
        ("pub", "--key", "gone", "sp.handled", "1"),
        ("call", "--key", "gone", "sp.set", "1"),
        ("tap", "--key", "gone", "sp.handled", "--count", "1"),
    ):
        proc = supervisor_cli(*args, config=config)
        assert proc.returncode == FORBIDDEN, (args, proc.stdout, proc.stderr)
        assert "authentication failed" in proc.stderr and "tool:gone" in proc.stderr, args
        assert "is the site running" not in proc.stderr

    public, secret = zmq.curve_keypair()
    server = KeyFolder(site.site.security.keys).server().public
    stranger = ClientKeys(server, public, secret, Identity(TOOL, "stranger"))
    client = ControlClient(site.site.supervisor.control_connect, 30.0, keys=stranger)
    with client, pytest.raises(ControlAuthFailed) as info:
        client.status()
    assert isinstance(info.value, AuthenticationFailed) and "ZAP status 400" in str(info.value)


def test_ten_tool_calls_make_no_false_denied_event(mesh: MeshFactory) -> None:
    """Ten ``call``s (each asks the supervisor for the directory on its own retained topic)
    and then one real violation: the violation is the only ``denied`` event."""
    site = mesh.start(SITE)
    config = site.config_path
    cursor = site.mark()
    for n in range(10):
        proc = supervisor_cli("call", "sp.set", f'{{"value": {n}}}', config=config)
        assert proc.returncode == 0, proc.stderr
    _no_denied_since(site, cursor)


def _no_denied_since(site: Any, cursor: int) -> None:
    """No ``denied`` event after *cursor* but the sentinel this makes now: a message the
    broker must drop (the server's key publishing what it does not declare), whose event
    comes after any earlier one."""
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        keys = KeyFolder(site.site.security.keys).client(Identity("actor", "server"))
        pub = raw_link(ctx, site, keys)
        pub.send_multipart([b"sentinel", encode_envelope("server", 1, time.time_ns(), 0)])
        denied = events(site, cursor, "denied", 1)
    finally:
        ctx.destroy(linger=0)
    assert [(d["identity"], d["topic"]) for d in denied] == [("actor:server", "sentinel")], denied
