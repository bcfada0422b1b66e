"""`sorter_app.core` must work where Qt and torch are absent: check in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_neither_qt_nor_torch() -> None:
    code = (
        "import pkgutil, importlib, sys, sorter_app.core as core\n"
        "for m in pkgutil.iter_modules(core.__path__): importlib.import_module('sorter_app.core.' + m.name)\n"
        "import sorter_app.cli, sorter_app.paths\n"
        "heavy = ('PySide6', 'torch', 'torchvision', 'training')\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in heavy)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
