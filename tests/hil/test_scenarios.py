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
                        ('policy = "clairvoyant"\n', "policy: one of planned, two-level"),
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
policy = "two-level"

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
    assert "pass  command params.Set at 0.00 h" in proc.stdout  # the node flies the scenario's policy
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


def test_scenario_commands_and_new_criteria_are_checked(tmp_path):
    bad = tmp_path / "bad.toml"
    for text, match in [('[[command]]\nat_h = 1\nname = "node.SetMode"\nexpect = "maybe"\n', "command\\[0\\].expect"),
                        ('[[command]]\nat_h = "soon"\nname = "node.SetMode"\n', "command\\[0\\].at_h"),
                        ('[[command]]\nat_h = 1\nargs = 3\n', "command\\[0\\]"),
                        ('[[fault]]\nat_h = "noon"\nkind = "bus_short"\n', "fault\\[0\\].at_h"),
                        ('upload_orbit = "yes"\n', "upload_orbit"),
                        ('[criteria]\nmax_dod_pct = "thirty"\n', "criteria.max_dod_pct")]:
        bad.write_text(text)
        with pytest.raises(ScenarioError, match=match):
            Scenario.load(bad)
    ok = tmp_path / "ok.toml"
    ok.write_text('[[command]]\nat_h = 0.5\nname = "node.SetMode"\nargs = { mode = "SAFE" }\n'
                  '[criteria]\nmax_dod_pct = 30\nmax_eclipse_err_s = 2.0\n')
    s = Scenario.load(ok)
    assert s.commands[0].at_s == 1800.0 and s.commands[0].expect == "completed" and s.criteria["max_dod_pct"] == 30


def test_depth_of_discharge_is_measured_within_each_orbit_window():
    from gridfree.ground.hil.criteria import max_dod
    from gridfree.ground.hil.record import Record

    rec = Record()
    # Two orbits of 100 s: 0.9 -> 0.7 in the first, then full again, then 0.9 -> 0.6 in the second.
    for t, soc in [(0, 0.9), (50, 0.7), (100, 0.9), (150, 0.6), (200, 0.9), (350, 0.4)]:
        rec.t_h.append(t / 3600)
        rec.soc.append(soc)
    assert max_dod(rec, 100.0) == pytest.approx(0.3)  # 0.9 at 100 s to 0.6 at 150 s
    assert max_dod(rec, 200.0) == pytest.approx(0.5)  # 0.9 at 200 s to 0.4 at 350 s


def test_eclipse_errors_count_only_predictions_made_before_the_edge():
    from gridfree.ground.hil.record import Observations

    seen = Observations(edges=[(1000.0, True), (3000.0, False)])
    seen.predictions = [(100.0, 1000.5, 2998.0), (900.0, 999.0, 3001.0),
                        (990.0, 1050.0, 3001.0),  # inside the last minute before entry: not a prediction
                        (2000.0, 9000.0, 9900.0)]  # refers to the next eclipse: not of these edges
    assert seen.eclipse_errors() == [1.0, 2.0]


def test_a_node_that_trips_before_the_truth_crosses_is_reported_as_early(dictionary):
    from gridfree.ground.hil.criteria import evaluate
    from gridfree.ground.hil.record import Observations, Record
    from gridfree.ground.link.client import EventRecord

    uv = dictionary.event_by_name["power.UnderVoltage"]
    s = Scenario.from_dict({"criteria": {"max_uv_to_safe_s": 0.5}})

    def check(trip_s, crossed_s):
        seen = Observations(uv_crossed_s=crossed_s, events=[EventRecord(uv, uv.id, uv.severity, {}, "uv", trip_s)])
        return evaluate(s, Record(), None, seen)[0][1:]

    assert check(100.3, 100.0) == (True, "SAFE 300 ms after the crossing")
    assert check(99.0, 100.0) == (True, "SAFE 1000 ms before the truth crossed (the node's noisy reading "
                                        "crossed first)")
    assert check(101.0, 100.0)[0] is False


def test_forced_under_voltage_puts_the_node_in_safe_and_it_refuses_nominal(tmp_path):
    from gridfree.ground.bench import UV_STEP
    from gridfree.ground.hil import runner

    doc = dict(UV_STEP, command=[{"at_h": 0.005, "name": "node.SetMode", "args": {"mode": "NOMINAL"},
                                  "expect": "failed"}])
    result = runner.run(Scenario.from_dict(doc), tmp_path)
    assert result.passed, result.checks
    delay = result.observed.uv_to_safe_s()
    assert 0.0 < delay <= 0.5
    trips = [e for e in result.observed.events if e.event and e.event.name == "power.UnderVoltage"]
    assert len(trips) == 1  # latched: sensor noise around the threshold does not repeat it
    assert result.record.node_mode[-1] == 1  # SAFE
    _, handle = result.observed.commands[-1]
    assert "SOC" in handle.failure[1]
