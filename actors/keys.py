"""A site's CURVE keys: the key folder, its certificates, and whose each key is (shell).

The folder (``keys/`` beside site.toml, or ``[security] keys``) is owner-only
(0700, files 0600) and holds certificates in ZeroMQ's own format (the
``.key``/``.key_secret`` pairs of ``zmq.auth``)::

    keys/site.key, site.key_secret              the site's server pair (broker, control)
    keys/supervisor.key, supervisor.key_secret  the supervisor's own identity
    keys/tools/NAME.key, NAME.key_secret        a tool's or a person's identity (operator...)
    keys/actors/NAME.key, NAME.key_secret       each actor's identity (made as needed)
    keys/hosts/NAME.key, NAME.key_secret        each host's, on a site of several hosts
    keys/revoked/KIND-NAME.key ...              revoked keys, refused at their next connection

A key's identity is where its file lies: its folder says the kind, its name
the name. The broker and the supervisor read the public keys at each
connection attempt (:meth:`KeyFolder.keyring`, cached until a folder changes),
so a key added or revoked counts at once, without a restart.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import zmq
import zmq.auth

from actors.core.access import ACTOR, HOST, RESERVED, SUPERVISOR, TOOL
from actors.process import make_private_folder

PUBLIC: Final = ".key"
SECRET: Final = ".key_secret"
#: The site's server key pair (what clients check the broker and the supervisor by).
SERVER: Final = "site"
#: The key ``keys init`` makes for the site's owner, with the admin role.
OPERATOR: Final = "operator"
_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}")
_FOLDERS: Final = {TOOL: "tools", ACTOR: "actors", HOST: "hosts"}
_REVOKED: Final = "revoked"
_BANNER: Final = """#   ****  Generated on {when} by enlil  ****
#   ZeroMQ CURVE {what} Certificate
#   {advice}

"""


class KeyProblem(ValueError):
    """A key is missing, malformed, or cannot be made; the message names the file."""


@dataclass(frozen=True)
class Identity:
    """Who a key belongs to: the supervisor, an actor or a tool, by name."""

    kind: str
    name: str

    @property
    def user_id(self) -> str:
        """The ZAP User-Id every message of its connection carries (``actor:thermostat``)."""
        return self.name if self.kind == SUPERVISOR else f"{self.kind}:{self.name}"

    @classmethod
    def parse(cls, user_id: str) -> Identity | None:
        """The identity of a User-Id (None for one this site never gives)."""
        if user_id == SUPERVISOR:
            return cls(SUPERVISOR, SUPERVISOR)
        kind, _, name = user_id.partition(":")
        if kind in _FOLDERS and name:
            return cls(kind, name)
        return None

    def __str__(self) -> str:
        return self.user_id


@dataclass(frozen=True)
class ClientKeys:
    """What a client socket needs: the server's public key and its own pair (Z85), and
    whose pair it is (on a secured site a link's messages carry that name as sender)."""

    server: bytes
    public: bytes
    secret: bytes
    identity: Identity


@dataclass(frozen=True)
class ServerKeys:
    """The site's server pair (Z85), which the broker's and the supervisor's sockets use."""

    public: bytes
    secret: bytes


def check_name(name: str) -> str:
    """*name* if it can name a key (letters, digits, ``_``, ``-``), else KeyProblem."""
    if not _NAME.fullmatch(name) or name in RESERVED:
        raise KeyProblem(
            f"{name!r} cannot name a key: use letters, digits, '_' and '-' (up to 64), "
            f"not one of {', '.join(sorted(RESERVED))}"
        )
    return name


def _write(path: Path, what: str, public: bytes, secret: bytes | None) -> None:
    advice = (
        "DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
        if secret
        else "Exchange securely, or verify its contents after an exchange."
    )
    text = _BANNER.format(when=datetime.datetime.now(tz=datetime.UTC), what=what, advice=advice)
    text += f'metadata\ncurve\n    public-key = "{public.decode()}"\n'
    if secret:
        text += f'    secret-key = "{secret.decode()}"\n'
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def _load(path: Path) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeyProblem(f"{path}: not a readable ZeroMQ certificate: {exc}") from None
    for key in (public, secret):
        if key is not None and len(key) != 40:  # noqa: PLR2004 - Z85 of 32 bytes
            raise KeyProblem(f"{path}: a key is not 40 characters of Z85")
    return public, secret


class KeyFolder:
    """The key folder of one site (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ring: dict[bytes, Identity] = {}
        self._stamp: tuple[int, ...] = ()

    # -- making keys ---------------------------------------------------------------------

    @property
    def initialised(self) -> bool:
        """Whether the folder holds the site's server pair."""
        return (self.path / f"{SERVER}{SECRET}").is_file()

    def _folder(self, sub: str = "") -> Path:
        """The folder (or its *sub* folder), made owner-only if it is made now; one that
        exists is left as it is (:func:`actors.site.paths.untrusted` refuses an unsafe one
        before any key is made: a folder the site did not make is not its to change)."""
        folder = self.path / sub if sub else self.path
        make_private_folder(folder)
        return folder

    def _make(self, folder: Path, name: str, what: str) -> Path:
        public, secret = zmq.curve_keypair()
        _write(folder / f"{name}{PUBLIC}", f"{what} Public", public, None)
        path = folder / f"{name}{SECRET}"
        _write(path, f"{what} **Secret**", public, secret)
        return path

    def init(self, hosts: tuple[str, ...] = ()) -> list[str]:
        """Make what is missing of the server pair, the supervisor's key, the operator's and
        those of *hosts*; return what was made."""
        made = []
        root = self._folder()
        for name, folder in ((SERVER, root), (SUPERVISOR, root)):
            if not (folder / f"{name}{SECRET}").is_file():
                self._make(folder, name, name)
                made.append(name)
        tools = self._folder(_FOLDERS[TOOL])
        if not (tools / f"{OPERATOR}{SECRET}").is_file():
            self._make(tools, OPERATOR, "tool")
            made.append(f"{TOOL}:{OPERATOR}")
        for host in hosts:
            folder = self._folder(_FOLDERS[HOST])
            if not (folder / f"{host}{SECRET}").is_file():
                self._make(folder, check_name(host), HOST)
                made.append(f"{HOST}:{host}")
        return made

    def add(self, name: str, kind: str = TOOL) -> Path:
        """Make a key pair for a new identity; return its secret file. KeyProblem when the
        name is taken or not allowed."""
        check_name(name)
        folder = self._folder(_FOLDERS[kind])
        if (folder / f"{name}{PUBLIC}").exists():
            raise KeyProblem(f"{folder / name}{PUBLIC} exists: {kind} {name!r} has a key already")
        return self._make(folder, name, kind)

    def revoke(self, name: str, kind: str = TOOL) -> Path:
        """Move an identity's key pair to ``revoked/``: its next connection is refused.
        Returns where the public key went; KeyProblem when there is no such key."""
        folder = self.path / _FOLDERS[kind]
        public = folder / f"{name}{PUBLIC}"
        if not public.is_file():
            raise KeyProblem(f"no {kind} key {name!r} in {folder}")
        revoked = self._folder(_REVOKED)
        stamp = datetime.datetime.now(tz=datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = revoked / f"{kind}-{name}-{stamp}{PUBLIC}"
        os.replace(public, target)
        with contextlib.suppress(FileNotFoundError):
            os.replace(folder / f"{name}{SECRET}", revoked / f"{kind}-{name}-{stamp}{SECRET}")
        return target

    def listing(self) -> list[tuple[Identity, str, bool]]:
        """Every key: its identity, its public key (Z85) and whether it is revoked."""
        out = []
        for name in (SUPERVISOR,):
            path = self.path / f"{name}{PUBLIC}"
            if path.is_file():
                out.append((Identity(SUPERVISOR, name), _load(path)[0].decode(), False))
        for kind, sub in _FOLDERS.items():
            for path in sorted((self.path / sub).glob(f"*{PUBLIC}")):
                out.append(
                    (Identity(kind, path.name.removesuffix(PUBLIC)), _load(path)[0].decode(), False)
                )
        for path in sorted((self.path / _REVOKED).glob(f"*{PUBLIC}")):
            kind, _, rest = path.name.removesuffix(PUBLIC).partition("-")
            out.append((Identity(kind, rest.rsplit("-", 1)[0]), _load(path)[0].decode(), True))
        return out

    # -- using keys ----------------------------------------------------------------------

    def server(self) -> ServerKeys:
        """The site's server pair (KeyProblem when the folder has none: ``keys init``)."""
        public, secret = _load(self.path / f"{SERVER}{SECRET}")
        if secret is None:
            raise KeyProblem(f"{self.path / SERVER}{SECRET} holds no secret key")
        return ServerKeys(public, secret)

    def secret_file(self, identity: Identity) -> Path:
        """Where *identity*'s secret certificate is."""
        if identity.kind == SUPERVISOR:
            return self.path / f"{SUPERVISOR}{SECRET}"
        return self.path / _FOLDERS[identity.kind] / f"{identity.name}{SECRET}"

    def client(self, identity: Identity, *, make: bool = False) -> ClientKeys:
        """The keys *identity* connects with (made first with *make*, for an actor)."""
        path = self.secret_file(identity)
        if make and not path.exists():
            self._make(self._folder(_FOLDERS[identity.kind]), identity.name, identity.kind)
        public, secret = _load(path)
        if secret is None:
            raise KeyProblem(f"{path} holds no secret key")
        server, _ = _load(self.path / f"{SERVER}{PUBLIC}")
        return ClientKeys(server, public, secret, identity)

    def _folders_stamp(self) -> tuple[int, ...]:
        stamps = []
        for sub in ("", *_FOLDERS.values()):
            try:
                stamps.append((self.path / sub).stat().st_mtime_ns)
            except OSError:
                stamps.append(0)
        return tuple(stamps)

    def keyring(self) -> dict[bytes, Identity]:
        """Public key (Z85) -> identity, of every key not revoked; read again only when a
        folder changed (a key added, revoked or replaced)."""
        stamp = self._folders_stamp()
        if stamp == self._stamp:
            return self._ring
        ring: dict[bytes, Identity] = {}
        path = self.path / f"{SUPERVISOR}{PUBLIC}"
        if path.is_file():
            ring[_load(path)[0]] = Identity(SUPERVISOR, SUPERVISOR)
        for kind, sub in _FOLDERS.items():
            for path in (self.path / sub).glob(f"*{PUBLIC}"):
                with contextlib.suppress(KeyProblem):  # a broken file is no key
                    ring[_load(path)[0]] = Identity(kind, path.name.removesuffix(PUBLIC))
        self._ring, self._stamp = ring, stamp
        return ring


#: The option that tells a plainly spawned actor its keys come on standard input.
KEYS_STDIN: Final = "--keys-stdin"


def hand_keys(keys: ClientKeys) -> dict[str, str]:
    """*keys* as the supervisor hands them to an actor process (a pipe, never argv or env)."""
    return {
        "server": keys.server.decode(),
        "public": keys.public.decode(),
        "secret": keys.secret.decode(),
        "name": keys.identity.name,
    }


def handed_keys(data: Any) -> ClientKeys:
    """The keys :func:`hand_keys` made (KeyProblem when *data* is not that)."""
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("server", "public", "secret", "name")
    ):
        raise KeyProblem("the keys handed over are not a map of four strings")
    server, public, secret = (data[k].encode() for k in ("server", "public", "secret"))
    if any(len(k) != 40 for k in (server, public, secret)):  # noqa: PLR2004 - Z85 of 32 bytes
        raise KeyProblem("a key handed over is not 40 characters of Z85")
    return ClientKeys(server, public, secret, Identity(ACTOR, data["name"]))


def read_handed_keys(stream: IO[bytes]) -> ClientKeys:
    """The keys the supervisor wrote on *stream* (one JSON line); KeyProblem if not."""
    try:
        data = json.loads(stream.readline(4096))
    except ValueError as exc:
        raise KeyProblem(f"the keys handed over are not JSON: {exc}") from None
    return handed_keys(data)


def tool_keys(keys: Path, secured: bool, name: str = OPERATOR) -> ClientKeys | None:
    """The keys a tool of the site's owner connects with (None on a site without CURVE):
    tool *name*'s from the key folder *keys*. KeyProblem, naming the folder and what to run,
    when there are none."""
    if not secured:
        return None
    folder = KeyFolder(keys)
    identity = Identity(TOOL, name)
    if not folder.secret_file(identity).is_file():
        raise KeyProblem(
            f"the site uses CURVE and {folder.secret_file(identity)} does not exist: run "
            "python -m supervisor keys init --config site.toml (as the site's owner), or ask "
            "for a key (keys add NAME) and pass --key NAME"
        )
    return folder.client(identity)
