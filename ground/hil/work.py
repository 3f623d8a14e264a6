"""What the payload did in a run, for the report: the work the board ran against what its own model
allows per Wh at the clocks it ran, the host work behind it, and the energy the node billed each
tenant against the busy energy the truth measured.

Three independent sources are set side by side, so a disagreement shows:
- the truth (`BoardTally`, filled every lockstep step from the rig's board): per kind, the time an
  item ran, at which clock, the energy it drew and the work the board's model executes in it;
- the node's word, as downlinked: each job's billed energy (compute.JobDone) and its board and host
  work counters (compute.BoardWork*, HostWork*);
- the node's signed token ledger, read after the run from its state directory and checked with
  the node's public key alone (`gridfree tokens verify` does the same), for the energy per tenant.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gridfree.ground.hil.payload import PayloadBoard, WorkingBoard
from gridfree.protocols.compute import JobSpec, Kind

UNIT = {Kind.MATMUL: "MFLOP", Kind.MLP: "MFLOP", Kind.TILES: "kpx"}
WORK_CHANNELS = ("compute.BoardWorkMflop", "compute.BoardWorkKpx", "compute.HostWorkMflop", "compute.HostWorkKpx",
                 "compute.ItemsDone", "compute.ItemsDropped", "compute.EnergyWh")


@dataclass
class BoardTally:
    """Per kind, from the rig's board after each truth step: seconds an item ran, clock x seconds
    (for the busy-weighted clock), energy drawn (J) and work executed (the kind's unit)."""

    busy_s: dict = field(default_factory=lambda: {k: 0.0 for k in Kind})
    clock_s: dict = field(default_factory=lambda: {k: 0.0 for k in Kind})
    energy_J: dict = field(default_factory=lambda: {k: 0.0 for k in Kind})
    work: dict = field(default_factory=lambda: {k: 0.0 for k in Kind})

    def add(self, board: WorkingBoard, clock: float) -> None:
        m, c = board.model, min(1.0, max(0.0, clock))
        for kind, s in board.step_busy_s.items():
            if s > 0.0:
                self.busy_s[kind] += s
                self.clock_s[kind] += c * s
                self.energy_J[kind] += m.busy_W(kind, c) * s
                self.work[kind] += m.rate_per_s(kind) * c * s

    def model_per_Wh(self, kind: Kind) -> float:
        """The board model's work per Wh over the clocks this kind ran at (what a node keeping the
        board busy at those clocks gets); NaN if it never ran."""
        return self.work[kind] / (self.energy_J[kind] / 3600.0) if self.energy_J[kind] > 0 else float("nan")

    def mean_clock(self, kind: Kind) -> float:
        return self.clock_s[kind] / self.busy_s[kind] if self.busy_s[kind] > 0 else float("nan")


def ledger_totals(state_dir: Path, public_key_pem: Path) -> tuple[dict[int, float], str]:
    """Energy billed per tenant (Wh) in the node's token ledger, over the entries whose signatures
    verify with the node's public key; and a problem in one line ('' when the ledger verifies)."""
    from gridfree.protocols.errors import ProtocolError
    from gridfree.protocols.ledger import key_ring, parse_file, public_key_from_pem
    from gridfree.protocols.ledger.verify import verify

    found = sorted(Path(state_dir).rglob("tokens.ledger"))
    if not found:
        return {}, "the node kept no token ledger"
    try:
        keys = key_ring(public_key_from_pem(Path(public_key_pem).read_bytes(), str(public_key_pem)))
        ledger_id, records = parse_file(found[0].read_bytes())
    except (OSError, ValueError, ProtocolError) as exc:
        return {}, f"ledger not readable: {exc}"
    report = verify(records, keys, ledger_id=ledger_id)
    totals = {tenant: t.energy_Wh for tenant, t in report.tenants.items()}
    return totals, "" if report.ok else f"ledger does not verify: {report.first_problems()[0]}"


def _si(x: float) -> str:
    for div, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g} {prefix}"
    return f"{x:.3g} "


def report_lines(specs: dict[int, JobSpec], work_scale: float, board: PayloadBoard, tally: BoardTally,
                 billed_by_job: dict[int, float], ledger: dict[int, float], ledger_problem: str,
                 channels: dict[str, float], busy_Wh: float) -> list[str]:
    """The report's compute section (Markdown list items)."""
    lines = [f"- work scale: one host operation stands for {work_scale:g} board operations"]
    for kind in Kind:
        jobs = [j for j, s in specs.items() if s.kind == kind and j in billed_by_job]
        if tally.busy_s[kind] <= 0 and not jobs:
            continue
        unit = UNIT[kind].replace("M", "")  # MFLOP -> FLOP, kpx -> kpx
        scale = 1e6 if UNIT[kind] == "MFLOP" else 1.0
        model = tally.model_per_Wh(kind) * scale
        clock = tally.mean_clock(kind)
        text = (f"- {kind.name}: the board ran {tally.busy_s[kind]:.4g} s at a mean clock of {clock:.2f}; its model "
                f"allows {_si(model)}{unit}/Wh at those clocks ({_si(board.work_per_Wh(kind, clock) * scale)}{unit}/Wh "
                f"at {clock:.2f})")
        if jobs:
            host = sum(specs[j].work_units() * specs[j].chunks for j in jobs)
            billed_Wh = sum(billed_by_job[j] for j in jobs)
            got = host * work_scale * scale / billed_Wh if billed_Wh > 0 else float("nan")
            text += (f"; jobs {', '.join(map(str, jobs))} done: {_si(host * scale)}{unit} on the host standing for "
                     f"{_si(host * work_scale * scale)}{unit} of board work, billed {billed_Wh:.1f} Wh: "
                     f"{_si(got)}{unit}/Wh, {got / model:.3f} of the model")
        lines.append(text)
    if channels:
        lines.append("- the node's counters: board work {:.4g} MFLOP + {:.4g} kpx, host work {:.4g} MFLOP + {:.4g} kpx; "
                     "{:.0f} items done, {:.0f} dropped (computed again)".format(
                         *(channels.get(c, float("nan")) for c in WORK_CHANNELS)))
    billed = sum(ledger.values())
    per_tenant = ", ".join(f"tenant {t} {wh:.3f} Wh" for t, wh in sorted(ledger.items())) or "nothing"
    diff = billed - busy_Wh
    lines.append(f"- energy billed in the signed ledger: {per_tenant}; sum {billed:.3f} Wh against {busy_Wh:.3f} Wh "
                 f"of payload busy energy the truth measured ({diff:+.3f} Wh, "
                 f"{100 * diff / busy_Wh if busy_Wh > 0 else 0.0:+.2f} %)"
                 + (f"; {ledger_problem}" if ledger_problem else ""))
    metered = channels.get("compute.EnergyWh")
    if metered is not None:
        lines.append(f"- the node metered {metered:.3f} Wh of board energy on jobs, work thrown away included "
                     f"({metered - busy_Wh:+.3f} Wh against the truth); {metered - billed:.3f} Wh of it went to "
                     f"chunks computed again after a failed check, billed to no tenant")
    return lines
