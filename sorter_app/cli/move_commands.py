"""`sorter plan`, `move`, `undo`, `journal`: moving files, with a plan first and undo after."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

from ..core.duplicates import NEAR_DUPLICATE_THRESHOLD
from ..core.errors import SorterError
from ..core.library import Library
from ..core.plan import PlanError, load_plan, make_plan, save_plan
from ..core.plan_check import check_plan
from ..core.seed_groups import SEED_THRESHOLD
from .organise_commands import (
    add_granularity,
    add_seeds,
    clusters_json,
    duplicates_json,
    groups_json,
)
from .output import EXIT_CANCELLED, EXIT_OK, Command, ctrl_c_cancels, emit, progress_printer, shown


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> dict[str, Command]:
    plan = commands.add_parser(
        "plan", parents=[common], help="write a move plan (nothing moves until `sorter move`)"
    )
    plan.add_argument("folder", type=Path)
    what = plan.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--clusters", metavar="all|ID,ID", help="clusters to move into folders named after them"
    )
    what.add_argument("--groups", action="store_true", help="seed groups (give --seed IMG for each)")
    what.add_argument("--duplicates", action="store_true", help="every copy but the one to keep")
    add_granularity(plan)
    add_seeds(plan, required=False)
    plan.add_argument("--threshold", type=float, default=None, help="for --groups or --duplicates")
    plan.add_argument("--to", type=Path, default=None, help="destination folder (default: the folder itself)")
    plan.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="ID=NAME",
        help="folder name for a cluster id or a seed image's file name (repeatable), e.g. --name 3=Kitchen",
    )
    how = plan.add_mutually_exclusive_group()
    how.add_argument("--copy", action="store_true", help="copy instead of moving")
    how.add_argument("--trash", action="store_true", help="send to the trash instead (for --duplicates)")
    plan.add_argument("-o", "--output", type=Path, required=True, help="where to write the plan JSON")

    move = commands.add_parser(
        "move", parents=[common], help="carry out a plan, journaled so that it can be undone"
    )
    move.add_argument("--plan", type=Path, required=True)
    move.add_argument("--dry-run", action="store_true", help="print what would happen; change nothing")
    undo = commands.add_parser(
        "undo", parents=[common], help="put back every file of a plan (default: the last)"
    )
    undo.add_argument("plan_id", nargs="?", default=None)
    commands.add_parser("journal", parents=[common], help="list the plans applied, with their state")
    return {"plan": _plan, "move": _move, "undo": _undo, "journal": _journal}


def _plan_groups(library: Library, args: argparse.Namespace) -> list[tuple[str, str, list[str]]]:
    """(key for --name, default folder name, absolute paths) for what the user chose to move."""
    if args.duplicates:
        threshold = NEAR_DUPLICATE_THRESHOLD if args.threshold is None else args.threshold
        # Only exact and near groups have a copy to keep; similar photos are never planned away.
        groups = duplicates_json(library, args, threshold)["groups"]
        found = [g for g in groups if g["tier"] in ("exact", "near")]
        return [("duplicates", "duplicates", [p for g in found for p in g["paths"] if p != g["keep"]])]
    if args.groups:
        if not args.seed:
            raise SorterError("--groups needs at least one --seed IMG")
        found = groups_json(library, args, SEED_THRESHOLD if args.threshold is None else args.threshold)
        return [(Path(g["seed"]).name, Path(g["seed"]).stem, g["paths"]) for g in found]
    clustering = clusters_json(library, args)["clusters"]
    if args.clusters != "all":
        try:
            wanted = {int(part) for part in args.clusters.split(",") if part.strip()}
        except ValueError:
            raise SorterError(
                f"--clusters takes 'all' or cluster ids like 3,7 (got {args.clusters!r})"
            ) from None
        unknown = wanted - {c["id"] for c in clustering}
        if unknown:
            raise SorterError(f"no cluster {min(unknown)} (there are {len(clustering)})")
        clustering = [c for c in clustering if c["id"] in wanted]
    return [(str(c["id"]), c["label"], c["paths"]) for c in clustering]


def _renamed(groups: list[tuple[str, str, list[str]]], names: list[str]) -> list[tuple[str, list[str]]]:
    """Apply --name KEY=NAME (KEY: a cluster id or a seed's file name) to (key, folder, paths)."""
    chosen: dict[str, str] = {}
    for item in names:
        key, sep, name = item.partition("=")
        if not sep or not key.strip() or not name.strip():
            raise SorterError(f"--name takes KEY=NAME, e.g. 3=Kitchen (got {item!r})")
        chosen[key.strip()] = name.strip()
    unknown = set(chosen) - {key for key, _, _ in groups}
    if unknown:
        raise SorterError(f"--name {sorted(unknown)[0]}=…: no such cluster or seed in this plan")
    return [(chosen.get(key, folder), paths) for key, folder, paths in groups]


def _plan(library: Library, args: argparse.Namespace) -> int:
    mode: Literal["move", "copy", "trash"] = "trash" if args.trash else "copy" if args.copy else "move"
    if mode == "trash" and not args.duplicates:
        raise SorterError("--trash is for --duplicates")
    root = Path(args.folder).expanduser().resolve()
    destination = None if mode == "trash" else (args.to or root).expanduser().resolve()
    plan = make_plan(_renamed(_plan_groups(library, args), args.name), destination, mode, folder=root)
    check_plan(plan)  # a destination `move` would refuse is refused now
    _refuse_to_overwrite(args.output)
    save_plan(plan, args.output)
    data = plan.to_json()
    human = "\n".join(f"{shown(m.src)} → {shown(m.dst)}" for m in plan.moves)
    human += f"\n{len(plan.moves)} files; plan {plan.id}"
    emit(args, data, human + f" written to {shown(args.output)}")
    return EXIT_OK


def _refuse_to_overwrite(output: Path) -> None:
    """`-o` replaces an older plan file, nothing else: `-o photos/img5.jpg` once replaced a photo."""
    if output.is_dir():
        raise PlanError(f"{output} is a folder: give the plan file's name (-o {output / 'plan.json'})")
    if output.exists() or output.is_symlink():
        try:
            load_plan(output)
        except PlanError:
            raise PlanError(f"{output} exists and is not a plan file: not overwritten") from None


def _move(library: Library, args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    bounds = check_plan(plan)  # refused with the reason before anything is printed as if it would happen
    # The folder as resolved, as check_plan holds the sources to it: a link inside an indexed folder
    # that leads elsewhere is not an indexed folder.
    if plan.moves and library.catalog.locate(bounds.folder) is None:
        raise PlanError(
            f"the plan's folder {plan.folder} is not an indexed folder: a plan only moves files of a folder "
            "`sorter index` has seen (index it, then make the plan again)"
        )
    if args.dry_run:
        human = "\n".join(f"{shown(m.src)} → {shown(m.dst)}" for m in plan.moves)
        human += f"\n(dry run: {len(plan.moves)} files)"
        emit(args, plan.to_json(), human)
        return EXIT_OK
    with ctrl_c_cancels() as cancelled:
        result = library.apply(plan, progress=progress_printer(plan.mode), cancelled=cancelled)
    data = result.to_json()
    done = {"move": "moved", "copy": "copied", "trash": "trashed"}[plan.mode]
    human = f"plan {result.plan_id}: {data[done]} files {done}"
    human += "".join(f"\n  skipped {shown(s['src'])}: {shown(s['reason'])}" for s in data["skipped"])
    emit(args, data, human)
    return EXIT_CANCELLED if result.cancelled else EXIT_OK


def _undo(library: Library, args: argparse.Namespace) -> int:
    with ctrl_c_cancels() as cancelled:
        result = library.undo(args.plan_id, progress=progress_printer("restoring"), cancelled=cancelled)
    data = result.to_json()
    human = f"plan {result.plan_id}: {result.restored} restored"
    human += "".join(
        f"\n  not restored {shown(n['path'])}: {shown(n['reason'])}" for n in data["not_restored"]
    )
    emit(args, data, human)
    return EXIT_CANCELLED if result.cancelled else EXIT_OK


def _journal(library: Library, args: argparse.Namespace) -> int:
    plans = [p.to_json() for p in library.plans()]
    human = "\n".join(
        f"{p['id']}  {p['mode']:<5} {p['state']:<14} {p['done']}/{p['moves']} files" for p in plans
    )
    emit(args, plans, human or "no plans yet")
    return EXIT_OK
