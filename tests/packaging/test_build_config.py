"""The double-click build's recipe, checked without running PyInstaller (a build takes minutes and
is a documented manual step: `make build`, then packaging/smoke_test.py).

What matters here: the training stack is excluded, the resources land where the frozen app's
`resources_dir()` looks, the Qt plugin filter keeps what the window needs, and the menu entry,
its installer and the icons are well formed.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from sorter_app import paths

REPO = Path(__file__).resolve().parent.parent.parent
PACKAGING = REPO / "packaging"


def _load_build_config() -> ModuleType:
    # Loaded by path: a `packaging` package would shadow the PyPI `packaging` library.
    spec = importlib.util.spec_from_file_location("build_config", PACKAGING / "build_config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cfg = _load_build_config()


def test_training_stack_is_excluded() -> None:
    for name in ("torch", "torchvision", "training", "onnx"):
        assert name in cfg.EXCLUDES


def test_onedir_output_check_spots_training_files(tmp_path: Path) -> None:
    for rel in (
        "_internal/torch/__init__.pyc",
        "_internal/torchvision/io.so",
        "_internal/training/cli.pyc",
        "_internal/nvidia/cublas/lib/libcublas.so.13",
        "_internal/libtorch_cpu.so",
        "_internal/onnxruntime/capi/onnxruntime_pybind11_state.so",
        "_internal/resources/models/image-sorter.onnx",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).touch()
    found = cfg.forbidden_files(tmp_path)
    assert not any("onnxruntime" in f or f.endswith(".onnx") for f in found)
    for name in ("torch/__init__.pyc", "torchvision/io.so", "training/cli.pyc", "libcublas", "libtorch_cpu"):
        assert any(name in f for f in found), name


def test_resources_land_where_the_frozen_app_looks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    destinations = {dest: Path(src) for src, dest in cfg.datas(REPO)}
    assert (destinations["resources/models"] / "image-sorter.onnx").is_file()
    assert (destinations["resources/icons"] / "image-sorter-256.png").is_file()
    # In a PyInstaller 6 onedir, sys._MEIPASS is _internal/; data destinations are relative to it.
    monkeypatch.delenv("SORTER_RESOURCES_DIR", raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    sidecar = paths.bundled_model_sidecar()
    assert sidecar == tmp_path / "resources/models" / sidecar.name
    assert (destinations["resources/models"] / sidecar.name).is_file()
    assert f"_internal/resources/models/{sidecar.name}" in cfg.REQUIRED


def test_spec_uses_the_recipe() -> None:
    text = (PACKAGING / "image-sorter.spec").read_text()
    ast.parse(text)  # a spec is Python
    for used in ("cfg.EXCLUDES", "cfg.datas(ROOT)", "hookspath", "cfg.GUI_EXE", "cfg.CLI_EXE", "COLLECT("):
        assert used in text
    assert "console=False" in text and "console=True" in text  # windowed GUI, console CLI
    for module in ("QtCore", "QtGui"):
        assert "keep_qt_file" in (PACKAGING / "hooks" / f"hook-PySide6.{module}.py").read_text()


@pytest.mark.parametrize(
    ("dest", "name", "kept"),
    [
        ("PySide6/Qt/plugins/platforms", "libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms", "libqwayland.so", True),
        ("PySide6/Qt/plugins/platforms", "libqoffscreen.so", True),
        ("PySide6/Qt/plugins/imageformats", "libqjpeg.so", True),
        ("PySide6/Qt/plugins/wayland-shell-integration", "libxdg-shell.so", True),
        ("PySide6/Qt/plugins/platforms", "libqeglfs.so", False),
        ("PySide6/Qt/plugins/platformthemes", "libqgtk3.so", False),  # drags in the GTK stack
        ("PySide6/Qt/plugins/imageformats", "libqpdf.so", False),
        ("PySide6/Qt/plugins/imageformats", "libqtga.so", False),
        ("PySide6/Qt/plugins/tls", "libqopensslbackend.so", False),
        ("PySide6/Qt/translations", "qtbase_de.qm", False),
        ("PySide6/Qt/lib", "libQt6Widgets.so.6", True),  # only plugins and translations are filtered
    ],
)
def test_qt_filter(dest: str, name: str, kept: bool) -> None:
    assert cfg.keep_qt_file(dest, f"/site-packages/{dest}/{name}") is kept


def test_window_imports_only_qt_modules_that_are_kept() -> None:
    """A Qt module the UI starts to use must not be one the build leaves out."""
    excluded = {m for m in cfg.EXCLUDES if m.startswith("PySide6.")}
    for source in (REPO / "sorter_app" / "ui").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module not in excluded, f"{source.name} imports {node.module}"


def test_icons_have_their_sizes() -> None:
    icons = REPO / "resources" / "icons"
    for size in (256, 128, 64, 48):
        with Image.open(icons / f"image-sorter-{size}.png") as image:
            assert image.size == (size, size) and image.mode == "RGBA"
    assert (icons / "image-sorter.svg").read_text().startswith("<svg")


def _desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path)
    return parser["Desktop Entry"]


def test_menu_entry_installer(tmp_path: Path) -> None:
    app = tmp_path / "Photos & more" / "image-sorter"  # spaces and & must survive
    template_dir = app / "_internal" / "share" / "applications"
    template_dir.mkdir(parents=True)
    (template_dir / "image-sorter.desktop").write_bytes((PACKAGING / "image-sorter.desktop").read_bytes())
    installer = app / "install-desktop-entry.sh"
    installer.write_bytes((PACKAGING / "install-desktop-entry.sh").read_bytes())
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}

    subprocess.run(["sh", str(installer)], env=env, check=True, capture_output=True)
    entry_path = tmp_path / "xdg" / "applications" / "image-sorter.desktop"
    entry = _desktop_entry(entry_path)
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"] == f'"{app}/sorter-gui" %f'
    assert entry["Icon"] == f"{app}/_internal/resources/icons/image-sorter-256.png"
    assert entry["Categories"].endswith(";")

    subprocess.run(["sh", str(installer), "--remove"], env=env, check=True, capture_output=True)
    assert not entry_path.exists()


def test_optional_format_packages_and_decode_workers_are_in_the_build() -> None:
    from sorter_app.core import decode_pool, formats

    for support in (formats.HEIF, formats.RAW, formats.JXL):
        assert support.module in cfg.HIDDEN_IMPORTS
    assert set(decode_pool._PRELOAD) <= set(cfg.HIDDEN_IMPORTS)  # named as strings: unseen by PyInstaller
    assert "cfg.HIDDEN_IMPORTS" in (PACKAGING / "image-sorter.spec").read_text()
    for launcher in ("launch_cli.py", "launch_gui.py"):
        assert "multiprocessing.freeze_support()" in (PACKAGING / launcher).read_text()
