"""``python -m actors NAME --config site.toml``: run one actor in the foreground.

The site's broker must be running (``python -m supervisor`` or ``python -m
broker``). Stop the supervised copy first (``python -m supervisor ctl stop
NAME``) when debugging an actor the supervisor also runs. Ctrl-C stops it
cleanly (``on_stop`` runs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from typing import Any, Final

from actors.keys import KEYS_STDIN, ClientKeys, KeyProblem, read_handed_keys
from actors.process import private_files
from actors.runtime import EXIT_CONFIG, run_actor
from actors.settings import RuntimeConfig
from actors.site import ConfigError, load_site
from actors.site.hosts import HOST_ENV

#: The options a supervisor passes to an actor it starts (the hidden ones of the CLI).
_VALUED: Final = (
    "--config",
    "--log-level",
    "--swap",
    "--class",
    "--params",
    "--table",
    "--faults-used",
)
_FLAGS: Final = ("--retained",)


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser (the options a supervisor passes hidden)."""
    parser = argparse.ArgumentParser(prog="python -m actors", description=__doc__.split("\n")[0])
    parser.add_argument("name", help="the actor's name in site.toml ([actors.NAME])")
    parser.add_argument("--config", default="site.toml", help="the site's site.toml")
    parser.add_argument(
        "--host",
        default=None,
        help="on a site of several hosts: the host this machine is (default: $ENLIL_HOST, "
        "else the first of [hosts])",
    )
    parser.add_argument("--log-level", default=None, help="override the log level")
    parser.add_argument("--swap", default="", help=argparse.SUPPRESS)  # ctl swap's new version
    parser.add_argument("--class", dest="class_path", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--params", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--table", default=None, help=argparse.SUPPRESS)  # ctl add's actor
    parser.add_argument("--retained", action="store_true", help=argparse.SUPPRESS)
    # The site's counts of the fault rules limited per site, when it has such rules.
    parser.add_argument("--faults-used", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    # A supervisor's plain spawn: the actor's keys come on standard input.
    parser.add_argument(KEYS_STDIN, action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the actor; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.host is not None:
        os.environ[HOST_ENV] = args.host
    options: dict[str, Any] = {
        k: v for k, v in vars(args).items() if k not in ("name", "keys_stdin", "host")
    }
    if args.keys_stdin:
        try:
            options["keys"] = read_handed_keys(sys.stdin.buffer)
        except KeyProblem as exc:
            print(f"actor {args.name}: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    return run_named(args.name, **options)


def run_supervised(name: str, config: str, extra: list[str], keys: ClientKeys | None = None) -> int:
    """Run actor *name* with the options (and, on a secured site, the *keys*) its
    supervisor gives (from the zygote).

    The same as :func:`main` without argparse: building a parser in each
    forked process would copy about a MiB of the pages it shares with the zygote.
    """
    options: dict[str, Any] = {"config": config}
    if keys is not None:
        options["keys"] = keys
    rest = iter(extra)
    for option in rest:
        if option in _FLAGS:
            options[option[2:]] = True
        elif option in _VALUED:
            key = "class_path" if option == "--class" else option[2:].replace("-", "_")
            options[key] = next(rest, None)
        else:
            print(f"actor {name}: unknown option {option!r}", file=sys.stderr)
            return EXIT_CONFIG
    return run_named(name, **options)


def run_named(  # noqa: PLR0913 - one keyword per command-line option
    name: str,
    config: str = "site.toml",
    *,
    log_level: str | None = None,
    swap: str = "",
    class_path: str | None = None,
    params: str | None = None,
    table: str | None = None,
    retained: bool = False,
    faults_used: str | None = None,
    keys: ClientKeys | None = None,
) -> int:
    """Run actor *name* of the site in *config* in this process; return the exit code."""
    try:
        extra = {name: json.loads(table)} if table else None
        site = load_site(config, extra_actors=extra)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    if name in site.elsewhere:
        host = site.elsewhere[name].host
        print(
            f"{site.path}: actor {name!r} runs on host {host!r}, not {site.host!r}: "
            f"run it there, or pass --host {host}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if name not in site.actors:
        known = ", ".join(site.actors)
        print(f"{site.path}: no actor {name!r} (the site has: {known})", file=sys.stderr)
        return EXIT_CONFIG
    try:
        settings = RuntimeConfig.from_site(site, name, keys)
    except KeyProblem as exc:
        print(f"{site.path}: actor {name!r}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    changes: dict[str, Any] = {}
    if log_level:
        changes["log_level_override"] = log_level
    if swap:
        changes["swap"] = swap
    if retained:
        changes["retained"] = True
    if class_path:
        changes["class_override"] = class_path
    if params is not None:
        changes["params_override"] = json.loads(params)
    if faults_used is not None:
        try:
            # Imported here, only when given: at the top it cost every idle actor
            # 0.1 MiB of private memory (measured with bench/startup.py).
            from actors.core.faults import used_of  # noqa: PLC0415

            changes["fault_used"] = used_of({"used": json.loads(faults_used)})
        except ValueError as exc:
            print(f"actor {name}: --faults-used: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    if changes:
        settings = replace(settings, **changes)
    return run_actor(settings)


if __name__ == "__main__":
    private_files()  # this process's own files, whatever umask it was started with
    sys.exit(main())
