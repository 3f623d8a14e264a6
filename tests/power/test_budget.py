"""The per-load power budget and the compute grant per orbit segment: hand-worked cases, then the
node's own plan flown on the rig's truth model."""
import pytest

from gridfree.flight.compute.datasheet import BOARD as DATASHEET
from gridfree.flight.core.modes import Mode
from gridfree.flight.power.budget import LoadBudget, plan_segments
from tests.compute import rigboard
from tests.power.test_power_manager import bench, run, upload_orbit


def test_loads_are_served_in_priority_order_and_the_bus_even_past_what_is_available():
    budget = LoadBudget()
    budget.observe({"Avionics": 30.0, "Heater": 30.0, "RadioTx": 20.0, "Payload": 900.0}, 0.0, 6000.0)
    assert budget.allocate(1000.0, 3000.0) == {"Avionics": 30.0, "Heater": 30.0, "RadioTx": 20.0, "Payload": 920.0}
    assert budget.allocate(45.0, 3000.0) == {"Avionics": 30.0, "Heater": 15.0, "RadioTx": 0.0, "Payload": 0.0}
    assert budget.allocate(10.0, 3000.0)["Avionics"] == 30.0  # never shed, even when it is over budget


def test_a_heater_that_runs_in_eclipse_only_is_budgeted_at_its_duty_cycle():
    budget = LoadBudget()
    for k in range(30_000):  # five orbits of 6000 s, heater on for the 2000 s of shadow
        budget.observe({"Heater": 30.0 if k % 6000 < 2000 else 0.0}, float(k), 6000.0)
        if k > 6000:  # at any point of the orbit, not just at its end
            assert budget.average_W["Heater"] == pytest.approx(10.0, abs=0.01)


def test_the_segment_plan_spends_sunlight_first_and_leaves_the_battery_where_it_started():
    t, period = 1000.0, 6000.0
    eclipses = [(t + 1000 + k * period, t + 3000 + k * period) for k in range(3)]
    plan = plan_segments(t, period, 3, eclipses, array_sun_W=1000.0, essentials_W=100.0, drawdown_Wh=500.0,
                         cycle_Wh=10_000.0, payload_max_W=3000.0)
    assert [round(s.end_s - s.start_s) for s in plan[:4]] == [1000, 2000, 3000, 1000]  # the last is orbit 2
    assert [s.sunlit for s in plan[:4]] == [True, False, True, True]
    # By hand: 4000 s of sun at 1000 W less 6000 s of essentials at 100 W leaves 944.4 Wh an orbit;
    # in the first, 500 Wh of drawdown on top. All of it fits in the sunlit 4000 s.
    assert [round(s.power_W) for s in plan[:4]] == [1300, 0, 1300, 850]
    for k in range(3):
        mine = [s for s in plan if t + k * period <= s.start_s < t + (k + 1) * period]
        generated = sum(1000.0 * (s.end_s - s.start_s) for s in mine if s.sunlit) / 3600
        used = sum(s.energy_Wh for s in mine) + 100.0 * period / 3600
        assert generated - used == pytest.approx(-500.0 if k == 0 else 0.0, abs=1e-6)


def test_what_sunlight_cannot_take_goes_to_shadow_as_far_as_the_dod_limit_allows():
    t, period = 0.0, 6000.0
    eclipses = [(1000 + k * period, 3000 + k * period) for k in range(2)]
    kw = dict(array_sun_W=3000.0, essentials_W=100.0, drawdown_Wh=0.0, payload_max_W=1000.0)
    roomy = plan_segments(t, period, 2, eclipses, cycle_Wh=10_000.0, **kw)
    assert [round(s.power_W) for s in roomy[:3]] == [1000, 1000, 1000]  # compute at its maximum throughout
    # A 300 Wh cycle, less the essentials' 55.6 Wh in shadow, leaves 244.4 Wh for 2000 s: 440 W.
    tight = plan_segments(t, period, 2, eclipses, cycle_Wh=300.0, **kw)
    assert [round(s.power_W) for s in tight[:3]] == [1000, 440, 1000]


def test_each_load_draw_matches_the_truth(tmp_path):
    truth, node = bench(tmp_path, soc=0.7, utilisation=0.4)
    upload_orbit(node)
    run(truth, node, node.params.get("power.OrbitPeriodS"))
    avg = node.power.budget.average_W
    assert avg["Avionics"] == pytest.approx(truth.loads.bus_W + truth.loads.radio_rx_W, rel=0.15)
    assert avg["Payload"] == pytest.approx(truth.loads.compute_W, rel=0.05)
    assert node.telemetry.read("power.PayloadW") == pytest.approx(truth.loads.compute_W, rel=0.05)
    assert avg["Heater"] == 0.0 and avg["RadioTx"] == 0.0


def test_compute_flown_to_the_grant_holds_the_battery_and_the_dod_limit(tmp_path):
    """Fly the payload at exactly the granted power through the next orbit (the board busy with the
    node's items, at the clock that draws that power), with half the array lost and the payload
    capped at 3 kW, so that the energy does not all fit in sunlight and the grant
    must reach into the shadow: the battery must end where the plan says (start less the drawdown)
    and never go deeper than the DoD limit."""
    truth, node = rigboard.bench(tmp_path, rigboard.BUSY_WORK_SCALE, soc=0.75)
    node.modes.request(Mode.NOMINAL, "test")
    rigboard.keep_busy(node)  # the payload draws because the board runs the node's items
    truth.array.strings_lost = truth.array.strings // 2
    node.params.set("power.PayloadMaxW", 3000.0)
    upload_orbit(node)
    period = node.params.get("power.OrbitPeriodS")
    run(truth, node, period + 10.0)  # learn, and land on a fresh plan
    capacity_Wh = node.power.soc.capacity_Ah * node.power.nominal_V
    plan, drawdown_Wh = node.power.segments, node.power.grant[1]
    loads = truth.loads
    soc0, lowest, busy0 = truth.battery.soc, truth.battery.soc, truth.ledger.payload_busy_Wh

    def fly():  # the board runs the node's items at the clock that draws the plan's power
        nonlocal lowest
        now = [s for s in plan if s.start_s <= truth.time_s < s.end_s]
        watts = now[0].power_W if now else 0.0
        loads.compute_on = watts >= loads.board.idle_W
        loads.compute_utilisation = DATASHEET.clock_for(watts)  # as the node would command it
        lowest = min(lowest, truth.battery.soc)

    run(truth, node, period, each=fly)
    assert any(not s.sunlit and s.power_W > 0 for s in plan) and drawdown_Wh > 0
    assert truth.ledger.payload_busy_Wh - busy0 > drawdown_Wh  # the node's items drew it, not a test's knob
    assert truth.battery.soc == pytest.approx(soc0 - drawdown_Wh / capacity_Wh, abs=0.03)
    assert soc0 - lowest <= node.params.get("power.DodLimitPct") / 100 + 0.02
    assert truth.ledger.unserved_Wh < 1e-6
