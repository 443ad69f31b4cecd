"""``python -m supervisor record`` and ``play``: MCAP recordings of a running site (shell)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Final

from actors.core.topics import TopicError, parse_pattern
from actors.link import BrokerUnreachable
from actors.site import SiteConfig
from supervisor.cli_format import unreachable_exit

EXIT_USAGE: Final = 2
EXIT_UNAVAILABLE: Final = 69


def add_commands(sub: Any, config_arg: Any) -> None:
    """Add ``record`` and ``play`` to the command line's subcommands."""
    rec = sub.add_parser(
        "record",
        help="record topics of a running site into an MCAP file (-o); 'record repair FILE...' "
        "completes recordings a kill left unfinished",
    )
    config_arg(rec)
    rec.add_argument("topics", nargs="*", help="topics or prefix.* patterns (default: all)")
    rec.add_argument("-o", "--out", type=Path, help="the .mcap file to write")
    rec.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    rec.add_argument("--count", type=int, default=0, help="stop after this many messages")
    play = sub.add_parser("play", help="publish an MCAP recording into a running site")
    config_arg(play)
    play.add_argument("file", type=Path)
    play.add_argument("--rate", type=float, default=1.0, help="pace: 2 twice as fast, 0 flat out")
    play.add_argument("--topics", nargs="*", default=[], help="only these topics")


def cmd_record(site: SiteConfig, args: Any) -> int:
    """Record; print how many messages were written (or ``repair`` files)."""
    from supervisor.recording import record  # noqa: PLC0415 - only these commands need MCAP

    if args.out is None and args.topics[:1] == ["repair"]:
        return cmd_repair([Path(f) for f in args.topics[1:]])
    if args.out is None:
        print("error: record needs -o FILE.mcap (or: record repair FILE...)", file=sys.stderr)
        return EXIT_USAGE
    for topic in args.topics:
        try:
            parse_pattern(topic)
        except TopicError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.seconds is not None and not args.seconds > 0:
        print("error: --seconds must be positive", file=sys.stderr)
        return EXIT_USAGE
    try:
        written = record(
            site,
            args.topics,
            args.out,
            (args.seconds, args.count),
            lambda: print(f"recording into {args.out}", flush=True),
        )
    except BrokerUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    print(f"wrote {args.out} ({written} messages)")
    return 0


def cmd_repair(files: list[Path]) -> int:
    """Complete each recording a kill left without its footer; 0 when all were read."""
    from mcap.exceptions import McapError  # noqa: PLC0415

    from supervisor.mcap_repair import is_complete, repair  # noqa: PLC0415

    if not files:
        print("error: record repair needs one or more .mcap files", file=sys.stderr)
        return EXIT_USAGE
    code = 0
    for path in files:
        try:
            if is_complete(path):
                print(f"{path}: complete, nothing to repair")
                continue
            found = repair(path)
        except OSError as exc:
            print(f"error: {path}: {exc.strerror or exc}", file=sys.stderr)
            code = EXIT_USAGE
            continue
        except McapError as exc:
            print(f"error: {path} is not an MCAP recording: {exc}", file=sys.stderr)
            code = EXIT_USAGE
            continue
        why = f" (the rest was cut: {found.stopped})" if found.stopped else ""
        print(f"{path}: repaired, {len(found.messages)} messages recovered{why}")
    return code


def cmd_play(site: SiteConfig, args: Any) -> int:
    """Play; print how many messages were published."""
    from mcap.exceptions import McapError  # noqa: PLC0415

    from supervisor.recording import play  # noqa: PLC0415

    if not args.rate >= 0:
        print("error: --rate must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    try:
        sent = play(site, args.file, args.rate, args.topics)
    except BrokerUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except (McapError, ValueError) as exc:
        print(f"error: {args.file} is not an enlil MCAP recording: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"published {sent} messages from {args.file}")
    return 0
