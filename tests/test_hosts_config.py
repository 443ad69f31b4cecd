"""``[hosts.NAME]`` and ``[actors.NAME] host``: a site on several machines, as each sees it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clitools import supervisor_cli

from actors.site import ConfigError, load_site, parse_site
from actors.site.hosts import HOST_ENV

SITE = Path("/srv/plant/site.toml")


def three_hosts(**actors: dict[str, Any]) -> dict[str, Any]:
    """A site of three hosts (base first: the main one) and *actors*."""
    return {
        "site": {"name": "plant"},
        "hosts": {
            "base": {"address": "10.9.0.1"},
            "arm": {"address": "10.9.0.2", "port": 6000, "control_port": 6001},
            "cam": {"address": "cam.local"},
        },
        "actors": actors or {"a": {"class": "m:A"}},
    }


def problems(data: dict[str, Any], host: str = "") -> list[str]:
    """What parse_site says is wrong with *data* (as *host* sees it)."""
    with pytest.raises(ConfigError) as info:
        parse_site(data, SITE, host)
    return [str(p) for p in info.value.problems]


def test_each_host_sees_its_own_actors_and_its_own_run_folder() -> None:
    """An actor without ``host`` runs on the first host; each host's view has its actors in
    ``actors``, the rest in ``elsewhere``, and its files under ``<run_dir>/<host>``."""
    data = three_hosts(
        a={"class": "m:A"}, b={"class": "m:B", "host": "arm"}, c={"class": "m:C", "host": "cam"}
    )
    base = parse_site(data, SITE)
    assert base.host == "base" and list(base.actors) == ["a"]
    assert sorted(base.elsewhere) == ["b", "c"] and base.elsewhere["b"].host == "arm"
    assert base.actors["a"].host == "base"
    assert base.site.run_dir == Path("/srv/plant/run/base")
    assert base.broker.pub == "ipc:///srv/plant/run/base/pub.sock"
    assert base.persistence.path == Path("/srv/plant/run/base/state.db")
    assert base.secured  # what crosses hosts is CURVE
    arm = parse_site(data, SITE, "arm")
    assert list(arm.actors) == ["b"] and arm.site.run_dir == Path("/srv/plant/run/arm")
    assert list(arm.peers) == ["base", "cam"]
    assert arm.hosts["arm"].link == "tcp://10.9.0.2:6000"
    assert arm.hosts["arm"].link_bind == "tcp://*:6000"
    assert arm.hosts["cam"].control == "tcp://cam.local:5571"
    assert set(arm.everyone) == {"a", "b", "c"} and arm.host_of("c") == "cam"


def test_placement_problems_are_named_by_key() -> None:
    """An unknown host, ``after`` across hosts, CURVE off, clashing ports and a bad address:
    each one named, all at once."""
    data = three_hosts(
        a={"class": "m:A", "host": "moon"},
        b={"class": "m:B", "host": "arm", "after": ["c"]},
        c={"class": "m:C"},
    )
    data["hosts"]["cam"] = {"address": "10.9.0.2", "port": 6001}
    data["hosts"]["bad host"] = {"address": "x"}
    data["hosts"]["typo"] = {"adress": "10.0.0.9"}
    data["hosts"]["worse"] = {"address": "no such;host", "control_port": 5570}
    data["security"] = {"curve": "off"}
    found = "\n".join(problems(data))
    assert "actors.a.host: no host 'moon' (known: base, arm, cam" in found
    assert "actors.b.after: 'c' runs on host 'base', 'b' on 'arm'" in found
    assert "security.curve: a site on several hosts needs CURVE" in found
    assert "hosts.cam.port: 10.9.0.2:6001 is taken by hosts.arm.control_port" in found
    assert "hosts.bad host: a host name is letters" in found
    assert "hosts.typo.adress: unknown key (did you mean 'address'?)" in found
    assert "hosts.typo.address: is required" in found
    assert "hosts.worse.address: 'no such;host' is not a host name" in found
    assert "hosts.worse.control_port: must differ from port (5570)" in found


def test_a_host_that_is_not_declared_is_refused() -> None:
    """``--host`` naming no host, or on a site without hosts; ``host`` without hosts."""
    assert problems(three_hosts(), "moon") == [
        f"{SITE}: hosts: --host moon: no such host (known: base, arm, cam)"
    ]
    plain = {"site": {"name": "s"}, "actors": {"a": {"class": "m:A", "host": "x"}}}
    assert problems(plain) == [f"{SITE}: actors.a.host: 'x': the site declares no [hosts]"]
    del plain["actors"]["a"]["host"]
    assert problems(plain, "x") == [f"{SITE}: hosts: --host x: the site declares no [hosts.NAME]"]


def test_load_site_reads_the_host_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ENLIL_HOST`` (what ``--host`` sets for a process and its children) picks the view;
    the remembered parse is per host."""
    path = tmp_path / "site.toml"
    path.write_text(
        '[site]\nname = "s"\n[hosts.one]\naddress = "10.1.0.1"\n[hosts.two]\n'
        'address = "10.1.0.2"\n[actors.a]\nclass = "m:A"\n[actors.b]\nclass = "m:B"\n'
        'host = "two"\n'
    )
    monkeypatch.delenv(HOST_ENV, raising=False)
    assert list(load_site(path).actors) == ["a"]
    monkeypatch.setenv(HOST_ENV, "two")
    assert list(load_site(path).actors) == ["b"]
    monkeypatch.setenv(HOST_ENV, "three")
    with pytest.raises(ConfigError, match="--host three: no such host"):
        load_site(path)


def test_an_actor_placed_elsewhere_is_not_run_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m actors NAME`` for an actor of another host says where it runs."""
    monkeypatch.setenv(HOST_ENV, "")  # restored after: main() sets it from --host
    path = tmp_path / "site.toml"
    path.write_text(
        '[site]\nname = "s"\n[hosts.one]\naddress = "10.1.0.1"\n[hosts.two]\n'
        'address = "10.1.0.2"\n[actors.b]\nclass = "m:B"\nhost = "two"\n'
    )
    from actors.__main__ import main

    assert main(["b", "--config", str(path), "--host", "one"]) == 78


def test_check_takes_the_host_before_or_after_the_command(tmp_path: Path) -> None:
    """``--host`` is read wherever it is on the command line."""
    path = tmp_path / "site.toml"
    path.write_text('[site]\nname = "s"\n[actors.a]\nclass = "m:A"\n')
    for argv in (["--host", "h", "check"], ["check", "--host", "h"]):
        result = supervisor_cli(*argv, "--config", str(path))
        assert result.returncode == 78
        assert "--host h: the site declares no [hosts.NAME]" in result.stderr


def test_keys_init_makes_every_hosts_key_and_add_makes_one_more(tmp_path: Path) -> None:
    """``keys init`` makes a key per [hosts] entry; ``keys add NAME --host`` one more,
    owner-only; ``keys list`` shows them as hosts; ``keys revoke NAME --host`` moves it."""
    path = tmp_path / "site.toml"
    path.write_text(
        '[site]\nname = "s"\n[hosts.one]\naddress = "10.1.0.1"\n[hosts.two]\n'
        'address = "10.1.0.2"\n[actors.a]\nclass = "m:A"\n'
    )
    made = supervisor_cli("keys", "init", config=path)
    assert (
        made.returncode == 0 and "made host:one" in made.stdout and "made host:two" in made.stdout
    )
    added = supervisor_cli("keys", "add", "three", "--host", config=path)
    assert added.returncode == 0, added.stderr
    secret = tmp_path / "keys" / "hosts" / "three.key_secret"
    assert secret.is_file() and secret.stat().st_mode & 0o077 == 0
    listed = supervisor_cli("keys", "list", config=path).stdout
    assert sum(line.split()[0] == "host" for line in listed.splitlines()) == 3
    assert supervisor_cli("keys", "revoke", "three", "--host", config=path).returncode == 0
    assert not secret.exists()
