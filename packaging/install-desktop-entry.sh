#!/bin/sh
# Put Image Sorter in this user's applications menu: writes
# ${XDG_DATA_HOME:-~/.local/share}/applications/image-sorter.desktop pointing at this folder.
# A .desktop file needs absolute paths, so run this again after moving the folder.
#   ./install-desktop-entry.sh            add (or update) the menu entry
#   ./install-desktop-entry.sh --remove   take it away
set -eu
here=$(cd "$(dirname "$0")" && pwd)
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
entry="$apps/image-sorter.desktop"

if [ "${1:-}" = "--remove" ]; then
    rm -f "$entry"
    echo "removed $entry"
    exit 0
fi
case "$here" in
    *[\"\`\$\\%\|]*)
        echo "install-desktop-entry: the folder's path has a character a .desktop file cannot hold" \
            "(one of \" \` \$ \\ % |): move it first" >&2
        exit 1 ;;
esac
mkdir -p "$apps"
replacement=$(printf '%s' "$here" | sed 's/&/\\&/g') # sed would read & as "the match"
sed "s|@APPDIR@|$replacement|g" "$here/_internal/share/applications/image-sorter.desktop" >"$entry.tmp"
mv "$entry.tmp" "$entry"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" 2>/dev/null || true
echo "added $entry (runs $here/sorter-gui)"
