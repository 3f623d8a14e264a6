"""Ground benchmarks: command round trip to a real node process over a local TCP link."""
from __future__ import annotations

import random
import threading
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gridfree.ground.compute import benchmarks as compute_proofs
from gridfree.ground.hil import bencheclipse, benchwork
from gridfree.ground.link.announce import read_announcement
from gridfree.native.benchkit import Figure
from gridfree.protocols.dictionary import Dictionary

PINGS = 40


def command_roundtrip_figures():
    from gridfree.ground.keys.material import init as keys_init
    from gridfree.ground.keys.session import GroundSecurity
    from gridfree.ground.link.client import GroundClient

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "node.toml"
        keys = keys_init(Path(tmp) / "keys", tenants=0)  # the round trip through SDLS, as flown
        cfg.write_text('[node]\napid = 100\nstate_dir = "state"\n[radio]\nurl = "tcp://127.0.0.1:0?listen=1"\n'
                       '[security]\nkeys = "keys/node"\n')
        d = Dictionary.from_json(subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "dict"],
                                                capture_output=True, text=True, check=True).stdout)
        node = subprocess.Popen([sys.executable, "-m", "gridfree.flight", "--config", str(cfg), "--no-supervise"],
                                stdout=subprocess.PIPE, text=True)
        try:
            url = read_announcement(node.stdout).radio
            with GroundClient(url, d, security=GroundSecurity.load(keys.ground)) as g:
                g.wait_until(lambda: "node.Mode" in g.latest, 10)
                times, rng, pause = [], random.Random(7), threading.Event()
                for _ in range(PINGS):
                    # Operators do not send in step with the node's 10 Hz tick: a random phase.
                    pause.wait(rng.uniform(0.0, 0.1))
                    t0 = time.perf_counter()
                    h = g.send("test.Ping").wait(5)
                    if h.completed:
                        times.append(time.perf_counter() - t0)
        finally:
            node.terminate()
            node.wait(10)
            node.stdout.close()
    p50 = statistics.median(times) if times else float("nan")
    yield Figure("command_roundtrip_ms_p50", p50 * 1e3, "ms")
    # The dispatcher runs on the 10 Hz group, so a command waits half a period on average.
    yield Figure("command_roundtrip_vs_tick", p50 / 0.1, "x fast-tick period", "<= ~1")


BENCHMARKS = [command_roundtrip_figures, *compute_proofs.BENCHMARKS]  # proofs: ground/compute/benchmarks.py


#: A short on the unswitched bus in shadow steps a nearly empty battery below the threshold: the
#: time to SAFE is then the node's reaction, not sensor noise around a slow decline.
UV_STEP = {"name": "uv-step", "orbit": "leo550", "duration_h": 0.01, "step_s": 0.1, "initial_soc": 0.04,
           "compute_utilisation": 0.0, "upload_orbit": False,
           "fault": [{"at_h": 0.002, "kind": "bus_short", "value": 5000.0},
                     {"at_h": 0.002, "kind": "array_string_loss", "count": 1000}],
           "criteria": {"max_uv_to_safe_s": 0.5}}


def hil_figures():
    """A 24 h nominal scenario with the node in lockstep, then a forced under-voltage."""
    from gridfree.ground.hil import runner
    from gridfree.ground.hil.scenario import Scenario

    with tempfile.TemporaryDirectory() as tmp:
        result = runner.run(Scenario(name="bench-24h", duration_s=86_400.0), Path(tmp))
        uv = runner.run(Scenario.from_dict(UV_STEP), Path(tmp) / "uv")
    yield Figure("hil_speedup_24h", result.speedup, "sim s / wall s", ">= 100")
    # The node's SOC estimate (downlinked) against the rig's truth, after the first orbit.
    rec = result.record
    pairs = [(est, true) for t, est, true in zip(rec.t_h, rec.node_soc, rec.soc) if t > 1.6 and est == est]
    rmse = (sum((e - s) ** 2 for e, s in pairs) / len(pairs)) ** 0.5 if pairs else float("nan")
    yield Figure("soc_rmse_pct", 100 * rmse, "%", "<= 2 (24 h, 15 orbits, sensor noise)")
    errs = result.observed.eclipse_errors()
    yield Figure("eclipse_predict_max_err_s", max(errs) if errs else float("nan"), "s",
                 f"<= 2 ({len(errs)} shadow edges, predicted up to 30 min ahead, vs the rig's integration)")
    delay = uv.observed.uv_to_safe_s()
    yield Figure("uv_to_safe_ms", 1000 * delay if delay is not None else float("nan"), "ms",
                 "<= 500 (simulated; 10 Hz ticks, two readings below the threshold)")


HIL_BENCHMARKS = [hil_figures, *benchwork.BENCHMARKS, *bencheclipse.BENCHMARKS]  # work per Wh, billing: benchwork.py; eclipses
