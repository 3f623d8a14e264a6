"""One format per channel wherever the console shows a value, hashes in hex as `gridfree dict`
writes them, no "± 0.0" on the state of charge, and a depth of discharge computed by the
scenario report's rule."""
from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np

from gridfree.ground.console.compute import ComputeView
from gridfree.ground.console.linkstatus import LinkStatusPanel
from gridfree.ground.console.plots import SeriesStore
from gridfree.ground.console.power import PowerView
from gridfree.ground.console.telemetrymodel import TelemetryModel
from gridfree.ground.console.thermal import ThermalView
from gridfree.ground.hil.criteria import max_dod
from gridfree.ground.link.records import Sample
from tests.console.conftest import T0


def test_a_value_reads_the_same_in_the_table_and_in_every_panel(qtbot, dictionary, clock):
    batch = [Sample("power.Soc", 55.9904, T0), Sample("eps.ArrayPower", 2466.72, T0),
             Sample("power.GrantPowerW", 1234.5678, T0), Sample("eps.BatteryTemp", 21.04, T0),
             Sample("thermal.HeadroomC", 3.456, T0), Sample("compute.PlannedPowerW", 2480.0, T0),
             Sample("compute.Utilisation", 87.25, T0)]
    table = TelemetryModel(dictionary, clock=clock)
    power, thermal = PowerView(dictionary, SeriesStore(dictionary)), ThermalView(dictionary, SeriesStore(dictionary))
    compute = ComputeView(dictionary)
    for view in (power, thermal, compute):
        qtbot.addWidget(view)
    table.apply_samples(batch)
    table.refresh()
    for view in (power, thermal, compute):
        view.apply_samples(batch)
        view.refresh()
    shown = {"power.Soc": power.readouts["power.Soc"].text(), "eps.ArrayPower": power.readouts["eps.ArrayPower"].text(),
             "power.GrantPowerW": power.readouts["power.GrantPowerW"].text(),
             "eps.BatteryTemp": thermal.labels["eps.BatteryTemp"].text(), "thermal.HeadroomC": thermal.headroom.text(),
             "compute.PlannedPowerW": compute.readouts["compute.PlannedPowerW"].text(),
             "compute.Utilisation": compute.readouts["compute.Utilisation"].text()}
    assert shown == {name: table.value_text(name) for name in shown}
    assert shown == {"power.Soc": "56.0 %", "eps.ArrayPower": "2466.7 W", "power.GrantPowerW": "1234.6 W",
                     "eps.BatteryTemp": "21.0 C", "thermal.HeadroomC": "3.5 C", "compute.PlannedPowerW": "2480.0 W",
                     "compute.Utilisation": "87.2 %"}


def test_the_dictionary_hash_is_hex_in_the_console_as_in_gridfree_dict(qtbot, dictionary, fake, tmp_path):
    out = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "dict", "-o", str(tmp_path / "d.json")],
                         capture_output=True, text=True, timeout=60)
    cli_hex = re.search(r"sha256:([0-9a-f]{64})", out.stderr).group(1)
    assert "sha256:" + cli_hex == dictionary.hash
    reported = int(cli_hex[:16], 16)  # the node reports the first 64 bits
    fake.sample("node.DictionaryHash", reported)
    fake.hash_mismatch = False
    table = TelemetryModel(dictionary)
    table.apply_samples([fake.latest["node.DictionaryHash"]])
    assert table.value_text("node.DictionaryHash") == cli_hex[:16]  # hex, 16 digits, not 20 decimal ones
    assert str(reported) not in table.value_text("node.DictionaryHash")
    panel = LinkStatusPanel(fake)
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.labels["dictionary"].text() == f"matches the node: {cli_hex[:16]}"
    fake.sample("node.DictionaryHash", 0x00AB)  # a small hash keeps its width: leading zeros
    fake.hash_mismatch = True
    panel.refresh()
    assert panel.labels["dictionary"].text() == f"MISMATCH: node 00000000000000ab, ours {cli_hex[:16]}"


def soc_view(qtbot, dictionary, batch):
    store = SeriesStore(dictionary)
    view = PowerView(dictionary, store)
    qtbot.addWidget(view)
    store.apply_samples(batch)
    view.apply_samples(batch)
    view.refresh()
    return view


def test_the_soc_shows_a_spread_only_when_the_readout_can_show_it(qtbot, dictionary):
    # A converged filter's sigma, 0.016 %, once read "79.3 ± 0.0 %".
    view = soc_view(qtbot, dictionary, [Sample("power.Soc", 79.31, T0), Sample("power.SocSigma", 0.016, T0)])
    assert view.readouts["power.Soc"].text() == "79.3 %"
    view = soc_view(qtbot, dictionary, [Sample("power.Soc", 79.31, T0), Sample("power.SocSigma", 2.04, T0)])
    assert view.readouts["power.Soc"].text() == "79.3 ± 2.0 %"  # at boot, or after a silent EPS line


def test_the_deepest_discharge_is_the_reports_figure_from_the_same_soc_history(qtbot, dictionary):
    period_s = float(dictionary.parameter_by_name["power.OrbitPeriodS"].default)
    t = T0 + np.arange(0.0, 3 * period_s, 10.0)
    phase = ((t - T0) % period_s) / period_s
    # Charging to full in sunlight from where the last shadow left it, then down in shadow, 3 points
    # deeper each orbit: 8, 11, 14.
    orbit = np.floor((t - T0) / period_s)
    depth, bottom_before = 8.0 + 3.0 * orbit, np.where(orbit > 0, 100.0 - (5.0 + 3.0 * orbit), 92.0)
    soc = np.where(phase < 0.62, np.minimum(100.0, bottom_before + 60.0 * phase), 100.0 - depth * (phase - 0.62) / 0.38)
    batch = [Sample("power.Soc", float(s), float(ti)) for ti, s in zip(t, soc)]
    batch.append(Sample("power.DodOrbit", 0.0, float(t[-1])))  # the node's figure: at the peak now
    view = soc_view(qtbot, dictionary, batch)
    by_hand = 100 * max_dod(SimpleNamespace(soc=list(soc / 100), t_h=list((t - T0) / 3600)), period_s)
    assert abs(by_hand - 14.0) < 0.1  # the third orbit's shadow, as made
    assert view.deepest_readout.text() == f"{by_hand:.1f} %"
    assert view.readouts["power.DodOrbit"].text() == "0.0 %"  # the node's "now", shown beside it
