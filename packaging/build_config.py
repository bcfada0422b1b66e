"""What goes into the double-click build and what stays out, in one place.

The spec, the Qt hooks and the build script read this module, and tests/packaging checks it
without running PyInstaller, so it imports nothing from PyInstaller. Paths are destinations inside
the onedir's `_internal/` folder, which is `sys._MEIPASS` in the frozen app.
"""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

APP_DIR = "image-sorter"  # dist/image-sorter/: the folder a user unpacks and keeps
GUI_EXE = "sorter-gui"  # windowed
CLI_EXE = "sorter"  # console
SIZE_BUDGET_MB = 400  # unpacked

# Bundled next to the code; `sorter_app.paths.resources_dir()` looks for `sys._MEIPASS/resources`.
RESOURCE_DIRS = ("resources/models", "resources/icons")

# Modules the app never imports. torch/torchvision/training are the point (the app must not need
# them; a dev .venv has them installed); the rest are optional imports that drag in big libraries.
EXCLUDES = [
    "torch",
    "torchvision",
    "training",
    "onnx",
    "onnxscript",
    "ray",  # curate's optional engine (the `ray` extra): training only
    # onnxruntime's Python-only extras: model tooling and a debug printout, never used for inference.
    "onnxruntime.transformers",
    "onnxruntime.quantization",
    "onnxruntime.tools",
    "onnxruntime.backend",
    "onnxruntime.datasets",
    # igraph's optional converters and plotting import these inside functions the app never calls;
    # a development .venv has several (torch brings networkx and sympy): 27 MB of modules otherwise.
    "networkx",
    "sympy",
    "mpmath",
    "matplotlib",
    "pandas",
    "scipy",
    "cairo",
    "cairocffi",
    "plotly",
    "pygments",
    "pytest",
    "_pytest",
    # Pillow's Tk bridge.
    "tkinter",
    "PIL.ImageTk",
    "PIL._imagingtk",
    # Qt modules the window does not use. Every PySide6 extension links QtNetwork and QtDBus, so the
    # hooks would otherwise collect them with their TLS, network-information and D-Bus plugins.
    "PySide6.QtNetwork",
    "PySide6.QtDBus",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtPdf",
    "PySide6.QtPdfWidgets",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtSql",
    "PySide6.QtPrintSupport",
    "PySide6.QtDesigner",
    "PySide6.QtUiTools",
    "PySide6.QtHelp",
    "PySide6.QtTest",
    "PySide6.QtXml",
]

# Imported by name at run time, so PyInstaller cannot see them: the optional format plugins
# (sorter_app.core.formats registers them when first needed: HEIC/HEIF, camera RAW, JPEG XL) and
# what the decode workers' fork server preloads (sorter_app.core.decode_pool._PRELOAD).
HIDDEN_IMPORTS = [
    "pillow_heif",
    "rawpy",
    "pillow_jxl",
    "pillow_jxl.JpegXLImagePlugin",
    "sorter_app.core.decode_worker",
]

# Qt plugins kept, as "<plugin type>/<file>" patterns; every other plugin is left out.
QT_PLUGINS = (
    "platforms/libqxcb.so",  # X11
    "platforms/libqwayland*.so",  # Wayland
    "platforms/libqoffscreen.so",  # headless (smoke test, CI)
    "platforms/libqminimal.so",
    "platformthemes/libqxdgdesktopportal.so",  # native file dialogs through the desktop portal
    "platforminputcontexts/*",  # dead keys, input methods
    "xcbglintegrations/*",
    "wayland-*/*",
    "iconengines/*",  # SVG icons (icon themes)
    # Photos are decoded by Pillow in core; Qt only reads icons and, later, maybe thumbnails.
    "imageformats/libqjpeg.so",
    "imageformats/libqgif.so",
    "imageformats/libqico.so",
    "imageformats/libqwebp.so",
    "imageformats/libqsvg.so",
)

# Nothing in the output may match: the app must run without the training stack.
FORBIDDEN = re.compile(
    r"(^|/)(torch|torchvision|training|triton|nvidia|onnx|onnxscript|ray)(/|$)|(^|/)lib(torch|c10|cudnn|cublas|nccl)"
)

# Must exist in the output (relative to the onedir root).
REQUIRED = (
    GUI_EXE,
    CLI_EXE,
    "_internal/resources/models/image-sorter.onnx",
    "_internal/resources/models/image-sorter.json",
    "_internal/resources/models/image-sorter-heads.onnx",  # the sidecar's heads_file
    "_internal/resources/icons/image-sorter-256.png",
    "_internal/share/applications/image-sorter.desktop",
    "install-desktop-entry.sh",
)


def datas(root: Path) -> list[tuple[str, str]]:
    """(source, destination) pairs for PyInstaller's `datas`: the resources, and the menu entry's
    template, which install-desktop-entry.sh fills in with the folder's absolute path."""
    desktop_entry = (str(root / "packaging" / "image-sorter.desktop"), "share/applications")
    return [*((str(root / folder), folder) for folder in RESOURCE_DIRS), desktop_entry, *icon_fonts()]


def icon_fonts() -> list[tuple[str, str]]:
    """qtawesome's icon fonts (the toolbar's icons), where qtawesome looks for them when frozen."""
    import importlib.util

    spec = importlib.util.find_spec("qtawesome")
    if spec is None or spec.origin is None:
        return []
    fonts = Path(spec.origin).parent / "fonts"
    return [(str(fonts), "qtawesome/fonts")] if fonts.is_dir() else []


def keep_qt_file(dest_dir: str, src: str) -> bool:
    """Whether a file a Qt hook wants to collect goes in: whitelisted plugins, no translations."""
    dest = PurePosixPath(dest_dir.replace("\\", "/"))
    if "translations" in dest.parts:  # the UI is English only; Qt's own .qm files are 7 MB
        return False
    if "plugins" not in dest.parts:
        return True
    plugin_type = dest.parts[dest.parts.index("plugins") + 1]
    name = f"{plugin_type}/{PurePosixPath(src.replace(chr(92), '/')).name}"
    return any(fnmatch(name, pattern) for pattern in QT_PLUGINS)


def forbidden_files(onedir: Path) -> list[str]:
    """Paths inside the build that belong to the training stack (should be none)."""
    return sorted(
        rel
        for path in onedir.rglob("*")
        if FORBIDDEN.search(rel := path.relative_to(onedir).as_posix().lower())
    )
