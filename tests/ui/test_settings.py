"""Settings through a real ini file in tmp_path, and the real dialog offscreen."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog, QLabel
from pytestqt.qtbot import QtBot

from sorter_app.core.duplicates import NEAR_DUPLICATE_THRESHOLD
from sorter_app.core.model_spec import load_spec
from sorter_app.core.seed_groups import SEED_THRESHOLD
from sorter_app.paths import AppPaths, bundled_model_sidecar
from sorter_app.ui.settings import (
    MAX_PATH_FIELD_WIDTH,
    MAX_RECENT_FOLDERS,
    Settings,
    SettingsDialog,
    SettingsStore,
)
from tests.git_models import linear_heads_model

UNUSUAL = Settings(
    data_dir='/tmp/a, b/Ünïcødé [x]/@at;semi=eq"quote\\back ',
    model_sidecar="/models/#hash/model.json",
    near_duplicate_threshold=0.1 + 0.83,  # not a "round" float: repr must carry every digit
    seed_threshold=1 / 3,
    cluster_granularity="fine",
    thumbnail_size=384,
    recent_folders=("/photos/x,y", "@start", "a=b;c", "true", "/gone/since/last/run"),
)


def write_ini(path: Path, general: dict[str, str], recent: list[str] | None = None) -> Path:
    lines = ["[General]", *(f"{key}={value}" for key, value in general.items())]
    if recent is not None:
        lines += [
            "[recent_folders]",
            *(f"{i}\\path={f}" for i, f in enumerate(recent, 1)),
            f"size={len(recent)}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# the store ------------------------------------------------------------------------------------


def test_settings_round_trip_exactly_through_an_ini_file(tmp_path: Path) -> None:
    path = tmp_path / "config" / "settings.ini"
    SettingsStore(path).save(UNUSUAL)
    assert path.is_file()
    assert SettingsStore(path).load() == UNUSUAL
    assert SettingsStore(path).load().seed_threshold == 1 / 3


def test_a_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    loaded = SettingsStore(tmp_path / "nothing.ini").load()
    assert loaded == Settings()
    assert (loaded.near_duplicate_threshold, loaded.seed_threshold) == (
        NEAR_DUPLICATE_THRESHOLD,
        SEED_THRESHOLD,
    )


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("near_duplicate_threshold", "abc"),
        ("near_duplicate_threshold", "0.2"),  # below the dialog's 0.5
        ("near_duplicate_threshold", "nan"),
        ("seed_threshold", "1.5"),
        ("seed_threshold", "-inf"),
        ("seed_threshold", "0.5, 0.6"),  # Qt reads an unquoted comma list as a list
        ("cluster_granularity", "huge"),
        ("cluster_granularity", "Medium"),
        ("thumbnail_size", "160.0"),
        ("thumbnail_size", "1000"),
        ("thumbnail_size", "true"),
        ("data_dir", "/a, /b"),
    ],
)
def test_a_malformed_value_falls_back_to_its_default_and_keeps_the_others(
    tmp_path: Path, key: str, raw: str
) -> None:
    good = {
        "data_dir": "/data",
        "model_sidecar": "/m.json",
        "near_duplicate_threshold": "0.9",
        "seed_threshold": "0.7",
        "cluster_granularity": "coarse",
        "thumbnail_size": "200",
    }
    path = write_ini(tmp_path / "settings.ini", {**good, key: raw}, ["/photos"])
    loaded = SettingsStore(path).load()
    expected = Settings("/data", "/m.json", 0.9, 0.7, "coarse", 200, ("/photos",))
    assert loaded == replace(expected, **{key: getattr(Settings(), key)})


def test_a_file_that_is_not_an_ini_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    path.write_bytes(b"\x00\xff[[[ not = an ini\n=\n\xfe")
    assert SettingsStore(path).load() == Settings()


def test_recent_folders_from_a_hand_edited_file_are_deduplicated_and_capped(tmp_path: Path) -> None:
    folders = ["/a", "", "/b", "/a", *(f"/f{i}" for i in range(12))]
    path = write_ini(tmp_path / "settings.ini", {}, folders)
    loaded = SettingsStore(path).load().recent_folders
    assert loaded == ("/a", "/b", *(f"/f{i}" for i in range(8)))
    assert len(loaded) == MAX_RECENT_FOLDERS


def test_saving_a_shorter_recent_list_leaves_no_old_entries_in_the_file(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.ini")
    store.save(Settings(recent_folders=tuple(f"/old{i}" for i in range(5))))
    store.save(Settings(recent_folders=("/new",)))
    assert store.load().recent_folders == ("/new",)
    assert "/old" not in store.path.read_text(encoding="utf-8")


def test_a_recent_folder_with_an_undecodable_name_is_not_saved(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.ini")
    store.save(Settings(recent_folders=("/photos/caf\udce9", "/photos/ok")))
    assert store.load().recent_folders == ("/photos/ok",)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_CONFIG_HOME is the Linux convention")
def test_the_default_store_is_in_the_user_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert SettingsStore.default().path == tmp_path / "image-sorter" / "settings.ini"


# the dataclass --------------------------------------------------------------------------------


def test_with_recent_puts_the_folder_first_without_duplicates_and_caps_the_list() -> None:
    settings = Settings()
    for i in range(MAX_RECENT_FOLDERS + 2):
        settings = settings.with_recent(f"/photos/{i}")
    assert settings.recent_folders == tuple(f"/photos/{i}" for i in range(11, 1, -1))

    again = settings.with_recent("/photos/5/")  # the same folder, written with a trailing slash
    assert again.recent_folders[0] == "/photos/5"
    assert again.recent_folders.count("/photos/5") == 1
    assert len(again.recent_folders) == MAX_RECENT_FOLDERS
    assert settings.recent_folders[0] == "/photos/11"  # frozen: the original is unchanged


def test_empty_paths_resolve_to_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORTER_DATA_DIR", str(tmp_path / "env-data"))
    assert Settings().resolved_paths() == AppPaths.default()
    assert Settings().resolved_paths().data_dir == (tmp_path / "env-data").resolve()
    assert Settings().resolved_sidecar() == bundled_model_sidecar()
    chosen = Settings(data_dir=str(tmp_path / "mine"), model_sidecar=str(tmp_path / "m.json"))
    assert chosen.resolved_paths().data_dir == (tmp_path / "mine").resolve()
    assert chosen.resolved_sidecar() == tmp_path / "m.json"


# the dialog -----------------------------------------------------------------------------------


def open_dialog(qtbot: QtBot, settings: Settings) -> SettingsDialog:
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def click(dialog: SettingsDialog, which: QDialogButtonBox.StandardButton) -> None:
    QTest.mouseClick(dialog.buttons.button(which), Qt.MouseButton.LeftButton)


def test_the_default_paths_show_whole_in_the_dialog(qtbot: QtBot) -> None:
    """A newcomer saw "/root/.local/share/ima…" and "/work/newcomer/reso…": the fields were as
    narrow as the form's default."""
    dialog = open_dialog(qtbot, Settings())
    for edit in (dialog.data_dir_edit, dialog.model_edit):
        text = edit.placeholderText()
        assert edit.toolTip() == text
        room = edit.contentsRect().width() - 8  # the frame's and the text's own margins
        assert edit.fontMetrics().horizontalAdvance(text) <= room or edit.width() >= MAX_PATH_FIELD_WIDTH


def test_the_dialog_returns_every_edited_field(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = open_dialog(qtbot, Settings(recent_folders=("/kept",)))
    assert dialog.model_edit.placeholderText() == str(bundled_model_sidecar())
    assert dialog.data_dir_edit.placeholderText() == str(AppPaths.default().data_dir)

    QTest.keyClicks(dialog.data_dir_edit, str(tmp_path / "data"))
    QTest.keyClicks(dialog.model_edit, str(bundled_model_sidecar()))
    dialog.near_duplicate_spin.setValue(0.93)
    dialog.seed_spin.setValue(0.62)
    dialog.granularity_combo.setCurrentText("coarse")
    dialog.thumbnail_spin.setValue(256)
    click(dialog, QDialogButtonBox.StandardButton.Ok)

    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.settings() == Settings(
        data_dir=str(tmp_path / "data"),
        model_sidecar=str(bundled_model_sidecar()),
        near_duplicate_threshold=0.93,
        seed_threshold=0.62,
        cluster_granularity="coarse",
        thumbnail_size=256,
        recent_folders=("/kept",),
    )


def test_the_spin_boxes_keep_values_inside_the_allowed_ranges(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, Settings())
    dialog.near_duplicate_spin.setValue(0.1)
    dialog.seed_spin.setValue(3.0)
    dialog.thumbnail_spin.setValue(10_000)
    edited = dialog.settings()
    assert (edited.near_duplicate_threshold, edited.seed_threshold, edited.thumbnail_size) == (0.5, 1.0, 384)


def test_restore_defaults_resets_every_field_but_keeps_recent_folders(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, UNUSUAL)
    assert dialog.settings().cluster_granularity == "fine"
    click(dialog, QDialogButtonBox.StandardButton.RestoreDefaults)
    assert dialog.isVisible()
    assert dialog.settings() == Settings(recent_folders=UNUSUAL.recent_folders)


def test_browse_buttons_fill_the_fields(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(tmp_path / "chosen"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(tmp_path / "m.json"), ""))
    dialog = open_dialog(qtbot, Settings())
    QTest.mouseClick(dialog.data_dir_browse, Qt.MouseButton.LeftButton)
    QTest.mouseClick(dialog.model_browse, Qt.MouseButton.LeftButton)
    assert dialog.data_dir_edit.text() == str(tmp_path / "chosen")
    assert dialog.model_edit.text() == str(tmp_path / "m.json")

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: "")  # the user cancelled
    QTest.mouseClick(dialog.data_dir_browse, Qt.MouseButton.LeftButton)
    assert dialog.data_dir_edit.text() == str(tmp_path / "chosen")


def sidecar_without_its_model(tmp_path: Path) -> Path:
    return Path(shutil.copy(bundled_model_sidecar(), tmp_path / "copied.json"))


def sidecar_without_its_heads(tmp_path: Path) -> Path:
    """A model of linear heads (an earlier bundled one) copied without its heads-only graph."""
    sidecar = linear_heads_model(tmp_path)
    (tmp_path / load_spec(sidecar).heads_file).unlink()
    return sidecar


def sidecar_with_other_heads(tmp_path: Path) -> Path:
    sidecar = linear_heads_model(tmp_path)
    heads = tmp_path / load_spec(sidecar).heads_file
    heads.write_bytes(heads.read_bytes()[:-1] + b"\0")
    return sidecar


def onnx_file(tmp_path: Path) -> Path:
    return Path(shutil.copy(bundled_model_sidecar().with_suffix(".onnx"), tmp_path / "model.onnx"))


def unrelated_json(tmp_path: Path) -> Path:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"hello": "world"}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make_path", "reason"),
    [
        (lambda tmp: tmp / "absent.json", "There is no model file"),
        (onnx_file, "choose the .json file"),
        (unrelated_json, "not a usable model sidecar"),
        (sidecar_without_its_model, "is missing from"),
        (sidecar_without_its_heads, "The heads file image-sorter-heads.onnx"),
        (sidecar_with_other_heads, "is not the one the sidecar was written with"),
    ],
)
def test_an_unusable_model_file_is_refused_with_a_reason(
    qtbot: QtBot, tmp_path: Path, make_path: Callable[[Path], Path], reason: str
) -> None:
    dialog = open_dialog(qtbot, Settings())
    dialog.model_edit.setText(str(make_path(tmp_path)))
    click(dialog, QDialogButtonBox.StandardButton.Ok)

    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.error_label.isVisible() and reason in dialog.error_label.text()

    dialog.model_edit.clear()  # back to the bundled model: the reason goes and OK closes the dialog
    assert not dialog.error_label.isVisible()
    click(dialog, QDialogButtonBox.StandardButton.Ok)
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_a_model_copied_with_its_heads_is_accepted(qtbot: QtBot, tmp_path: Path) -> None:
    sidecar = linear_heads_model(tmp_path)
    dialog = open_dialog(qtbot, Settings())
    dialog.model_edit.setText(str(sidecar))
    click(dialog, QDialogButtonBox.StandardButton.Ok)
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.settings().model_sidecar == str(sidecar)


def test_a_file_is_refused_as_the_data_folder(qtbot: QtBot, tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x", encoding="utf-8")
    dialog = open_dialog(qtbot, Settings())
    dialog.data_dir_edit.setText(str(a_file))
    click(dialog, QDialogButtonBox.StandardButton.Ok)
    assert dialog.isVisible() and "must be a folder" in dialog.error_label.text()


def _luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance."""
    channels = [c / 255 for c in (colour.red(), colour.green(), colour.blue())]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_the_hints_under_the_settings_are_readable(qtbot: QtBot) -> None:
    """A newcomer measured the hints (disabled labels) at 1.5:1; WCAG asks 4.5:1 of body text."""
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    hints = [label for label in dialog.findChildren(QLabel) if "Empty: the default" in label.text()]
    assert hints
    for hint in hints:
        ink = hint.palette().color(QPalette.ColorRole.WindowText)
        ground = hint.palette().color(QPalette.ColorRole.Window)
        lighter, darker = sorted((_luminance(ink), _luminance(ground)), reverse=True)
        assert hint.isEnabled() and (lighter + 0.05) / (darker + 0.05) >= 4.5
