"""``check`` warns about a site's exposure, and actors never get the framework's topics
(issue 27, item 5)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import tomli_w
from clitools import supervisor_cli
from test_security import TESTS

from actors.core.access import CONTROL_OPS, ActorAccess, Rights, actor_rights
from actors.site.parse import parse_site
from supervisor.core.exposure import exposure_warnings

OPEN = {
    "site": {"name": "open", "python_path": [str(TESTS)]},
    "broker": {"pub": "tcp://0.0.0.0:5550", "sub": "tcp://127.0.0.1:5551"},
    "supervisor": {"control": "tcp://*:5552"},
    "web": {"listen": "0.0.0.0:8080"},
    "security": {
        "curve": False,
        "default_role": "admin",
        "access": {"ticker": {"publish": ["$sys.heartbeat.*", "ticks"]}},
    },
    "actors": {"ticker": {"class": "mesh_actors:Ticker"}, "sneak": {"class": "bad_actors:Sneak"}},
}


def test_exposure_warnings_name_each_key_and_what_to_do(tmp_path: Path) -> None:
    """Pure: an endpoint off loopback without CURVE (each one), a view off loopback, the
    rule that grants $sys topics; default_role admin only matters with keys."""
    site = parse_site(OPEN, tmp_path / "site.toml")
    warned = dict(exposure_warnings(site))
    assert set(warned) == {
        "broker.pub",
        "supervisor.control",
        "web.listen",
        "security.access.ticker.publish",
    }
    assert "set [security] curve = true" in warned["broker.pub"]
    assert "TLS" in warned["web.listen"]
    assert "'$sys.heartbeat.*'" in warned["security.access.ticker.publish"]
    secured = parse_site({**OPEN, "security": {"curve": True, "default_role": "admin"}}, site.path)
    assert [k for k, _ in exposure_warnings(secured)] == ["web.listen", "security.default_role"]


def test_an_actor_never_gets_the_supervisors_topics_whatever_the_rules() -> None:
    """Pure: an Output on $sys.event, a rule granting $sys.* and $svc.supervisor.*: still
    refused; the log actor's $sys.log.* and an actor with control rights' calls stay."""
    declared = ActorAccess(outputs=("$sys.event", "$sys.heartbeat.other", "ticks"))
    extra = Rights.of(publish=["$sys.*", "$svc.supervisor.*"])
    rights = actor_rights("sneak", declared, extra)
    for topic in ("$sys.event", "$sys.control.x", "$sys.services", "$sys.access"):
        assert not rights.may_publish(topic), topic
    assert not rights.may_publish("$svc.supervisor.control")
    plain = actor_rights("sneak", declared)
    assert not plain.may_publish("$sys.heartbeat.other") and plain.may_publish("ticks")
    log = ActorAccess(outputs=("$sys.log.*",), builtin=True)
    assert actor_rights("log", log).may_publish("$sys.log.a")
    user = ActorAccess(outputs=("$sys.log.*", "$sys.status.*"))
    assert not actor_rights("mine", user).may_publish("$sys.status.a")
    controller = actor_rights("warden", ActorAccess(calls=("supervisor.control",)))
    assert controller.may_publish("$svc.supervisor.control") and CONTROL_OPS


@pytest.mark.slow
def test_check_prints_every_exposure_and_the_framework_output() -> None:
    """``check`` on the open site: each exposure a warning naming its key, and the actor
    that declares an Output on $sys.event an error (exit 78)."""
    folder = Path(tempfile.mkdtemp(prefix="enlil-x-"))
    try:
        config = folder / "site.toml"
        config.write_text(tomli_w.dumps(OPEN))
        proc = supervisor_cli("check", config=config)
    finally:
        shutil.rmtree(folder)
    assert proc.returncode == 78, proc.stdout + proc.stderr
    for key in ("broker.pub", "supervisor.control", "web.listen", "security.access.ticker"):
        assert f"{key}" in proc.stderr and "warning" in proc.stderr, key
    assert "error: topic '$sys.event': sneak.forged publishes a framework topic" in proc.stderr
