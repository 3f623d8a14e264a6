"""Scenario reports: Markdown with the pass/fail table, and PNG plots drawn with pyqtgraph on an
offscreen Qt platform (no display needed)."""
from __future__ import annotations

import math
import os
from pathlib import Path

from gridfree.ground.hil.criteria import life_used_pct_per_day, submitted_specs
from gridfree.ground.hil.runner import RunResult
from gridfree.ground.hil.work import report_lines
from gridfree.protocols.rainflow import CycleLife


LEFT_AXIS_PX = 52


def plot(result: RunResult, path: Path) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    import pyqtgraph.exporters  # noqa: F401 - registers the exporters
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    a = result.record.arrays()
    win = pg.GraphicsLayoutWidget()
    win.resize(1200, 1000)
    panels = [
        ("State of charge (%)", [("truth", a["soc"] * 100, "b"), ("node estimate", a["node_soc"] * 100, "r")]),
        ("Power (W)", [("arrays", a["solar_W"], "#d90"), ("loads", a["load_W"], "r")]),
        ("Temperatures (C)", [(k[5:-2], v, c) for (k, v), c in zip(
            ((k, v) for k, v in a.items() if k.startswith("temp_")), ("r", "b", "g", "m"))]),
        ("Sunlit fraction / node mode", [("sunlit", a["sunlit"], "#d90"), ("mode (0 BOOT 1 SAFE 2 NOMINAL)",
                                                                          a["node_mode"], "k")]),
    ]
    for row, (title, series) in enumerate(panels):
        p = win.addPlot(row=row, col=0, title=title)
        p.addLegend(offset=(-10, 5), colCount=len(series))
        p.showGrid(x=True, y=True, alpha=0.3)
        p.setLabel("bottom", "time (h)")
        for side in ("left", "bottom"):  # kW in W and "(x0.001)" hours read as mistakes
            p.getAxis(side).enableAutoSIPrefix(False)
        p.getAxis("left").setWidth(LEFT_AXIS_PX)  # it does not widen for "4000" before an offscreen export
        for name, y, colour in series:
            p.plot(a["t_h"], y, pen=pg.mkPen(colour, width=2), name=name)
    win.show()  # offscreen: lays the plots out at the window's size
    app.processEvents()
    exporter = pg.exporters.ImageExporter(win.scene())
    exporter.parameters()["width"] = 1200
    exporter.export(str(path))
    win.close()
    return path


def _aging_line(result: RunResult) -> str:
    """Battery aging beside the equivalent cycles: those count charge throughput and cannot tell
    one deep discharge from several shallow ones; the rainflow count against the cycle-life curve
    can (criteria.life_used_pct_per_day, protocols/rainflow.py)."""
    aging = life_used_pct_per_day(result.record)
    if aging is None:
        return "- battery life used: not counted (no SOC record)"
    c = CycleLife()
    return (f"- battery life used: {aging[0]:.4f} % per day (rainflow cycles of the truth's SOC over "
            f"{aging[1]:.1f} h, Miner's rule against N = {c.n_ref:.0f} x (DoD / {100 * c.dod_ref:.0f} %)^-{c.k:g} "
            f"cycles)")


def _compute_lines(result: RunResult) -> list[str]:
    """Work per Wh against the rig's board model, host and board work, billed against measured
    energy (work.py); nothing for a scenario whose payload never ran an item."""
    s, t = result.scenario, result.truth
    specs = submitted_specs(s)
    if not specs and t.ledger.payload_busy_Wh <= 0.0:
        return []
    billed = {e.args["job"]: e.args["energy_Wh"] for e in result.observed.events
              if e.event is not None and e.event.name == "compute.JobDone"}
    return ["", "## Compute", "", *report_lines(specs, s.work_scale, s.board, result.tally, billed, result.ledger_Wh,
                                               result.ledger_problem, result.work_channels, t.ledger.payload_busy_Wh)]


def write(result: RunResult, outdir: Path, speed_asked: float = math.inf) -> Path:
    """The report; `speed_asked` is the pace the run was held to (math.inf: as fast as it goes),
    stated beside the speed achieved so a run that could not keep up says so."""
    outdir.mkdir(parents=True, exist_ok=True)
    png = plot(result, outdir / "plots.png")
    s, t = result.scenario, result.truth
    lines = [
        f"# HIL scenario `{s.name}`: {'PASS' if result.passed else 'FAIL'}",
        "",
        f"- orbit `{s.orbit}`, {s.duration_s / 3600:.1f} h simulated in {result.wall_s:.1f} s "
        f"({result.speedup:.0f}x real time achieved, "
        f"{'as fast as it goes' if math.isinf(speed_asked) else f'{speed_asked:g}x asked'}), lockstep step {s.step_s} s",
        f"- battery: SOC {s.initial_soc:.2f} -> {t.battery.soc:.2f}, {t.battery.cycles:.2f} equivalent cycles",
        _aging_line(result),
        f"- energy: arrays {t.ledger.solar_Wh / 1000:.1f} kWh, loads {t.ledger.load_Wh / 1000:.1f} kWh, "
        f"shunted {t.ledger.shunt_Wh / 1000:.1f} kWh, unserved {t.ledger.unserved_Wh:.2f} Wh",
        f"- faults: {', '.join(f'{f.kind} at {f.at_s / 3600:.2f} h' for f in s.faults) or 'none'}",
        f"- downlink at the rig's ground station: {result.downlink.get('frames_ok', 0)} frames ok, "
        f"{result.downlink.get('frames_bad', 0)} bad, {result.downlink.get('frames_lost', 0)} lost, "
        f"{result.downlink.get('packets_ok', 0)} packets; {result.bits_flipped} bits flipped on the radio line",
        *_compute_lines(result),
        "",
        "| criterion | result | detail |",
        "| --- | --- | --- |",
        *(f"| {name} | {'pass' if ok else 'FAIL'} | {detail} |" for name, ok, detail in result.checks),
        "",
        f"![plots]({png.name})",
        "",
        "## Node events",
        "",
        "```",
        *result.node_events[-200:],
        "```",
    ]
    md = outdir / "report.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md
