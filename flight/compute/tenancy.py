"""Whose is it: a tenant's SA acts on its own jobs and uploads only.

The dispatcher already refuses a tenant's command naming another tenant; what a command names only
by id (a job to cancel) or carries inside (an uplinked input) is checked here, against the Origin
the dispatcher hands the handler. A tenant asking after another tenant's job is told there is no
such job of its own: it learns nothing of the others' jobs, not even that they exist.
"""
from __future__ import annotations

from gridfree.flight.compute.inputs import InputRefused
from gridfree.flight.compute.jobqueue import Job
from gridfree.flight.core.component import CommandFailed
from gridfree.flight.core.messages import Origin, UplinkedData
from gridfree.protocols.compute import InputDamaged, TenantInput
from gridfree.protocols.services.verification import FailureCode


def check_job_owner(job: Job | None, job_id: int, origin: Origin) -> None:
    """CommandFailed unless the job exists and `origin` may act on it (the operator and the node
    on any job, a tenant on its own)."""
    if job is None or (origin.role == "tenant" and job.spec.tenant != origin.tenant):
        mine = f" of tenant {origin.tenant}" if origin.role == "tenant" else ""
        raise CommandFailed(FailureCode.BAD_ARGUMENT, f"no job {job_id}{mine}")


def owned_input(uplink: UplinkedData) -> bytes:
    """The uplinked input's octets if its sender may store it; InputRefused if a tenant's SA sent an
    input naming another tenant. A damaged input passes here, for the store to refuse as damaged."""
    if uplink.origin.role != "tenant":
        return uplink.data
    try:
        owner = TenantInput.unpack(uplink.data).tenant
    except InputDamaged:
        return uplink.data
    if owner != uplink.origin.tenant:
        raise InputRefused(f"input for tenant {owner} uplinked by {uplink.origin}: a tenant uploads its own only")
    return uplink.data
