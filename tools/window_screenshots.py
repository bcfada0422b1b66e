"""Start the real window under Xvfb on real photos and save a screenshot of every view.

    .venv/bin/python -m tools.window_screenshots [--images 600] [--out /tmp/image-sorter-screens]

The folder is built in /tmp from ../shared/datasets (hard links: nothing is copied into the
repository), with one re-encoded copy so Duplicates has something to show and one truncated JPEG
so the skipped-files list does. The window is driven the way a user would: open the folder, wait
for indexing, pick an image, ask for similar images, open each tab, tick clusters and preview a
move (cancelled: nothing moves), open the skipped files and the settings. Look at the PNGs.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from benchmarks.dataset_folder import build_dataset_folder
from sorter_app.paths import AppPaths
from sorter_app.ui.groups_page import GroupsPage
from sorter_app.ui.main_window import MainWindow
from sorter_app.ui.map_view import MapView
from sorter_app.ui.settings import SettingsStore

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


def add_problem_files(folder: Path) -> None:
    """One re-encoded copy (a near duplicate) and one truncated JPEG (a skipped file)."""
    first = sorted(folder.rglob("*.jpg"))[0]
    with Image.open(first) as img:
        img.convert("RGB").save(folder / f"{first.stem} (copy).jpg", "JPEG", quality=70)
    data = first.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])


def analysed(page: GroupsPage) -> bool:
    return bool(page.grouping.groups) or page.status.text().startswith("No ")


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
    add_problem_files(folder)
    server = None
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    else:
        server = start_xvfb()
    try:
        return shoot(folder, work, args.out)
    finally:
        if server is not None:
            server.terminate()
        shutil.rmtree(work, ignore_errors=True)


def shoot(folder: Path, work: Path, out: Path) -> int:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    window = MainWindow(AppPaths(work / "data"), settings=SettingsStore(work / "settings.ini"))
    window.resize(1360, 860)
    window.show()

    def wait(what: str, done: Callable[[], bool], timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.01)

    def settle(seconds: float = 1.5) -> None:
        """Let thumbnails fill in and layouts finish before the picture is taken."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def save(name: str, widget: QWidget | None = None) -> None:
        path = out / f"{name}.png"
        (widget or window).grab().save(str(path))
        print(f"saved {path}")

    window.open_folder(folder)
    wait("indexing", lambda: window.last_report is not None)
    wait("predictions", lambda: window.browse.model.rowCount() > 0 and bool(window.browse.items()))
    window.browse.grid.setFocus()
    window.browse.grid.select_path(window.browse.model.item(3).path)
    settle(3.0)
    save("1-browse")

    window.browse.sort_box.setCurrentIndex(window.browse.sort_box.findData("prediction"))
    window.browse.filter_box.setCurrentIndex(window.browse.filter_box.findData("kitchen"))
    settle()
    save("2-browse-filtered-kitchen")
    window.browse.filter_box.setCurrentIndex(0)

    query = window.browse.model.item(0).path
    window.show_similar(query)
    wait("similar images", lambda: window.similar.results.rowCount() > 0)
    settle()
    save("3-similar")

    for tab, name in (("duplicates", "4-duplicates"), ("clusters", "5-clusters"), ("outliers", "6-outliers")):
        page = window.pages[tab]
        window.tabs.setCurrentWidget(page)
        wait(tab, partial(analysed, page))
        settle()
        save(name)

    seeds = [item.path for item in window.browse.model.items()[:2]]
    window.add_seeds(seeds)
    wait("seed groups", lambda: bool(window.pages["seeds"].grouping.groups))
    settle()
    save("7-seed-groups")

    window.tabs.setCurrentWidget(window.map)
    wait("the map", lambda: window.map.map.has_points())
    settle()
    lasso(window.map.map, 0.3, 0.3, 0.6, 0.6)
    settle()
    hover_first_point(window.map.map)
    settle()
    save("8-map")

    clusters = window.pages["clusters"]
    window.tabs.setCurrentWidget(clusters)
    for row in range(min(2, clusters.groups.rowCount())):
        clusters.groups.setData(
            clusters.groups.index(row), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole
        )
    window.choose_destination = lambda mode: folder  # type: ignore[method-assign]
    clusters.action_buttons["move"].click()
    wait("the move preview", lambda: window.plan_dialog is not None and window.plan_dialog.isVisible())
    settle()
    save("9-move-preview", window.plan_dialog)
    assert window.plan_dialog is not None
    window.plan_dialog.reject()

    window.show_skipped()
    settle()
    dialogs = [w for w in app.topLevelWidgets() if w.isVisible() and w is not window]
    for i, dialog in enumerate(dialogs):
        save(f"10-skipped-files{'-' + str(i) if i else ''}", dialog)
        dialog.close()
    window.edit_settings()
    settle()
    for dialog in [w for w in app.topLevelWidgets() if w.isVisible() and w is not window]:
        save("11-settings", dialog)
        dialog.close()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
