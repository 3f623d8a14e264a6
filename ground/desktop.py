"""Can this machine show a Qt window? Asked before Qt is loaded, because Qt cannot be asked.

When the xcb platform plugin cannot load its libraries, or the X server named by DISPLAY cannot be
reached, Qt does not raise: it prints a hint and calls abort() (exit status 134), taking the
process and everything it meant to clean up with it. Its own hint names only libxcb-cursor0,
which on a fresh Debian desktop is not enough (libxcb-icccm4 and libxcb-keysyms1 are missing
too). So the demo asks first: `ldd` on the plugin lists every shared library the dynamic loader
cannot find (the plugin's own and those of the Qt libraries it pulls in), each is mapped to the
Debian package that ships it, and the operator gets the one `apt-get install` line that fixes it.
Then it checks that the X server answers, with libxcb's own `xcb_connect`.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: The Debian (12, bookworm) package that ships each shared library Qt's xcb and wayland plugins
#: and the Qt libraries under them need; from `ldd libqxcb.so` of PySide6 6.x and `dpkg -S`.
DEBIAN_PACKAGE_OF_SONAME = {
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}

#: What the README's quick start tells a new user to install: every xcb-family library Qt's window
#: plugin links (apt-get passes over those already there; most come with any X desktop).
DESKTOP_PACKAGES = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0",
                    "libxcb-render0", "libxcb-render-util0", "libxcb-shape0", "libxcb-shm0", "libxcb-sync1",
                    "libxcb-util1", "libxcb-xfixes0", "libxcb-xkb1", "libxkbcommon-x11-0", "libegl1")


@dataclass(frozen=True)
class Unavailable:
    """Why no window can be shown, in words an operator can act on."""

    reason: str
    missing_sonames: tuple[str, ...] = ()

    @property
    def apt_line(self) -> str | None:
        return apt_install_line(self.missing_sonames) if self.missing_sonames else None

    def __str__(self) -> str:
        fix = self.apt_line
        return self.reason + (f"; install them with: {fix}" if fix else "")


def apt_install_line(sonames) -> str:
    """`sudo apt-get install …` for the packages shipping these libraries (unknown ones by name)."""
    packages = sorted({DEBIAN_PACKAGE_OF_SONAME.get(s, s) for s in sonames})
    return "sudo apt-get install " + " ".join(packages)


def missing_libraries(shared_object: Path) -> tuple[str, ...] | None:
    """The sonames the dynamic loader cannot find for `shared_object`, its dependencies included;
    None when it cannot tell (no ldd on this system)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        out = subprocess.run([ldd, str(shared_object)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    missing = []
    for line in out.splitlines():
        name, _, where = line.strip().partition(" => ")
        if where.strip() == "not found" and name not in missing:
            missing.append(name)
    return tuple(missing)


def qt_plugin(platform: str) -> Path | None:
    """The installed PySide6's platform plugin, found without importing Qt's libraries."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / f"libq{platform}.so"
    return path if path.exists() else None


def requested_platform() -> str | None:
    """The Qt platform a window would use here, or None when there is no display at all."""
    wanted = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0]
    if wanted:
        return wanted
    if sys.platform in ("darwin", "win32"):
        return "native"
    if os.environ.get("WAYLAND_DISPLAY") and os.environ.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    if os.environ.get("DISPLAY"):
        return "xcb"
    return "wayland" if os.environ.get("WAYLAND_DISPLAY") else None


def _x_server_answers(display: str | None) -> bool | None:
    """Whether libxcb can connect to the X server (None: libxcb itself cannot be loaded)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = (ctypes.c_char_p, ctypes.c_void_p)
    xcb.xcb_connection_has_error.argtypes = (ctypes.c_void_p,)
    xcb.xcb_disconnect.argtypes = (ctypes.c_void_p,)
    conn = xcb.xcb_connect(display.encode() if display else None, None)
    try:
        return xcb.xcb_connection_has_error(conn) == 0
    finally:
        xcb.xcb_disconnect(conn)  # also frees the error object of a failed connection


def window_unavailable() -> Unavailable | None:
    """None when a Qt window can open here; otherwise why not (and, if libraries are missing,
    the exact `apt-get install` line)."""
    platform = requested_platform()
    if platform is None:
        return Unavailable("no display (neither DISPLAY nor WAYLAND_DISPLAY is set)")
    if platform in ("offscreen", "minimal"):
        return Unavailable(f"QT_QPA_PLATFORM={platform} asks for no window")
    if platform not in ("xcb", "wayland"):
        return None  # macOS, Windows, eglfs, vnc...: Qt's own business
    plugin = qt_plugin(platform)
    if plugin is None:
        return Unavailable(f"PySide6 has no {platform} platform plugin")
    missing = missing_libraries(plugin)
    if missing:
        return Unavailable(f"Qt's {platform} plugin needs {', '.join(missing)}, not installed", missing)
    if platform == "xcb" and _x_server_answers(os.environ.get("DISPLAY")) is False:
        return Unavailable(f"the X server at DISPLAY={os.environ.get('DISPLAY')} does not answer")
    return None


def offscreen_unavailable() -> Unavailable | None:
    """Even headless the console draws with Qt: None when its offscreen plugin can load."""
    plugin = qt_plugin("offscreen")
    if plugin is None:
        return Unavailable("PySide6 is not installed with its offscreen platform plugin")
    missing = missing_libraries(plugin)
    if missing:
        return Unavailable(f"Qt needs {', '.join(missing)}, not installed", missing)
    return None
