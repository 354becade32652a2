#!/usr/bin/env bash
# Put fer-desktop in the Linux desktop's application menu (for this user): the .desktop file and
# the icon, in the XDG folders. The `fer-desktop` command must be on PATH (an activated venv's
# bin/, pipx's ~/.local/bin, or the bundle's folder: pass FER_DESKTOP_EXEC=/path/to/fer-desktop).
#
#   bash packaging/install-desktop-entry.sh            # --uninstall removes them again
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
apps="$data/applications"
icons="$data/icons/hicolor"
if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$apps/fer-desktop.desktop" "$icons/scalable/apps/fer-desktop.svg" "$icons/256x256/apps/fer-desktop.png"
    echo "removed the fer-desktop menu entry"
    exit 0
fi
exec_path=${FER_DESKTOP_EXEC:-$(command -v fer-desktop || true)}
[ -n "$exec_path" ] || { echo "fer-desktop is not on PATH: activate its venv or set FER_DESKTOP_EXEC" >&2; exit 1; }
mkdir -p "$apps" "$icons/scalable/apps" "$icons/256x256/apps"
# The menu starts programs without the shell's PATH: the entry names the full path.
sed -e "s|^Exec=fer-desktop|Exec=$exec_path|" -e "s|^TryExec=fer-desktop|TryExec=$exec_path|" \
    "$here/fer-desktop.desktop" > "$apps/fer-desktop.desktop"
cp "$here/../fer_desktop/icons/fer-desktop.svg" "$icons/scalable/apps/fer-desktop.svg"
cp "$here/../fer_desktop/icons/fer-desktop.png" "$icons/256x256/apps/fer-desktop.png"
command -v update-desktop-database > /dev/null && update-desktop-database "$apps" || true
command -v gtk-update-icon-cache > /dev/null && gtk-update-icon-cache -q -t "$icons" || true
echo "installed $apps/fer-desktop.desktop (runs $exec_path)"
