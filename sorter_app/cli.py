"""`sorter`: the headless, scriptable face of the core. Every command takes --json.

Exit codes: 0 ok, 1 failure (one line on stderr), 2 usage error, 130 cancelled by Ctrl-C (what was
finished is kept). Every command first finishes or rolls back a move a crash interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from .core.clusters import RESOLUTIONS
from .core.duplicates import NEAR_DUPLICATE_THRESHOLD
from .core.errors import SorterError
from .core.indexer import IndexReport
from .core.library import Library
from .core.plan import load_plan, make_plan, save_plan
from .core.seed_groups import SEED_THRESHOLD
from .paths import AppPaths, bundled_model_sidecar

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
Command = Callable[[Library, argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
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

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], help=help)

    command("index", "index (or update) a folder of images").add_argument("folder", type=Path)
    similar = command("similar", "the images most like one image")
    similar.add_argument("folder", type=Path)
    similar.add_argument("image", type=Path)
    similar.add_argument("-k", type=int, default=24, help="how many neighbours (default 24)")
    command("status", "what is indexed, with which model").add_argument("folder", type=Path)

    duplicates = command("duplicates", "exact and near-duplicate groups, with the copy to keep")
    duplicates.add_argument("folder", type=Path)
    _threshold(duplicates, NEAR_DUPLICATE_THRESHOLD)
    clusters = command("clusters", "group the whole folder by content")
    clusters.add_argument("folder", type=Path)
    _granularity(clusters)
    outliers = command("outliers", "images far from all their neighbours, most unusual first")
    outliers.add_argument("folder", type=Path)
    outliers.add_argument("--top", type=int, default=100, help="how many to list (0: all; default 100)")
    groups = command("groups", "gather the images most like each seed image")
    groups.add_argument("folder", type=Path)
    _seeds(groups, required=True)
    _threshold(groups, SEED_THRESHOLD)

    plan = command("plan", "write a move plan (nothing moves until `sorter move`)")
    plan.add_argument("folder", type=Path)
    what = plan.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--clusters", metavar="all|ID,ID", help="clusters to move into folders named after them"
    )
    what.add_argument("--groups", action="store_true", help="seed groups (give --seed IMG for each)")
    what.add_argument("--duplicates", action="store_true", help="every copy but the one to keep")
    _granularity(plan)
    _seeds(plan, required=False)
    plan.add_argument("--threshold", type=float, default=None, help="for --groups or --duplicates")
    plan.add_argument("--to", type=Path, default=None, help="destination folder (default: the folder itself)")
    how = plan.add_mutually_exclusive_group()
    how.add_argument("--copy", action="store_true", help="copy instead of moving")
    how.add_argument("--trash", action="store_true", help="send to the trash instead (for --duplicates)")
    plan.add_argument("-o", "--output", type=Path, required=True, help="where to write the plan JSON")

    move = command("move", "carry out a plan, journaled so that it can be undone")
    move.add_argument("--plan", type=Path, required=True)
    move.add_argument("--dry-run", action="store_true", help="print what would happen; change nothing")
    command("undo", "put back every file of a plan (default: the last one)").add_argument(
        "plan_id", nargs="?", default=None
    )
    command("journal", "list the plans applied, with their state")
    return parser


def _threshold(parser: argparse.ArgumentParser, default: float) -> None:
    parser.add_argument(
        "--threshold", type=float, default=default, help=f"cosine similarity (default {default})"
    )


def _granularity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--granularity", choices=list(RESOLUTIONS), default="medium")


def _seeds(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--seed", type=Path, action="append", default=[], required=required, metavar="IMG")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "k", 1) < 1:
        print("sorter: error: -k must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    paths = AppPaths.default(args.data_dir).ensure()
    try:
        with Library(paths.data_dir, bundled_model_sidecar()) as library:
            for recovered in library.recover():
                print(f"sorter: recovered plan {recovered.plan_id} ({recovered.action})", file=sys.stderr)
            return _COMMANDS[args.command](library, args)
    except SorterError as exc:
        print(f"sorter: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _emit(args: argparse.Namespace, data: Any, human: str) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else human)


@contextlib.contextmanager
def _ctrl_c_cancels() -> Iterator[Callable[[], bool]]:
    """Ctrl-C asks long work to stop between items instead of killing it mid-file."""
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _progress_printer(what: str) -> Callable[[int, int], None] | None:
    """A one-line progress display, only for a person watching a terminal."""
    if not sys.stderr.isatty():
        return None
    started = time.perf_counter()
    last = 0.0

    def show(done: int, total: int) -> None:
        nonlocal last
        now = time.perf_counter()
        if done < total and now - last < 0.2:
            return
        last = now
        rate = done / (now - started) if now > started else 0.0
        end = "\n" if done >= total else ""
        print(f"\r{what} {done}/{total}  {rate:5.1f}/s", end=end, file=sys.stderr, flush=True)

    return show


# indexing and search -----------------------------------------------------------------------------


def _cmd_index(library: Library, args: argparse.Namespace) -> int:
    with _ctrl_c_cancels() as cancelled:
        report = library.index(args.folder, progress=_progress_printer("indexing"), cancelled=cancelled)
    _emit(args, _index_json(report), _index_text(report))
    return EXIT_CANCELLED if report.cancelled else EXIT_OK


def _index_json(report: IndexReport) -> dict[str, Any]:
    root = Path(report.folder)
    return {
        "folder": report.folder,
        "indexed": report.indexed,
        "reused": report.reused,
        "removed": report.removed,
        "skipped": [{"path": str(root / p.relpath), "reason": p.reason} for p in report.skipped],
        "seconds": round(report.seconds, 3),
        "images_per_second": round(report.images_per_second, 2),
        "cancelled": report.cancelled,
    }


def _index_text(report: IndexReport) -> str:
    lines = [
        f"{report.folder}: {report.indexed} indexed, {report.reused} reused, {report.removed} removed, "
        f"{len(report.skipped)} skipped in {report.seconds:.1f} s ({report.images_per_second:.1f} images/s)"
    ]
    if report.cancelled:
        lines.append("cancelled: what was finished is kept; run again to continue")
    lines += [f"  skipped {p.relpath}: {p.reason}" for p in report.skipped]
    return "\n".join(lines)


def _cmd_similar(library: Library, args: argparse.Namespace) -> int:
    root = args.folder.expanduser().resolve()
    neighbours = library.similar(root, args.image, args.k)
    data = [{"path": str(root / n.relpath), "similarity": round(n.similarity, 4)} for n in neighbours]
    _emit(args, data, "\n".join(f"{n.similarity:.3f}  {root / n.relpath}" for n in neighbours))
    return EXIT_OK


def _cmd_status(library: Library, args: argparse.Namespace) -> int:
    status = library.status(args.folder)
    data = dict(status.__dict__)
    when = (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(status.indexed_at)) if status.indexed_at else "never"
    )
    human = (
        f"{status.folder}\n  model {status.model_id} (last indexed {when} with {status.indexed_with})\n"
        f"  {status.files} files: {status.usable} usable ({status.distinct} distinct), "
        f"{status.errors} skipped\n"
        f"  search: {status.search}" + (f" ({status.annoy_items} items)" if status.annoy_items else "")
    )
    _emit(args, data, human)
    return EXIT_OK


# finding structure ---------------------------------------------------------------------------------


def _root(args: argparse.Namespace) -> Path:
    return Path(args.folder).expanduser().resolve()


def _duplicates(library: Library, args: argparse.Namespace, threshold: float) -> list[dict[str, Any]]:
    root = _root(args)
    return [
        {"tier": g.tier, "keep": str(root / g.keep), "paths": [str(root / p) for p in g.paths], "why": g.why}
        for g in library.duplicates(root, threshold)
    ]


def _cmd_duplicates(library: Library, args: argparse.Namespace) -> int:
    groups = _duplicates(library, args, args.threshold)
    human = "\n".join(
        f"{g['tier']} ({len(g['paths'])}): keep {g['keep']} — {g['why']}"
        + "".join(f"\n    {p}" for p in g["paths"] if p != g["keep"])
        for g in groups
    )
    _emit(args, {"groups": groups}, human or "no duplicates")
    return EXIT_OK


def _clusters(library: Library, args: argparse.Namespace) -> dict[str, Any]:
    root = _root(args)
    clustering = library.clusters(root, args.granularity)
    return {
        "clusters": [
            {"id": c.id, "name": c.name, "label": c.label, "paths": [str(root / p) for p in c.paths]}
            for c in clustering.clusters
        ],
        "unsorted": [str(root / p) for p in clustering.unsorted],
    }


def _cmd_clusters(library: Library, args: argparse.Namespace) -> int:
    data = _clusters(library, args)
    human = "\n".join(f"{c['id']:>4}  {c['name']}" for c in data["clusters"])
    _emit(args, data, f"{human}\nunsorted · {len(data['unsorted'])}")
    return EXIT_OK


def _cmd_outliers(library: Library, args: argparse.Namespace) -> int:
    root = _root(args)
    ranked = library.outliers(root)
    shown = ranked if args.top == 0 else ranked[: args.top]
    data = [{"path": str(root / o.path), "score": round(o.score, 4)} for o in shown]
    _emit(args, data, "\n".join(f"{o['score']:.3f}  {o['path']}" for o in data))
    return EXIT_OK


def _groups(library: Library, args: argparse.Namespace, threshold: float) -> list[dict[str, Any]]:
    root = _root(args)
    return [
        {"seed": str(root / g.seed), "paths": [str(root / p) for p in g.paths]}
        for g in library.seed_groups(root, args.seed, threshold)
    ]


def _cmd_groups(library: Library, args: argparse.Namespace) -> int:
    groups = _groups(library, args, args.threshold)
    human = "\n".join(f"{g['seed']}: {len(g['paths'])} images" for g in groups)
    _emit(args, {"groups": groups}, human)
    return EXIT_OK


# moving files --------------------------------------------------------------------------------------


def _plan_groups(library: Library, args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """(folder name, absolute paths) for what the user chose to move."""
    if args.duplicates:
        threshold = NEAR_DUPLICATE_THRESHOLD if args.threshold is None else args.threshold
        found = _duplicates(library, args, threshold)
        return [("duplicates", [p for g in found for p in g["paths"] if p != g["keep"]])]
    if args.groups:
        if not args.seed:
            raise SorterError("--groups needs at least one --seed IMG")
        found = _groups(library, args, SEED_THRESHOLD if args.threshold is None else args.threshold)
        return [(Path(g["seed"]).stem, g["paths"]) for g in found]
    clustering = _clusters(library, args)["clusters"]
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
    return [(c["label"], c["paths"]) for c in clustering]


def _cmd_plan(library: Library, args: argparse.Namespace) -> int:
    mode: Literal["move", "copy", "trash"] = "trash" if args.trash else "copy" if args.copy else "move"
    if mode == "trash" and not args.duplicates:
        raise SorterError("--trash is for --duplicates")
    destination = None if mode == "trash" else (args.to or args.folder).expanduser().resolve()
    plan = make_plan(_plan_groups(library, args), destination, mode)
    save_plan(plan, args.output)
    data = plan.to_json()
    human = "\n".join(f"{m.src} → {m.dst}" for m in plan.moves) + f"\n{len(plan.moves)} files; plan {plan.id}"
    _emit(args, data, human + f" written to {args.output}")
    return EXIT_OK


def _cmd_move(library: Library, args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    if args.dry_run:
        human = "\n".join(f"{m.src} → {m.dst}" for m in plan.moves) + f"\n(dry run: {len(plan.moves)} files)"
        _emit(args, plan.to_json(), human)
        return EXIT_OK
    with _ctrl_c_cancels() as cancelled:
        result = library.apply(plan, progress=_progress_printer(plan.mode), cancelled=cancelled)
    data = result.to_json()
    done = {"move": "moved", "copy": "copied", "trash": "trashed"}[plan.mode]
    human = f"plan {result.plan_id}: {data[done]} files {done}"
    human += "".join(f"\n  skipped {s['src']}: {s['reason']}" for s in data["skipped"])
    _emit(args, data, human)
    return EXIT_CANCELLED if result.cancelled else EXIT_OK


def _cmd_undo(library: Library, args: argparse.Namespace) -> int:
    with _ctrl_c_cancels() as cancelled:
        result = library.undo(args.plan_id, progress=_progress_printer("restoring"), cancelled=cancelled)
    data = result.to_json()
    human = f"plan {result.plan_id}: {result.restored} restored"
    human += "".join(f"\n  not restored {n['path']}: {n['reason']}" for n in data["not_restored"])
    _emit(args, data, human)
    return EXIT_CANCELLED if result.cancelled else EXIT_OK


def _cmd_journal(library: Library, args: argparse.Namespace) -> int:
    plans = [p.to_json() for p in library.plans()]
    human = "\n".join(
        f"{p['id']}  {p['mode']:<5} {p['state']:<14} {p['done']}/{p['moves']} files" for p in plans
    )
    _emit(args, plans, human or "no plans yet")
    return EXIT_OK


_COMMANDS: dict[str, Command] = {
    "index": _cmd_index,
    "similar": _cmd_similar,
    "status": _cmd_status,
    "duplicates": _cmd_duplicates,
    "clusters": _cmd_clusters,
    "outliers": _cmd_outliers,
    "groups": _cmd_groups,
    "plan": _cmd_plan,
    "move": _cmd_move,
    "undo": _cmd_undo,
    "journal": _cmd_journal,
}

if __name__ == "__main__":
    sys.exit(main())
