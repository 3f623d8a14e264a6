"""Battery aging in the rig's scenario report and criteria: the truth's SOC record, rainflow
counted against the cycle-life curve, as % of life per day."""
import re

import pytest

from gridfree.ground.hil import report
from gridfree.ground.hil.criteria import evaluate, life_used_pct_per_day
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.power import Battery, Loads
from gridfree.ground.hil.record import RECORD_EVERY_S, Observations, Record
from gridfree.ground.hil.runner import RunResult
from gridfree.ground.hil.scenario import Scenario, ScenarioError
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.compute import Kind
from gridfree.protocols.rainflow import life_used

EPOCH = 1_774_008_000.0


def fly_truth(hours: float, clock: float) -> tuple[Truth, Record]:
    """The rig's truth alone (no node), its payload busy at `clock` throughout, recorded as the
    runner records it."""
    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH, battery=Battery(soc=0.9),
                                loads=Loads(compute_utilisation=clock))
    truth.payload.next_kind, truth.payload.next_work_M = Kind.MATMUL, 1e7  # one item longer than the run
    assert truth.payload.submit(1)
    rec, step_s = Record(), 10.0
    for k in range(int(hours * 3600 / step_s) + 1):
        if k % int(RECORD_EVERY_S / step_s) == 0:
            rec.add_truth(k * step_s / 3600, truth)
            rec.node_mode.append(2)
            rec.node_battery_V.append(truth.bus_V)
            rec.node_soc.append(truth.battery.soc)
        truth.step(step_s)
    return truth, rec


def orbit_record(orbits: int, dod: float, hours: float) -> Record:
    """`orbits` discharges from full to 1 - dod, evenly over `hours`."""
    soc = [1.0, 1.0 - dod] * orbits + [1.0]
    return Record(t_h=[hours * i / (len(soc) - 1) for i in range(len(soc))], soc=soc)


def test_life_used_per_day_is_the_records_count_scaled_to_a_day():
    """15 orbits a day of 20 % DoD are 15 cycles at 1/30 000 of the life each: 0.05 % a day; the
    same count over half a day is twice the rate."""
    assert life_used_pct_per_day(orbit_record(15, 0.20, 24.0)) == pytest.approx((0.05, 24.0))
    assert life_used_pct_per_day(orbit_record(15, 0.20, 12.0)) == pytest.approx((0.10, 12.0))
    assert life_used_pct_per_day(Record()) is None
    assert life_used_pct_per_day(Record(t_h=[0.0], soc=[0.5])) is None


def test_the_criterion_passes_and_fails_on_the_truths_record():
    s = Scenario.from_dict({"criteria": {"max_life_used_pct_per_day": 0.06}})
    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH)
    (name, ok, detail), = evaluate(s, orbit_record(15, 0.20, 24.0), truth, Observations())
    assert (name, ok) == ("max_life_used_pct_per_day", True)
    assert detail == "battery life used 0.0500 % per day over 24.0 h, limit 0.06 %"
    (_, ok, _), = evaluate(s, orbit_record(15, 0.25, 24.0), truth, Observations())  # 0.078 % a day
    assert not ok
    (_, ok, detail), = evaluate(s, Record(), truth, Observations())
    assert not ok and detail == "no SOC record to count"


def test_scenario_files_take_the_criterion_as_a_number_only():
    assert Scenario.from_dict({"criteria": {"max_life_used_pct_per_day": 1}}).criteria == {
        "max_life_used_pct_per_day": 1}
    for bad in ("0.01", True):
        with pytest.raises(ScenarioError, match="criteria.max_life_used_pct_per_day"):
            Scenario.from_dict({"criteria": {"max_life_used_pct_per_day": bad}})


def test_the_report_states_life_used_per_day_from_the_truths_soc(tmp_path, monkeypatch):
    """Three hours of the truth alone with the payload at clock 0.6: the battery cycles every
    orbit, and the report's figure is the rainflow count of exactly the record the plots show."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    truth, rec = fly_truth(3.0, 0.6)
    s = Scenario(name="aging", orbit="iss500", duration_s=3 * 3600.0, initial_soc=0.9)
    result = RunResult(s, rec, truth, wall_s=1.0, checks=[], observed=Observations())
    text = report.write(result, tmp_path).read_text()
    line = re.search(r"- battery life used: ([0-9.]+) % per day \(rainflow cycles of the truth's SOC over "
                     r"3\.0 h, Miner's rule against N = 30000 x \(DoD / 20 %\)\^-2 cycles\)", text)
    assert line, text[:800]
    expected = 100 * life_used(rec.soc) * 24 / 3.0
    assert float(line.group(1)) == pytest.approx(expected, abs=5e-5)
    depth = max(rec.soc) - min(rec.soc)
    assert 0.05 < depth < 0.5 and expected > 0.0001  # it really cycled, and that cost life
    assert text.index("equivalent cycles") < line.start()  # beside the equivalent cycles
