"""While a console runs, cycles are collected on the GUI thread, never on the link's reader thread
(a Qt object freed there deadlocks Qt against the GIL); automatic collection comes back after."""
import gc
import threading

from gridfree.ground.console.gcguard import GuiThreadCollector


class Cycle:
    """Garbage in a reference cycle that notes which thread freed it."""

    freed_on: list[int] = []

    def __init__(self):
        self.me = self

    def __del__(self):
        Cycle.freed_on.append(threading.get_ident())


def test_a_reader_thread_making_cyclic_garbage_never_collects_it_the_gui_thread_does(qtbot):
    was_enabled = gc.isenabled()
    gc.enable()
    Cycle.freed_on.clear()
    collector = GuiThreadCollector(interval_ms=20)
    try:
        assert not gc.isenabled()

        def reader():  # enough allocation to trip every generation's threshold many times over
            for _ in range(20_000):
                Cycle()
                [object() for _ in range(10)]

        t = threading.Thread(target=reader)
        t.start()
        t.join()
        reader_id, gui_id = t.ident, threading.get_ident()
        assert reader_id not in Cycle.freed_on  # nothing collected where the garbage was made
        qtbot.waitUntil(lambda: len(Cycle.freed_on) >= 10_000, timeout=10_000)
        assert set(Cycle.freed_on) == {gui_id} and collector.collections >= 1
    finally:
        collector.release()
        collector.release()  # twice is harmless
        assert gc.isenabled()
        if not was_enabled:
            gc.disable()


def test_automatic_collection_returns_only_when_the_last_console_stops(qtbot):
    gc.enable()
    first, second = GuiThreadCollector(), GuiThreadCollector()
    first.release()
    assert not gc.isenabled()
    second.release()
    assert gc.isenabled()
