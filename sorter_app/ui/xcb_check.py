"""Before Qt starts on Linux/X11: are the system libraries its xcb platform plugin needs there?

Without them Qt aborts with "could not load the Qt platform plugin xcb … even though it was
found", naming the plugin, not the library that is missing. This asks the dynamic linker (`ldd`)
about the plugin itself and names each missing library with the Debian/Ubuntu package that
provides it. Nothing here imports Qt.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# soname prefix → Debian/Ubuntu package
PACKAGES = {
    "libxcb-cursor.so": "libxcb-cursor0",
    "libxcb-icccm.so": "libxcb-icccm4",
    "libxcb-keysyms.so": "libxcb-keysyms1",
    "libxcb-shape.so": "libxcb-shape0",
    "libxcb-image.so": "libxcb-image0",
    "libxcb-render-util.so": "libxcb-render-util0",
    "libxcb-xinerama.so": "libxcb-xinerama0",
    "libxcb-xkb.so": "libxcb-xkb1",
    "libxcb-randr.so": "libxcb-randr0",
    "libxcb-xfixes.so": "libxcb-xfixes0",
    "libxcb-sync.so": "libxcb-sync1",
    "libxcb-shm.so": "libxcb-shm0",
    "libxcb-render.so": "libxcb-render0",
    "libxcb-glx.so": "libxcb-glx0",
    "libxcb.so": "libxcb1",
    "libxkbcommon-x11.so": "libxkbcommon-x11-0",
    "libxkbcommon.so": "libxkbcommon0",
    "libX11-xcb.so": "libx11-xcb1",
    "libX11.so": "libx11-6",
    "libEGL.so": "libegl1",
    "libGL.so": "libgl1",
    "libOpenGL.so": "libopengl0",
    "libfontconfig.so": "libfontconfig1",
    "libfreetype.so": "libfreetype6",
    "libdbus-1.so": "libdbus-1-3",
    "libglib-2.0.so": "libglib2.0-0",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)


def xcb_plugin() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


# Loaded by Qt at run time (dlopen), so ldd cannot see it; Qt 6.5+ refuses to start without it.
RUNTIME_LOADED = ("libxcb-cursor.so.0",)


def missing_libraries(plugin: Path) -> list[str]:
    """Sonames the dynamic linker cannot find for `plugin` (and what it loads)."""
    missing = {lib for lib in RUNTIME_LOADED if not _loadable(lib)}
    if shutil.which("ldd") is not None:
        try:
            run = subprocess.run(
                ["ldd", str(plugin)], capture_output=True, text=True, timeout=20, check=False
            )
            missing.update(_NOT_FOUND.findall(run.stdout))
        except (OSError, subprocess.SubprocessError):
            pass
    return sorted(missing)


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def package_of(soname: str) -> str | None:
    return next((pkg for prefix, pkg in PACKAGES.items() if soname.startswith(prefix)), None)


def problem() -> str | None:
    """What to tell the user, or None when the window can start (or this is not X11 on Linux)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb"):
        return None
    if platform == "" and os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY"):
        return None
    plugin = xcb_plugin()
    if plugin is None:
        return None
    missing = missing_libraries(plugin)
    if not missing:
        return None
    packages = sorted({p for lib in missing if (p := package_of(lib))})
    lines = ["The window cannot start: Qt's X11 (xcb) plugin needs system libraries that are missing:"]
    lines += [f"  {lib}" for lib in missing]
    if packages:
        lines.append(f"Install them (Debian/Ubuntu):  sudo apt install {' '.join(packages)}")
    return "\n".join(lines)


def main() -> int:
    message = problem()
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
