"""Before Qt is loaded the demo knows whether a window can open, and if libraries are missing, the
exact `apt-get install` line: asked of real shared objects through the real dynamic loader."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gridfree.ground import desktop

README = Path(__file__).resolve().parents[2] / "README.md"

needs_cc_and_ldd = pytest.mark.skipif(not (shutil.which("cc") and shutil.which("ldd")), reason="needs cc and ldd")


def _library(tmp_path: Path, soname: str, needs: list[str] = ()) -> Path:
    """A real shared object named `soname`, linked against the libraries `needs` names."""
    src = tmp_path / "x.c"
    src.write_text("int gridfree_probe(void) { return 1; }\n")
    out = tmp_path / soname
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(out), f"-Wl,-soname,{soname}", f"-Wl,-rpath,{tmp_path}", "-Wl,--no-as-needed", str(src),
                    *(str(tmp_path / n) for n in needs)], check=True, capture_output=True)
    return out


@needs_cc_and_ldd
def test_a_library_the_loader_cannot_find_is_named(tmp_path):
    gone = _library(tmp_path, "libgridfree-absent.so.1")
    plugin = _library(tmp_path, "libqfake.so", ["libgridfree-absent.so.1"])
    assert desktop.missing_libraries(plugin) == ()  # found through the plugin's rpath
    gone.unlink()
    assert desktop.missing_libraries(plugin) == ("libgridfree-absent.so.1",)


def test_the_apt_line_names_the_debian_packages_of_the_missing_libraries():
    line = desktop.apt_install_line(["libxcb-keysyms.so.1", "libxcb-icccm.so.4", "libxkbcommon-x11.so.0"])
    assert line == "sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0"
    assert desktop.apt_install_line(["libunheard-of.so.3"]) == "sudo apt-get install libunheard-of.so.3"


def test_the_readme_line_installs_every_xcb_library_qts_window_plugin_needs():
    plugin = desktop.qt_plugin("xcb")
    if plugin is None or not shutil.which("ldd"):
        pytest.skip("no PySide6 xcb plugin or no ldd here")
    ldd = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    sonames = {line.split()[0] for line in ldd.splitlines() if " => " in line}
    xcb_family = {s for s in sonames if s.startswith(("libxcb-", "libxkbcommon-x11"))}
    line = next(l for l in README.read_text().splitlines() if l.startswith("sudo apt-get install "))
    readme_packages = set(line.split()[3:])
    assert set(desktop.DESKTOP_PACKAGES) == readme_packages
    assert {desktop.DEBIAN_PACKAGE_OF_SONAME[s] for s in xcb_family} <= readme_packages


def test_missing_window_libraries_are_reported_with_their_apt_line(monkeypatch, tmp_path):
    """What a fresh Debian desktop meets: DISPLAY set, the plugin's libraries not all installed."""
    plugin = desktop.qt_plugin("xcb")
    missing = desktop.missing_libraries(plugin) if plugin is not None else None
    if not missing:
        pytest.skip("every library of Qt's xcb plugin is installed here")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    why = desktop.window_unavailable()
    assert why is not None and why.missing_sonames == missing
    assert re.search(r"install them with: sudo apt-get install [a-z0-9.+-]+", str(why))
    assert all(desktop.DEBIAN_PACKAGE_OF_SONAME[s] in why.apt_line for s in missing)


def test_no_display_and_an_offscreen_platform_need_no_libraries_checked(monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    assert "no display" in str(desktop.window_unavailable())
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert "asks for no window" in str(desktop.window_unavailable())
