import sys

from gridfree.flight.app.main import run

sys.exit(run())
