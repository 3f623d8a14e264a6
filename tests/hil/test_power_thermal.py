"""Power and thermal truth against hand calculations: radiator capacity, array output, battery
behaviour, and energy conservation over a day."""
import math

import pytest

from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.power import Battery, Loads, SolarArray, cell_ocv_V
from gridfree.ground.hil.thermal import STEFAN_BOLTZMANN_W_M2K4, ThermalModel, ThermalNode, radiated_W
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.compute import Kind

EPOCH = 1_774_018_000.0


def test_radiator_rejects_epsilon_sigma_T4():
    # A 1 m^2 radiator with emissivity 0.9 at 300 K: 0.9 * 5.670e-8 * 300^4 = 413.4 W.
    node = ThermalNode("r", 1000.0, 300.0, radiating_area_m2=1.0, emissivity=0.9)
    assert radiated_W(node) == pytest.approx(413.4, abs=0.1)


def test_an_isolated_radiator_settles_where_dissipation_equals_radiation():
    # 400 W into 2 m^2 at emissivity 0.85, no Sun or Earth: T = (400 / (0.85 sigma 2))^(1/4) = 304.1 K.
    node = ThermalNode("r", 2000.0, 250.0, radiating_area_m2=2.0, emissivity=0.85, internal_W=400.0)
    model = ThermalModel({"r": node})
    for _ in range(2000):
        model.step(60.0, 0.0, 0.0)
    assert node.temp_K == pytest.approx((400 / (0.85 * STEFAN_BOLTZMANN_W_M2K4 * 2)) ** 0.25, abs=0.05)


def test_array_power_by_hand():
    # 12 m^2, packing 0.85, 30 % at 28 C, normal incidence at 1 AU: 1361 * 12 * 0.85 * 0.30 = 4164.7 W.
    arr = SolarArray()
    assert arr.power_W(1.0, (1, 0, 0), 1.0, 28.0) == pytest.approx(4164.7, abs=0.5)
    assert arr.power_W(1.0, (1, 0, 0), 1.0, 78.0) == pytest.approx(4164.7 * 0.9, abs=0.5)  # -0.2 %/K x 50 K
    arr.strings_lost = 3
    assert arr.power_W(1.0, (1, 0, 0), 1.0, 28.0) == pytest.approx(4164.7 * 0.75, abs=0.5)
    body = SolarArray(sun_tracking=False, normal=(1.0, 0.0, 0.0))
    assert body.power_W(1.0, (math.cos(math.radians(60)), math.sin(math.radians(60)), 0), 1.0, 28.0) \
        == pytest.approx(4164.7 / 2, abs=0.5)
    assert arr.power_W(0.0, (1, 0, 0), 1.0, 28.0) == 0.0


def test_battery_ocv_and_current_limits():
    assert cell_ocv_V(1.0) == 4.2 and cell_ocv_V(0.0) == 3.0
    b = Battery(soc=0.5)
    v, i = b.step(-2000.0, 1.0)  # 2 kW out of the pack: the current is P/V and the voltage sags
    assert i == pytest.approx(-2000.0 / v, rel=1e-6) and v < b.ocv_V
    v, i = b.step(-20000.0, 1.0)
    assert i == -b.max_discharge_A  # limited
    full = b.capacity_Ah
    b.cells_lost = b.parallel // 4
    assert b.capacity_Ah == pytest.approx(full * 0.75)


@pytest.mark.parametrize("clock", [0.6, 0.0], ids=["cycling", "full-every-orbit"])
def test_energy_balance_closes_over_a_day(clock):
    """Idle, the battery is full within every orbit: the charge it cannot take then is the
    shunt's, never counted in at its terminals (that was 84 Wh a day of charge that vanished)."""
    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH, loads=Loads(compute_utilisation=clock))
    truth.payload.next_kind, truth.payload.next_work_M = Kind.MATMUL, 1e7  # an item longer than the day:
    assert truth.payload.submit(1)  # the payload draws at its clock throughout
    start_soc = truth.battery.soc
    start_Wh = truth.battery.stored_Wh()
    for _ in range(8640):
        truth.step(10.0)
    b, led = truth.battery, truth.ledger
    # Bus: what the arrays made either fed the loads, went into the battery, or was shunted.
    into_battery_Wh = b.charge_in_Wh - b.charge_out_Wh
    bus_error = led.solar_Wh - (led.load_Wh - led.unserved_Wh) - led.shunt_Wh - into_battery_Wh
    assert abs(bus_error) <= 0.005 * led.solar_Wh
    # Battery: what went in at the terminals was stored or lost as I^2R and coulombic loss.
    stored_change_Wh = b.stored_Wh() - start_Wh
    cell_error = into_battery_Wh - b.ir_loss_Wh - b.coulombic_loss_Wh - stored_change_Wh
    assert abs(cell_error) <= 0.001 * (b.charge_in_Wh + b.charge_out_Wh)
    assert b.soc != start_soc and 0 < b.cycles < 20  # it really cycled
