"""Key folders (and run folders) are trusted only if they are the site user's own
(issue 27, item 4): like OpenSSH, a folder another user owns, or that group or others can
write, is refused with what to do, and never changed."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from clitools import supervisor_cli
from test_security import TESTS, stranger  # noqa: F401 - the fixture, used by name

from actors.site.paths import untrusted

pytestmark = pytest.mark.slow


@pytest.fixture
def site_folder() -> Iterator[Path]:
    """A site folder of the test's own (short: its ipc sockets live below it)."""
    folder = Path(tempfile.mkdtemp(prefix="enlil-k-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _site(folder: Path, keys: Path) -> Path:
    config = folder / "site.toml"
    config.write_text(
        f'[site]\nname = "keys"\npython_path = ["{TESTS}"]\n'
        f'[security]\ncurve = true\nkeys = "{keys}"\n'
        '[actors.crasher]\nclass = "mesh_actors:Crasher"\n'
    )
    return config


def _refused(config: Path, reason: str) -> None:
    """``check``, ``keys init`` and the start all refuse the site, naming *reason*."""
    for args in (("check",), ("keys", "init"), ()):
        proc = supervisor_cli(*args, config=config)
        assert proc.returncode == 78, (args, proc.stdout, proc.stderr)
        assert "security.keys" in proc.stderr and reason in proc.stderr, (args, proc.stderr)
        assert "chmod 700" in proc.stderr or "another folder" in proc.stderr


def test_a_key_folder_another_user_owns_is_refused(site_folder: Path, stranger: str) -> None:  # noqa: F811
    """A key folder owned by a second real user (created by the test): refused, unchanged."""
    keys = site_folder / "keys"
    keys.mkdir(mode=0o700)
    shutil.chown(keys, stranger, stranger)
    uid = keys.stat().st_uid
    _refused(_site(site_folder, keys), f"belongs to uid {uid}")
    assert keys.stat().st_uid == uid and list(keys.iterdir()) == []


def test_a_writable_key_folder_or_one_above_it_is_refused(site_folder: Path) -> None:
    """Group-writable (the folder, or a folder between it and the site's folder): refused;
    a 1777 folder handed as keys (as /tmp is) is refused and left 1777."""
    keys = site_folder / "keys"
    keys.mkdir(mode=0o700)
    keys.chmod(0o770)
    _refused(_site(site_folder, keys), "can be written by group (mode 770)")
    keys.chmod(0o700)
    above = site_folder / "shared"
    (above / "keys").mkdir(parents=True, mode=0o700)
    above.chmod(0o777)
    _refused(_site(site_folder, above / "keys"), f"{above} (a folder above it) can be written")
    sticky = site_folder / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    _refused(_site(site_folder, sticky), "can be written by group and others (mode 1777)")
    assert stat.S_IMODE(sticky.stat().st_mode) == 0o1777 and list(sticky.iterdir()) == []


def test_a_sound_key_folder_is_made_owner_only_and_trusted(site_folder: Path) -> None:
    """A key folder that does not exist yet is made 700 (whatever the umask), and one under
    a sticky root-owned folder outside the site (like /tmp) is trusted."""
    old = os.umask(0)
    try:
        keys = site_folder / "made" / "keys"
        proc = supervisor_cli("keys", "init", config=_site(site_folder, keys))
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert untrusted(keys, site_folder) == ""
    assert untrusted(site_folder / "keys", Path("/nowhere")) == ""  # /tmp above: sticky, root's
