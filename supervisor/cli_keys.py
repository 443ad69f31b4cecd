"""``python -m supervisor keys init|add|list|revoke``: the CURVE keys of a site (shell).

The keys live in the site's key folder (``keys/`` beside site.toml, or
``[security] keys``), owner-only, in ZeroMQ's certificate format; see
:mod:`actors.keys`. ``add`` makes a tool key and prints where its secret
certificate is (hand that file to whoever runs the tool, with the site's
public ``site.key``); ``revoke`` moves a key aside, and the broker and the
supervisor refuse it from its next connection on. A running site needs no
restart for either.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from actors.core.access import ACTOR, HOST, TOOL
from actors.keys import KeyFolder, KeyProblem
from actors.site import SiteConfig
from actors.site.paths import untrusted

EXIT_USAGE: Final = 2
EXIT_CONFIG: Final = 78
ACTIONS: Final = ("init", "add", "list", "revoke")


def add_command(sub: Any, config_arg: Any) -> None:
    """Add ``keys`` to the command line's subcommands."""
    p = sub.add_parser("keys", help="the site's CURVE keys: init, add NAME, list, revoke NAME")
    config_arg(p, host=False)  # --host here: a host's key
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("name", nargs="?", help="add, revoke: the tool's (or person's) key name")
    p.add_argument(
        "--actor", action="store_true", help="revoke: an actor's key (it gets a new one at start)"
    )
    p.add_argument(
        "--host",
        dest="host_key",
        action="store_true",
        help="add, revoke: a host's key (a machine of a site on several; `init` makes those "
        "of [hosts])",
    )


def cmd_keys(site: SiteConfig, args: Any) -> int:
    """Run one ``keys`` action; 0 when done, 78 when a key cannot be made or found."""
    folder = KeyFolder(site.security.keys)
    if args.action in ("add", "revoke") and not args.name:
        print(f"error: keys {args.action} needs a NAME", file=sys.stderr)
        return EXIT_USAGE
    risk = untrusted(site.security.keys, site.folder)
    if risk:
        print(f"error: {site.path}: security.keys: {risk}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        if args.action == "init":
            made = folder.init(tuple(site.hosts))
            for name in made:
                print(f"made {name}")
            print(f"{folder.path}: {'ready' if made else 'already initialised'}")
            if not site.secured:
                print(
                    "note: the site does not use CURVE yet (its endpoints are ipc://): set "
                    "[security] curve = true in site.toml to require these keys"
                )
        elif args.action == "add":
            _need_init(folder)
            if args.host_key:
                secret = folder.add(args.name, HOST)
                print(f"host {args.name!r}: its secret certificate is {secret}")
                print("copy the key folder to that machine (owner-only), with site.toml")
                return 0
            if args.name in site.everyone:
                raise KeyProblem(
                    f"{args.name!r} is an actor of the site: a tool needs its own name"
                )
            secret = folder.add(args.name)
            role = site.security.role_of(args.name)
            print(f"tool {args.name!r}: its secret certificate is {secret} (role {role})")
            print(
                f"it connects with --key {args.name}; from elsewhere with that file and "
                f"{folder.path / 'site.key'}"
            )
        elif args.action == "revoke":
            _need_init(folder)
            kind = ACTOR if args.actor else HOST if args.host_key else TOOL
            where = folder.revoke(args.name, kind)
            print(f"revoked: moved to {where}; refused from its next connection")
        else:
            _need_init(folder)
            for identity, public, revoked in folder.listing():
                mark = "  REVOKED" if revoked else ""
                print(f"{identity.kind:10} {identity.name:24} {public}{mark}")
    except KeyProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 78
    return 0


def _need_init(folder: KeyFolder) -> None:
    if not folder.initialised:
        raise KeyProblem(
            f"{folder.path} holds no site keys yet: run python -m supervisor keys init"
        )
