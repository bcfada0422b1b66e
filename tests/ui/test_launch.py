"""Starting the window from a shell: missing X11 libraries named, folder arguments checked."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sorter_app.ui import xcb_check
from sorter_app.ui.app import folder_argument

REPO = Path(__file__).resolve().parents[2]


def test_a_missing_xcb_library_is_named_with_its_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    fake = tmp_path / "libqxcb.so"
    fake.write_bytes(b"")
    monkeypatch.setattr(xcb_check, "xcb_plugin", lambda: fake)
    ldd = "\tlibxcb-cursor.so.0 => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n"
    ldd += "\tlibxkbcommon-x11.so.0 => not found\n"
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=ldd, stderr="")
    )
    message = xcb_check.problem()
    assert message is not None
    assert "libxcb-cursor.so.0" in message and "libxkbcommon-x11.so.0" in message
    assert "sudo apt install libxcb-cursor0 libxkbcommon-x11-0" in message


def test_the_real_plugin_here_is_complete_or_named() -> None:
    """On this machine: ldd on the installed plugin, for real."""
    plugin = xcb_check.xcb_plugin()
    if plugin is None:
        pytest.skip("PySide6 without the xcb plugin")
    for soname in xcb_check.missing_libraries(plugin):
        assert soname.startswith("lib")


def test_no_check_off_x11(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert xcb_check.problem() is None


def test_folder_arguments(tmp_path: Path) -> None:
    spaced = tmp_path / "a folder with spaces"
    spaced.mkdir()
    assert folder_argument([str(spaced)]) == (spaced, "")
    assert folder_argument([]) == (None, "")
    assert folder_argument(["-style", "fusion"])[0] is None
    assert folder_argument([str(tmp_path / "nope")]) == (None, f"no such folder: {tmp_path / 'nope'}")
    (tmp_path / "file.jpg").write_bytes(b"x")
    assert folder_argument([str(tmp_path / "file.jpg")])[1].startswith("not a folder")


def test_make_run_passes_a_folder_with_spaces_as_one_argument(tmp_path: Path) -> None:
    """`make -n` prints the command it would run: the folder is one quoted word."""
    if subprocess.run(["make", "--version"], capture_output=True, check=False).returncode != 0:
        pytest.skip("make is not installed")
    out = subprocess.run(
        ["make", "-n", "-o", ".venv/.app-installed", "run", "FOLDER=/tmp/a folder with spaces"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '.venv/bin/sorter-gui "/tmp/a folder with spaces"' in out


def test_the_optional_decoders_are_imported_before_the_window_works() -> None:
    """An import holds the GIL while it runs: the window imports the optional decoders and what a
    folder's jobs import on first use up front (tune_interpreter), not in a worker beside its
    thread. Checked in a fresh interpreter, where nothing has imported them yet."""
    optional = [name for name in ("pillow_heif", "rawpy", "pillow_jxl") if importlib.util.find_spec(name)]
    code = (
        "import sys, json\n"
        "from sorter_app.ui.app import _IMPORTED_BY_JOBS, tune_interpreter\n"
        f"wanted = {optional!r} + list(_IMPORTED_BY_JOBS)\n"
        "before = [m for m in wanted if m in sys.modules]\n"
        "tune_interpreter()\n"
        "print(json.dumps([before, [m for m in wanted if m not in sys.modules]]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 0, run.stderr
    before, missing = json.loads(run.stdout.strip().splitlines()[-1])
    assert optional and not set(before) & set(optional)  # the check means something here
    assert missing == []
