"""The installed commands start children that import neither Qt nor onnxruntime.

`multiprocessing` imports the parent's main script again in every child it starts; a command's
script imports its entry function's module at the top (sorter_app/entry.py says why that matters).
Each script is written here as pip writes it, from pyproject.toml, and the children a window or a
`sorter index` starts (a decode worker, a work child) are looked at through /proc.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# After the lines pip writes, what the test adds: start each kind of child, print what it mapped.
CHECK = """
if __name__ == "__main__":
    import os
    from sorter_app.core.child_process import work_child
    from sorter_app.core.decode_pool import DecodePool

    def heavy(pid):
        maps = open(f"/proc/{pid}/maps").read()
        return sorted(name for name in ("QtWidgets", "QtCore", "onnxruntime") if name in maps)

    with DecodePool(1) as pool:
        print("decode worker", heavy(pool.call(os.getpid)))
    with work_child() as child:
        print("work child", heavy(child.submit(os.getpid).result(timeout=120)))
"""


def _entry_points() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    scripts = {**project["scripts"], **project["gui-scripts"]}
    return {name: target for name, target in scripts.items() if target.startswith("sorter_app")}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("command", ["sorter", "sorter-gui"])
def test_a_commands_children_do_not_import_qt_or_onnxruntime(command: str, tmp_path: Path) -> None:
    module, function = _entry_points()[command].split(":")
    script = tmp_path / command  # as pip writes it: the entry module imported at the top
    script.write_text(f"import sys\nfrom {module} import {function}\n{CHECK}")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["decode worker []", "work child []"]
