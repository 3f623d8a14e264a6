"""The compute manager's interface as the ground sees it: telemetry, parameters, commands, events
and housekeeping, declared once here and qualified by the node with the instance's name and ID
base (core/component.py). The radiation channels are the fields of `RadiationStats`.
"""
from __future__ import annotations

from gridfree.flight.compute.faults import Basis, Target
from gridfree.flight.compute.radiation import RadiationStats
from gridfree.protocols.compute import Kind
from gridfree.protocols.dictionary import Channel, Command, Event, Field, HousekeepingPacket, Parameter, Severity

KINDS = {k.name: k.value for k in Kind}
#: A tenant's SA may submit, cancel and ask statements for its own jobs (the dispatcher checks the
#: `tenant` argument, the manager a cancelled job's owner); everything else is the operator's.
TENANTS_TOO = ("operator", "tenant")
BASES = {b.name: b.value for b in Basis}

CHANNELS = (
    Channel(1, "JobsQueued", "u16", description="Jobs accepted and not finished"),
    Channel(2, "ActiveJob", "u32", description="Job whose chunks are running (0: none)"),
    Channel(3, "ChunksDone", "u32", description="Chunks committed since boot"),
    Channel(4, "JobsDone", "u32", description="Jobs finished and downlinked since boot"),
    Channel(5, "Preemptions", "u32", description="Times running work was held for power, mode or heat"),
    Channel(6, "Utilisation", "f32", "%", "Payload utilisation commanded"),
    Channel(7, "EnergyWh", "f32", "Wh", "Payload energy spent on jobs since boot, work thrown away included"),
    Channel(8, "TokensCharged", "u64", description="Tokens charged to tenants since boot"),
    Channel(9, "Running", "bool", description="Compute may run now (mode, power, heat)"),
    Channel(10, "EdacCorrected", "u32", description="Single-bit upsets corrected in resident model weights"),
    Channel(11, "EdacUncorrectable", "u32", description="Double-bit upsets found (the model was reloaded)"),
    Channel(12, "AbftCorrected", "u32", description="Product elements put back from their checksums"),
    Channel(13, "AbftRecomputed", "u32", description="Products computed again after a failed check"),
    Channel(14, "InputsStored", "u16", description="Tenant inputs on board"),
    Channel(15, "InputsRejected", "u32", description="Uplinked tenant inputs refused (damaged, id taken, full)"),
    Channel(16, "HostEnergyJ", "f32", "J", "Host CPU package energy measured by RAPL for chunks since boot (NaN: "
            "no RAPL)"),
    *RadiationStats.channels(),
    Channel(40, "PlannedPowerW", "f32", "W", "Payload power the onboard plan gives now (NaN: no plan, the "
            "grant rules)"),
    Channel(45, "DeadlineMisses", "u32", description="Jobs dropped at their deadline unfinished since boot"),
    Channel(46, "JobsLate", "u16", description="Queued jobs the plan cannot finish by their deadline"),
    Channel(47, "StoredStateLost", "u16", description="Stored compute state found damaged since boot (job "
            "queue, token ledger): kept aside as *.damaged, the node went on without it"),
    Channel(48, "LedgerRecordsLost", "u32", description="Token ledger records set aside as damaged since boot"),
)
PARAMETERS = (
    Parameter(1, "PlanOnBoard", "bool", True, description="Run at the onboard plan's power (else the grant's)"),
    Parameter(2, "PayloadConductanceWK", "f32", 150.0, "W/K", "Payload to radiator conductance, for the plan",
              min=1.0, max=10_000.0),
    Parameter(3, "PayloadHeatCapacityJK", "f32", 22_500.0, "J/K", "Payload heat capacity, for the plan",
              min=100.0, max=1e7),
    Parameter(4, "PayloadPolicy", "u8", 0, description="The payload power policy flown when PlanOnBoard: 0 planned, "
              "1 two-level, 2 orbit-average, 3 sunlight-aware, 4 greedy-best-clock, 5 greedy", min=0, max=5),
)
COMMANDS = (
    Command("Submit", opcode=0x01, description="Queue a tenant's job", roles=TENANTS_TOO, arguments=(
        Field("job_id", "u32", min=1), Field("tenant", "u16"), Field("kind", "u8", enum=KINDS),
        Field("seed", "u32"), Field("size", "u16", description="MATMUL: n; MLP: model 0..2"),
        Field("batch", "u16", min=1, description="MLP samples / TILES tiles per chunk"),
        Field("chunks", "u32", min=1, max=1_000_000), Field("priority", "u8", description="0 first"),
        Field("deadline_unix_s", "f64", "s", description="0: none"),
        Field("threshold", "f32", min=0.0, max=1.0, description="TILES: cloud fraction kept below"),
        Field("input_id", "u32", description="0: inputs from the seed; else an uplinked tenant input"))),
    Command("Cancel", opcode=0x02, arguments=(Field("job_id", "u32"),), roles=TENANTS_TOO,
            description="Drop a queued job (a tenant: only its own)"),
    Command("SetQuota", opcode=0x03, arguments=(Field("tenant", "u16"), Field("tokens", "u64", max=2**63 - 1)),
            hazardous=True, description="A tenant's token quota (recorded in the ledger)"),
    Command("Statement", opcode=0x04, arguments=(Field("tenant", "u16"), Field("since_seq", "u32")), roles=TENANTS_TOO,
            description="Cut a tenant's ledger statement from this sequence number and downlink it (PUS 13)"),
    Command("DeleteInput", opcode=0x05, arguments=(Field("input_id", "u32", min=1),),
            description="Drop an uplinked tenant input no queued job uses"),
    Command("ProveBlocks", opcode=0x08, arguments=(Field("job_id", "u32", min=1), Field("seed", "u32")),
            roles=TENANTS_TOO, description="Downlink (PUS 13) the blocks of a finished job's kept product that "
                                           "the ground's seed challenges, with their Merkle paths (proofs.py)"),
    Command("SetUpsetRates", opcode=0x10, hazardous=True, arguments=tuple(
        Field(t.name.lower(), "f32", min=0.0, max=1000.0, description="Mean upsets per chunk or per second")
        for t in Target) + (Field("basis", "u8", enum=BASES), Field("seed", "u32")),
            description="Fault injection for test benches: bit flips in chunk inputs, intermediates, resident "
                        "weights and checkpoints at these rates (all 0: off, the default)"),
)
EVENTS = (
    Event(1, "JobAccepted", Severity.ACTIVITY_LO, "job {job} of tenant {tenant} queued, ~{tokens} tokens",
          (Field("job", "u32"), Field("tenant", "u16"), Field("tokens", "u64"))),
    Event(2, "JobDone", Severity.ACTIVITY_HI, "job {job} done: {tokens} tokens, {energy_Wh:.1f} Wh",
          (Field("job", "u32"), Field("tokens", "u64"), Field("energy_Wh", "f32", "Wh"))),
    Event(3, "ComputeHeld", Severity.ACTIVITY_LO, "compute held: {reason}", (Field("reason", "string[40]"),)),
    Event(4, "CheckpointDamaged", Severity.WARNING_LO, "job {job}: checkpoint damaged, resuming at chunk {chunk}",
          (Field("job", "u32"), Field("chunk", "u32"))),
    Event(5, "WeightsReloaded", Severity.WARNING_LO, "model {size}: uncorrectable upset at word {word}, reloaded",
          (Field("size", "u8"), Field("word", "u32"))),
    Event(6, "InputStored", Severity.ACTIVITY_LO, "input {input} of tenant {tenant} stored, {octets} octets",
          (Field("input", "u32"), Field("tenant", "u16"), Field("octets", "u32", "B"))),
    Event(7, "InputRejected", Severity.WARNING_LO, "uplinked input refused: {reason}",
          (Field("reason", "string[48]"),)),
    Event(8, "JobFailed", Severity.WARNING_HI, "job {job} dropped: {reason}",
          (Field("job", "u32"), Field("reason", "string[48]"))),
    Event(9, "StatementQueued", Severity.ACTIVITY_LO, "statement of tenant {tenant}: {records} records, "
          "transfer {transaction}", (Field("tenant", "u16"), Field("records", "u32"), Field("transaction", "u16"))),
    Event(16, "ChunkRecomputed", Severity.WARNING_LO, "job {job} chunk {chunk}: {check} check failed, "
          "computing it again", (Field("job", "u32"), Field("chunk", "u32"), Field("check", "string[24]"))),
    Event(17, "ModelCrcMismatch", Severity.WARNING_HI, "model {size} layer {layer}: CRC-32C wrong after scrub, "
          "reloaded", (Field("size", "u8"), Field("layer", "u8"))),
    Event(18, "UpsetRatesSet", Severity.ACTIVITY_HI, "upset injection per {basis}: inputs {inputs:g}, "
          "intermediates {intermediates:g}, weights {weights:g}, checkpoints {checkpoints:g}, seed {seed}",
          tuple(Field(t.name.lower(), "f32") for t in Target) + (Field("basis", "u8", enum=BASES),
                                                                Field("seed", "u32"))),
    Event(19, "StoreDamaged", Severity.WARNING_HI, "{what} damaged, kept aside; going on without it: {reason}",
          (Field("what", "string[16]"), Field("reason", "string[120]"))),
    Event(20, "LedgerSalvaged", Severity.WARNING_HI, "token ledger damaged: {lost} records kept aside, going on "
          "from the {kept} entries that verify", (Field("lost", "u32"), Field("kept", "u32"))),
    Event(32, "BlocksProven", Severity.ACTIVITY_LO, "job {job}: {blocks} challenged product blocks sent "
          "({recomputed} recomputed, the rest read back as kept), transfer {transaction}",
          (Field("job", "u32"), Field("blocks", "u16"), Field("recomputed", "u16"), Field("transaction", "u16"))),
)
HOUSEKEEPING = (HousekeepingPacket(1, "Status", ("JobsQueued", "ActiveJob", "ChunksDone", "JobsDone",
                                                 "Preemptions", "Utilisation", "EnergyWh", "TokensCharged",
                                                 "Running", "EdacCorrected", "EdacUncorrectable", "AbftCorrected",
                                                 "AbftRecomputed", "InputsStored", "InputsRejected",
                                                 "HostEnergyJ"), 1.0,
                                   "Compute jobs"),
                HousekeepingPacket(2, "Radiation", tuple(c.name for c in RadiationStats.channels()), 5.0,
                                   "Upsets injected and what the checks made of them"),
                HousekeepingPacket(3, "Plan", ("PlannedPowerW", "DeadlineMisses", "JobsLate"), 10.0,
                                   "The onboard compute plan"),
                HousekeepingPacket(4, "Storage", ("StoredStateLost", "LedgerRecordsLost"), 10.0,
                                   "Damaged stored compute state found since boot"))

