"""`sorter duplicates`, `clusters`, `outliers`, `groups`: structure found in stored vectors."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.clusters import RESOLUTIONS
from ..core.duplicates import NEAR_DUPLICATE_THRESHOLD
from ..core.library import Library
from ..core.seed_groups import SEED_THRESHOLD
from .output import EXIT_OK, Command, emit, folder_of, shown


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> dict[str, Command]:
    def command(name: str, help: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[common], help=help)
        parser.add_argument("folder", type=Path)
        return parser

    add_threshold(
        command("duplicates", "exact and near-duplicate groups with the copy to keep, and similar photos"),
        NEAR_DUPLICATE_THRESHOLD,
    )
    add_granularity(command("clusters", "group the whole folder by content"))
    outliers = command("outliers", "images far from all their neighbours, most unusual first")
    outliers.add_argument("--top", type=int, default=100, help="how many to list (0: all; default 100)")
    groups = command("groups", "gather the images most like each seed image")
    add_seeds(groups, required=True)
    add_threshold(groups, SEED_THRESHOLD)
    return {"duplicates": _duplicates, "clusters": _clusters, "outliers": _outliers, "groups": _groups}


def add_threshold(parser: argparse.ArgumentParser, default: float | None) -> None:
    shown = f"default {default}" if default is not None else "default depends on what is planned"
    parser.add_argument("--threshold", type=float, default=default, help=f"cosine similarity ({shown})")


def add_granularity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--granularity", choices=list(RESOLUTIONS), default="medium")


def add_seeds(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--seed", type=Path, action="append", default=[], required=required, metavar="IMG")


def duplicates_json(library: Library, args: argparse.Namespace, threshold: float) -> dict[str, Any]:
    """{"groups": exact and near groups, each with the copy to keep; "similar": look-alike groups,
    which have no copy to keep and are never planned for the trash}."""
    root = folder_of(args)
    tiers = library.duplicate_tiers(root, threshold)
    return {
        "groups": [
            {
                "tier": g.tier,
                "keep": str(root / g.keep),
                "paths": [str(root / p) for p in g.paths],
                "why": g.why,
                "edits": list(g.edits),
            }
            for g in tiers.groups
        ],
        "similar": [
            {"paths": [str(root / p) for p in g.paths], "similarity": g.similarity} for g in tiers.similar
        ],
    }


def clusters_json(library: Library, args: argparse.Namespace) -> dict[str, Any]:
    root = folder_of(args)
    clustering = library.clusters(root, args.granularity, user_names=True)
    return {
        "clusters": [
            {"id": c.id, "name": c.name, "label": c.label, "paths": [str(root / p) for p in c.paths]}
            for c in clustering.clusters
        ],
        "unsorted": [str(root / p) for p in clustering.unsorted],
    }


def groups_json(library: Library, args: argparse.Namespace, threshold: float) -> list[dict[str, Any]]:
    root = folder_of(args)
    return [
        {"seed": str(root / g.seed), "paths": [str(root / p) for p in g.paths]}
        for g in library.seed_groups(root, args.seed, threshold)
    ]


def _duplicates(library: Library, args: argparse.Namespace) -> int:
    found = duplicates_json(library, args, args.threshold)
    lines = [
        f"{g['tier']} ({len(g['paths'])}): keep {shown(g['keep'])} — {g['why']}"
        + (f"; copies look {', '.join(g['edits'])}" if g["edits"] else "")
        + "".join(f"\n    {shown(p)}" for p in g["paths"] if p != g["keep"])
        for g in found["groups"]
    ]
    lines += [
        f"similar, not the same picture ({len(g['paths'])}, up to {g['similarity']:.2f}):"
        + "".join(f"\n    {shown(p)}" for p in g["paths"])
        for g in found["similar"]
    ]
    emit(args, found, "\n".join(lines) or "no duplicates")
    return EXIT_OK


def _clusters(library: Library, args: argparse.Namespace) -> int:
    data = clusters_json(library, args)
    human = "\n".join(f"{c['id']:>4}  {shown(c['name'])}" for c in data["clusters"])
    emit(args, data, f"{human}\nunsorted · {len(data['unsorted'])}")
    return EXIT_OK


def _outliers(library: Library, args: argparse.Namespace) -> int:
    root = folder_of(args)
    ranked = library.outliers(root)
    top = ranked if args.top == 0 else ranked[: args.top]
    data = [{"path": str(root / o.path), "score": round(o.score, 4)} for o in top]
    emit(args, data, "\n".join(f"{o['score']:.3f}  {shown(o['path'])}" for o in data))
    return EXIT_OK


def _groups(library: Library, args: argparse.Namespace) -> int:
    groups = groups_json(library, args, args.threshold)
    emit(args, {"groups": groups}, "\n".join(f"{shown(g['seed'])}: {len(g['paths'])} images" for g in groups))
    return EXIT_OK
