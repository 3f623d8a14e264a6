"""Packaging: the wheel carries the compiled core and the four layers under one namespace, and a
missing core fails loudly instead of falling back to slow Python."""
import os
import pathlib
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # With build isolation, exactly as `pip install .` builds it on a user's machine.
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        timeout=600, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (whl,) = out.glob("gridfree-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_has_the_compiled_core_and_a_namespace_root(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("gridfree/native/_core") and n.endswith(".so") for n in names)
    for layer in ("native", "protocols", "flight", "ground"):
        assert f"gridfree/{layer}/__init__.py" in names
    # `gridfree` is a PEP 420 namespace: nothing generic lands in site-packages.
    assert "gridfree/__init__.py" not in names
    assert not any(n.startswith(("native/", "protocols/", "tests/")) for n in names)


@pytest.mark.slow
def test_non_editable_install_imports_and_computes(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, timeout=300, capture_output=True,
    )
    # -S skips .pth files, so the editable install of this checkout cannot shadow the wheel;
    # the dependencies (cffi) still come from this environment's site-packages.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]]))
    code = ("import gridfree.native as n; print(n.__file__); print(hex(n.crc16(b'123456789')))")
    proc = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=True)
    where, crc = proc.stdout.split()
    assert where.startswith(str(target))
    assert crc == "0x29b1"


def test_missing_core_fails_loudly_without_fallback():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'gridfree.native._core': raise ImportError('simulated broken build')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import gridfree.native\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "simulated broken build" in proc.stderr
    assert "no pure-Python fallback" in proc.stderr
