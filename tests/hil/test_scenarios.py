"""`gridfree rig run`: a lockstep scenario against a node process, with faults, criteria and a
report, as a test engineer runs it."""
import subprocess
import sys

import pytest

from gridfree.ground.hil.scenario import Scenario, ScenarioError


def test_scenario_files_are_checked_key_by_key(tmp_path):
    bad = tmp_path / "bad.toml"
    for text, match in [('orbit = "iss500"\nduration_h = -1\n', "duration_h"),
                        ('[[fault]]\nat_h = 1\nkind = "meteor"\n', "fault\\[0\\].kind"),
                        ('[[fault]]\nat_h = 1\nkind = "sensor_stuck"\nregister = "WARP_CORE"\n', "not a register"),
                        ('[criteria]\nmax_fun = 1.0\n', "criteria.max_fun"),
                        ('colour = "red"\n', "unknown key")]:
        bad.write_text(text)
        with pytest.raises(ScenarioError, match=match):
            Scenario.load(bad)


def test_a_short_scenario_with_faults_runs_and_reports(tmp_path):
    scenario = tmp_path / "short.toml"
    scenario.write_text("""
name = "short"
orbit = "leo550"
duration_h = 0.15
step_s = 1.0
initial_soc = 0.6
compute_utilisation = 0.9

[[fault]]
at_h = 0.02
kind = "sensor_stuck"
register = "BATTERY_TEMP_C"
value = -40.0

[[fault]]
at_h = 0.05
kind = "serial_silent"
duration_s = 30

[[fault]]
at_h = 0.08
kind = "radio_ber"
value = 1e-4
duration_s = 120

[criteria]
min_soc = 0.99           # cannot hold with 90 % compute: this criterion must fail
no_undervoltage = true
""")
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "gridfree.ground.hil", "run", str(scenario), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL  min_soc" in proc.stdout and "pass  no_undervoltage" in proc.stdout
    report = (out / "report.md").read_text()
    assert "# HIL scenario `short`: FAIL" in report
    assert "sensor_stuck at 0.02 h" in report and "serial_silent at 0.05 h" in report
    assert "board not answering" in report and "board answering again" in report  # the node saw the fault
    import re
    bad, flipped = map(int, re.search(r"(\d+) bad, .* (\d+) bits flipped", report).groups())
    assert flipped > 0 and bad > 0  # the bit errors reached the ground station's decoder and were counted
    png = (out / "plots.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_example_scenarios_load():
    from pathlib import Path

    examples = sorted((Path(__file__).resolve().parents[2] / "examples" / "scenarios").glob("*.toml"))
    assert len(examples) >= 3
    for path in examples:
        s = Scenario.load(path)
        assert s.duration_s > 0 and s.criteria, path.name
