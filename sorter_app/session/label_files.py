"""Label sets acting on files and folders: sub-folder names as labels, move into folders by label,
export of labels and predictions.

A move by label is a plan like any other (core/labelling.py makes it): the window previews it,
applies it journaled, and Undo puts every file back (files.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..core.kinds import MoveMode
from ..core.label_export import export_labels
from ..core.label_store import LabelStore
from ..core.labelling import ImportReport, Labelling
from ..core.library import Library
from ..core.plan import MovePlan
from .files import Proposal
from .history import LabelStep, SetChange
from .jobs import Job
from .labels import Snapshot, snapshot
from .wording import EXPORTING, PLANNING, plural

if TYPE_CHECKING:
    from .session import Session

IMPORTING = "Importing sub-folder names"
IMPORT_STEP = "Import Labels from Folders"  # what Edit → Undo says
SKIPS_SHOWN = 3  # sub-folders that did not become labels, named in the message with the reason


class LabelFiles:
    def __init__(self, session: Session) -> None:
        self.s = session

    def import_folders(self, folder: Path, set_name: str) -> None:
        """Each sub-folder of `folder` a label of `set_name` (created if new), its images labelled;
        one step of the undo history, which gives back exactly the labels (and the set) before."""

        def call(lib: Library, p: object, c: object) -> tuple[ImportReport, LabelStep, Snapshot]:
            store = LabelStore(lib.catalog)
            existing = store.find(set_name)
            had = store.image_labels(existing) if existing else {}
            report = Labelling(lib).import_folders(folder, set_name)
            found = store.get(report.set_name)
            has = store.image_labels(found)
            changed = [h for h, label in has.items() if had.get(h) != label]  # an import only adds
            step = LabelStep(
                IMPORT_STEP,
                found.name,
                {h: had.get(h) for h in changed},
                {h: has[h] for h in changed},
                SetChange(existing.labels if existing else None, found.labels),
            )
            return report, step, snapshot(store)

        def done(result: tuple[ImportReport, LabelStep, Snapshot]) -> None:
            report, step, found = result
            labels = ", ".join(f"{label} ({n})" for label, _, n in report.labels) or "none"
            extra = (
                f"; {plural(len(report.conflicts), 'file')} left unlabelled: the same picture is in two of "
                "these folders"
                if report.conflicts
                else ""
            )
            shown = [f"{folder}/ ({reason})" for folder, reason in report.skipped[:SKIPS_SHOWN]]
            more = len(report.skipped) - len(shown)
            if shown:
                extra += "; not labels: " + "; ".join(shown) + (f" and {more} more" if more else "")
            self.s.message.emit(
                f"Set “{report.set_name}”: {plural(report.changed, 'image')} labelled; labels {labels}{extra}"
            )
            change = step.set_change
            if step.after or (change is not None and change.before != change.after):
                self.s.image_labels.pushed(step)
            self.s.label_sets.adopt(found, report.set_name)

        self.s.run(Job("labels:import", call, done, label=IMPORTING, serial=True))

    def propose_move(self, mode: MoveMode, destination: Path | None, min_confidence: float) -> None:
        """A plan of every image into a folder named after its label (the user's, or the model's at
        `min_confidence` or more; unsure ones stay), for the preview dialog."""
        chosen, root = self.s.label_sets.current, self.s.root
        if chosen is None or root is None:
            return
        name = chosen.name

        def call(lib: Library, p: object, c: object) -> MovePlan:
            return Labelling(lib).plan(
                root, name, destination, mode=mode.plan_mode, min_confidence=min_confidence
            )

        def done(plan: MovePlan) -> None:
            if plan.moves:
                self.s.files.proposed.emit(Proposal(plan))
            else:
                self.s.message.emit("Nothing to move: no image has a label sure enough.")

        self.s.run(Job("plan", call, done, label=PLANNING))

    def export(self, destination: Path, every_set: bool = False) -> None:
        """The folder's images with the active set's (or every set's) labels and predictions."""
        chosen, root = self.s.label_sets.current, self.s.root
        if root is None or (chosen is None and not every_set):
            return
        names = [] if every_set or chosen is None else [chosen.name]
        self.s.run(
            Job(
                "export",
                lambda lib, p, c: export_labels(Labelling(lib), root, destination, names),
                lambda rows: self.s.message.emit(
                    f"Exported {plural(rows, 'image')} with labels to {destination}"
                ),
                label=EXPORTING,
            )
        )
