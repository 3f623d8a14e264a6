"""The compute view joins the compute manager's housekeeping and job events into jobs and tenants."""
from PySide6.QtCore import Qt

from gridfree.ground.console.compute import ComputeView


def rows(model):
    return [[model.item(r, c).text() for c in range(model.columnCount())] for r in range(model.rowCount())]


def test_jobs_and_tenants_follow_the_node(qtbot, fake, dictionary):
    view = ComputeView(dictionary)
    qtbot.addWidget(view)
    headers = [view.job_model.headerData(i, Qt.Orientation.Horizontal) for i in range(view.job_model.columnCount())]
    assert headers == ["Job", "Tenant", "State", "Tokens", "Energy (Wh)"] and view.job_model.rowCount() == 0
    events = []
    fake.subscribe(lambda kind, item: events.append(item) if kind == "event" else None)
    fake.event("compute.JobAccepted", job=11, tenant=3, tokens=40)
    fake.event("compute.JobAccepted", job=12, tenant=4, tokens=5)
    view.apply_events(events)
    samples = [fake.sample("compute.ActiveJob", 11), fake.sample("compute.Running", True),
               fake.sample("compute.TokensCharged", 0)]
    view.apply_samples(samples)
    view.refresh()
    assert rows(view.job_model) == [["11", "3", "running", "~40", ""], ["12", "4", "queued", "~5", ""]]
    assert view.running.text() == "COMPUTE RUNNING"
    events.clear()
    fake.event("compute.JobDone", job=11, tokens=37, energy_Wh=1.25)
    view.apply_events(events)
    view.apply_samples([fake.sample("compute.ActiveJob", 12)])
    view.refresh()
    assert rows(view.job_model) == [["11", "3", "done", "37", "1.25"], ["12", "4", "running", "~5", ""]]
    assert rows(view.tenant_model) == [["3", "1", "1", "37"], ["4", "1", "0", "0"]]


def test_the_plan_and_failed_jobs_are_shown(qtbot, fake, dictionary):
    view = ComputeView(dictionary)
    qtbot.addWidget(view)
    events = []
    fake.subscribe(lambda kind, item: events.append(item) if kind == "event" else None)
    fake.event("compute.JobAccepted", job=31, tenant=7, tokens=900)
    fake.event("compute.JobFailed", job=31, reason="deadline passed")
    view.apply_events(events)
    view.apply_samples([fake.sample("compute.PlannedPowerW", 2480.0), fake.sample("compute.DeadlineMisses", 1),
                        fake.sample("compute.ActiveJob", 0)])
    view.refresh()
    assert rows(view.job_model) == [["31", "7", "failed: deadline passed", "", ""]]
    assert rows(view.tenant_model) == [["7", "1", "0", "0"]]  # nothing charged for a dropped job
    assert view.readouts["compute.PlannedPowerW"].text() == "2480.0 W"
    assert view.readouts["compute.DeadlineMisses"].text() == "1"
