"""The compute view: jobs, tenants and the compute tokens they used.

This is the reason the satellite flies. The node reports its compute manager in housekeeping
(queue, active job, utilisation, energy, tokens, the onboard plan's power and the deadlines it
saw missed) and each job's life in events (accepted with its tenant and estimate, done with the
tokens charged and the energy spent, or failed with the reason); the view joins the two into one
row per job and one per tenant. It shows only what the node said.
"""
from __future__ import annotations

from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from gridfree.ground.console.staleness import OnboardClock
from gridfree.ground.console.widgets import Lamp, LatestValues, Readout
from gridfree.protocols.dictionary import Dictionary, number_text

JOB_COLUMNS = ("Job", "Tenant", "State", "Tokens", "Energy (Wh)")
TENANT_COLUMNS = ("Tenant", "Jobs", "Done", "Tokens charged")
READOUTS = [("compute.JobsQueued", "Jobs queued"), ("compute.ActiveJob", "Active job"),
            ("compute.ChunksDone", "Chunks done"), ("compute.JobsDone", "Jobs done"),
            ("compute.Utilisation", "Payload utilisation"), ("compute.EnergyWh", "Energy on jobs"),
            ("compute.TokensCharged", "Tokens charged")]
PLAN_READOUTS = [("compute.PlannedPowerW", "Planned power"), ("power.PayloadW", "Payload power"),
                 ("compute.JobsLate", "Jobs late for the plan"), ("compute.DeadlineMisses", "Deadlines missed"),
                 ("compute.JobsFailed", "Jobs failed"), ("compute.HostEnergyJ", "Host energy (RAPL)")]


class ComputeView(QWidget):
    def __init__(self, dictionary: Dictionary, onboard: OnboardClock | None = None, parent=None):
        super().__init__(parent)
        self.values = LatestValues(dictionary, [n for n, _ in READOUTS + PLAN_READOUTS] + ["compute.Running"], onboard)
        self.energy_channel = dictionary.channel_by_name.get("compute.EnergyWh")
        self.jobs: dict[int, dict] = {}
        self.readouts: dict[str, Readout] = {}
        top = QHBoxLayout()
        self.running = Lamp("COMPUTE RUNNING", "compute held", "#188038")
        self.running.setToolTip("compute.Running: the mode, the power grant and the heat allow compute now")
        top.addWidget(self.running)
        for name, title in READOUTS:
            if name in self.values.channels:
                self.readouts[name] = Readout(title, f"{name}: {self.values.channels[name].description}")
                top.addWidget(self.readouts[name])
        top.addStretch(1)
        plan = QHBoxLayout()  # the onboard plan, and what became of the deadlines
        for name, title in PLAN_READOUTS:
            if name in self.values.channels:
                self.readouts[name] = Readout(title, f"{name}: {self.values.channels[name].description}")
                plan.addWidget(self.readouts[name])
        plan.addStretch(1)
        self.job_model = QStandardItemModel(0, len(JOB_COLUMNS), self)
        self.job_model.setHorizontalHeaderLabels(list(JOB_COLUMNS))
        self.tenant_model = QStandardItemModel(0, len(TENANT_COLUMNS), self)
        self.tenant_model.setHorizontalHeaderLabels(list(TENANT_COLUMNS))
        self.table = self._table(self.job_model)
        self.tenants = self._table(self.tenant_model)
        jobs_box, tenants_box = QGroupBox("Jobs"), QGroupBox("Tenants")
        QVBoxLayout(jobs_box).addWidget(self.table)
        QVBoxLayout(tenants_box).addWidget(self.tenants)
        tables = QHBoxLayout()
        tables.addWidget(jobs_box, 3)
        tables.addWidget(tenants_box, 2)
        self.note = QLabel("" if self.values.channels else
                           "The node's dictionary has no compute manager, so there is nothing to show.")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(plan)
        layout.addWidget(self.note)
        layout.addLayout(tables, 1)

    @staticmethod
    def _table(model) -> QTableView:
        view = QTableView()
        view.setModel(model)
        view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        view.verticalHeader().setVisible(False)
        view.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        return view

    def apply_samples(self, batch) -> None:
        self.values.apply(batch)

    def apply_events(self, batch) -> None:
        changed = False
        for e in batch:
            name = e.event.name if e.event is not None else ""
            if name == "compute.JobAccepted":
                self.jobs[e.args["job"]] = {"tenant": e.args["tenant"], "state": "queued", "tokens": e.args["tokens"],
                                            "energy": None, "estimate": True}
            elif name == "compute.JobDone":
                job = self.jobs.setdefault(e.args["job"], {"tenant": None})
                job.update(state="done", tokens=e.args["tokens"], energy=e.args["energy_Wh"], estimate=False)
            elif name == "compute.JobFailed":  # dropped: no result, nothing charged
                job = self.jobs.setdefault(e.args["job"], {"tenant": None})
                job.update(state=f"failed: {e.args['reason']}", tokens=None, estimate=False)
            else:
                continue
            changed = True
        if changed:
            self._fill()

    def refresh(self) -> None:
        """Readouts and their ages every time (ages move on without new data), jobs on news."""
        v = self.values
        for name, readout in self.readouts.items():
            readout.show_channel(v, name)
        self.running.show_channel(v, "compute.Running")
        if not v.take_dirty():
            return
        active = v.value("compute.ActiveJob")
        changed = False
        for job_id, job in self.jobs.items():
            state = "running" if job_id == active else ("queued" if job["state"] == "running" else job["state"])
            if state != job["state"]:
                job["state"], changed = state, True
        if changed:
            self._fill()

    def _fill(self) -> None:
        self.job_model.setRowCount(0)
        tenants: dict = {}
        for job_id, job in sorted(self.jobs.items()):
            tokens = "" if job.get("tokens") is None else f"{'~' if job.get('estimate') else ''}{job['tokens']}"
            energy = "" if job.get("energy") is None else (
                number_text(self.energy_channel, job["energy"]) if self.energy_channel is not None
                else f"{job['energy']:.2f}")
            self.job_model.appendRow([QStandardItem(str(x)) for x in
                                      (job_id, "?" if job["tenant"] is None else job["tenant"], job["state"], tokens,
                                       energy)])
            t = tenants.setdefault(job["tenant"], [0, 0, 0])
            t[0] += 1
            if job["state"] == "done":
                t[1] += 1
                t[2] += job["tokens"] or 0
        self.tenant_model.setRowCount(0)
        for tenant, (jobs, done, tokens) in sorted(tenants.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            self.tenant_model.appendRow([QStandardItem(str(x)) for x in
                                         ("?" if tenant is None else tenant, jobs, done, tokens)])
