"""``python -m broker --config site.toml``: run the site's broker alone, in the foreground."""

from __future__ import annotations

import argparse
import os
import sys

from actors.process import private_files
from actors.runtime import EXIT_CONFIG
from actors.site import ConfigError, load_site
from actors.site.hosts import HOST_ENV
from broker.proxy import BrokerSettings, run_broker


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(prog="python -m broker", description=__doc__)
    parser.add_argument("--config", default="site.toml", help="the site's site.toml")
    parser.add_argument(
        "--host",
        default=None,
        help="on a site of several hosts: the host this machine is (default: $ENLIL_HOST, "
        "else the first of [hosts])",
    )
    parser.add_argument("--log-level", default=None, help="override the log level")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the broker; return the exit code."""
    args = build_parser().parse_args(argv)
    if args.host is not None:
        os.environ[HOST_ENV] = args.host
    try:
        site = load_site(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    site.site.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return run_broker(BrokerSettings.from_site(site, args.log_level))


if __name__ == "__main__":
    private_files()  # this process's own files, whatever umask it was started with
    sys.exit(main())
