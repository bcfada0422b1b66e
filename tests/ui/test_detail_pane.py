"""The detail pane for real, offscreen: a real photo decoded in the thread pool, real predictions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPoint, QSize, QThreadPool, Signal
from PySide6.QtGui import QContextMenuEvent, QImage, QPixmap
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from sorter_app.core.label_source import LabelAnswer, answers_of
from sorter_app.core.model_spec import load_spec
from sorter_app.core.predictions import HeadSpec, Prediction, prediction_heads, resolve
from sorter_app.paths import bundled_model_sidecar
from sorter_app.session.session import ImageFacts
from sorter_app.session.wording import format_size
from sorter_app.ui.detail_pane import DetailPane
from sorter_app.ui.map_view import ThumbnailSource
from tests import builders

LOADED = 30_000  # ms to wait for a decode in the thread pool on a busy 2-core machine


class SmallThumbnails(QObject):
    """A thumbnail cache that already holds a 64-px thumbnail of every image."""

    ready = Signal(str)

    def pixmap(self, path: str) -> QPixmap | None:
        return QPixmap.fromImage(QImage(path).scaledToWidth(64))


@pytest.fixture
def pane(qtbot: QtBot) -> Iterator[DetailPane]:
    widget = DetailPane()
    qtbot.addWidget(widget)
    widget.resize(500, 700)
    widget.show()
    yield widget
    QThreadPool.globalInstance().waitForDone()  # no load may outlive the pane it reports to


@pytest.fixture(scope="module")
def heads() -> dict[str, HeadSpec]:
    return prediction_heads(load_spec(bundled_model_sidecar()))


def _prediction(
    heads: Mapping[str, HeadSpec], path: Path, confident: Mapping[str, tuple[str, float]], **corrections: str
) -> list[LabelAnswer]:
    """Resolves made-up model outputs: each head puts `confidence` on its label, the rest spread evenly;
    a head not named (the bundled model's kind) is 99 % sure of its first label (photo)."""
    probabilities = {}
    for name, head in heads.items():
        labels = list(head["labels"])
        label, confidence = confident.get(name, (labels[0], 0.99))
        p = np.full(len(labels), (1 - confidence) / (len(labels) - 1), np.float32)
        p[labels.index(label)] = confidence
        probabilities[name] = p
    return answers_of(Prediction(str(path), resolve(probabilities, heads, corrections)))


def _wait_for_decode(qtbot: QtBot, pane: DetailPane, size: QSize) -> None:
    def decoded() -> bool:
        image = pane.image_view.image()
        return image is not None and image.size() == size

    qtbot.waitUntil(decoded, timeout=LOADED)


def test_predictions_one_line_per_head(
    pane: DetailPane, heads: dict[str, HeadSpec], tmp_path: Path, qtbot: QtBot
) -> None:
    photo = builders.write_jpeg(tmp_path / "kitchen.jpg", seed=1)
    kind = "Kind: photo · 99 %\n" if "kind" in heads else ""  # the bundled model says what an image is first
    home = "Setting: home · 99 %\n" if "setting" in heads else ""  # and, indoors, whether it is a home
    indoor_kitchen = _prediction(heads, photo, {"scene": ("indoor", 0.97), "room": ("kitchen", 0.81)})
    pane.show_image(photo, None, indoor_kitchen)
    assert pane.predictions.text() == kind + "Scene: indoor · 97 %\n" + home + "Room: kitchen · 81 %"
    assert pane.predictions.isVisibleTo(pane)

    not_sure = _prediction(heads, photo, {"scene": ("indoor", 0.9), "room": ("kitchen", 0.3)})
    pane.show_image(photo, None, not_sure)
    assert pane.predictions.text() == kind + "Scene: indoor · 90 %\n" + home + "Room: unknown (not confident)"

    outdoor = _prediction(heads, photo, {"scene": ("outdoor", 0.88), "room": ("kitchen", 0.9)})
    pane.show_image(photo, None, outdoor)
    assert pane.predictions.text() == kind + "Scene: outdoor · 88 %"  # no room outdoors

    corrected = _prediction(
        heads, photo, {"scene": ("indoor", 0.9), "room": ("bedroom", 0.7)}, room="kitchen"
    )
    pane.show_image(photo, None, corrected)
    # A room stands on what it implies (a photo, indoors, of a home): those are the user's word too.
    implied = [*(["Kind: photo"] if kind else []), "Scene: indoor", *(["Setting: home"] if home else [])]
    lines = [f"{line} · corrected by you" for line in [*implied, "Room: kitchen"]]
    assert pane.predictions.text() == "\n".join(lines)

    pane.show_image(photo, None, [])
    assert not pane.predictions.isVisibleTo(pane)
    _wait_for_decode(qtbot, pane, QSize(320, 240))


def test_file_info_from_the_catalog_and_from_the_decode(
    pane: DetailPane, tmp_path: Path, qtbot: QtBot
) -> None:
    photo = builders.write_jpeg(tmp_path / "trip" / "beach.jpg", seed=2, size=(640, 480))
    st = photo.stat()
    pane.show_image(photo, ImageFacts(st.st_size, st.st_mtime_ns, 640, 480, "JPEG"), [])
    info = {field: label.toolTip() for field, label in pane.info.items() if label.toolTip()}
    assert info == {
        "Name": "beach.jpg",
        "Folder": str(tmp_path / "trip"),
        "Size": f"{st.st_size / 1000:.0f} KB",
        "Dimensions": "640 × 480",
        "Modified": time.strftime("%Y-%m-%d %H:%M", time.localtime(st.st_mtime)),
        "Format": "JPEG",
    }
    _wait_for_decode(qtbot, pane, QSize(640, 480))

    other = builders.write_jpeg(tmp_path / "trip" / "dunes.jpg", seed=3, size=(640, 480))
    st = other.stat()
    pane.show_image(other, ImageFacts(st.st_size, st.st_mtime_ns, None, None, None), [])
    assert pane.info["Dimensions"].toolTip() == "" and not pane.info["Dimensions"].isVisibleTo(pane)
    qtbot.waitUntil(lambda: pane.info["Dimensions"].toolTip() == "640 × 480", timeout=LOADED)
    assert pane.info["Format"].toolTip() == "JPEG" and pane.info["Format"].isVisibleTo(pane)


def test_the_camera_exif_is_shown_once_decoded_and_kept_when_the_labels_change(
    pane: DetailPane, tmp_path: Path, qtbot: QtBot
) -> None:
    photo = builders.write_camera_jpeg(tmp_path / "IMG_0001.jpg")
    pane.show_image(photo, None, [])
    camera = {"Taken": "2019-07-14 18:03", "Camera": "Canon EOS 80D"}
    camera |= {"Lens": "EF-S18-135mm f/3.5-5.6 IS USM", "Exposure": "f/2.8 · 1/125 s · ISO 200 · 35 mm"}
    qtbot.waitUntil(lambda: pane.info["Camera"].toolTip() == "Canon EOS 80D", timeout=LOADED)
    assert {field: pane.info[field].toolTip() for field in camera} == camera
    assert all(pane.info[field].isVisibleTo(pane) for field in camera)
    pane.show_image(photo, None, [])  # again, as after a correction: nothing is decoded again
    assert {field: pane.info[field].toolTip() for field in camera} == camera

    plain = builders.write_jpeg(tmp_path / "scan.jpg", seed=2)  # no EXIF: the camera rows go
    pane.show_image(plain, None, [])
    assert not any(pane.info[field].isVisibleTo(pane) for field in camera)
    _wait_for_decode(qtbot, pane, QSize(320, 240))
    assert not any(pane.info[field].isVisibleTo(pane) for field in camera)


def test_the_thumbnail_shows_at_once_then_the_sharper_image(
    pane: DetailPane, tmp_path: Path, qtbot: QtBot
) -> None:
    photo = builders.write_jpeg(tmp_path / "big.jpg", seed=3, size=(640, 480))
    thumbnails: ThumbnailSource = SmallThumbnails()
    pane.set_thumbnails(thumbnails)
    pane.show_image(photo, None, [])
    shown = pane.image_view.image()
    assert shown is not None and shown.size() == QSize(64, 48)
    _wait_for_decode(qtbot, pane, QSize(640, 480))


def test_a_result_for_an_image_no_longer_shown_is_dropped(pane: DetailPane, tmp_path: Path) -> None:
    photo = builders.write_jpeg(tmp_path / "old.jpg", seed=4)
    pane.show_image(photo, None, [])
    QThreadPool.globalInstance().waitForDone()  # decoded; its result waits in the event queue
    pane.clear()
    QApplication.processEvents()  # delivers the result, too late
    assert pane.image_view.image() is None
    assert pane.image_view.message() == "Select an image to see it here"
    assert pane.info["Name"].toolTip() == ""


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (builders.write_truncated_jpeg, "truncated or corrupt image"),
        (builders.write_zero_bytes, "empty file (0 bytes)"),
        (lambda path: None, "cannot read: No such file or directory"),  # deleted meanwhile
    ],
)
def test_an_image_that_cannot_be_decoded_says_why(
    pane: DetailPane, tmp_path: Path, qtbot: QtBot, build: Callable[[Path], object], reason: str
) -> None:
    bad = tmp_path / "bad.jpg"
    build(bad)
    pane.show_image(bad, None, [])
    qtbot.waitUntil(lambda: pane.image_view.message().startswith("Cannot show"), timeout=LOADED)
    assert pane.image_view.message().startswith(f"Cannot show this image: {reason}")
    assert pane.image_view.image() is None


def test_correcting_from_the_button_menu(
    pane: DetailPane, heads: dict[str, HeadSpec], tmp_path: Path, qtbot: QtBot
) -> None:
    photo = builders.write_jpeg(tmp_path / "room.jpg", seed=5)
    pane.set_labels(["indoor", "outdoor", "kitchen", "living_room"])
    assert not pane.correct_button.isEnabled()  # nothing shown yet
    pane.show_image(
        photo, None, _prediction(heads, photo, {"scene": ("indoor", 0.9), "room": ("kitchen", 0.9)})
    )
    assert pane.correct_button.isEnabled() and pane.correct_button.menu() is pane.correction_menu
    actions = {action.text(): action for action in pane.correction_menu.actions() if action.text()}
    assert list(actions) == ["indoor", "outdoor", "kitchen", "living room", "Clear correction"]
    assert not actions["Clear correction"].isEnabled()

    with qtbot.waitSignal(pane.correction_requested) as requested:
        actions["living room"].trigger()
    assert requested.args == [str(photo), "living_room"]

    corrected = _prediction(
        heads, photo, {"scene": ("indoor", 0.9), "room": ("kitchen", 0.9)}, room="living_room"
    )
    pane.show_image(photo, None, corrected)
    assert actions["Clear correction"].isEnabled()
    with qtbot.waitSignal(pane.correction_cleared) as cleared:
        actions["Clear correction"].trigger()
    assert cleared.args == [str(photo)]
    _wait_for_decode(qtbot, pane, QSize(320, 240))


def _right_click(widget: QWidget) -> None:
    """The context-menu request a right click makes (offscreen, QTest's clicks make none)."""
    pos = QPoint(50, 50)
    QApplication.sendEvent(
        widget, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    )


# A popup menu asks the platform for things the offscreen plugin cannot do; no fault of ours.
@pytest.mark.qt_log_ignore("This plugin does not support (raise|grabbing the keyboard)")
def test_right_click_opens_the_same_menu(pane: DetailPane, tmp_path: Path, qtbot: QtBot) -> None:
    photo = builders.write_jpeg(tmp_path / "room.jpg", seed=6)
    pane.set_labels(["kitchen"])
    with qtbot.waitSignal(pane.customContextMenuRequested):
        _right_click(pane.image_view)
    assert not pane.correction_menu.isVisible()  # nothing to correct yet
    pane.show_image(photo, None, [])
    _right_click(pane.image_view)
    qtbot.waitUntil(pane.correction_menu.isVisible)
    pane.correction_menu.close()
    _wait_for_decode(qtbot, pane, QSize(320, 240))


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1_000, "1.0 KB"),
        (123_456, "123 KB"),
        (999_600, "1.0 MB"),
        (2_500_000, "2.5 MB"),
        (3_200_000_000, "3.2 GB"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text
