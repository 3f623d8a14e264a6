"""The packet viewer: the bytes behind a value, in hex and decoded with the dictionary."""
import struct

from gridfree.ground.console.packets import PacketViewer, decoded_fields, hexdump
from gridfree.ground.link.records import PacketRecord
from gridfree.protocols.pus import CucTime, PusTm
from gridfree.protocols.services.housekeeping import HkReport
from tests.console.conftest import T0


def hk_packet(dictionary, name, seq=0):
    h = dictionary.hk_by_name[name]
    values = struct.pack(">" + "".join(dictionary.channel_by_name[c].wire.fmt for c in h.channels),
                         *[(1 if dictionary.channel_by_name[c].wire.kind != "float" else 12.5) for c in h.channels])
    raw = PusTm(apid=100, service=3, subtype=25, app_data=HkReport(h.sid, values).pack(), seq_count=seq,
                time=CucTime.from_unix(T0)).pack()
    return PacketRecord(raw, 100, 3, 25, seq, T0)


def test_packets_are_listed_and_one_is_shown_in_hex_and_decoded(qtbot, qtmodeltester, fake, dictionary):
    viewer = PacketViewer(fake, interval_ms=20)
    qtbot.addWidget(viewer)
    names = [h.name for h in dictionary.housekeeping[:3]]
    records = [hk_packet(dictionary, n, seq) for seq, n in enumerate(names)]
    for r in records:
        fake.emit("packet", r)
    qtbot.waitUntil(lambda: viewer.model.rowCount() == 3, timeout=2000)
    qtmodeltester.check(viewer.model)
    assert names[1] in viewer.model.data(viewer.model.index(1, 2))
    viewer.view.selectRow(1)
    assert hexdump(records[1].raw) == viewer.hex.toPlainText()
    assert viewer.hex.toPlainText().startswith("0000  " + records[1].raw[:4].hex(" "))
    shown = viewer.fields.toPlainText()
    h = dictionary.hk_by_name[names[1]]
    for channel in h.channels:
        assert channel in shown
    assert "SID" in shown and "3/25" in shown


def test_freeze_holds_the_list_and_the_ring_is_bounded(qtbot, fake, dictionary):
    viewer = PacketViewer(fake, interval_ms=20)
    qtbot.addWidget(viewer)
    viewer.freeze.setChecked(True)
    rec = hk_packet(dictionary, dictionary.housekeeping[0].name)
    for _ in range(5000):  # a flood while frozen: memory stays bounded
        fake.emit("packet", rec)
    qtbot.wait(100)
    assert viewer.model.rowCount() == 0 and len(viewer._ring) <= 2000
    viewer.freeze.setChecked(False)
    qtbot.waitUntil(lambda: viewer.model.rowCount() == 2000, timeout=2000)
    assert viewer.received == 5000


def test_a_damaged_packet_is_described_not_raised(dictionary):
    raw = hk_packet(dictionary, dictionary.housekeeping[0].name).raw
    fields = dict(decoded_fields(dictionary, raw[:-5] + b"\x00" * 5))
    assert "error" in fields
