"""Onboard eclipse prediction against the rig's integrated truth (independent code on each side)."""

from gridfree.flight.power.eclipse import EclipsePredictor, OrbitElements
from gridfree.ground.hil.orbit import Orbit, orbit_determination, preset

EPOCH = 1_774_018_000.0


def truth_edges(elements, hours, step_s=1.0):
    """Shadow edges (sunlit fraction crossing 1/2) of the integrated truth, interpolated in time."""
    orbit = Orbit(elements, EPOCH, max_step_s=step_s)
    edges, prev_f = [], orbit.sunlit_fraction()
    for _ in range(int(hours * 3600 / step_s)):
        orbit.advance(step_s)
        f = orbit.sunlit_fraction()
        if (prev_f < 0.5) != (f < 0.5):
            t = orbit.t_unix_s - step_s * (f - 0.5) / (f - prev_f)
            edges.append((t, f < 0.5))
        prev_f = f
    return edges


def predictor(elements, mean=True, period=True):
    """The node's predictor fed what the ground uplinks: orbit determination's mean elements and
    nodal period (or, to show why, the osculating state and/or no period)."""
    m = orbit_determination(elements, EPOCH)
    if mean:
        el = OrbitElements(EPOCH, m.a_km, m.e, m.i_deg, m.raan_deg, m.argp_deg, m.mean_anomaly_deg,
                           m.nodal_period_s if period else None)
    else:
        el = OrbitElements(EPOCH, elements.semi_major_axis_km, elements.eccentricity, elements.inclination_deg,
                           elements.raan_deg, elements.arg_perigee_deg, elements.true_anomaly_deg,
                           m.nodal_period_s if period else None)
    return EclipsePredictor(el)


def errors(elements, hours, onboard):
    predicted = onboard.eclipses(EPOCH, hours * 3600.0)
    truth = truth_edges(elements, hours)
    entries = [t for t, entering in truth if entering]
    exits = [t for t, entering in truth if not entering]
    assert len(predicted) == len(entries) or abs(len(predicted) - len(entries)) == 1
    return [max(min(abs(a - t) for t in entries), min(abs(b - t) for t in exits)) for a, b in predicted]


def test_eclipses_predicted_a_day_ahead_within_a_second_of_truth():
    el = preset("iss500", EPOCH)
    errs = errors(el, 24.0, predictor(el))
    assert len(errs) >= 14 and max(errs) <= 0.5, errs


def test_osculating_elements_put_the_predictor_seconds_off():
    el = preset("iss500", EPOCH)
    assert min(errors(el, 3.0, predictor(el, mean=False))) > 1.0  # why orbit determination fits mean elements


def test_with_mean_elements_the_period_follows_and_the_error_stays_flat():
    """Fitted mean elements give the right period even without the measured one: the error does
    not grow orbit by orbit (it did with a semi-major axis read off the osculating state)."""
    el = preset("iss500", EPOCH)
    errs = errors(el, 12.0, predictor(el, period=False))
    assert max(errs) <= 1.0, errs


def test_the_node_predicts_eclipses_from_uploaded_elements(tmp_path):
    from gridfree.flight.app.config import NodeConfig
    from gridfree.flight.app.node import Node

    from tests.power.test_power_manager import upload_orbit

    el = preset("iss500", EPOCH)
    node = Node(NodeConfig(state_dir=tmp_path / "state", clock="lockstep"), insecure=True)
    node.clock.set(EPOCH)
    node.start(open_radio=False)
    upload_orbit(node)
    node.step_to(EPOCH + 1.0)
    assert node.telemetry.read("cmdDisp.CommandsCompleted") == 1
    entry = [t for t, entering in truth_edges(el, 2.0) if entering][0]
    predicted_in = node.telemetry.read("power.NextEclipseS")
    assert abs((EPOCH + 1.0 + predicted_in) - entry) < 12.0  # telemetry is sampled at 10 s
    assert 30 * 60 < node.telemetry.read("power.NextEclipseDurationS") < 37 * 60
    assert 30 < node.telemetry.read("power.EclipseFraction") < 45  # 35.8 of 94.6 min at beta ~ 0


def test_an_eclipse_under_way_is_reported_with_its_real_entry():
    el = preset("iss500", EPOCH)
    onboard = predictor(el)
    entry, exit_ = onboard.eclipses(EPOCH, 7200.0)[0]
    inside = onboard.eclipses((entry + exit_) / 2, 7200.0)[0]
    assert abs(inside[0] - entry) < 0.05 and abs(inside[1] - exit_) < 0.05
