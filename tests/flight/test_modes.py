"""Mode transitions: legal paths, guards with reasons, protective SAFE always allowed."""
import pytest

from gridfree.flight.core.modes import Mode, ModeMachine, TransitionRefused


def machine():
    changes = []
    return ModeMachine(lambda: 42.0, changes.append), changes


def test_boot_safe_nominal_and_back_with_reasons():
    m, changes = machine()
    m.request(Mode.SAFE, "boot complete")
    m.request(Mode.NOMINAL, "ground request")
    m.fall_to_safe("battery under-voltage")
    assert [(c.old, c.new, c.reason) for c in changes] == [
        (Mode.BOOT, Mode.SAFE, "boot complete"),
        (Mode.SAFE, Mode.NOMINAL, "ground request"),
        (Mode.NOMINAL, Mode.SAFE, "battery under-voltage"),
    ]
    assert m.mode is Mode.SAFE and m.last_reason == "battery under-voltage" and m.transitions == 3


def test_boot_cannot_jump_to_nominal():
    m, changes = machine()
    with pytest.raises(TransitionRefused, match="not a legal transition from BOOT"):
        m.request(Mode.NOMINAL, "impatient operator")
    assert m.mode is Mode.BOOT and m.refusals == 1 and not changes


def test_a_guard_vetoes_leaving_safe_and_names_itself():
    m, changes = machine()
    soc = {"pct": 20.0}
    m.add_guard("battery", lambda old, new: f"SOC {soc['pct']}% below 40%" if soc["pct"] < 40 else None)
    m.request(Mode.SAFE, "boot")
    with pytest.raises(TransitionRefused) as refused:
        m.request(Mode.NOMINAL, "ground")
    assert refused.value.reason == "battery: SOC 20.0% below 40%"
    soc["pct"] = 55.0
    m.request(Mode.NOMINAL, "ground")
    assert m.mode is Mode.NOMINAL


def test_protective_safe_is_never_vetoed_and_is_idempotent():
    m, changes = machine()
    m.add_guard("always-no", lambda old, new: "no")
    assert m.fall_to_safe("watchdog").new is Mode.SAFE
    assert m.fall_to_safe("watchdog again") is None
    assert len(changes) == 1
