"""The FCFS fast path is the SimPy desk, specialised: same records, same queueing theory.

Three kinds of evidence: (1) on qualifying scenarios both engines produce the same conversation
records bit for bit and the same interval integrals to rounding; (2) each engine on its own
matches Erlang C and Erlang A within 99% replication confidence intervals (so the agreement is
not two engines sharing one bug); (3) a scenario using any feature outside the fast path's
scope never takes it.
"""

import numpy as np
import pytest

from chirpdesk.sim import fastpath
from chirpdesk.sim.analytic import erlang_a, erlang_c, mmc_mean_wait, mmc_service_level
from chirpdesk.sim.loader import load_scenario
from chirpdesk.sim.metrics import confidence_interval, replication_metrics
from chirpdesk.sim.model import simulate_once
from simkit import SCENARIOS

LAM, MU, C = 9 / 60, 1 / 60, 10
ERLANG_A = ["arrivals.base_rate=660", 'customers.patience={ dist = "exponential", mean = "2m" }']


def erlang(*overrides):
    return load_scenario(SCENARIOS / "erlang-check.toml", list(overrides))


QUALIFYING = {
    "erlang-check": [],
    "erlang-a": ERLANG_A,
    "no-drain": ['scenario.drain="0s"', 'scenario.horizon="3d"'],
    "lognormal-patience-mixed-kinds": ['customers.patience={ dist = "lognormal", mean = "1m", cv = 1.0 }',
                                       'mix.kinds={ question = 0.7, praise = 0.3 }', 'scenario.horizon="3d"'],
    "gamma-compose-overloaded": ['handling.compose={ dist = "gamma", mean = "70s", cv = 0.5 }',
                                 'customers.patience={ dist = "exponential", mean = "5m" }', 'scenario.horizon="2d"'],
    "no-agents": ["agents.shifts.0.count=0", 'scenario.horizon="1d"', 'scenario.warmup="1h"',
                  'customers.patience={ dist = "exponential", mean = "10m" }'],
}


@pytest.mark.parametrize("name", list(QUALIFYING))
def test_same_records_as_the_simpy_engine(name):
    sc = erlang(*QUALIFYING[name])
    assert fastpath.qualifies(sc), fastpath.why_not(sc)
    for seed in (1, 2):
        slow = simulate_once(sc, np.random.SeedSequence(seed), engine="simpy")
        fast = simulate_once(sc, np.random.SeedSequence(seed), engine="fast")
        assert slow.conversations.keys() == fast.conversations.keys()
        for key, col in slow.conversations.items():
            np.testing.assert_array_equal(fast.conversations[key], col, err_msg=key)
        assert slow.intervals.keys() == fast.intervals.keys()
        for key, col in slow.intervals.items():
            np.testing.assert_allclose(fast.intervals[key], col, rtol=1e-8, atol=1e-6, err_msg=key)


def test_auto_picks_the_fast_path_only_when_it_applies():
    sc = erlang('scenario.horizon="2d"')
    seed = np.random.SeedSequence(5)
    auto = simulate_once(sc, seed)
    fast = simulate_once(sc, np.random.SeedSequence(5), engine="fast")
    np.testing.assert_array_equal(auto.conversations["pickup"], fast.conversations["pickup"])
    base = load_scenario(SCENARIOS / "baseline.toml", ['scenario.horizon="2d"'])
    with pytest.raises(ValueError, match="multi-turn"):
        simulate_once(base, np.random.SeedSequence(5), engine="fast")
    with pytest.raises(ValueError, match="engine must be"):
        simulate_once(sc, np.random.SeedSequence(5), engine="numba")


@pytest.mark.parametrize("override, reason", [
    ('handling.turns={ dist = "constant", value = 2 }', "multi-turn"),
    ("agents.concurrency=2", "concurrency"),
    ('handling.priority="influencer_fail"', "priority"),
    ("handling.escalation={ email = 0.1 }", "escalations"),
    ("mix.private_share=0.1", "private"),
    ("mix.marketing_share=0.1", "marketing"),
    ("deflection={ enabled = true, max_share = 0.3, half_saturation = 100 }", "deflection"),
    ('agents.tweeting_hours={ days = "all", start = "08:00", end = "20:00" }', "tweeting hours"),
    ('agents.shifts.0.start="06:00"', "staff changing"),
])
def test_any_feature_outside_the_scope_takes_the_simpy_engine(override, reason):
    sc = erlang(override)
    assert not fastpath.qualifies(sc)
    assert reason in fastpath.why_not(sc)


def test_shipped_scenarios_take_the_fast_path_only_where_it_gives_the_same_records():
    taken = set()
    for path in sorted(SCENARIOS.glob("*.toml")):
        sc = load_scenario(path)
        if not fastpath.qualifies(sc):
            continue
        taken.add(path.stem)
        short = load_scenario(path, ['scenario.horizon="2d"', 'scenario.warmup="6h"'])
        slow = simulate_once(short, np.random.SeedSequence(11), engine="simpy")
        fast = simulate_once(short, np.random.SeedSequence(11), engine="fast")
        for key, col in slow.conversations.items():
            np.testing.assert_array_equal(fast.conversations[key], col, err_msg=f"{path.stem}: {key}")
    assert "erlang-check" in taken and "baseline" not in taken


# -- both engines against queueing theory --------------------------------------------------------

def replicate(sc, engine, reps=6):
    children = np.random.SeedSequence(sc.meta.seed).spawn(reps)
    return [replication_metrics(sc, simulate_once(sc, child, engine=engine)) for child in children]


def ci99(per_rep, metric):
    return confidence_interval([m[metric] for m in per_rep], 0.99)


@pytest.fixture(scope="module", params=["simpy", "fast"])
def erlang_c_runs(request):
    return request.param, replicate(erlang(), request.param)


@pytest.mark.parametrize("metric, width, theory", [
    ("p_wait", 0.06, erlang_c(C, LAM / MU)),
    ("wait_mean_s", 12.0, mmc_mean_wait(LAM, MU, C)),
    ("sla_attainment", 0.06, mmc_service_level(LAM, MU, C, 20.0)),
    ("occupancy", 0.01, LAM / (C * MU)),
])
def test_each_engine_matches_erlang_c(erlang_c_runs, metric, width, theory):
    engine, per_rep = erlang_c_runs
    mean, lo, hi = ci99(per_rep, metric)
    assert hi - lo < width, engine
    assert lo <= theory <= hi, (engine, mean, theory)


@pytest.mark.parametrize("engine", ["simpy", "fast"])
def test_each_engine_matches_erlang_a(engine):
    sc = erlang(*ERLANG_A, 'scenario.horizon="5d"')
    per_rep = replicate(sc, engine)
    theory = erlang_a(11 / 60, MU, 1 / 120, C)
    for metric, attr, width in (("abandoned_share", "p_abandon", 0.05), ("p_wait", "p_wait", 0.05),
                                ("wait_mean_s", "mean_wait_served", 8.0)):
        mean, lo, hi = ci99(per_rep, metric)
        assert hi - lo < width, (engine, metric)
        assert lo <= getattr(theory, attr) <= hi, (engine, metric, mean, getattr(theory, attr))
    mean, lo, hi = ci99(per_rep, "sla_attainment")
    assert lo <= theory.service_level(20.0) <= hi, (engine, mean)


def test_littles_law_on_the_fast_path():
    sc = erlang(*ERLANG_A, 'scenario.horizon="3d"')
    rec = simulate_once(sc, np.random.SeedSequence(3), engine="fast")
    m = replication_metrics(sc, rec)
    c = rec.conversations
    w0, w1 = sc.meta.warmup, sc.meta.horizon
    inside = (c["arrival"] >= w0) & (c["arrival"] < w1)
    left = np.where(c["outcome"] == 6, c["end"], c["pickup"])
    lam = inside.sum() / (w1 - w0)
    assert m["queue_mean"] == pytest.approx(lam * (left - c["arrival"])[inside].mean(), rel=0.01)
