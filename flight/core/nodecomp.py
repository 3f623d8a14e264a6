"""The node component: mode management, arming of hazardous commands, uptime and boot count,
the reboot command, and the software watchdog's kick.

node.Arm sends the dispatcher an ArmRequest naming the SA the Arm came through: only that SA's
next hazardous command finds the arm, within at most 60 s."""
from __future__ import annotations

from pathlib import Path

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.messages import ONBOARD, ArmRequest, Origin
from gridfree.flight.core.ports import OutPort
from gridfree.flight.core.modes import Mode, ModeChange, TransitionRefused
from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError
from gridfree.protocols.dictionary import Channel, Command, Event, Field, HousekeepingPacket, Severity
from gridfree.protocols.services.verification import FailureCode

MODES = {m.name: m.value for m in Mode}
#: Why the flight software last started, as the supervisor reported it.
RESET_CAUSES = {"power on": 0, "commanded reboot": 1, "software watchdog": 2, "heartbeat lost": 3, "crash": 4}


def dictionary_hash64(content_hash: str) -> int:
    """The first 64 bits of "sha256:<hex>", small enough for a housekeeping channel."""
    return int(content_hash.split(":", 1)[1][:16], 16)


class NodeComponent(Component):
    channels = (
        Channel(1, "Mode", "u8", description="Operating mode", enum=MODES),
        Channel(2, "UptimeS", "u32", "s", "Seconds since boot"),
        Channel(3, "BootCount", "u16", description="Boots since the state store was created"),
        Channel(4, "ModeTransitions", "u16", description="Mode transitions since boot"),
        Channel(6, "ResetCause", "u8", description="Why the flight software last started",
                enum={k.upper().replace(" ", "_"): v for k, v in RESET_CAUSES.items()}),
        Channel(5, "DictionaryHash", "u64", description="First 64 bits of the flight dictionary's SHA-256; "
                                                          "the ground compares it with the dictionary it loaded",
                format="016x"),
    )
    commands = (
        Command("SetMode", opcode=0x01, arguments=(Field("mode", "u8", enum=MODES, description="Target mode"),),
                hazardous=True, description="Request a mode transition (guards may refuse it, with the reason)"),
        Command("Arm", opcode=0x02, arguments=(Field("window_s", "u16", "s", min=1, max=60),),
                description="Allow one hazardous command within the window, from the SA this Arm came through"),
        Command("Reboot", opcode=0x03, hazardous=True, description="Restart the flight software"),
    )
    events = (
        Event(1, "ModeChanged", Severity.ACTIVITY_HI, "mode {old} -> {new}: {reason}",
              (Field("old", "u8", enum=MODES), Field("new", "u8", enum=MODES), Field("reason", "string[48]"))),
        Event(2, "Boot", Severity.ACTIVITY_HI, "boot {count}, reset cause: {cause}",
              (Field("count", "u16"), Field("cause", "string[32]"))),
        Event(3, "ModeRefused", Severity.WARNING_LO, "mode {new} refused: {reason}",
              (Field("new", "u8", enum=MODES), Field("reason", "string[48]"))),
    )
    ports = (OutPort("armOut", ArmRequest, "node.Arm, to the dispatcher"),)
    housekeeping = (
        HousekeepingPacket(1, "Health", ("Mode", "UptimeS", "BootCount", "ResetCause", "ModeTransitions", "DictionaryHash",
                                         "cmdDisp.CommandsAccepted", "cmdDisp.CommandsRejected",
                                         "cmdDisp.CommandsCompleted", "cmdDisp.CommandsFailed"), 1.0,
                           "Node health"),
    )

    def __init__(self, name: str, id_base: int, *, state_dir: Path, reset_cause: str = "power on", on_reboot=None,
                 watchdog=None):
        super().__init__(name, id_base)
        self.boot_store = AtomicRecordFile(Path(state_dir) / "boot.bin")
        self.reset_cause = reset_cause
        self.boot_time_s = 0.0
        self.boot_count = 0
        self.on_reboot = on_reboot or (lambda: None)
        self.watchdog = watchdog

    def attach(self, ctx) -> None:
        super().attach(ctx)
        self.boot_time_s = ctx.clock.now()
        try:
            body = self.boot_store.load()
            previous = int(body.decode("ascii")) if body else 0
            if not 0 <= previous < 0xFFFF:
                raise ValueError(f"boot count {previous} out of range")
            self.boot_count = previous + 1
        except (CorruptStoreError, ValueError, UnicodeDecodeError):
            self.boot_store.set_aside()  # kept for the ground; counting starts again
            self.boot_count = 1
        self.boot_store.save(str(self.boot_count).encode())
        ctx.bus.subscribe(ModeChange, self._on_mode_change)
        self.tlm("BootCount", self.boot_count)
        self.tlm("ResetCause", RESET_CAUSES.get(self.reset_cause.split(" (")[0], RESET_CAUSES["crash"]))
        self.tlm("DictionaryHash", dictionary_hash64(ctx.dictionary.hash))

    def start(self) -> None:
        """After every component is attached: announce the boot and leave BOOT for SAFE."""
        self.boot_time_s = self.ctx.clock.now()
        self.log("Boot", count=self.boot_count, cause=self.reset_cause)
        self.ctx.modes.request(Mode.SAFE, "boot complete")

    def _on_mode_change(self, change: ModeChange) -> None:
        self.tlm("Mode", int(change.new))
        self.tlm("ModeTransitions", self.ctx.modes.transitions)
        self.log("ModeChanged", old=int(change.old), new=int(change.new), reason=change.reason)

    def schedule(self):
        return {"slow": [self.tick]}

    def tick(self, t: float) -> None:
        self.tlm("UptimeS", int(max(0.0, t - self.boot_time_s)))
        if self.watchdog is not None:
            self.watchdog.kick()

    def cmd_SetMode(self, mode: int) -> None:
        try:
            self.ctx.modes.request(Mode(mode), "ground request")
        except TransitionRefused as exc:
            self.log("ModeRefused", new=mode, reason=exc.reason)
            raise CommandFailed(FailureCode.WRONG_MODE, exc.reason) from None

    def cmd_Arm(self, window_s: int, origin: Origin = ONBOARD) -> None:
        self.out("armOut", ArmRequest(window_s, origin))

    def cmd_Reboot(self) -> None:
        self.on_reboot()
