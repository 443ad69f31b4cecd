"""``python -m supervisor deploy systemd|container|kubernetes --out DIR``: write the files
that let systemd, a container engine or Kubernetes run the site (shell; the files are
rendered by :mod:`supervisor.deploy`).

Every file is written owner-only (the Kubernetes manifests hold the site's keys);
what each is and how to use it is printed.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any, Final

from actors.keys import KeyFolder
from actors.process import make_private_folder
from actors.site import SiteConfig
from actors.site.load import load_views
from supervisor.deploy import container, kubernetes, systemd

ENGINES: Final = ("systemd", "container", "kubernetes")
EXIT_CONFIG: Final = 78
#: enlil's own source folder (the container image installs it from there).
PROJECT: Final = Path(__file__).resolve().parent.parent


def add_command(sub: Any, config_arg: Any) -> None:
    """Add ``deploy`` to the command line's subcommands."""
    p = sub.add_parser(
        "deploy",
        help="write systemd units, a container image file or Kubernetes manifests",
        description="Write the files that let systemd, a container engine or Kubernetes "
        "run the site's supervisors (one per host).",
    )
    config_arg(p)
    p.add_argument("engine", choices=ENGINES)
    p.add_argument("--out", type=Path, required=True, help="folder to write into")
    p.add_argument(
        "--user", default=None, help="systemd: the user the site runs as (default: yours)"
    )
    p.add_argument(
        "--image", default=None, help="kubernetes: the site's image (default: enlil-<site>)"
    )
    p.add_argument(
        "--context",
        type=Path,
        default=None,
        help="container: the build folder, holding enlil's source and the site "
        "(default: enlil's source folder)",
    )


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)
    print(path)


def cmd_deploy(site: SiteConfig, args: Any) -> int:
    """Write the engine's files into ``--out``; 78 when the site cannot be deployed so."""
    views = load_views(site.path)
    host = site.host if getattr(args, "host", None) else ""
    if host:
        views = {host: views[host]}
    make_private_folder(args.out)
    try:
        if args.engine == "systemd":
            user = args.user or getpass.getuser()
            for name, text in systemd.units(list(views.values()), user).items():
                _write(args.out / name, text)
            print(
                "install: copy the units to /etc/systemd/system/, then systemctl "
                "daemon-reload and systemctl enable --now <unit> on each host",
                file=sys.stderr,
            )
        elif args.engine == "container":
            context = (args.context or PROJECT).resolve()
            _write(args.out / "Containerfile", container.image_file(site, context))
            _write(args.out / "Containerfile.dockerignore", container.ignore_file(site, context))
            print(
                f"build: docker build -f {args.out / 'Containerfile'} -t "
                f"enlil-{site.site.name} {context}",
                file=sys.stderr,
            )
        else:
            folder = KeyFolder(site.security.keys)
            if site.secured and not folder.initialised:
                print(
                    f"error: {site.path}: security.keys: {folder.path} holds no keys yet: run "
                    "python -m supervisor keys init first (the manifests carry them)",
                    file=sys.stderr,
                )
                return EXIT_CONFIG
            keys = kubernetes.key_files(folder.path) if site.secured else {}
            image = args.image or f"enlil-{site.site.name}:latest"
            _write(args.out / "site.yaml", kubernetes.manifests(site, image, keys))
            print(
                "apply: label each node with enlil.io/host=<host>, then kubectl apply -f "
                f"{args.out / 'site.yaml'}",
                file=sys.stderr,
            )
    except ValueError as exc:
        print(f"error: {site.path}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0
