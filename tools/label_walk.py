"""Walk issue #11 in the real window under Xvfb, as a person sorting a half-sorted folder would, and
save a screenshot at every step. Look at the PNGs.

    .venv/bin/python -m tools.label_walk [--per-label 60] [--out /tmp/label-walk]

The folder is built in /tmp from ../shared/datasets (hard links): five labels from three sources,
a third of each label's images in a sub-folder named after it (the part someone sorted by hand),
the rest loose at the top. The window is driven through its own buttons; the questions the buttons
ask (a folder, a name, a confidence) are answered as a person would answer them. Steps: import the
sub-folder names, undo and redo the import, watch it train, label a selection from Browse by the
context menu, review with Enter and keys on a second set, move the loose images into folders by
label, undo the move (checked byte for byte), export every set. What happened is printed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QPainter, QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QMenu,
    QMessageBox,
    QTableView,
    QWidget,
)

from sorter_app.paths import AppPaths
from sorter_app.session.labels import LabelSets
from sorter_app.ui.main_window import MainWindow
from sorter_app.ui.settings import SettingsStore

from .window_screenshots import (
    DATASETS,
    lasso,
    save_grab,
    screen,
    settle_for,
    shown_plan,
    wait_for,
)

WALK = {  # label → (source, category) in the manifest
    "bathroom": ("places365_rooms", "bathroom"),
    "bedroom": ("places365_rooms", "bedroom"),
    "kitchen": ("house_rooms", "kitchen"),
    "forest": ("intel_outdoor_scenes", "forest"),
    "sea": ("intel_outdoor_scenes", "sea"),
}


def save_grab_pixmap(picture: QPixmap, path: Path) -> None:
    picture.save(str(path))
    print(f"saved {path}")


def build_walk_folder(datasets: Path, folder: Path, per_label: int) -> dict[str, str]:
    """A third of each label's images in a sub-folder named after it, the rest loose; returns the
    truth (file name → label) of the loose ones."""
    with (datasets / "manifest.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    truth: dict[str, str] = {}
    folder.mkdir(parents=True)
    for label, (source, category) in WALK.items():
        found = sorted(r["path"] for r in rows if r["source"] == source and r["category"] == category)
        picked = [found[i * len(found) // per_label] for i in range(per_label)]
        (folder / label).mkdir()
        for i, relpath in enumerate(picked):
            name = f"{label[:2]}{i:03d}-{Path(relpath).name[-12:]}"
            target = folder / label / name if i < per_label // 3 else folder / name
            try:
                os.link(datasets / relpath, target)
            except OSError:
                shutil.copyfile(datasets / relpath, target)
            if target.parent == folder:
                truth[name] = label
    return truth


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-label", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("/tmp/label-walk"))
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--offscreen", action="store_true", help="no Xvfb: Qt's offscreen platform")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sorter-label-walk-"))
    folder = work / "photos"
    truth = build_walk_folder(args.datasets, folder, args.per_label)
    try:
        with screen(offscreen=args.offscreen):
            return walk(folder, work, args.out, truth)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def walk(folder: Path, work: Path, out: Path, truth: dict[str, str]) -> int:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    window = MainWindow(AppPaths(work / "data"), settings=SettingsStore(work / "settings.ini"))
    window.resize(1360, 860)
    window.show()
    session, labels = window.session, window.labels
    sets = session.label_sets
    messages: list[str] = []
    session.message.connect(messages.append)
    session.failed.connect(lambda failure: messages.append(f"FAILED {failure}"))

    def wait(what: str, done: Callable[[], bool], timeout: float = 300.0) -> None:
        wait_for(app, what, done, timeout)

    def settle(seconds: float = 1.5) -> None:
        settle_for(app, seconds)

    def save(name: str, widget: QWidget | None = None) -> None:
        save_grab(widget or window, out / f"{name}.png")

    def save_with_menus(name: str, *menus: QMenu) -> None:
        """The window with its open menus drawn where they are: grab() leaves popups out, and
        xwd shows Qt's translucent menus black."""
        picture = window.grab()
        painter = QPainter(picture)
        for menu in menus:
            painter.drawPixmap(window.mapFromGlobal(menu.pos()), menu.grab())
        painter.end()
        save_grab_pixmap(picture, out / f"{name}.png")

    def trained() -> bool:
        return not sets.training and sets.trained is not None and not labels._retrain.isActive()

    def say(text: str) -> None:
        print(f"-- {text}")
        if messages:
            print("   messages: " + " | ".join(messages[-3:]))

    def answer(*texts: str, folder_answer: Path | None = None, number: int = 0) -> None:
        """What the next questions of a button are answered with, in order."""
        queue = list(texts)
        QInputDialog.getText = staticmethod(  # type: ignore[method-assign]
            lambda *a, **k: (queue.pop(0) if queue else "", bool(queue) or True)
        )
        QInputDialog.getInt = staticmethod(lambda *a, **k: (number, True))  # type: ignore[method-assign]
        QFileDialog.getExistingDirectory = staticmethod(  # type: ignore[method-assign]
            lambda *a, **k: str(folder_answer or folder)
        )

    before = digest(folder)
    window.open_folder(folder)
    wait("indexing", lambda: session.report is not None and not window.runner.is_running("load"))
    settle(2.0)
    window.tabs.setCurrentWidget(labels.page)
    settle()
    save("01-labels-empty")

    answer("subject", folder_answer=folder)  # import the sub-folder names
    labels.page.import_folders.click()
    wait("the import", lambda: sets.active == "subject")
    wait("training", trained)
    settle()
    say(f"imported: counts {sets.counts()}; undo says {window.window_actions.undo.text()!r}")
    save("02-labels-imported-and-trained")

    window.window_actions.undo.trigger()  # undo the import, then redo it
    settle(3.0)
    say(f"after undo: sets {[s.name for s in sets.sets]}, counts {sets.counts()}")
    save("03-labels-import-undone")
    window.window_actions.redo.trigger()
    settle(3.0)
    wait("training", trained)
    say(f"after redo: sets {[s.name for s in sets.sets]}, counts {sets.counts()}")

    loose = sorted(truth)
    accuracy = _accuracy(sets, truth)
    say(f"model: {sets.status_text()}; accuracy on the {len(loose)} loose images: {accuracy}")

    window.tabs.setCurrentWidget(window.browse)  # label a selection from Browse's context menu
    settle()
    grid, model = window.browse.grid, window.browse.model
    grid.selectionModel().clearSelection()
    picked = [n for n in loose if truth[n] == "sea"][:4]
    for name in picked:
        row = model.row_of(f"{folder}/{name}")
        if row is not None:
            grid.selectionModel().select(model.index(row), QItemSelectionModel.SelectionFlag.Select)
    menu = window.moves.menu_for(grid, [f"{folder}/{n}" for n in picked], browse=True)
    label_as = next(a.menu() for a in menu.actions() if a.text().startswith("Label As"))
    assert isinstance(label_as, QMenu)
    menu.popup(grid.mapToGlobal(QPoint(200, 200)))
    settle(0.5)
    label_as.popup(grid.mapToGlobal(QPoint(420, 220)))
    settle(0.8)
    save_with_menus("04-browse-label-as-menu", menu, label_as)
    save("04b-label-as-submenu", label_as)
    sea: QAction = next(a for a in label_as.actions() if a.text().endswith("sea"))
    label_as.close()
    menu.close()
    had = sets.counts().get("sea", 0)
    sea.trigger()
    wait("the labels", lambda: sets.counts().get("sea", 0) == had + len(picked))
    wait("training", trained)
    labels.page.in_browse.setChecked(True)
    window.browse.sort_box.setCurrentIndex(window.browse.sort_box.findData("prediction"))
    settle(2.0)
    save("05-browse-by-subject")
    box = window.browse.filter_box
    say(f"Browse filter choices: {[box.itemText(i) for i in range(box.count())]}")

    window.tabs.setCurrentWidget(window.map)  # a loop on the map, then Ctrl+L
    wait("the map", lambda: window.map.map.has_points(), 120)
    settle()
    lasso(window.map.map, 0.05, 0.05, 0.5, 0.5)
    settle()
    looped = window.map.selected_relpaths()
    ctrl_l = labels.selection_label_menu()
    offered = [a.text() for a in ctrl_l.actions()] if ctrl_l else None
    say(f"map loop: {len(looped)} images; Ctrl+L menu: {offered}")
    if ctrl_l is not None:
        ctrl_l.popup(window.map.mapToGlobal(QPoint(300, 300)))
        settle(0.8)
        save_with_menus("05b-map-loop-ctrl-l", ctrl_l)
        ctrl_l.close()
    save("05c-map-loop")

    answer("indoor or out", "indoor, outdoor")  # a second set, to review
    labels.page.new_set.click()
    wait("the second set", lambda: sets.active == "indoor or out")
    wait("labels", lambda: sets.current is not None and len(sets.current.labels) == 2)
    firsts = {lab: [n for n in loose if truth[n] == lab][:2] for lab in WALK}
    for lab, names in firsts.items():
        session.image_labels.label(names, "outdoor" if lab in ("forest", "sea") else "indoor")
    wait("training", trained, 120)
    window.tabs.setCurrentWidget(labels.review)
    wait("the review image", lambda: labels.review.shown is not None)
    settle(2.0)
    save("06-review-second-set")
    head_path = sets.review[0].path if sets.review else None
    say(f"review of {sets.active!r}: {len(sets.review)} queued; head {head_path}")
    right = 0
    for _ in range(12):  # answer by key as fast as a person: i / o by the truth
        head = sets.review[0] if sets.review else None
        if head is None:
            break
        lab = truth.get(Path(head.path).name) or Path(head.path).parent.name
        wanted = "outdoor" if lab in ("forest", "sea") else "indoor"
        right += head.guess == wanted
        QTest.keyClick(labels.review, Qt.Key.Key_O if wanted == "outdoor" else Qt.Key.Key_I)
        print(f"   review: {head.path} guessed {head.guess} {head.confidence:.0%}, answered {wanted}")
        settle(0.3)
    wait("training", trained, 120)
    settle()
    save("07-review-after-12")
    say(f"after 12 reviews: the guess was right {right}/12; counts {sets.counts()}; {sets.status_text()}")

    box = labels.review.set_box  # back to subject, from the Review tab's own picker
    box.setCurrentIndex(box.findData("subject"))
    wait("the review of subject", lambda: labels.review.shown is not None and trained(), 120)
    settle(2.0)
    save("07b-review-subject")
    wait("training", trained, 120)
    answer(number=60, folder_answer=folder)  # move into folders by label, 60 % sure or more
    window.tabs.setCurrentWidget(labels.page)
    labels.page.move_by_label.click()
    dialog = shown_plan(window, "the preview", wait, settle)
    save("08-move-by-label-preview", dialog)
    table = dialog.findChild(QTableView)
    if table is not None:  # the images that stay, at the end of the table
        table.scrollToBottom()
        settle(0.5)
        save("08b-move-by-label-preview-end", dialog)
    dialog.accept()
    wait("the move", lambda: window.window_actions.undo.text().startswith("&Undo Move"), 120)
    settle(3.0)
    moved = digest(folder)
    wrong = [
        p for p in moved if "/" in p and Path(p).name in truth and truth[Path(p).name] != p.split("/")[0]
    ]
    still = [p for p in moved if "/" not in p]
    say(f"moved: {len(still)} files left at the top; {len(wrong)} moved loose ones in a wrong folder")
    save("09-after-move")
    window.window_actions.undo.trigger()
    wait("the undo", lambda: digest(folder) == before or not window.runner.is_running("undo"), 120)
    settle(3.0)
    say(f"undo of the move byte-exact: {digest(folder) == before}")

    exported = work / "labels.csv"
    QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (str(exported), "CSV (*.csv)"))  # type: ignore[method-assign]
    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)  # type: ignore[method-assign]
    menu_of_export = labels.page.export.menu()
    menu_of_export.popup(labels.page.export.mapToGlobal(QPoint(0, labels.page.export.height())))
    settle(0.5)
    save("10a-export-menu", menu_of_export)
    menu_of_export.close()
    labels.page.export_all.trigger()
    wait("the export", lambda: exported.is_file(), 60)
    settle(1.0)
    with exported.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    say(f"export columns: {header}")
    window.tabs.setCurrentWidget(labels.page)
    settle()
    save("10-labels-final")
    print("messages:\n  " + "\n  ".join(messages))
    QTimer.singleShot(0, window.close)
    settle(1.0)
    return 0


def _accuracy(sets: LabelSets, truth: dict[str, str]) -> str:
    """How the model's best guesses for the loose images compare with the truth."""
    trained = sets.trained
    if trained is None:
        return "no answers"
    by_name = {Path(a.path).name: a for a in trained.answers.values()}
    guessed = [by_name[n] for n in truth if n in by_name and not by_name[n].labelled]
    right = sum(a.guess == truth[Path(a.path).name] for a in guessed)
    unknown = sum(a.label == "unknown" for a in guessed)
    return f"{right}/{len(guessed)} best guesses right, {unknown} unknown"


if __name__ == "__main__":
    sys.exit(main())
