"""``python -m ritm_lite.weights list`` / ``python -m ritm_lite.weights download NAME [...]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..data.download import DownloadError
from .registry import OFFICIAL_CHECKPOINTS, download, format_registry


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ritm_lite.weights",
                                     description="The official RITM checkpoints, by name.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the checkpoints, their sizes and what is cached")
    listing.add_argument("--cache-dir", help="cache folder (default: torch's hub cache)")
    fetch = commands.add_parser("download", help="download checkpoints into the cache")
    fetch.add_argument("names", nargs="+", metavar="NAME", help=", ".join(OFFICIAL_CHECKPOINTS))
    fetch.add_argument("--cache-dir", help="cache folder (default: torch's hub cache)")
    fetch.add_argument("--url", help="fetch from this URL instead of the mirrors (one NAME)")
    args = parser.parse_args(argv)
    if args.command == "list":
        print(format_registry(args.cache_dir))
        return 0
    unknown = [n for n in args.names if n not in OFFICIAL_CHECKPOINTS]
    if unknown:
        parser.error(f"unknown checkpoint(s) {unknown}; known: {', '.join(OFFICIAL_CHECKPOINTS)}")
    if args.url and len(args.names) != 1:
        parser.error("--url takes exactly one NAME")
    try:
        for name in args.names:
            print(f"{name}: {download(name, args.cache_dir, args.url)}")
    except DownloadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
