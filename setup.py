"""Only what pyproject.toml cannot say yet: the cffi build (cffi_modules) and the folder mapping."""
import os

from setuptools import setup

LAYERS = ("native", "protocols", "flight", "ground")


def _packages():
    mapping, packages = {}, []
    for layer in LAYERS:
        for root, dirs, files in os.walk(layer):
            dirs[:] = [d for d in dirs if not d.startswith((".", "_")) and d != "src"]
            if "__init__.py" in files:
                name = "gridfree." + root.replace(os.sep, ".")
                packages.append(name)
        mapping["gridfree." + layer] = layer
    return packages, mapping


packages, package_dir = _packages()
setup(packages=packages, package_dir=package_dir, cffi_modules=["native/build_ffi.py:ffibuilder"])
