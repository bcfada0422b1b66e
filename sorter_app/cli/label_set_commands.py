"""`sorter labels …`: the user's own label sets — make them, label images, train, predict, review,
plan a move by label, export. Two shapes are fixed because scripts rely on them:
`labels import-folders DIR --set NAME` and `labels predict DIR --set NAME --json` (rows
{"path", "label", "confidence", "labelled"}).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import SorterError
from ..core.label_export import export_labels
from ..core.label_model import LabelModel
from ..core.labelling import Labelling
from ..core.library import Library
from ..core.plan import save_plan
from .organise_commands import add_granularity
from .output import EXIT_OK, Command, emit, progress_printer, shown

Handler = Callable[[Labelling, argparse.Namespace], int]


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> dict[str, Command]:
    labels = commands.add_parser("labels", help="your own label sets: label a few, let it sort the rest")
    sub = labels.add_subparsers(dest="labels_command", required=True, metavar="ACTION")

    def action(
        name: str, help: str, *, folder: bool = False, set_option: bool = False
    ) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, parents=[common], help=help)
        if folder:
            parser.add_argument("folder", type=Path, help="an indexed folder, or a folder inside one")
        if set_option:
            parser.add_argument("--set", dest="set_name", required=True, metavar="NAME", help="the label set")
        return parser

    action("list", "the label sets, their labels and how many images have each").add_argument(
        "name", nargs="?", help="only this set"
    )
    create = action("create", "make a label set, optionally with its labels")
    create.add_argument("name")
    create.add_argument("labels", nargs="*", metavar="LABEL")
    rename = action("rename", "rename a set, or with --set one of its labels")
    rename.add_argument("old")
    rename.add_argument("new")
    rename.add_argument("--set", dest="set_name", metavar="NAME", help="rename a label of this set")
    action("delete", "forget a set and every image's label in it").add_argument("name")
    add = action("add", "give images a label (the label is added to the set if new)", set_option=True)
    add.add_argument("label")
    add.add_argument("images", nargs="*", type=Path, metavar="IMAGE", help="indexed images")
    add.add_argument("--cluster", type=int, action="append", default=[], metavar="ID", help="a whole cluster")
    add.add_argument("--folder", type=Path, help="the indexed folder --cluster refers to")
    add_granularity(add)
    remove = action("remove", "take a set's label off images, or a label out of the set", set_option=True)
    remove.add_argument("images", nargs="*", type=Path, metavar="IMAGE")
    remove.add_argument("--label", help="remove this label from the set and from every image")
    action(
        "import-folders",
        "sub-folder names become labels; their images get them",
        folder=True,
        set_option=True,
    )
    action(
        "train",
        "train the set's model (only when its labels changed) and say how good it is",
        set_option=True,
    )
    predict = action(
        "predict", "each image's label, 'unknown' where the model is unsure", folder=True, set_option=True
    )
    predict.add_argument("--all", action="store_true", help="the best guess instead of 'unknown'")
    review = action(
        "review", "unlabelled images whose label would teach the model most", folder=True, set_option=True
    )
    review.add_argument("--top", type=int, default=20, help="how many (default 20)")
    plan = action(
        "plan",
        "write a plan moving images into folders named after their labels",
        folder=True,
        set_option=True,
    )
    plan.add_argument("--label", action="append", default=[], help="only these labels (repeatable)")
    plan.add_argument(
        "--min-confidence", type=float, default=0.0, help="leave less sure predictions in place"
    )
    plan.add_argument("--to", type=Path, help="where the label folders go (default: the folder itself)")
    plan.add_argument("--copy", action="store_true", help="copy instead of moving")
    plan.add_argument("-o", "--output", type=Path, required=True, help="where to write the plan JSON")
    export = action("export", "every image's labels and predictions as CSV (a manifest) or JSON", folder=True)
    export.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.csv|FILE.json")
    export.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="NAME", help="default: all"
    )

    def run(library: Library, args: argparse.Namespace) -> int:
        return _HANDLERS[args.labels_command](Labelling(library), args)

    return {"labels": run}


def _list(labelling: Labelling, args: argparse.Namespace) -> int:
    if args.name and labelling.store.find(args.name) is None and Path(args.name).expanduser().is_dir():
        raise SorterError(
            f"{args.name} is a folder: label sets belong to no folder (`sorter labels list` lists "
            "them all; `sorter labels predict --set NAME DIR` labels a folder's images)"
        )
    sets = [labelling.store.get(args.name)] if args.name else labelling.store.sets()
    data: list[dict[str, Any]] = [{"set": s.name, "labels": labelling.store.counts(s)} for s in sets]
    human = "\n".join(
        f"{d['set']}: " + (", ".join(f"{label} ({n})" for label, n in d["labels"].items()) or "no labels")
        for d in data
    )
    emit(args, data, human or "no label sets yet (`sorter labels create NAME LABEL …`)")
    return EXIT_OK


def _create(labelling: Labelling, args: argparse.Namespace) -> int:
    made = labelling.store.create(args.name, args.labels)
    emit(args, {"set": made.name, "labels": list(made.labels)}, f"{made.name}: {', '.join(made.labels)}")
    return EXIT_OK


def _rename(labelling: Labelling, args: argparse.Namespace) -> int:
    if args.set_name:
        done = labelling.store.rename_label(args.set_name, args.old, args.new)
    else:
        done = labelling.store.rename(args.old, args.new)
    emit(args, {"set": done.name, "labels": list(done.labels)}, f"{done.name}: {', '.join(done.labels)}")
    return EXIT_OK


def _delete(labelling: Labelling, args: argparse.Namespace) -> int:
    label_set = labelling.store.get(args.name)
    forgotten = labelling.store.delete(label_set.name)
    labelling.forget_model(label_set.id)
    emit(args, {"set": label_set.name, "images": forgotten}, f"deleted {label_set.name} ({forgotten} labels)")
    return EXIT_OK


def _add(labelling: Labelling, args: argparse.Namespace) -> int:
    images = list(args.images)
    if args.cluster:
        if args.folder is None:
            raise SorterError("--cluster needs --folder DIR, the indexed folder it was found in")
        root = args.folder.expanduser().resolve()
        clusters = {c.id: c for c in labelling.library.clusters(root, args.granularity).clusters}
        for cluster_id in args.cluster:
            if cluster_id not in clusters:
                raise SorterError(f"no cluster {cluster_id} (there are {len(clusters)})")
            images += [root / p for p in clusters[cluster_id].paths]
    changed = labelling.label(args.set_name, args.label, images)
    label_set = labelling.store.get(args.set_name)
    label = label_set.label(args.label)
    emit(
        args,
        {"set": label_set.name, "label": label, "images": len(images), "changed": changed},
        f"{label_set.name}: {len(images)} images labelled {label} ({changed} changed)",
    )
    return EXIT_OK


def _remove(labelling: Labelling, args: argparse.Namespace) -> int:
    if bool(args.images) == bool(args.label):
        raise SorterError("give either images to take the label off, or --label LABEL to remove from the set")
    if args.label:
        removed = labelling.store.remove_label(args.set_name, args.label)
        data = {"set": labelling.store.get(args.set_name).name, "label": args.label, "images": removed}
        emit(args, data, f"removed {args.label} ({removed} images had it)")
    else:
        removed = labelling.unlabel(args.set_name, args.images)
        emit(args, {"set": args.set_name, "images": removed}, f"{removed} images unlabelled")
    return EXIT_OK


def _import_folders(labelling: Labelling, args: argparse.Namespace) -> int:
    report = labelling.import_folders(args.folder, args.set_name)
    data = {
        "set": report.set_name,
        "labels": [
            {"label": label, "folders": list(folders), "images": n} for label, folders, n in report.labels
        ],
        "skipped": [{"folder": folder, "reason": reason} for folder, reason in report.skipped],
        "changed": report.changed,
        "conflicts": report.conflicts,
    }
    human = "\n".join(
        f"{label}: {n} images (from {', '.join(f'{shown(folder)}/' for folder in folders)})"
        for label, folders, n in report.labels
    )
    human += "".join(f"\n  skipped {shown(folder)}/: {reason}" for folder, reason in report.skipped)
    human += f"\n{report.changed} images labelled in {report.set_name}"
    if report.conflicts:
        human += (
            f"; {len(report.conflicts)} files left unlabelled: the same picture is in two of these folders"
        )
    emit(args, data, human)
    return EXIT_OK


def model_json(model: LabelModel) -> dict[str, Any]:
    def rounded(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    return {
        "labels": [
            {
                "label": q.label,
                "examples": q.examples,
                "precision": rounded(q.precision),
                "recall": rounded(q.recall),
            }
            for q in model.per_label
        ],
        "examples": model.examples,
        "accuracy": rounded(model.accuracy),
        "threshold": rounded(model.threshold),
        "coverage": rounded(model.coverage),
        "regularisation": model.prior,
    }


def _trained(labelling: Labelling, args: argparse.Namespace) -> tuple[LabelModel, bool, float]:
    started = time.perf_counter()
    model, retrained = labelling.model(args.set_name, progress=progress_printer("training"))
    seconds = time.perf_counter() - started
    if retrained and not args.json:
        print(f"trained {args.set_name} on {model.examples} images in {seconds:.1f} s", file=sys.stderr)
    return model, retrained, seconds


def _train(labelling: Labelling, args: argparse.Namespace) -> int:
    model, retrained, seconds = _trained(labelling, args)
    data: dict[str, Any] = {"set": labelling.store.get(args.set_name).name, **model_json(model)}
    data["retrained"] = retrained
    data["seconds"] = round(seconds, 3)
    accuracy = (
        "not estimated (label two or more images of a label)"
        if model.accuracy is None
        else f"{model.accuracy:.0%}"
    )
    human = f"{data['set']}: {model.examples} examples, estimated accuracy {accuracy}"
    if model.threshold >= 1.0:
        human += "; too few labelled images to vouch for any answer: all 'unknown' (predict --all guesses)"
    else:
        human += f", 'unknown' below {model.threshold:.2f}"
    for q in model.per_label:
        p = "–" if q.precision is None else f"{q.precision:.0%}"
        r = "–" if q.recall is None else f"{q.recall:.0%}"
        human += f"\n  {q.label}: {q.examples} examples, precision {p}, recall {r}"
    emit(args, data, human)
    return EXIT_OK


def _predict(labelling: Labelling, args: argparse.Namespace) -> int:
    model = _trained(labelling, args)[0]
    scope = labelling.scope(args.folder)
    rows = [
        a.to_json(scope.root, best_guess=args.all)
        for a in labelling.answers(args.folder, args.set_name, model)
    ]
    human = "\n".join(
        f"{r['label']:<20} {r['confidence']:.2f}{' (labelled)' if r['labelled'] else ''}  {shown(r['path'])}"
        for r in rows
    )
    emit(args, rows, human)
    return EXIT_OK


def _review(labelling: Labelling, args: argparse.Namespace) -> int:
    _trained(labelling, args)
    root = labelling.scope(args.folder).root
    queue = labelling.review(args.folder, args.set_name, args.top)
    rows: list[dict[str, Any]] = [
        {
            "path": str(root / a.path),
            "guesses": [{"label": label, "confidence": round(p, 4)} for label, p in a.top],
        }
        for a in queue
    ]
    human = "\n".join(
        f"{shown(r['path'])}: " + ", ".join(f"{g['label']} {g['confidence']:.2f}" for g in r["guesses"])
        for r in rows
    )
    emit(args, rows, human or "nothing left to review")
    return EXIT_OK


def _plan(labelling: Labelling, args: argparse.Namespace) -> int:
    _trained(labelling, args)
    destination = args.to.expanduser().resolve() if args.to else None
    plan = labelling.plan(
        args.folder,
        args.set_name,
        destination,
        mode="copy" if args.copy else "move",
        min_confidence=args.min_confidence,
        only=args.label,
    )
    save_plan(plan, args.output)
    lines = [f"{shown(m.src)} → {shown(m.dst)}" for m in plan.moves]
    lines.append(f"{len(plan.moves)} files; plan {plan.id} written to {shown(args.output)}")
    emit(args, plan.to_json(), "\n".join(lines))
    return EXIT_OK


def _export(labelling: Labelling, args: argparse.Namespace) -> int:
    destination = args.output.expanduser().resolve()
    written = export_labels(labelling, args.folder, destination, args.sets)
    human = f"wrote {written} images to {shown(destination)}"
    emit(args, {"output": str(destination), "images": written}, human)
    return EXIT_OK


_HANDLERS: dict[str, Handler] = {
    "list": _list,
    "create": _create,
    "rename": _rename,
    "delete": _delete,
    "add": _add,
    "remove": _remove,
    "import-folders": _import_folders,
    "train": _train,
    "predict": _predict,
    "review": _review,
    "plan": _plan,
    "export": _export,
}
