"""Suite-wide settings. Qt must be told it is offscreen before any QApplication exists."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Timing deadlines make property tests flaky on a loaded 2-core CI box; speed is measured by
# `gridfree bench`, never by tests.
settings.register_profile(
    "gridfree", deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gridfree"))


def pytest_addoption(parser):
    parser.addoption(
        "--serial-url",
        default=None,
        help="pyserial URL of a real loopback serial port for @pytest.mark.hil tests",
    )


@pytest.fixture(scope="session")
def dictionary():
    """The node dictionary as the ground gets it: exported by `gridfree dict` in a subprocess."""
    import subprocess
    import sys

    from gridfree.protocols.dictionary import Dictionary

    out = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "dict"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return Dictionary.from_json(out)
