"""The window's persistent settings: what they are, where they are kept, and the dialog that edits them.

Settings live in an ini file that people may edit by hand or carry between machines and versions,
so loading never fails: a missing or malformed value falls back to that key's default and the rest
are still used. Recent folders are kept even when they no longer exist (a disconnected drive comes
back); the menu greys them out rather than this module statting every entry at start-up.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.clusters import RESOLUTIONS
from ..core.duplicates import NEAR_DUPLICATE_THRESHOLD
from ..core.errors import ModelError
from ..core.heads_graph import checked_heads_file
from ..core.model_spec import load_spec
from ..core.seed_groups import SEED_THRESHOLD
from ..paths import APP_NAME, AppPaths, bundled_model_sidecar

# One set of bounds for the dialog and the loader. Below 0.5 "near-duplicate" would pair merely similar
# photos.
NEAR_DUPLICATE_RANGE = (0.5, 1.0)
SEED_RANGE = (0.0, 1.0)
THUMBNAIL_RANGE = (64, 384)
GRANULARITIES = tuple(RESOLUTIONS)
MAX_RECENT_FOLDERS = 10
MAX_PATH_FIELD_WIDTH = 640  # a path field widens the dialog to show a default path up to this
HINT_FADE = 1 / 3  # a setting's hint: this far from the text colour towards the background


@dataclass(frozen=True)
class Settings:
    data_dir: str = ""  # "" = AppPaths.default() (SORTER_DATA_DIR or the platform's data folder)
    model_sidecar: str = ""  # "" = the bundled model
    near_duplicate_threshold: float = NEAR_DUPLICATE_THRESHOLD
    seed_threshold: float = SEED_THRESHOLD
    cluster_granularity: str = "medium"
    thumbnail_size: int = 160
    recent_folders: tuple[str, ...] = ()  # most recent first

    def with_recent(self, folder: str) -> Settings:
        """Move `folder` to the front; `str(Path(...))` makes "/a/b/" and "/a/b" one entry."""
        return replace(self, recent_folders=_recent_list([str(Path(folder)), *self.recent_folders]))

    def resolved_paths(self) -> AppPaths:
        return AppPaths.default(self.data_dir or None)

    def resolved_sidecar(self) -> Path:
        return Path(self.model_sidecar).expanduser() if self.model_sidecar else bundled_model_sidecar()


def _recent_list(folders: Iterable[str]) -> tuple[str, ...]:
    unique = dict.fromkeys(f for f in folders if f)
    return tuple(unique)[:MAX_RECENT_FOLDERS]


# loading and saving -----------------------------------------------------------------------------

_RECENT_ARRAY = "recent_folders"


def _as_text(raw: object) -> str | None:
    return raw if isinstance(raw, str) else None


def _as_number(raw: object, convert: Callable[[str], float], low: float, high: float) -> float | None:
    """Ini files hold text; a hand-edited "abc", "nan" or "1e9" is refused, not raised."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    try:
        value = convert(str(raw).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def _as_float(raw: object, bounds: tuple[float, float]) -> float | None:
    return _as_number(raw, float, *bounds)


def _as_int(raw: object, bounds: tuple[int, int]) -> int | None:
    value = _as_number(raw, int, *bounds)
    return None if value is None else int(value)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _as_granularity(raw: object) -> str | None:
    return raw if raw in GRANULARITIES else None


class SettingsStore:
    """Reads and writes `Settings` in an ini file through QSettings (which writes via a temp file
    and rename, so a crash mid-save leaves the old file intact)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls) -> SettingsStore:
        """platformdirs' user config folder rather than QSettings' UserScope: paths.py already takes the
        data folder from platformdirs, so both follow one set of platform rules (QSettings' IniFormat
        would put the file in ~/.config even on macOS), and the file's path is known without Qt."""
        return cls(Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "settings.ini")

    def _qsettings(self) -> QSettings:
        return QSettings(str(self.path), QSettings.Format.IniFormat)

    def load(self) -> Settings:
        qs = self._qsettings()
        defaults = Settings()
        recent = []
        for i in range(qs.beginReadArray(_RECENT_ARRAY)):
            qs.setArrayIndex(i)
            folder = _as_text(qs.value("path"))
            if folder:
                recent.append(folder)
        qs.endArray()
        near = _as_float(qs.value("near_duplicate_threshold"), NEAR_DUPLICATE_RANGE)
        seed = _as_float(qs.value("seed_threshold"), SEED_RANGE)
        granularity = _as_granularity(qs.value("cluster_granularity"))
        thumbnail = _as_int(qs.value("thumbnail_size"), THUMBNAIL_RANGE)
        return Settings(
            data_dir=_as_text(qs.value("data_dir")) or defaults.data_dir,
            model_sidecar=_as_text(qs.value("model_sidecar")) or defaults.model_sidecar,
            near_duplicate_threshold=defaults.near_duplicate_threshold if near is None else near,
            seed_threshold=defaults.seed_threshold if seed is None else seed,
            cluster_granularity=granularity or defaults.cluster_granularity,
            thumbnail_size=defaults.thumbnail_size if thumbnail is None else thumbnail,
            recent_folders=_recent_list(recent),
        )

    def save(self, settings: Settings) -> None:
        """Floats are written as repr() text, which reads back to the identical float. A recent folder
        whose name is not valid Unicode (undecodable bytes, kept by Python as surrogates) is left out:
        Qt would silently drop the bad characters and the menu would open some other folder."""
        qs = self._qsettings()
        qs.setValue("data_dir", settings.data_dir)
        qs.setValue("model_sidecar", settings.model_sidecar)
        qs.setValue("near_duplicate_threshold", repr(settings.near_duplicate_threshold))
        qs.setValue("seed_threshold", repr(settings.seed_threshold))
        qs.setValue("cluster_granularity", settings.cluster_granularity)
        qs.setValue("thumbnail_size", str(settings.thumbnail_size))
        qs.remove(_RECENT_ARRAY)  # a shorter list must not leave the old tail behind
        recent = [folder for folder in settings.recent_folders if _is_unicode(folder)]
        qs.beginWriteArray(_RECENT_ARRAY, len(recent))
        for i, folder in enumerate(recent):
            qs.setArrayIndex(i)
            qs.setValue("path", folder)
        qs.endArray()
        qs.sync()
        if qs.status() != QSettings.Status.NoError:
            raise OSError(f"could not save settings to {self.path}")


# the dialog -------------------------------------------------------------------------------------


def model_sidecar_problem(text: str) -> str | None:
    """Why `text` cannot be used as the model, in words for the dialog; None when it can ("" = bundled)."""
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.is_file():
        return f"There is no model file at {path}."
    if path.suffix.lower() != ".json":
        return f"{path.name} is not a model sidecar: choose the .json file that sits next to the .onnx model."
    try:
        spec = load_spec(path)
    except ModelError as exc:
        return f"{path.name} is not a usable model sidecar ({exc})."
    if not (path.parent / spec.onnx_file).is_file():
        return f"The model file {spec.onnx_file} named by {path.name} is missing from {path.parent}."
    try:
        checked_heads_file(spec, path.parent)
    except ModelError:
        return (
            f"The heads file {spec.heads_file} named by {path.name} is missing from {path.parent} "
            "or is not the one the sidecar was written with: copy it with the model."
        )
    return None


def data_dir_problem(text: str) -> str | None:
    """A data folder that does not exist yet is created on first use; only an existing file is refused."""
    if text and Path(text).expanduser().is_file():
        return f"{text} is a file; the data folder must be a folder."
    return None


class SettingsDialog(QDialog):
    """Edits every setting except recent folders, which the File menu maintains."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._recent_folders = settings.recent_folders

        self.data_dir_edit = QLineEdit()
        self.data_dir_edit.setPlaceholderText(str(AppPaths.default().data_dir))
        self.data_dir_browse = QPushButton("Browse…")
        self.data_dir_browse.clicked.connect(self._browse_data_dir)
        self.model_edit = QLineEdit()
        self.model_edit.setPlaceholderText(str(bundled_model_sidecar()))
        self.model_browse = QPushButton("Browse…")
        self.model_browse.clicked.connect(self._browse_model)
        for edit in (self.data_dir_edit, self.model_edit):  # the default path readable, not cut off
            edit.setToolTip(edit.placeholderText())
            wanted = edit.fontMetrics().horizontalAdvance(edit.placeholderText()) + 24
            edit.setMinimumWidth(min(wanted, MAX_PATH_FIELD_WIDTH))

        self.near_duplicate_spin = _threshold_spin(NEAR_DUPLICATE_RANGE)
        self.seed_spin = _threshold_spin(SEED_RANGE)
        self.granularity_combo = QComboBox()
        self.granularity_combo.addItems(list(GRANULARITIES))
        self.thumbnail_spin = QSpinBox()
        self.thumbnail_spin.setRange(*THUMBNAIL_RANGE)
        self.thumbnail_spin.setSingleStep(16)
        self.thumbnail_spin.setSuffix(" px")

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b3261e;")
        self.error_label.setVisible(False)
        self.model_edit.textChanged.connect(self._clear_error)
        self.data_dir_edit.textChanged.connect(self._clear_error)

        form = QFormLayout()
        form.addRow("Data folder:", _with_button(self.data_dir_edit, self.data_dir_browse))
        form.addRow("", _explanation("Where the catalog and indexes are kept. Empty: the default."))
        form.addRow("Model:", _with_button(self.model_edit, self.model_browse))
        form.addRow("", _explanation("The model's .json sidecar. Empty: the bundled model."))
        form.addRow("Near-duplicate threshold:", self.near_duplicate_spin)
        form.addRow("", _explanation("How alike two photos must be to be offered as near-duplicates."))
        form.addRow("Seed group threshold:", self.seed_spin)
        form.addRow("", _explanation("How alike a photo must be to an example to join its group."))
        form.addRow("Cluster granularity:", self.granularity_combo)
        form.addRow("", _explanation("Coarse gives fewer, larger clusters; fine gives more, smaller ones."))
        form.addRow("Thumbnail size:", self.thumbnail_spin)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        restore = self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(lambda: self._show(Settings()))

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(_explanation("A new data folder or model takes effect for the next folder opened."))
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self._show(settings)

    def _show(self, settings: Settings) -> None:
        self.data_dir_edit.setText(settings.data_dir)
        self.model_edit.setText(settings.model_sidecar)
        self.near_duplicate_spin.setValue(settings.near_duplicate_threshold)
        self.seed_spin.setValue(settings.seed_threshold)
        self.granularity_combo.setCurrentText(settings.cluster_granularity)
        self.thumbnail_spin.setValue(settings.thumbnail_size)

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir_edit.text().strip(),
            model_sidecar=self.model_edit.text().strip(),
            near_duplicate_threshold=self.near_duplicate_spin.value(),
            seed_threshold=self.seed_spin.value(),
            cluster_granularity=self.granularity_combo.currentText(),
            thumbnail_size=self.thumbnail_spin.value(),
            recent_folders=self._recent_folders,
        )

    def accept(self) -> None:
        """Stays open with the reason shown, so the user can fix the one field instead of starting over."""
        edited = self.settings()
        problem = data_dir_problem(edited.data_dir) or model_sidecar_problem(edited.model_sidecar)
        if problem is not None:
            self.error_label.setText(problem)
            self.error_label.setVisible(True)
            return
        super().accept()

    def _clear_error(self) -> None:
        self.error_label.setVisible(False)

    def _browse_data_dir(self) -> None:
        start = self.data_dir_edit.text() or self.data_dir_edit.placeholderText()
        folder = QFileDialog.getExistingDirectory(self, "Data folder", start)
        if folder:
            self.data_dir_edit.setText(os.path.normpath(folder))

    def _browse_model(self) -> None:
        start = self.model_edit.text() or self.model_edit.placeholderText()
        path, _ = QFileDialog.getOpenFileName(self, "Model sidecar", start, "Model sidecar (*.json)")
        if path:
            self.model_edit.setText(os.path.normpath(path))


def _threshold_spin(bounds: tuple[float, float]) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setDecimals(2)
    spin.setSingleStep(0.01)
    spin.setRange(*bounds)
    return spin


def _with_button(edit: QLineEdit, button: QPushButton) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    layout.addWidget(button)
    return row


def _explanation(text: str) -> QLabel:
    """A hint under a setting: quieter than the controls, but readable. Disabled text (as before)
    was #C3C3C3 on #EFEFEF in the Fusion style, a contrast of 1.5:1; a third of the way from
    the text colour to the background keeps it above 4.5:1, in light and dark palettes alike."""
    label = QLabel(text)
    label.setWordWrap(True)
    palette = label.palette()
    ink, background = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
    pairs = zip(
        (ink.red(), ink.green(), ink.blue()),
        (background.red(), background.green(), background.blue()),
        strict=True,
    )
    quiet = [round(t + (b - t) * HINT_FADE) for t, b in pairs]
    palette.setColor(QPalette.ColorRole.WindowText, QColor(*quiet))
    label.setPalette(palette)
    return label
