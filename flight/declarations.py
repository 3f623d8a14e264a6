"""Node-level dictionary items that every gridfree node has: PUS test and mode commands, command
counters, link statistics, the battery's top-level health, and the events that go with them."""
from gridfree.protocols.dictionary import Channel, Command, Event, Field, HousekeepingPacket, Limits, Parameter, Severity

MODES = {"BOOT": 0, "SAFE": 1, "NOMINAL": 2}

CHANNELS = (
    Channel(0x0001, "node.Mode", "u8", description="Operating mode", enum=MODES),
    Channel(0x0002, "node.UptimeS", "u32", "s", "Seconds since boot"),
    Channel(0x0003, "node.BootCount", "u16", description="Boots since the store was created"),
    Channel(0x0010, "cmdDisp.CommandsAccepted", "u32", description="Commands that passed acceptance"),
    Channel(0x0011, "cmdDisp.CommandsRejected", "u32", description="Commands that failed acceptance"),
    Channel(0x0020, "radio.FramesOk", "u32", description="Uplink frames whose FECF checked"),
    Channel(0x0021, "radio.FramesBad", "u32", description="Uplink frames rejected (FECF, length, version)"),
    Channel(0x0022, "radio.BitsCorrected", "u32", description="BCH single-bit corrections in CLTUs"),
    Channel(0x0100, "power.BatteryVoltage", "f32", "V", "Battery terminal voltage",
            Limits(red_low=6.0, yellow_low=6.6, yellow_high=8.3, red_high=8.5)),
    Channel(0x0101, "power.BatterySoc", "f32", "%", "Battery state of charge",
            Limits(red_low=15.0, yellow_low=30.0)),
)

COMMANDS = (
    Command("test.Ping", service=17, subtype=1, opcode=None, description="PUS 17 are-you-alive"),
    Command("cmdDisp.Noop", opcode=0x0001, description="Does nothing but count and verify"),
    Command("node.SetMode", opcode=0x0010, description="Request a mode transition",
            arguments=(Field("mode", "u8", enum=MODES, description="Target mode"),)),
    Command("node.Arm", opcode=0x0011, description="Arm the next hazardous command for a few seconds",
            arguments=(Field("timeout_s", "u16", "s", "Arm window", min=1, max=600),)),
    Command("node.Reboot", opcode=0x0012, hazardous=True, description="Restart the flight software"),
)

EVENTS = (
    Event(0x0001, "node.ModeChanged", Severity.ACTIVITY_HI, "Mode {old} -> {new}: {reason}",
          (Field("old", "u8", enum=MODES), Field("new", "u8", enum=MODES), Field("reason", "string[48]"))),
    Event(0x0002, "node.Boot", Severity.ACTIVITY_HI, "Boot {count}, reset cause {cause}",
          (Field("count", "u16"), Field("cause", "string[32]"))),
    Event(0x0100, "power.UnderVoltage", Severity.WARNING_HI, "Battery {voltage_V:.2f} V below {threshold_V:.2f} V",
          (Field("voltage_V", "f32", "V"), Field("threshold_V", "f32", "V"))),
)

PARAMETERS = (
    Parameter(0x0100, "power.UnderVoltageThreshold", "f32", 6.2, "V", "Battery voltage that forces SAFE",
              min=5.0, max=8.0),
)

HOUSEKEEPING = (
    HousekeepingPacket(1, "node.Health", ("node.Mode", "node.UptimeS", "node.BootCount", "cmdDisp.CommandsAccepted",
                                          "cmdDisp.CommandsRejected", "radio.FramesOk", "radio.FramesBad", "radio.BitsCorrected",
                                          "power.BatteryVoltage", "power.BatterySoc"), 1.0,
                       "Node health at 1 Hz"),
)
