"""Health pings find a hung component and restart it; the watchdog fires when kicks stop."""
import queue
import threading

import pytest

from gridfree.flight.core.health import HealthMonitor, SoftwareWatchdog


class ActiveThing:
    """A component with its own thread that answers pings from its queue, unless it is stuck."""

    def __init__(self, monitor):
        self.monitor = monitor
        self.inbox = queue.Queue()
        self.stuck = threading.Event()
        self.generation = 0
        self.start()

    def start(self):
        self.generation += 1
        gen = self.generation
        threading.Thread(target=self._run, args=(gen,), daemon=True).start()

    def _run(self, gen):
        while True:
            key = self.inbox.get()
            if key is None or gen != self.generation:
                return
            if self.stuck.is_set():
                return  # a hung thread: it took the ping and will never answer
            self.monitor.pong("thing", key)


def test_a_hung_component_is_reported_and_restarted():
    fake_now = [0.0]
    hung = []
    monitor = HealthMonitor(lambda w, now: hung.append((w.name, now)), now=lambda: fake_now[0])
    thing = ActiveThing(monitor)
    w = monitor.watch("thing", thing.inbox.put, thing.start, timeout_s=2.0)
    answered = threading.Event()
    original_pong = monitor.pong
    monitor.pong = lambda n, k: (original_pong(n, k), answered.set())

    monitor.check()
    assert answered.wait(5)
    fake_now[0] = 1.0
    assert monitor.check() == []
    assert w.pongs >= 1 and not hung

    answered.clear()
    thing.stuck.set()
    fake_now[0] = 2.0
    monitor.check()  # this ping is swallowed by the stuck thread
    fake_now[0] = 5.0
    assert monitor.check() == ["thing"]
    assert hung == [("thing", 5.0)] and w.restarts == 1 and thing.generation == 2


def test_watchdog_fires_when_kicks_stop_and_not_while_kicked():
    fired = threading.Event()
    dog = SoftwareWatchdog(0.2, lambda starved: fired.set())
    dog.start()
    for _ in range(5):
        dog.kick()
        assert not fired.wait(0.05)
    assert fired.wait(3), "watchdog did not expire after kicks stopped"
    assert dog.expired
    dog.stop()


def test_watchdog_rejects_a_nonsense_timeout():
    with pytest.raises(ValueError):
        SoftwareWatchdog(0, lambda s: None)
