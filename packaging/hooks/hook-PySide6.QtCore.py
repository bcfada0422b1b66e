"""Replaces PyInstaller's own hook for PySide6.QtCore (user hooks win): the same collection, filtered.

Plugins and translations are dropped here, before PyInstaller follows their library dependencies;
filtering the finished Analysis would leave those dependencies (e.g. the GTK stack) in the build.
"""

from build_config import keep_qt_file
from PyInstaller.utils.hooks.qt import add_qt6_dependencies

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [(src, dest) for src, dest in binaries if keep_qt_file(dest, src)]
datas = [(src, dest) for src, dest in datas if keep_qt_file(dest, src)]
