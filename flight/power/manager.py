"""The power manager: keep the battery healthy first, hand what is left to compute second.

Every fast tick it estimates SOC from the eps readings and checks for under-voltage: two readings
in a row below the threshold put the node in SAFE (with the reason) and switch the payload off,
within two ticks of the crossing. At 1 Hz it sheds and restores loads with hysteresis (compute
first; the radio receiver and the flight computer are never shed), enforces the depth-of-discharge
limit over the last orbit, and recomputes the power grant the compute manager may spend. Leaving
SAFE needs margin, enforced as a mode guard, so a battery hovering at the threshold cannot bounce
the node in and out of SAFE.

It reads the battery and arrays from the EPS's `EpsReadings` (readingsIn), switches the payload
through switchOut, and offers compute everything it knows about energy as one `PowerOutlook`
every 1 Hz tick (outlookOut).
"""
from __future__ import annotations

from collections import deque

from gridfree.flight.core.component import Component
from gridfree.flight.core.modes import Mode
from gridfree.flight.core.ports import InPort, OutPort
from gridfree.flight.hardware.interfaces import Quantity, Switch
from gridfree.flight.hardware.ports import NO_READINGS, EpsReadings, SwitchCommand
from gridfree.flight.power.budget import LOADS, PAYLOAD, GrantSegment, LoadBudget, plan_segments
from gridfree.flight.power.eclipse import EclipsePredictor, OrbitElements
from gridfree.flight.power.outlook import PowerLimits, PowerOutlook
from gridfree.flight.power.soc import SocEstimator
from gridfree.protocols.dictionary import (
    Channel, Command, Event, Field, HousekeepingPacket, Limits, Parameter, Severity,
)
from gridfree.flight.compute.datasheet import BOARD

SAFE_EXIT_MARGIN_V_PER_CELL = 0.05
SHUNT_FREE_SOC = 0.95  # below this the battery takes all the surplus the arrays offer...
CHARGE_LIMIT_MARGIN = 0.97  # ...unless its current is at the EPS's charge limit (within sensor noise)
#: While the EPS is silent the current is unknown; a sun/shadow change in the gap swings it by
#: tens of amps, which is what the SOC's uncertainty must grow by.
COAST_CURRENT_SIGMA_A = 30.0
#: Array output below this is shadow: arrays in sunlight give kilowatts, in shadow only sensor noise.
SHADOW_ARRAY_W = 50.0


class PowerManager(Component):
    channels = (
        Channel(1, "Soc", "f32", "%", "Estimated state of charge", Limits(red_low=15.0, yellow_low=30.0)),
        Channel(2, "SocSigma", "f32", "%", "1-sigma uncertainty of the SOC estimate"),
        Channel(3, "DodOrbit", "f32", "%", "Depth of discharge since the highest SOC of the last orbit"),
        Channel(4, "PayloadShed", "bool", description="The compute payload is switched off to save the battery"),
        Channel(5, "GrantPowerW", "f32", "W", "Power the compute manager may draw now"),
        Channel(6, "GrantEnergyWh", "f32", "Wh", "Energy the compute manager may use before the DoD floor"),
        Channel(7, "UnderVoltageTrips", "u16", description="Under-voltage protections since boot"),
        Channel(8, "CycleCount", "f32", description="Equivalent full cycles counted since boot"),
        Channel(9, "NextEclipseS", "f32", "s", "Time to the next shadow entry (0 while in shadow, -1 unknown)"),
        Channel(10, "NextEclipseDurationS", "f32", "s", "Duration of the next (or current) eclipse"),
        Channel(11, "EclipseFraction", "f32", "%", "Share of the coming orbit spent in shadow"),
        Channel(12, "ForecastNetWh1", "f32", "Wh", "Energy forecast: generation - consumption, next orbit"),
        Channel(13, "ForecastNetWh2", "f32", "Wh", "Energy forecast, the orbit after"),
        Channel(14, "ForecastNetWh3", "f32", "Wh", "Energy forecast, the third orbit"),
        Channel(15, "ForecastMinSocPct", "f32", "%", "Lowest SOC forecast over the next three orbits"),
        Channel(16, "LoadW", "f32", "W", "Power drawn by all loads (arrays minus battery charging)"),
        *(Channel(17 + k, name, "f32", "W", text)
          for k, (name, text) in enumerate((n + suffix, text.format(n)) for n in (load.name for load in LOADS)
                                           for suffix, text in (("W", "{} draw now"),
                                                                ("BudgetW", "{} orbit-average allowance")))),
        Channel(25, "BudgetMarginW", "f32", "W", "Orbit-average power available less what all loads draw",
                Limits(red_low=-200.0, yellow_low=0.0)),
        Channel(28, "CapacityAh", "f32", "Ah", "Battery capacity measured over eclipses (charge out / SOC drop)"),
        Channel(29, "CapacityFadePct", "f32", "%", "Capacity lost against the nameplate",
                Limits(yellow_high=20.0, red_high=35.0)),
        Channel(26, "NextEclipseEntry", "f64", "s", "Predicted shadow entry of the next (or current) eclipse",
                time_scale="UTC"),
        Channel(27, "NextEclipseExit", "f64", "s", "Predicted shadow exit of the next (or current) eclipse",
                time_scale="UTC"),
    )
    commands = (
        Command("SetOrbit", opcode=0x01, description="Upload orbital elements from orbit determination", arguments=(
            Field("epoch_unix_s", "f64", "s"), Field("a_km", "f64", "km", min=6500.0, max=50000.0),
            Field("e", "f64", min=0.0, max=0.9), Field("i_deg", "f64", "deg", min=0.0, max=180.0),
            Field("raan_deg", "f64", "deg", min=-360.0, max=360.0), Field("argp_deg", "f64", "deg", min=-360.0, max=360.0),
            Field("mean_anomaly_deg", "f64", "deg", min=-360.0, max=360.0),
            Field("nodal_period_s", "f64", "s", min=0.0, max=200000.0, description="0: derive from a_km"))),
    )
    events = (
        Event(1, "UnderVoltage", Severity.WARNING_HI, "battery {voltage_V:.2f} V below {threshold_V:.2f} V: SAFE",
              (Field("voltage_V", "f32", "V"), Field("threshold_V", "f32", "V"))),
        Event(2, "LoadShed", Severity.WARNING_LO, "payload off: {reason}", (Field("reason", "string[40]"),)),
        Event(3, "LoadRestored", Severity.ACTIVITY_LO, "payload restored at SOC {soc_pct:.1f} %",
              (Field("soc_pct", "f32", "%"),)),
    )
    parameters = (
        Parameter(1, "UnderVoltageV", "f32", 25.6, "V", "Battery voltage that forces SAFE (3.2 V/cell)",
                  min=20.0, max=30.0, hazardous=True),
        Parameter(2, "ShedSocPct", "f32", 30.0, "%", "Payload off below this SOC", min=5.0, max=90.0, hazardous=True),
        Parameter(3, "RestoreSocPct", "f32", 40.0, "%", "Payload on again above", min=10.0, max=95.0, hazardous=True),
        Parameter(4, "DodLimitPct", "f32", 30.0, "%", "Largest depth of discharge allowed per orbit",
                  min=5.0, max=80.0, hazardous=True),
        Parameter(5, "OrbitPeriodS", "f32", 5677.0, "s", "Window of the per-orbit DoD limit", min=3000.0,
                  max=20000.0, hazardous=True),
        Parameter(6, "SafeExitSocPct", "f32", 40.0, "%", "SOC to leave SAFE", min=10.0, max=95.0, hazardous=True),
        Parameter(7, "HeaterNominalW", "f32", 80.0, "W", "Survival heater draw when on", min=0.0, max=1000.0),
        Parameter(8, "RadioTxNominalW", "f32", 20.0, "W", "Transmitter draw when on", min=0.0, max=1000.0),
        Parameter(9, "PayloadMaxW", "f32", BOARD.max_W, "W", "Compute payload draw at full utilisation",
                  min=0.0, max=20000.0, hazardous=True),
    )
    ports = (
        InPort("readingsIn", EpsReadings, "the EPS's readings: battery voltage and current, array and payload power"),
        OutPort("switchOut", SwitchCommand, "the payload's switch, for shedding and restoring it", returns=bool),
        OutPort("outlookOut", PowerOutlook, "grant, shed state, eclipses, SOC and limits, every 1 Hz tick",
                fan_out=True),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("Soc", "SocSigma", "DodOrbit", "PayloadShed", "GrantPowerW",
                                                     "GrantEnergyWh", "UnderVoltageTrips", "CycleCount", "CapacityAh",
                                                     "CapacityFadePct"), 1.0,
                                       "Power management"),
                    HousekeepingPacket(2, "Eclipse", ("NextEclipseS", "NextEclipseDurationS", "EclipseFraction",
                                                      "ForecastNetWh1", "ForecastNetWh2", "ForecastNetWh3",
                                                      "ForecastMinSocPct", "LoadW", "NextEclipseEntry",
                                                      "NextEclipseExit"), 10.0,
                                       "Eclipse prediction and energy forecast"),
                    HousekeepingPacket(3, "Budget", tuple(c.name for c in channels[16:25]), 10.0,
                                       "Power budget per load"))

    def __init__(self, name: str, id_base: int, *, capacity_Ah: float = 180.0, series: int = 8,
                 resistance_ohm: float = 0.0053, nominal_V: float = 29.6, max_discharge_W: float = 4000.0,
                 max_charge_A: float = 100.0, battery_fitted: bool = True):
        super().__init__(name, id_base)
        self.battery_fitted = battery_fitted
        self._readings = NO_READINGS
        self._confirmed: dict[Switch, tuple[float, bool]] = {}  # what this manager switched, and when
        self.soc = SocEstimator(capacity_Ah, series, resistance_ohm)
        self.series, self.nominal_V, self.max_discharge_W = series, nominal_V, max_discharge_W
        self.max_charge_A = max_charge_A
        self._low_count = 0
        self._uv_latched = False
        self.nameplate_Ah = capacity_Ah
        self.capacity_Ah: float | None = None  # measured, once an eclipse has been long enough
        self._shadow: list[tuple[float, float]] | None = None  # (Ah out, SOC from voltage) in this eclipse
        self._last_A = 0.0  # the last battery current read, carried through a silent line
        self._coast_s = 0.0  # how long the line has been silent
        self._initialised = False
        self._last_fast_s: float | None = None
        self.shed = False
        self.uv_trips = 0
        self.discharged_Ah = 0.0
        self._history: deque = deque()  # (t, soc) over the last orbit, for the DoD limit
        self.grant = (0.0, 0.0)  # (power W, energy Wh) the compute manager may use now
        self.segments: list[GrantSegment] = []  # and per sunlit/shadow segment of the next orbits
        self.budget = LoadBudget()
        self._load_now_W: float | None = None
        self.predictor: EclipsePredictor | None = None
        self.array_sun_W = 0.0  # array output in full sun, learnt from the readings
        self.load_W = 0.0  # smoothed total load
        self.forecast: list[float] = []
        self.eclipses: list[tuple[float, float]] = []

    def attach(self, ctx) -> None:
        super().attach(ctx)
        ctx.modes.add_guard("power", self._safe_exit_guard)

    def readingsIn_handler(self, readings: EpsReadings) -> None:
        self._readings = readings

    def _switch(self, s: Switch, on: bool) -> bool:
        ok = self.out("switchOut", SwitchCommand(s, on))
        if ok:
            self._confirmed[s] = (self.ctx.clock.now(), on)
        return ok

    def _is_on(self, s: Switch) -> bool | None:
        """What the board last confirmed for `s`: this manager's own switching if it is newer than
        the EPS's last sweep, else the sweep's."""
        mine = self._confirmed.get(s)
        return mine[1] if mine is not None and mine[0] >= self._readings.t else self._readings.is_on(s)

    def schedule(self):
        return {"fast": [self.fast], "slow": [self.slow], "background": [self.predict]}

    def cmd_SetOrbit(self, epoch_unix_s, a_km, e, i_deg, raan_deg, argp_deg, mean_anomaly_deg, nodal_period_s):
        self.predictor = EclipsePredictor(OrbitElements(epoch_unix_s, a_km, e, i_deg, raan_deg, argp_deg,
                                                        mean_anomaly_deg, nodal_period_s or None))
        self.eclipses = []
        self.predict(self.ctx.clock.now())

    def predict(self, t: float) -> None:
        """Every 10 s: the eclipses of the next three orbits from the uploaded elements, and the
        energy forecast over them."""
        if self.predictor is None:
            self.tlm("NextEclipseS", -1.0)
            return
        horizon_s = 3.0 * self.param("OrbitPeriodS")
        self.eclipses = self.predictor.eclipses(t, horizon_s)
        in_shadow = self.predictor.sunlit_fraction(t) < 0.5
        current = [(a, b) for a, b in self.eclipses if (b > t if in_shadow else a > t)]
        if current:
            entry, exit_ = current[0]
            self.tlm("NextEclipseS", 0.0 if in_shadow else entry - t)
            self.tlm("NextEclipseDurationS", exit_ - t if in_shadow else exit_ - entry)
            self.tlm("NextEclipseEntry", entry)
            self.tlm("NextEclipseExit", exit_)
        period = self.param("OrbitPeriodS")
        shadow = sum(min(b, t + period) - max(a, t) for a, b in self.eclipses if b > t and a < t + period)
        self.tlm("EclipseFraction", 100 * shadow / period)
        self._forecast(t, period)
        self._allocate(t, period, shadow / period)

    def _allocate(self, t: float, period: float, shadow_fraction: float) -> None:
        """The per-load budget and the compute grant per segment, from the same orbit picture."""
        drawdown_Wh = self.grant[1]
        available_W = self.array_sun_W * (1.0 - shadow_fraction) + drawdown_Wh * 3600.0 / period
        payload_max_W = self.param("PayloadMaxW")
        shares = self.budget.allocate(available_W, payload_max_W)
        for name, w in shares.items():
            self.tlm(name + "BudgetW", w)
        used = sum(v or 0.0 for v in self.budget.average_W.values())
        self.tlm("BudgetMarginW", available_W - used)
        capacity_Wh = self.soc.capacity_Ah * self.nominal_V
        self.segments = plan_segments(
            t, period, 3, self.eclipses, array_sun_W=self.array_sun_W, essentials_W=self.budget.essentials_W,
            drawdown_Wh=drawdown_Wh, cycle_Wh=self.param("DodLimitPct") / 100.0 * capacity_Wh,
            payload_max_W=payload_max_W) if self.array_sun_W else []

    def _safe_exit_guard(self, old: Mode, new: Mode):
        # Margins unknown are margins missing: until the battery has been read, NOMINAL waits. Only
        # a node configured without a battery ([power] battery = false, a development host) has
        # nothing to judge; a node whose board stopped answering keeps its estimate.
        if old is not Mode.SAFE or new is not Mode.NOMINAL:
            return None
        if not self._initialised:
            if not self.battery_fitted:
                return None
            return "battery state unknown: no battery voltage and current read since boot"
        need = self.param("SafeExitSocPct") / 100.0
        if self.soc.soc < need:
            return f"SOC {100 * self.soc.soc:.1f} % below {100 * need:.0f} %"
        volts = self._readings.values.get(Quantity.BATTERY_VOLTAGE_V)
        if volts is not None and volts < self.param("UnderVoltageV") + SAFE_EXIT_MARGIN_V_PER_CELL * self.series:
            return f"battery {volts:.2f} V too close to the under-voltage threshold"
        return None

    def fast(self, t: float) -> None:
        dt_s = t - self._last_fast_s if self._last_fast_s is not None else 0.0
        self._last_fast_s = t
        values = self._readings.values
        volts = values.get(Quantity.BATTERY_VOLTAGE_V)
        amps = values.get(Quantity.BATTERY_CURRENT_A)
        if volts is None or amps is None:
            if self._initialised:
                self._coast_s += dt_s
                self.soc.coast(self._last_A, dt_s, self._coast_s, COAST_CURRENT_SIGMA_A)
            return
        self._last_A, self._coast_s = amps, 0.0
        if not self._initialised:  # first reading: start from the voltage, not from a guess
            self.soc.soc = self.soc.from_voltage(volts, amps)
            self._initialised = True
        self.soc.update(volts, amps, dt_s)
        if amps < 0:
            self.discharged_Ah += -amps * dt_s / 3600.0
        threshold = self.param("UnderVoltageV")
        self._low_count = self._low_count + 1 if volts < threshold else 0
        if self._uv_latched and volts > threshold + SAFE_EXIT_MARGIN_V_PER_CELL * self.series:
            self._uv_latched = False  # re-armed only with margin, so sensor noise cannot repeat the trip
        if self._low_count == 2 and not self._uv_latched:
            self._uv_latched = True
            self.uv_trips += 1
            self.log("UnderVoltage", voltage_V=volts, threshold_V=threshold)
            self.ctx.modes.fall_to_safe(f"under-voltage {volts:.2f} V")
            self._shed(f"under-voltage {volts:.2f} V")

    def _learn(self) -> None:
        """What the arrays give in full sun and what the loads take, from the eps readings."""
        r = self._readings
        array_W, volts, amps = (r.get(q) for q in (Quantity.ARRAY_POWER_W, Quantity.BATTERY_VOLTAGE_V,
                                                     Quantity.BATTERY_CURRENT_A))
        if array_W is None or volts is None or amps is None:
            return
        # Arrays minus battery charging is the load only while nothing is shunted: in shadow, or
        # while the battery is taking charge below full and below its current limit. A full battery,
        # or one charging as fast as the EPS lets it, leaves the surplus to the shunt.
        shunt_free = self.soc.soc < SHUNT_FREE_SOC and amps < CHARGE_LIMIT_MARGIN * self.max_charge_A
        self._load_now_W = array_W - volts * amps if array_W < SHADOW_ARRAY_W or shunt_free else None
        if self._load_now_W is not None:
            self.load_W = self._load_now_W if self.load_W == 0.0 else 0.98 * self.load_W + 0.02 * self._load_now_W
        if self.predictor is not None and self.predictor.sunlit_fraction(self.ctx.clock.now()) >= 1.0:
            self.array_sun_W = array_W if self.array_sun_W == 0.0 else 0.9 * self.array_sun_W + 0.1 * array_W
        self.tlm("LoadW", self.load_W)

    def _forecast(self, t: float, period: float) -> None:
        """Net energy per orbit for three orbits, and the lowest SOC on the way, at 60 s steps."""
        if not self.array_sun_W or not self.load_W:
            return
        capacity_Wh = self.soc.capacity_Ah * self.nominal_V
        soc, low, nets, step = self.soc.soc, self.soc.soc, [], 60.0
        for k in range(3):
            net_Wh = 0.0
            for j in range(int(period / step)):
                mid = t + k * period + (j + 0.5) * step
                sun = not any(a <= mid < b for a, b in self.eclipses)
                w = (self.array_sun_W if sun else 0.0) - self.load_W
                net_Wh += w * step / 3600.0
                soc = min(1.0, soc + w * step / 3600.0 / capacity_Wh)
                low = min(low, soc)
            nets.append(net_Wh)
        self.forecast = nets
        for k, net in enumerate(nets, 1):
            self.tlm(f"ForecastNetWh{k}", net)
        self.tlm("ForecastMinSocPct", 100 * low)

    def _measure_capacity(self) -> None:
        """Capacity fade from each eclipse: the charge that left the battery (counted) over the SOC
        it cost (read from the resistance-corrected voltage at both ends). In shadow nothing
        charges, so the count is clean; the first half minute is skipped while the load settles."""
        r = self._readings
        array_W, volts, amps = (r.get(q) for q in (Quantity.ARRAY_POWER_W, Quantity.BATTERY_VOLTAGE_V,
                                                     Quantity.BATTERY_CURRENT_A))
        if array_W is None or volts is None or amps is None:
            self._shadow = None  # a gap in the readings spoils this eclipse's sums
            return
        if array_W < SHADOW_ARRAY_W:
            if self._shadow is None:
                self._shadow = []
            self._shadow.append((self.discharged_Ah, self.soc.from_voltage(volts, amps)))
            return
        samples, self._shadow = self._shadow, None
        if not samples or len(samples) < 600:
            return
        (ah0, soc0), (ah1, soc1) = samples[30], samples[-1]
        if soc0 - soc1 < 0.05:
            return  # too shallow for the voltage to tell
        measured = (ah1 - ah0) / (soc0 - soc1)
        self.capacity_Ah = measured if self.capacity_Ah is None else 0.7 * self.capacity_Ah + 0.3 * measured
        self.soc.capacity_Ah = self.capacity_Ah  # coulomb counting with the capacity the cells have now
        self.tlm("CapacityAh", self.capacity_Ah)
        self.tlm("CapacityFadePct", 100.0 * (1.0 - self.capacity_Ah / self.nameplate_Ah))

    def _observe_loads(self, t: float, period: float) -> None:
        """Each load's draw: the payload is metered, switched loads count at their nominal draw while
        on, and the unswitched bus is what remains of the total."""
        on = self._is_on
        payload = 0.0 if on(Switch.PAYLOAD) is False else self._readings.get(Quantity.PAYLOAD_POWER_W, 0.0)
        used = {"Heater": self.param("HeaterNominalW") if on(Switch.HEATER) else 0.0,
                "RadioTx": self.param("RadioTxNominalW") if on(Switch.RADIO_TX) else 0.0, PAYLOAD: payload}
        if self._load_now_W is not None:
            used["Avionics"] = max(0.0, self._load_now_W - sum(used.values()))
        self.budget.observe(used, t, period)
        for name, w in used.items():
            self.tlm(name + "W", w)

    def _shed(self, reason: str) -> None:
        if not self.shed:
            self.shed = True
            self._switch(Switch.PAYLOAD, False)
            self.log("LoadShed", reason=reason)

    def slow(self, t: float) -> None:
        if self._initialised:
            self._manage(t)
        self._offer(t)

    def _offer(self, t: float) -> None:
        self.out("outlookOut", PowerOutlook(
            t=t, shed=self.shed, grant_W=self.grant[0], grant_energy_Wh=self.grant[1], segments=tuple(self.segments),
            eclipses=tuple(self.eclipses), array_sun_W=self.array_sun_W, essentials_W=self.budget.essentials_W,
            soc=self.soc.soc, soc_sigma=self.soc.sigma, soc_history=tuple(self._history),
            capacity_Wh=self.soc.capacity_Ah * self.nominal_V,
            limits=PowerLimits(self.param("ShedSocPct") / 100.0, self.param("DodLimitPct") / 100.0,
                               self.max_discharge_W, self.param("OrbitPeriodS")),
            initialised=self._initialised))

    def _manage(self, t: float) -> None:
        self._learn()
        self._measure_capacity()
        soc = self.soc.soc
        self._history.append((t, soc))
        window = self.param("OrbitPeriodS")
        while self._history and self._history[0][0] < t - window:
            self._history.popleft()
        peak = max(s for _, s in self._history)
        dod = peak - soc
        dod_limit = self.param("DodLimitPct") / 100.0
        if soc < self.param("ShedSocPct") / 100.0:
            self._shed(f"SOC {100 * soc:.1f} %")
        elif dod > dod_limit:
            self._shed(f"DoD {100 * dod:.1f} % over the orbit limit")
        elif self.shed and soc > self.param("RestoreSocPct") / 100.0 and dod < 0.8 * dod_limit \
                and self.ctx.modes.mode is not Mode.SAFE:
            if self._switch(Switch.PAYLOAD, True):
                self.shed = False
                self.log("LoadRestored", soc_pct=100 * soc)
        floor = max(self.param("ShedSocPct") / 100.0, peak - dod_limit)
        energy_Wh = max(0.0, soc - floor) * self.soc.capacity_Ah * self.nominal_V
        now = [s.power_W for s in self.segments if s.start_s <= t < s.end_s]
        power_W = 0.0 if self.shed or self.ctx.modes.mode is Mode.SAFE else \
            now[0] if now else min(self.max_discharge_W, energy_Wh * 3600.0 / max(1.0, window / 2))
        self._observe_loads(t, window)
        for local, value in (("Soc", 100 * soc), ("SocSigma", 100 * self.soc.sigma), ("DodOrbit", 100 * dod),
                             ("PayloadShed", self.shed), ("GrantPowerW", power_W), ("GrantEnergyWh", energy_Wh),
                             ("UnderVoltageTrips", self.uv_trips),
                             ("CycleCount", self.discharged_Ah / self.soc.capacity_Ah)):
            self.tlm(local, value)
        self.grant = (power_W, energy_Wh)
