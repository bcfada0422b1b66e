"""`sorter`: the headless, scriptable face of the core. Every command takes --json.

Exit codes: 0 ok, 1 failure (one line on stderr), 2 usage error, 130 cancelled by Ctrl-C (what was
finished is kept). Every command first finishes or rolls back a move a crash interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..core.errors import SorterError
from ..core.library import Library
from ..paths import AppPaths, bundled_model_sidecar
from . import index_commands, label_commands, label_set_commands, move_commands, organise_commands
from .output import EXIT_FAILURE, EXIT_USAGE, Command

_MODULES = (index_commands, organise_commands, label_commands, label_set_commands, move_commands)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    common.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="catalog, indexes and journal folder (default: $SORTER_DATA_DIR, else the user data folder)",
    )
    parser = argparse.ArgumentParser(prog="sorter", description="Sort a folder of photos by what is in them.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    handlers: dict[str, Command] = {}
    for module in _MODULES:
        handlers.update(module.add_commands(commands, common))
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "k", 1) < 1:
        print("sorter: error: -k must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    paths = AppPaths.default(args.data_dir).ensure()
    try:
        with Library(paths.data_dir, bundled_model_sidecar()) as library:
            for recovered in library.recover():
                print(f"sorter: recovered plan {recovered.plan_id} ({recovered.action})", file=sys.stderr)
            return handlers[args.command](library, args)
    except SorterError as exc:
        print(f"sorter: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
