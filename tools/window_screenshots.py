"""Start the real window under Xvfb on real photos and save a screenshot of every view.

    .venv/bin/python -m tools.window_screenshots [--images 600] [--out /tmp/image-sorter-screens]

The folder is built in /tmp from ../shared/datasets (hard links: nothing is copied into the
repository), with a re-encoded copy, a PNG re-encode and a byte copy in Backup/ so Duplicates has
something to decide, and one truncated JPEG so the skipped-files list does. Xvfb runs with openbox
as the window manager, so windows and dialogs get real frames. The window is driven the way a user
would: the welcome page, open the folder, wait for indexing, pick an image, view it full size, ask
for similar images, open each tab, compare duplicates and preview sending the extra copies to the
trash, tick clusters and preview a move (both cancelled: nothing moves), the skipped files, the
settings and the keyboard shortcuts. Look at the PNGs.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from benchmarks.dataset_folder import build_dataset_folder, pick_images
from sorter_app.core.kinds import AnalysisKind, MoveMode
from sorter_app.paths import AppPaths
from sorter_app.ui.main_window import MainWindow
from sorter_app.ui.map_view import MapView
from sorter_app.ui.plan_dialog import PlanPreviewDialog
from sorter_app.ui.settings import SettingsStore

DEMO_ROOMS = ("bathroom", "bedroom", "kitchen")
DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def start_xvfb(size: str = "1400x900x24") -> subprocess.Popen[bytes]:
    """A private X server; -displayfd makes it pick a free display number and tell us which."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = pipe.readline().strip()
    if not display:
        server.kill()
        raise SystemExit("Xvfb did not start (is it installed? apt-get install xvfb)")
    os.environ["DISPLAY"] = f":{display}"
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return server


def start_window_manager() -> subprocess.Popen[bytes] | None:
    """openbox, so that windows and dialogs have frames and focus as on a desktop."""
    if shutil.which("openbox") is None:
        print("openbox not found: screenshots without a window manager")
        return None
    manager = subprocess.Popen(["openbox"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return manager


@contextmanager
def screen(*, offscreen: bool) -> Iterator[None]:
    """Xvfb with openbox for the script's window (Qt's offscreen platform when asked), stopped after."""
    server = manager = None
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    else:
        server = start_xvfb()
        manager = start_window_manager()
    try:
        yield
    finally:
        for process in (manager, server):
            if process is not None:
                process.terminate()


def wait_for(app: QApplication, what: str, done: Callable[[], bool], timeout: float) -> None:
    """Run the event loop until `done()`, or stop the script after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def settle_for(app: QApplication, seconds: float) -> None:
    """Let thumbnails fill in and layouts finish before the picture is taken."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def save_grab(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"saved {path}")


def shown_plan(
    window: MainWindow, what: str, wait: Callable[..., None], settle: Callable[..., None]
) -> PlanPreviewDialog:
    """The move preview the last action asked for, once it is up and painted."""
    wait(what, lambda: window.moves.plan_dialog is not None and window.moves.plan_dialog.isVisible())
    settle()
    assert window.moves.plan_dialog is not None
    return window.moves.plan_dialog


def add_problem_files(folder: Path) -> None:
    """Copies to decide on (a re-encode, a PNG, a byte copy in Backup/) and a truncated JPEG."""
    first = sorted(folder.rglob("*.jpg"))[0]
    with Image.open(first) as img:
        img.convert("RGB").save(folder / f"{first.stem} (copy).jpg", "JPEG", quality=70)
        img.convert("RGB").save(folder / f"{first.stem}.png", "PNG")
    (folder / "Backup").mkdir(exist_ok=True)
    shutil.copyfile(first, folder / "Backup" / f"copy_of_{first.name}")
    data = first.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])


CAMERA_PHOTO = "IMG_0001.jpg"


def add_camera_photo(folder: Path) -> None:
    """One photo as a camera saves it, with the EXIF the detail pane shows (the datasets have none);
    it replaces the photo it is made from, so it is not a duplicate."""
    second = sorted(folder.rglob("*.jpg"))[1]
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "FUJIFILM", "X-T3"
    details = exif.get_ifd(0x8769)
    details[0x9003], details[0xA434] = "2023:05:20 17:42:09", "XF18-55mmF2.8-4 R LM OIS"
    details[0x829A], details[0x829D] = IFDRational(1, 250), IFDRational(40, 10)
    details[0x8827], details[0x920A] = 400, IFDRational(23, 1)
    with Image.open(second) as img:
        img.convert("RGB").save(folder / CAMERA_PHOTO, "JPEG", quality=92, exif=exif.tobytes())
    second.unlink()


def lasso(view: MapView, left: float, top: float, right: float, bottom: float) -> None:
    """Drag a loop around a rectangle given as fractions of the map widget, as a user would."""
    w, h = view.width(), view.height()
    corners = [(left, top), (right, top), (right, bottom), (left, bottom), (left, top)]
    loop = [QPoint(int(x * w), int(y * h)) for x, y in corners]
    QTest.mousePress(view, Qt.MouseButton.LeftButton, pos=loop[0])
    for a, b in itertools.pairwise(loop):
        for t in range(1, 9):
            QTest.mouseMove(view, a + (b - a) * (t / 8))
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, pos=loop[-1])


def hover_first_point(view: MapView) -> None:
    """Move the mouse along the diagonal until the map reports an image under it."""
    hovered: list[str] = []
    view.hovered.connect(hovered.append)
    for i in range(200):
        if hovered:
            return
        QTest.mouseMove(view, QPoint(view.width() * (i + 20) // 240, view.height() * (i + 20) // 240))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--out", type=Path, default=Path("/tmp/image-sorter-screens"))
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--offscreen", action="store_true", help="no Xvfb: Qt's offscreen platform")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="sorter-screens-"))
    folder = build_dataset_folder(args.datasets, work / "photos", args.images)
    add_camera_photo(folder)  # first: it must not be made from the photo the copies are made of
    add_problem_files(folder)
    # (the photo the camera one replaced is gone: an example of it would never be labelled)
    examples = {
        p: label for p, label in label_examples(args.datasets, args.images).items() if (folder / p).exists()
    }
    try:
        with screen(offscreen=args.offscreen):
            return shoot(folder, work, args.out, examples)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def label_examples(datasets: Path, n: int, per_label: int = 6) -> dict[str, str]:
    """A few images of the built folder per label of a demo set, from the manifest's answers: what a
    person would label by hand before letting the model sort the rest."""
    with (datasets / "manifest.csv").open(newline="", encoding="utf-8") as f:
        truth = {row["path"]: row for row in csv.DictReader(f)}
    found: dict[str, str] = {}
    taken: dict[str, int] = {}
    for i, (relpath, _source) in enumerate(pick_images(datasets, n)):
        row = truth[relpath]
        if row["kind"] != "photo":
            label = "graphic"
        elif row["room"] in DEMO_ROOMS:
            label = row["room"]
        elif row["scene"] == "outdoor":
            label = "outdoor"
        else:
            continue
        if taken.get(label, 0) < per_label:
            taken[label] = taken.get(label, 0) + 1
            found[f"{i:05d}-{Path(relpath).name}"] = label
    return found


def shoot(folder: Path, work: Path, out: Path, examples: dict[str, str] | None = None) -> int:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    store = SettingsStore(work / "settings.ini")
    store.save(store.load().with_recent(str(folder)).with_recent("/media/usb/holiday 2019"))
    window = MainWindow(AppPaths(work / "data"), settings=store)
    window.resize(1360, 860)
    window.show()
    session = window.session

    def wait(what: str, done: Callable[[], bool], timeout: float = 600.0) -> None:
        wait_for(app, what, done, timeout)

    def settle(seconds: float = 1.5) -> None:
        settle_for(app, seconds)

    def save(name: str, widget: QWidget | None = None) -> None:
        save_grab(widget or window, out / f"{name}.png")

    def dialogs() -> list[QWidget]:
        return [w for w in app.topLevelWidgets() if w.isVisible() and w is not window]

    def analysed(kind: AnalysisKind) -> bool:
        return session.analyses.states[kind].status in ("done", "failed", "cancelled")

    settle(1.0)
    save("00-welcome")
    window.open_folder(folder)
    wait("indexing", lambda: session.report is not None and not window.runner.is_running("load"))
    wait("clusters", lambda: analysed(AnalysisKind.CLUSTERS))
    window.browse.grid.setFocus()
    camera_photo = str(folder.resolve() / CAMERA_PHOTO)
    window.browse.grid.select_path(camera_photo)
    QTest.keyClick(window.browse.grid, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)  # 4 stars
    wait("rating", lambda: session.items[CAMERA_PHOTO].rating == 4)
    settle(3.0)
    save("01-browse")

    window.browse.sort_box.setCurrentIndex(window.browse.sort_box.findData("cluster"))
    settle()
    save("02-browse-sorted-by-cluster")
    window.browse.sort_box.setCurrentIndex(window.browse.sort_box.findData("prediction"))
    window.browse.filter_box.setCurrentIndex(window.browse.filter_box.findData("kitchen"))
    settle()
    save("03-browse-filtered-kitchen")
    window.browse.filter_box.setCurrentIndex(0)
    window.browse.sort_box.setCurrentIndex(0)
    settle()

    shown = [i.path for i in window.browse.model.items() if not i.header]
    window.view_images(shown, shown[5])
    wait("the viewer's image", lambda: window.viewer.image.image() is not None)
    settle(2.0)
    save("04-viewer")
    window.viewer.image.set_zoom(1.0)
    settle()
    save("05-viewer-100")
    window.close_viewer()

    query = shown[0]
    window.show_similar(query)
    wait("similar images", lambda: window.similar.results.rowCount() > 0)
    rated = window.similar.results.items()[0].path
    window.similar.grid.select_path(rated)
    window.similar.grid.setFocus()
    QTest.keyClick(window.similar.grid, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)  # 3 stars
    wait("rating in Similar", lambda: session.rating_of(session.relpath(rated)) == 3)
    settle()
    save("06-similar")

    duplicates = window.analyses.duplicates
    window.tabs.setCurrentWidget(duplicates)
    wait("duplicates", lambda: analysed(AnalysisKind.DUPLICATES))
    rows = duplicates.groups.grouping.groups
    best = max(range(len(rows)), key=lambda r: len(rows[r].paths)) if rows else 0
    if rows:
        duplicates.select_row(best)
    settle(3.0)
    save("07-duplicates-compare")
    if rows:
        duplicates.compare.views[0].set_zoom(1.0)
        settle(1.5)
        save("08-duplicates-compare-100")
        duplicates.groups.tick_all(True)
        duplicates.action_buttons[MoveMode.TRASH].click()
        preview = shown_plan(window, "the trash preview", wait, settle)
        save("09-trash-preview", preview)
        preview.reject()
        duplicates.groups.tick_all(False)

    for kind, name in ((AnalysisKind.CLUSTERS, "10-clusters"), (AnalysisKind.OUTLIERS, "11-outliers")):
        window.tabs.setCurrentWidget(window.pages[kind])
        wait(kind.value, lambda k=kind: analysed(k))  # type: ignore[misc]
        settle()
        save(name)

    window.add_seeds([shown[0], shown[len(shown) // 2]])
    wait("seed groups", lambda: bool(session.groups.grouping(AnalysisKind.SEED_GROUPS).groups))
    settle()
    save("12-seed-groups")

    window.tabs.setCurrentWidget(window.map)
    wait("the map", lambda: window.map.map.has_points())
    settle()
    lasso(window.map.map, 0.3, 0.3, 0.6, 0.6)
    settle()
    hover_first_point(window.map.map)
    settle()
    save("13-map")

    clusters = window.pages[AnalysisKind.CLUSTERS]
    window.tabs.setCurrentWidget(clusters)
    for row in range(min(2, clusters.groups.rowCount())):
        clusters.groups.setData(
            clusters.groups.index(row), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole
        )
    window.moves.choose_destination = lambda mode: folder  # type: ignore[method-assign]
    clusters.action_buttons[MoveMode.MOVE].click()
    preview = shown_plan(window, "the move preview", wait, settle)
    save("14-move-preview", preview)
    preview.reject()

    if examples:
        shoot_labels(window, folder, examples, wait, settle, save)

    window.show_skipped()
    settle()
    for i, dialog in enumerate(dialogs()):
        save(f"15-skipped-files{'-' + str(i) if i else ''}", dialog)
        dialog.close()
    window.edit_settings()
    settle()
    for dialog in dialogs():
        save("16-settings", dialog)
        dialog.close()
    window.window_actions.shortcuts.trigger()
    settle()
    for dialog in dialogs():
        save("17-keyboard-shortcuts", dialog)
        dialog.close()
    window.close()
    return 0


def shoot_labels(
    window: MainWindow,
    folder: Path,
    examples: dict[str, str],
    wait: Callable[..., None],
    settle: Callable[..., None],
    save: Callable[..., None],
) -> None:
    """A label set of the user's own, a few images labelled per label, the model trained in the
    background: the Labels tab, the review queue, and the move-by-label preview (cancelled)."""
    sets = window.session.label_sets
    labels = sorted(set(examples.values()))
    sets.create_set("subject", labels)
    wait("the label set", lambda: sets.active == "subject")
    for label in labels:
        window.session.image_labels.label([p for p, chosen in examples.items() if chosen == label], label)
    wait("labels", lambda: sum(sets.counts().values()) == len(examples))
    wait(
        "training", lambda: sets.trained is not None and sets.trained.model is not None and not sets.training
    )
    window.tabs.setCurrentWidget(window.labels.page)
    window.labels.page.table.selectRow(0)
    settle()
    save("18-labels")
    window.tabs.setCurrentWidget(window.labels.review)
    wait("the review image", lambda: window.labels.review.image.image() is not None)
    settle(2.0)
    save("19-review")
    window.session.label_files.propose_move(MoveMode.MOVE, folder, 0.6)
    preview = shown_plan(window, "the move-by-label preview", wait, settle)
    save("20-move-by-label-preview", preview)
    preview.reject()
    window.labels.page.in_browse.setChecked(True)
    window.tabs.setCurrentWidget(window.browse)
    window.browse.sort_box.setCurrentIndex(window.browse.sort_box.findData("prediction"))
    settle(2.0)
    save("21-browse-by-label-set")
    window.browse.sort_box.setCurrentIndex(0)


if __name__ == "__main__":
    sys.exit(main())
