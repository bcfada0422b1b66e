"""Build the double-click folder dist/image-sorter/ and check it: `make build` runs this.

Steps: PyInstaller with packaging/image-sorter.spec; strip debug info where that is safe; add the
menu-entry installer; then refuse the result if a required file is missing, if anything of the
training stack (torch, torchvision, training/) got in, as a file or as a module inside either
program, or if it is over the size budget. Prints the size and the largest items, for the notes.

    python packaging/build.py              build and check
    python packaging/build.py --check-only check an existing dist/image-sorter/
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import build_config as cfg

PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
ONEDIR = ROOT / "dist" / cfg.APP_DIR
FORBIDDEN_MODULES = ("torch", "torchvision", "training", "onnx", "onnxscript", "ray")


def run_pyinstaller() -> None:
    spec = PACKAGING / "image-sorter.spec"
    work = ROOT / "build" / "pyinstaller"
    dist = ROOT / "dist"
    command = [sys.executable, "-m", "PyInstaller", str(spec), "--noconfirm", "--clean"]
    subprocess.run([*command, "--distpath", str(dist), "--workpath", str(work)], check=True, cwd=ROOT)


def _readelf(path: Path, flag: str) -> str:
    result = subprocess.run(["readelf", flag, "-W", str(path)], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else ""


def strip_debug_info(onedir: Path) -> int:
    """Remove DWARF debug info from libraries built without it stripped (pyenv's libpython, a
    locally built annoy); returns the bytes saved.

    PyInstaller's own `strip=True` cannot be used: wheels repaired by auditwheel (numpy.libs,
    pillow.libs, ...) were rewritten by patchelf, and `strip` then leaves them unloadable ("ELF load
    command address/offset not page-aligned"). Those files find their vendored libraries through an
    RPATH of `$ORIGIN/...`, so they are recognised by it and left alone.
    """
    saved = 0
    if not sys.platform.startswith("linux"):  # ELF only; readelf and strip are binutils
        return saved
    for path in sorted(onedir.rglob("*.so*")):
        if path.is_symlink() or not path.is_file():
            continue
        if ".debug_info" not in _readelf(path, "-S"):
            continue
        if "$ORIGIN" in _readelf(path, "-d"):
            continue
        before = path.stat().st_size
        subprocess.run(["strip", "--strip-debug", str(path)], check=True)
        saved += before - path.stat().st_size
    return saved


def add_launch_helpers(onedir: Path) -> None:
    target = onedir / "install-desktop-entry.sh"
    shutil.copy2(PACKAGING / "install-desktop-entry.sh", target)
    target.chmod(0o755)


def sizes(onedir: Path) -> dict[str, int]:
    """Disk usage per item: each program, and each entry of _internal/ (folders summed)."""
    items: dict[str, int] = {}
    for dirpath, _dirs, files in os.walk(onedir):
        for name in files:
            path = Path(dirpath, name)
            rel = path.relative_to(onedir).parts
            key = "/".join(rel[:2]) if rel[0] == "_internal" and len(rel) > 1 else rel[0]
            items[key] = items.get(key, 0) + path.lstat().st_blocks * 512
    return items


def problems(onedir: Path) -> list[str]:
    """Everything wrong with a finished build; empty when it is good."""
    from PyInstaller.archive.readers import pkg_archive_contents

    found = [f"missing: {rel}" for rel in cfg.REQUIRED if not (onedir / rel).exists()]
    found += [f"training stack file: {rel}" for rel in cfg.forbidden_files(onedir)]
    for program in (cfg.GUI_EXE, cfg.CLI_EXE):
        if (onedir / program).is_file():
            modules = pkg_archive_contents(str(onedir / program))
            found += [
                f"training stack module in {program}: {name}"
                for name in modules
                if name.split(".")[0] in FORBIDDEN_MODULES
            ]
    total_mb = sum(sizes(onedir).values()) / 1e6
    if total_mb > cfg.SIZE_BUDGET_MB:
        found.append(f"too big: {total_mb:.0f} MB > {cfg.SIZE_BUDGET_MB} MB")
    return found


def report(onedir: Path) -> None:
    items = sizes(onedir)
    du = subprocess.run(["du", "-sh", str(onedir)], capture_output=True, text=True).stdout.split()[0]
    print(f"\n{onedir}: {du} (du -sh), budget {cfg.SIZE_BUDGET_MB} MB")
    print("largest items:")
    for name, size in sorted(items.items(), key=lambda item: -item[1])[:10]:
        print(f"  {size / 1e6:7.1f} MB  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check-only", action="store_true", help="check an existing build, do not build")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if not args.check_only:
        run_pyinstaller()
        saved = strip_debug_info(ONEDIR)
        print(f"stripped debug info: {saved / 1e6:.1f} MB saved")
        add_launch_helpers(ONEDIR)
    found = problems(ONEDIR)
    report(ONEDIR)
    for problem in found:
        print(f"BUILD CHECK FAILED: {problem}", file=sys.stderr)
    if not found:
        print(f"build checks passed ({time.perf_counter() - started:.0f} s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
