import sys

from gridfree.ground.hil.cli import run

sys.exit(run())
