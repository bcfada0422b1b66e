"""`sorter`: the headless, scriptable face of the core. Every command takes --json.

Exit codes: 0 ok, 1 failure (one line on stderr), 2 usage error, 130 cancelled by Ctrl-C (what was
finished is kept). Every command first finishes or rolls back a move a crash interrupted. No error
ends in a traceback (errors.py); a damaged catalog is set aside and the command run once more on a
fresh one, a damaged corrections file is restored from its backup, each said in one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..core.damage import is_damage, repair_files
from ..core.library import Library
from ..paths import AppPaths, bundled_model_sidecar
from . import index_commands, label_commands, label_set_commands, move_commands, organise_commands
from .errors import describe
from .output import EXIT_CANCELLED, EXIT_FAILURE, EXIT_USAGE, Command

MODEL_ENV = "SORTER_MODEL"
_MODULES = (index_commands, organise_commands, label_commands, label_set_commands, move_commands)
# Commands that act on files: never run twice, whatever happened to the catalog on the way.
_NOT_REPEATED = frozenset({"move", "undo"})


# The options every command takes, with their defaults: accepted before the command too
# (`sorter --json status DIR`) as well as after it.
COMMON_DEFAULTS: dict[str, object] = {"json": False, "data_dir": None, "model": None}


def _add_common(parser: argparse.ArgumentParser) -> None:
    """The common options, with no default: an option given before the command must not be reset
    by the command's own parser, so defaults are filled in after parsing (`parse`)."""
    suppress = argparse.SUPPRESS
    parser.add_argument(
        "--json", action="store_true", default=suppress, help="print machine-readable JSON on stdout"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=suppress,
        help="catalog, indexes and journal folder (default: $SORTER_DATA_DIR, else the user data folder)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=suppress,
        metavar="SIDECAR",
        help="the model's JSON sidecar, e.g. one `sorter-train export` wrote "
        f"(default: ${MODEL_ENV}, else the bundled model)",
    )


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common)
    parser = argparse.ArgumentParser(prog="sorter", description="Sort a folder of photos by what is in them.")
    _add_common(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    handlers: dict[str, Command] = {}
    for module in _MODULES:
        handlers.update(module.add_commands(commands, common))
    return parser, handlers


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    for name, default in COMMON_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


def _say(line: str) -> None:
    print(f"sorter: {line}", file=sys.stderr)


def model_sidecar(given: Path | None) -> Path:
    """--model, else $SORTER_MODEL, else the bundled model: the Settings → Model of the CLI."""
    chosen = given or (Path(os.environ[MODEL_ENV]) if os.environ.get(MODEL_ENV) else None)
    return chosen.expanduser() if chosen else bundled_model_sidecar()


def _run(command: Command, args: argparse.Namespace, paths: AppPaths) -> int:
    with Library(paths.data_dir, model_sidecar(args.model)) as library:
        try:
            for recovered in library.recover():
                _say(f"recovered plan {recovered.plan_id} ({recovered.action})")
            code = command(library, args)
        finally:
            for notice in library.notices:  # the catalog is opened on first use, if at all
                _say(notice)
        if library.catalog_error is not None:  # the files moved; the catalog could not follow
            error = library.catalog_error
            notices = (
                repair_files(paths.catalog_path, paths.data_dir / "user.sqlite") if is_damage(error) else []
            )
            for notice in notices or [f"{describe(error)}; the next index catches up"]:
                _say(notice)
        return code


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parse(parser, argv)
    if getattr(args, "k", 1) < 1:
        print("sorter: error: -k must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        paths = AppPaths.default(args.data_dir).ensure()
        try:
            return _run(handlers[args.command], args, paths)
        except Exception as exc:
            if not is_damage(exc):
                raise
            notices = repair_files(paths.catalog_path, paths.data_dir / "user.sqlite")
            for notice in notices:
                _say(notice)
            if not notices or args.command in _NOT_REPEATED:
                raise
            return _run(handlers[args.command], args, paths)  # once, on the repaired files
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_CANCELLED
    except BrokenPipeError:  # `sorter … | head`: the reader left; nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:
        if os.environ.get("SORTER_DEBUG"):
            raise
        _say(f"error: {describe(exc)}")
        return EXIT_FAILURE
