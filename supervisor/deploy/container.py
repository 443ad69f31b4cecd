"""One container image file for every host of a site (pure: renders text).

The image holds Python, enlil (installed from the project's own folder, the build
context) and the site's folder; everything is installed when the image is built,
nothing is fetched when it runs. It runs as an unprivileged user; the host is
chosen by argument (``docker run IMAGE --host arm``; the main host without it).
Its health check is the ready file the supervisor writes once every actor that
starts with the site runs (:mod:`supervisor.notify`). The run folder is a volume:
durable State and snapshots outlive the container.
"""

from __future__ import annotations

from pathlib import Path

from actors.site import SiteConfig

#: Where the image keeps the project and the site.
PROJECT = "/opt/enlil"
SITE = "/site"
#: The image's user (no login, no home of its own but the site).
UID = 10001


def image_file(site: SiteConfig, project: Path, base: str = "python:3.11-slim") -> str:
    """The ``Containerfile`` of *site*, built with the folder *project* (enlil's source,
    with the site's folder inside it or beside) as its context."""
    folder = site.folder.relative_to(project) if site.folder.is_relative_to(project) else None
    if folder is None:
        raise ValueError(
            f"{site.folder} is not inside {project}: build the image from a folder that "
            "holds both the project and the site"
        )
    # One image for every host: a host's run folder is <run_dir>/<host> within it.
    run_dir = site.site.run_dir.parent if site.host else site.site.run_dir
    run = (
        f"{SITE}/{run_dir.relative_to(site.folder)}"
        if run_dir.is_relative_to(site.folder)
        else f"{SITE}/run"
    )
    config = f"{SITE}/{site.path.name}"
    keys = (
        f"{SITE}/{site.security.keys.relative_to(site.folder)}"
        if site.security.keys.is_relative_to(site.folder)
        else str(site.security.keys)
    )
    ports = sorted({p for h in site.hosts.values() for p in (h.port, h.control_port)})
    lines = [
        f"# The image of enlil site {site.site.name!r}: one for every host.",
        f"#   build: docker build -f <this file> -t enlil-{site.site.name} {project}",
        f"#   run:   docker run -v enlil-run:{run} -v <key folder>:{keys}:ro \\",
        f"#            enlil-{site.site.name} [--host NAME]",
        "# The key folder is never in the image (see the .dockerignore beside this file).",
        "# Everything is installed here, at build time: the running container fetches",
        "# nothing from the network.",
        f"FROM {base}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \\",
        "    PIP_DISABLE_PIP_VERSION_CHECK=1",
        f"RUN useradd --system --uid {UID} --no-create-home --home-dir {SITE} enlil",
        f"COPY . {PROJECT}",
        f"RUN python -m pip install --no-compile {PROJECT} \\",
        f"    && mkdir -p {SITE} && cp -a {PROJECT}/{folder}/. {SITE}/ \\",
        f"    && mkdir -p {run} && chown -R {UID}:{UID} {run} \\",
        f"    && rm -rf {PROJECT}",
        f"WORKDIR {SITE}",
        f"USER {UID}",
        f"VOLUME {run}",
        *([f"EXPOSE {' '.join(map(str, ports))}"] if ports else []),
        "STOPSIGNAL SIGTERM",
        "HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \\",
        f'    CMD ["python", "-c", "import glob, sys; '
        f"sys.exit(not glob.glob('{run}/ready') + glob.glob('{run}/*/ready'))\"]",
        f'ENTRYPOINT ["python", "-m", "supervisor", "--config", "{config}"]',
        "CMD []",
        "",
    ]
    return "\n".join(lines)


def ignore_file(site: SiteConfig, project: Path) -> str:
    """What the build must leave out of its context: the run folders (sockets, state,
    snapshots), the key folder (secrets are given at run time), caches, version control."""
    base = site.site.run_dir.parent if site.host else site.site.run_dir
    out = [".git", "**/__pycache__", "**/*.pyc", "**/node_modules", "**/*.sock"]
    for path in (base, site.security.keys, site.snapshots.dir, site.persistence.path):
        if path.is_relative_to(project):
            out.append(str(path.relative_to(project)))
    return "\n".join(dict.fromkeys(out)) + "\n"
