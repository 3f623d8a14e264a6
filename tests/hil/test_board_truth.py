"""The rig's payload board is its own truth, not the node's datasheet: a scenario can give the node a
board that draws more than it was told, and the node meters and lives with the board it has."""
import time
from pathlib import Path

import pytest

from gridfree.flight.compute.datasheet import BOARD
from gridfree.ground.hil import runner
from gridfree.ground.hil.payload import PayloadBoard
from gridfree.ground.hil.scenario import Scenario, ScenarioError
from gridfree.ground.link.client import GroundClient
from gridfree.protocols.links.ptypair import PtyPair

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "board-off-datasheet.toml"
SLICE_S = 240.0  # quotas, NOMINAL, two jobs submitted at 72 s, then the payload working


def test_the_default_board_is_the_datasheet_and_a_scenario_can_change_it(tmp_path):
    for clock in (0.0, 0.05, 0.3, 0.5, 0.77, 1.0):
        assert PayloadBoard().power_W(clock) == pytest.approx(float(BOARD.power_W(clock)), rel=1e-12)
    assert Scenario.from_dict({}).board == PayloadBoard()  # scenarios without [board] fly as before
    hot = Scenario.from_dict({"board": {"idle_W": 318.0, "max_W": 6360.0}}).board
    assert hot.power_W(0.5) == pytest.approx(1.06 * float(BOARD.power_W(0.5)))
    knee = PayloadBoard(dvfs_knee=0.4)  # below the knee the voltage stays at its floor
    assert knee.voltage(0.1) == knee.voltage(0.4) == 0.6 and knee.voltage(1.0) == 1.0
    bad = tmp_path / "bad.toml"
    for text, match in [("[board]\nmax_W = -5\n", "board.max_W"), ("[board]\nwatts = 5\n", "board.watts"),
                        ("[board]\nidle_W = 7000.0\n", "idle_W 7000"), ("board = 3\n", "board")]:
        bad.write_text(text)
        with pytest.raises(ScenarioError, match=match):
            Scenario.load(bad)


@pytest.mark.slow
def test_the_node_meters_the_board_it_has_not_its_datasheet(tmp_path, dictionary):
    """A slice of the example scenario, stepped as `runner.run` steps it, reading what the node
    downlinks as it goes: its payload power readings follow the rig's board, 6 % above what its
    datasheet says for the same clock, and it stays inside its limits."""
    scenario = Scenario.load(EXAMPLE)
    scenario.duration_s = SLICE_S
    pairs = []  # (clock the rig's board runs at, the node's downlinked payload power reading)
    with PtyPair() as radio:
        session = runner.Session(scenario, tmp_path, radio.paths[1])
        try:
            with GroundClient(radio.paths[0], dictionary, security=session.ground_security()) as ground:
                session.attach(ground, dictionary.parameter_by_name["power.UnderVoltageV"].default)
                steady, last_clock = 0, None
                wall0 = time.perf_counter()
                while not session.done:
                    session.step()
                    clock = session.truth.loads.compute_utilisation
                    steady = steady + 1 if clock == last_clock else 0
                    last_clock = clock
                    reading = ground.value("eps.PayloadPower")
                    if steady >= 5 and reading is not None and session.truth.loads.compute_on:
                        pairs.append((clock, reading))
                result = session.result(time.perf_counter() - wall0)
        finally:
            session.close()

    # Within its limits: SOC, DoD, temperatures, no under-voltage, every command carried out. (The
    # jobs take longer than the slice, so their results are checked only by the whole scenario.)
    assert all(ok for name, ok, _ in result.checks if name != "results_verified"), result.checks
    assert not [e for e in result.observed.events if e.event and e.event.name == "power.UnderVoltage"]
    working = [(c, w) for c, w in pairs if c >= 0.1]
    assert len(working) >= 20, f"the payload hardly ran: {sorted({c for c, _ in pairs})}"
    board = scenario.board
    # The sensor's noise is 3 W and the readings come down at most a few seconds late; the board
    # and the datasheet differ by 6 % (over 50 W at these clocks).
    off_truth = sorted(abs(w - board.power_W(c)) / board.power_W(c) for c, w in working)
    off_datasheet = sorted((w - float(BOARD.power_W(c))) / float(BOARD.power_W(c)) for c, w in working)
    assert off_truth[len(off_truth) // 2] < 0.01, off_truth
    assert 0.05 < off_datasheet[len(off_datasheet) // 2] < 0.07, off_datasheet
