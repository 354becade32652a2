"""The check that runs before Qt: no display, or the X11 plugin's libraries missing, give one
message that says what to do instead of Qt's abort (exit 134)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fer_desktop import display_check as dc

REPO_ROOT = Path(__file__).resolve().parents[1]


def _ok_ldd(_path):
    return "\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x0)\n"


def test_no_display_is_named_and_predict_offered():
    msg = dc.display_problem({}, platform="linux", run_ldd=_ok_ldd, connect=lambda d: 0)
    assert msg is not None and "no display" in msg and "fer-desktop predict" in msg and "xvfb-run" in msg


@pytest.mark.parametrize("env", [{"QT_QPA_PLATFORM": "offscreen"}, {"QT_QPA_PLATFORM": "minimal:foo=1;xcb"},
                                 {"WAYLAND_DISPLAY": "wayland-0"}])
def test_headless_platforms_and_wayland_pass(env):
    assert dc.display_problem(env, platform="linux", run_ldd=_ok_ldd, connect=lambda d: 0) is None


def test_forced_wayland_without_a_compositor():
    msg = dc.display_problem({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, platform="linux")
    assert msg is not None and "WAYLAND_DISPLAY is not set" in msg


def test_other_systems_are_not_checked():
    assert dc.display_problem({}, platform="win32") is None and dc.display_problem({}, platform="darwin") is None


def test_missing_xcb_libraries_name_the_packages():
    out = ("\tlibQt6Gui.so.6 => /x/libQt6Gui.so.6 (0x1)\n\tlibxcb-cursor.so.0 => not found\n"
           "\tlibxcb-icccm.so.4 => not found\n\tlibxcb-cursor.so.0 => not found\n\tlibodd.so.3 => not found\n")
    assert dc.missing_libraries(out) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libodd.so.3"]
    msg = dc.display_problem({"DISPLAY": ":0"}, platform="linux", run_ldd=lambda p: out, connect=lambda d: 0)
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 " in msg and "libodd.so.3" in msg


def test_unreachable_x_server():
    msg = dc.display_problem({"DISPLAY": ":93"}, platform="linux", run_ldd=_ok_ldd, connect=lambda d: 1)
    assert msg is not None and "':93'" in msg


@pytest.mark.skipif(sys.platform != "linux" or not shutil.which("gcc") or not shutil.which("ldd"),
                    reason="needs Linux with gcc and ldd")
def test_real_ldd_finds_a_missing_library(tmp_path):
    """A real ELF whose dependency was removed: ldd's own output is what gets parsed."""
    (tmp_path / "dep.c").write_text("int dep(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text("int dep(void); int plugin(void) { return dep(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", "libgonedep.so.1", "-Wl,-soname,libgonedep.so.1", "dep.c"],
                   cwd=tmp_path, check=True)
    (tmp_path / "libgonedep.so").symlink_to("libgonedep.so.1")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", "plugin.so", "plugin.c", "-L.", "-lgonedep"],
                   cwd=tmp_path, check=True)
    (tmp_path / "libgonedep.so.1").unlink()
    assert dc.missing_libraries(dc.ldd(tmp_path / "plugin.so")) == ["libgonedep.so.1"]


@pytest.mark.skipif(sys.platform != "linux", reason="the check is Linux-only")
def test_app_prints_the_message_instead_of_aborting(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["FER_DESKTOP_SETTINGS"] = str(tmp_path / "s.ini")
    proc = subprocess.run([sys.executable, "-m", "fer_desktop"], capture_output=True, text=True, timeout=120,
                          env=env, cwd=REPO_ROOT)
    assert proc.returncode == 2, proc.stderr
    assert "no display" in proc.stderr and "Aborted" not in proc.stderr
