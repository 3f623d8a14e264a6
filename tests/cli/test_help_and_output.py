"""What the commands print when used right: whole help texts, and values as they were sent."""
from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

from gridfree.flight.study.cli import HEAD, dod_verdict, plot, row
from gridfree.flight.study.schedsim import DOD_LIMIT, Case, Outcome
from gridfree.ground.archive.export import unique_series, write_csv, write_npz
from gridfree.ground.hil.cli import ORBIT_PRESETS
from gridfree.ground.hil.orbit import preset
from gridfree.ground.link.terminal import printer


def help_of(*argv) -> str:
    proc = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", *argv, "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return " ".join(proc.stdout.split())  # argparse wraps lines: compare the words


def test_dict_help_is_a_whole_sentence_and_says_what_each_format_is_for():
    text = help_of("dict")
    assert "XTCE 1.2 (for other mission-control systems)." in text
    assert "--format {json,xtce} json:" in text


def test_bench_help_lists_the_groups():
    from importlib.metadata import entry_points

    text = help_of("bench")
    assert all(ep.name in text for ep in entry_points(group="gridfree.benchmarks"))


@pytest.mark.parametrize("argv, option, says", [
    (["cmd"], "--timeout TIMEOUT", "seconds to wait"),
    (["export"], "--format {csv,npz}", "default: from the output's suffix"),
    (["rig", "serve"], "--orbit ORBIT", "iss500, leo550, sso650-dawn-dusk"),
])
def test_options_have_help(argv, option, says):
    text = help_of(*argv)
    assert says in text.rsplit(option, 1)[1][:200]  # the last mention: the option list, not the usage


def test_the_orbits_rig_serve_names_are_the_rigs_presets():
    for name in ORBIT_PRESETS:
        preset(name, 0.0)  # raises for a name the rig does not know


def test_a_float32_value_is_written_as_sent_not_as_its_double(tmp_path):
    sent = np.array([31.61, np.nan, 1e30], np.float32)
    series = {"power.Soc": (np.array([1.0, 2.0, 3.0]), sent)}
    write_csv(series, tmp_path / "x.csv")
    with open(tmp_path / "x.csv", newline="") as f:
        values = [r["value"] for r in csv.DictReader(f)]
    assert values == ["31.61", "nan", "1e+30"]
    assert np.array_equal(np.array(values, np.float32), sent, equal_nan=True)  # and reads back exactly


def test_exact_repeats_of_a_sample_are_written_once(tmp_path):
    # A counter in two housekeeping packets: the same (time, value) twice; a real change kept.
    t = np.array([10.0, 10.0, 11.0, 11.0, 12.0])
    v = np.array([0, 0, 1, 2, 2], np.uint32)
    series, dropped = unique_series({"cmdDisp.CommandsAccepted": (t, v)})
    kept_t, kept_v = series["cmdDisp.CommandsAccepted"]
    assert dropped == 1 and kept_t.tolist() == [10.0, 11.0, 11.0, 12.0] and kept_v.tolist() == [0, 1, 2, 2]
    write_npz(series, tmp_path / "named.data")  # exactly the name given, no .npz appended
    with np.load(tmp_path / "named.data") as npz:
        assert npz["cmdDisp.CommandsAccepted"]["v"].tolist() == [0, 1, 2, 2]


def test_tm_prints_values_in_the_channels_format_not_the_widened_double(dictionary, capsys):
    from gridfree.ground.link.records import Sample

    show = printer(dictionary, {"power.Soc", "node.Mode"})
    show("sample", Sample("power.Soc", float(np.float32(31.61)), 1_774_008_000.0))
    show("sample", Sample("node.Mode", dictionary.channel_by_name["node.Mode"].enum["SAFE"], 1_774_008_001.0))
    show("sample", Sample("power.Soc", float("nan"), 1_774_008_002.0))
    assert [line.split(" ", 1)[1] for line in capsys.readouterr().out.splitlines()] == [
        "power.Soc = 31.6 %", "node.Mode = SAFE", "power.Soc = no value"]


def _outcome(policy: str, max_dod: float) -> Outcome:
    return Outcome(policy, verified_mflop=1e9, energy_Wh=1e3, orbits=1.0, max_dod=max_dod, soc=[0.8, 0.4],
                   payload_W=[0.0, 0.0], temp_C=[20.0, 20.0])


def test_sched_compare_flags_a_policy_over_the_dod_limit():
    case = Case("nominal", None)
    greedy, planned = _outcome("greedy", 0.406), _outcome("planned", DOD_LIMIT - 0.02)
    assert row(case, greedy).split()[7] == "OVER" and "OVER" not in row(case, planned)
    assert len(row(case, greedy)) <= len(HEAD) + 4
    assert dod_verdict([("nominal", greedy)]) == "OVER the 30 % DoD limit: greedy in nominal (40.6 %)"
    assert dod_verdict([]) == "every policy kept within the 30 % DoD limit"
    assert "over the 30 % DoD limit: greedy 40.6 %" in plot(case, [greedy, planned])


def test_sched_compare_json_is_json_for_an_orbit_the_user_names(tmp_path):
    """`--json` is read by scripts: every figure a JSON number or flag, for any orbit."""
    import json

    proc = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "sched-compare", "--orbit", "800,sso,10.5", "--hours", "1",
                           "--workload", "energy", "--json", "--plots", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (case, figures), = json.loads(proc.stdout).items()
    assert case == "orbit 800,sso,10.5/energy" and figures["best_baseline"] != "planned"
    assert figures["planned"]["violations"] == {"soc": 0, "dod": 0, "current": 0, "thermal": 0}
    assert figures["planned"]["dod_over_limit"] is False and (tmp_path / "orbit_800,sso,10.5-energy.svg").exists()
