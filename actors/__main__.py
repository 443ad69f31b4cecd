"""``python -m actors NAME --config site.toml``: run one actor in the foreground.

The site's broker must be running (``python -m supervisor`` or ``python -m
broker``). Stop the supervised copy first (``python -m supervisor ctl stop
NAME``) when debugging an actor the supervisor also runs. Ctrl-C stops it
cleanly (``on_stop`` runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import Any

from actors.runtime import EXIT_CONFIG, run_actor
from actors.settings import RuntimeConfig
from actors.site import ConfigError, load_site


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the actor; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m actors", description=__doc__.split("\n")[0])
    parser.add_argument("name", help="the actor's name in site.toml ([actors.NAME])")
    parser.add_argument("--config", default="site.toml", help="the site's site.toml")
    parser.add_argument("--log-level", default=None, help="override the log level")
    parser.add_argument("--swap", default="", help=argparse.SUPPRESS)  # ctl swap's new version
    parser.add_argument("--class", dest="class_path", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--params", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--table", default=None, help=argparse.SUPPRESS)  # ctl add's actor
    parser.add_argument("--retained", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        extra = {args.name: json.loads(args.table)} if args.table else None
        site = load_site(args.config, extra_actors=extra)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    if args.name not in site.actors:
        known = ", ".join(site.actors)
        print(f"{site.path}: no actor {args.name!r} (the site has: {known})", file=sys.stderr)
        return EXIT_CONFIG
    config = RuntimeConfig.from_site(site, args.name)
    changes: dict[str, Any] = {}
    if args.log_level:
        changes["log_level"] = args.log_level
    if args.swap:
        changes["swap"] = args.swap
    if args.retained:
        changes["retained"] = True
    if args.class_path:
        changes["class_path"] = args.class_path
    if args.params is not None:
        changes["params"] = {**config.params, **json.loads(args.params)}
    if changes:
        config = replace(config, **changes)
    return run_actor(config)


if __name__ == "__main__":
    sys.exit(main())
