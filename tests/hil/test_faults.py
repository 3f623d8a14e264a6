"""Rig faults: each kind a scenario names is one class that applies itself to the rig and, given
a duration, clears itself again, leaving the rig as it found it."""
import pytest

from gridfree.ground.hil.board import EmulatedBoard
from gridfree.ground.hil.faults import FAULTS, BitErrors, FaultError, Rig, parse
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.registers import Reg

EPOCH = 1_774_018_000.0
TABLES = {
    "sensor_stuck": {"register": "BATTERY_TEMP_C", "value": -40.0},
    "sensor_noisy": {"register": "BATTERY_CURRENT_A", "sigma": 2.0},
    "sensor_bias": {"register": "BATTERY_CURRENT_A", "bias": 0.8},
    "battery_cell_loss": {"count": 15},
    "array_string_loss": {"count": 4},
    "heater_stuck_on": {},
    "serial_silent": {},
    "radio_ber": {"value": 1e-4},
    "bus_short": {"value": 6000.0},
}


def rig():
    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH)
    return Rig(truth, EmulatedBoard(truth), BitErrors())


def state(r: Rig):
    b, t = r.board.faults, r.truth
    return (dict(b.stuck), dict(b.extra_sigma), dict(b.bias), b.silent, t.battery.cells_lost, t.array.strings_lost,
            t.loads.heaters_on, t.loads.bus_W, r.radio.ber)


def test_every_kind_parses_and_changes_the_rig():
    assert set(TABLES) == set(FAULTS)
    for kind, table in TABLES.items():
        r = rig()
        fault = parse({"at_h": 1.5, "kind": kind, "duration_s": 60, **table})
        assert fault.kind == kind and fault.at_s == 5400.0 and fault.duration_s == 60.0
        before = state(r)
        fault.apply(r)
        assert state(r) != before, kind
        fault.clear(r)
        if kind != "battery_cell_loss":  # lost cells stay lost
            assert state(r) == before, kind


def test_a_stuck_sensor_reads_its_value_until_cleared():
    r = rig()
    fault = parse({"kind": "sensor_stuck", "register": "BATTERY_TEMP_C", "value": -40.0})
    fault.apply(r)
    assert r.board.measure(Reg.BATTERY_TEMP_C) == -40.0
    fault.clear(r)
    assert r.board.measure(Reg.BATTERY_TEMP_C) == pytest.approx(r.truth.thermal.nodes["battery"].temp_C, abs=2.0)


@pytest.mark.parametrize("table, key", [
    ({"kind": "meteor"}, "kind"),
    ({"kind": "sensor_bias", "bias": 1.0}, "register"),
    ({"kind": "sensor_bias", "register": "WARP_CORE"}, "register"),
    ({"kind": "bus_short", "value": "lots"}, "value"),
    ({"kind": "battery_cell_loss", "count": 1.5}, "count"),
    ({"kind": "bus_short", "watts": 5}, "watts"),
])
def test_a_bad_fault_table_names_its_key(table, key):
    with pytest.raises(FaultError) as err:
        parse(table)
    assert err.value.key == key
