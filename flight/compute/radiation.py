"""What the node's radiation protection saw: the counters behind the `Radiation` housekeeping packet.

Each field of `RadiationStats` is one telemetry channel, declared on the field itself (id, name,
type, description), so the dictionary, the housekeeping packet and the telemetry written each tick
all come from the one list and cannot fall out of step. The four `upsets_*` fields and
`model_crc_mismatches` are the injector's and the resident models' own counts, copied in before
they are reported (`observe`); the rest count what the compute manager's checks made of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Iterator, Mapping

from gridfree.flight.compute.abft import AbftUncorrectable
from gridfree.flight.compute.faults import Target
from gridfree.flight.compute.jobs import ChunkUpset
from gridfree.protocols.dictionary import Channel


def _channel(id_: int, name: str, description: str, type_: str = "u32", unit: str = ""):
    return field(default=0.0 if type_ == "f32" else 0,
                 metadata={"channel": Channel(id_, name, type_, unit, description)})


@dataclass
class RadiationStats:
    upsets_inputs: int = _channel(20, "UpsetsInputs", "Upsets injected into chunk inputs (SetUpsetRates)")
    upsets_intermediates: int = _channel(21, "UpsetsIntermediates", "Upsets injected into products and activations")
    upsets_weights: int = _channel(22, "UpsetsWeights", "Upsets injected into resident model codewords")
    upsets_checkpoints: int = _channel(23, "UpsetsCheckpoints", "Upsets injected into checkpoint files")
    chunks_recomputed: int = _channel(24, "ChunksRecomputed", "Chunk attempts thrown away after a failed check, rerun")
    input_mismatches: int = _channel(25, "InputMismatches", "Chunks whose inputs changed while computed (CRC-32C)")
    dmr_mismatches: int = _channel(26, "DmrMismatches", "Elementwise steps whose two computations disagreed")
    weights_hit_in_use: int = _channel(27, "WeightsHitInUse", "Chunks whose model was found upset after they read it")
    abft_failed: int = _channel(28, "AbftFailed", "Chunks whose products failed their checks after recomputing")
    model_crc_mismatches: int = _channel(29, "ModelCrcMismatches",
                                         "Models whose CRC-32C was wrong after a scrub (reloaded)")
    checkpoints_damaged: int = _channel(30, "CheckpointsDamaged",
                                        "Checkpoint logs found damaged (job resumed where lost)")
    jobs_failed: int = _channel(31, "JobsFailed", "Jobs dropped: failing checks, damaged input, ... (no result)")
    result_mismatches: int = _channel(32, "ResultMismatches", "MATMUL chunks whose sums failed the contract on board")
    energy_lost_Wh: float = _channel(33, "EnergyLostWh", "Payload energy of chunks thrown away (failed checks, "
                                                         "damaged checkpoints): charged to no tenant", "f32", "Wh")

    @classmethod
    def channels(cls) -> tuple[Channel, ...]:
        """The telemetry channels, one per field, in field order."""
        return tuple(f.metadata["channel"] for f in fields(cls))

    def telemetry(self) -> Iterator[tuple[str, int | float]]:
        """(channel name, value) for every field."""
        for name, channel in _FIELD_CHANNELS:
            yield channel, getattr(self, name)

    def observe(self, injected: Mapping[Target, int], model_crc_mismatches: int) -> None:
        """Copy in the counts kept where the upsets land: the injector's, the resident models'."""
        self.upsets_inputs = injected[Target.INPUTS]
        self.upsets_intermediates = injected[Target.INTERMEDIATES]
        self.upsets_weights = injected[Target.WEIGHTS]
        self.upsets_checkpoints = injected[Target.CHECKPOINTS]
        self.model_crc_mismatches = model_crc_mismatches

    def failed_check(self, exc: BaseException) -> str:
        """Count an attempt thrown away for `exc` under the check that caught it; what to call it
        (the check's site, or the exception's type for anything else a chunk raised)."""
        if isinstance(exc, ChunkUpset):
            if exc.what == "inputs":
                self.input_mismatches += 1
            elif exc.what == "weights":
                self.weights_hit_in_use += 1
            elif exc.what == "result":
                self.result_mismatches += 1
            else:  # an elementwise step's two computations disagreed
                self.dmr_mismatches += 1
            return exc.what
        if isinstance(exc, AbftUncorrectable):
            self.abft_failed += 1
        return type(exc).__name__


#: (field, channel name) of RadiationStats, looked up once: telemetry() runs every second.
_FIELD_CHANNELS = tuple((f.name, f.metadata["channel"].name) for f in fields(RadiationStats))
