"""Can Qt open a window here? Asked before QApplication exists, because Qt's answer to "no"
is an abort (exit 134) with a misleading message ("Could not load the Qt platform plugin
xcb ... Reinstalling the application may fix this problem") both when there is no display
and when the X11 plugin's system libraries are missing.

Qt-free: it reads the environment and runs ``ldd`` on Qt's xcb plugin (Linux only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

# Platform plugins that need no display server.
HEADLESS_PLATFORMS = {"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"}

# Shared libraries of Qt's xcb plugin -> the Debian/Ubuntu package that has them. From Qt 6.5
# on, a desktop install usually lacks the first few (libxcb-cursor0 above all).
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
FEDORA_HINT = ("xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-image xcb-util-renderutil "
               "libxkbcommon-x11")

NO_DISPLAY = ("fer-desktop: no display to open a window on (DISPLAY and WAYLAND_DISPLAY are not set). "
              "Start it from a desktop session, over 'ssh -X', or under 'xvfb-run fer-desktop'. "
              "Without a display, 'fer-desktop predict IMAGE...' prints the faces and expressions, and "
              "QT_QPA_PLATFORM=offscreen fer-desktop --open IMAGE --screenshot OUT.png saves the window.")


def requested_platform(env: Mapping[str, str]) -> str:
    """The platform plugin Qt will try first ("" for its default), as QT_QPA_PLATFORM names
    it: a ';'-separated list of names, each with optional ':options'."""
    first = env.get("QT_QPA_PLATFORM", "").split(";")[0]
    return first.split(":")[0].strip().lower()


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames ``ldd`` reports as "not found", in its order, without repeats."""
    missing: list[str] = []
    for line in ldd_output.splitlines():
        name, sep, where = line.strip().partition("=>")
        if sep and where.strip().startswith("not found") and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def xcb_plugin() -> Path | None:
    """Qt's xcb platform plugin in the installed (or frozen) PySide6, if there is one."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        plugin = Path(root) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def ldd(path: Path) -> str | None:
    """``ldd PATH``'s output, or None when it cannot be run (then nothing is checked)."""
    try:
        proc = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def x_connection_error(display: str) -> int | None:
    """libxcb's error code for connecting to ``display`` (0: it works), as Qt will try it;
    None when libxcb cannot be loaded (the library check reports that)."""
    import ctypes

    try:
        lib = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None
    lib.xcb_connect.restype = ctypes.c_void_p
    lib.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    lib.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    lib.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = lib.xcb_connect(display.encode(), None)  # never NULL: an error object at worst
    try:
        return int(lib.xcb_connection_has_error(conn))
    finally:
        lib.xcb_disconnect(conn)


def missing_message(missing: list[str]) -> str:
    packages = [DEBIAN_PACKAGES.get(name) for name in missing]
    known = [p for p in dict.fromkeys(packages) if p]
    unknown = [name for name, p in zip(missing, packages) if not p]
    text = ("fer-desktop: Qt's X11 (xcb) platform plugin cannot load: these system libraries are missing: "
            + ", ".join(missing) + ".")
    if known:
        text += f" On Debian/Ubuntu: sudo apt install {' '.join(known)}"
        text += f" (Fedora: sudo dnf install {FEDORA_HINT})."
    if unknown:
        text += f" Install the packages that provide {', '.join(unknown)}."
    return text + " 'fer-desktop predict IMAGE...' works without them."


def display_problem(env: Mapping[str, str] | None = None, platform: str | None = None,
                    run_ldd=ldd, connect=x_connection_error) -> str | None:
    """Why Qt could not open a window here (one message for the user), or None when it can
    as far as we can tell. Only Linux is checked: Windows and macOS always have a display."""
    env = os.environ if env is None else env
    if (platform or sys.platform) != "linux":
        return None
    qpa = requested_platform(env)
    if qpa in HEADLESS_PLATFORMS:
        return None
    has_x, has_wayland = bool(env.get("DISPLAY")), bool(env.get("WAYLAND_DISPLAY"))
    if qpa.startswith("wayland"):
        return None if has_wayland else NO_DISPLAY.replace("DISPLAY and WAYLAND_DISPLAY are",
                                                          "WAYLAND_DISPLAY is")
    if qpa not in ("", "xcb"):
        return None  # a plugin we know nothing about: let Qt speak
    if not has_x:
        # Qt's default on a Wayland session is its wayland plugin; with neither, nothing works.
        return None if has_wayland and qpa == "" else NO_DISPLAY
    plugin = xcb_plugin()
    output = run_ldd(plugin) if plugin is not None else None
    if output is None:
        return None  # no ldd (or no plugin): Qt gets its chance
    missing = missing_libraries(output)
    if missing:
        return missing_message(missing)
    if connect(env["DISPLAY"]):
        return (f"fer-desktop: cannot connect to the X display {env['DISPLAY']!r} (no X server there, or "
                "no permission to use it: see xauth). 'fer-desktop predict IMAGE...' works without a display.")
    return None
