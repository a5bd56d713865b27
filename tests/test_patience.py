"""When a customer gives up: ``patience_until = "pickup"`` (Erlang A) or ``"first_response"``.

On Twitter the customer sees nothing until the reply is posted, so with ``first_response`` a
customer whose patience runs out while an agent is still writing leaves too (the agent finishes
the reply all the same). Both settings are checked against theory on M/M/c+M:

- ``pickup`` is Erlang A exactly (``tests/test_model.py`` checks p_wait, waits and SLA too);
- ``first_response`` has the same queue as Erlang A (an agent is busy for the whole reply either
  way), and with exponential patience, memoryless, a customer picked up after any wait is still
  there when the reply is posted with probability mu / (mu + theta). So
  P(abandon) = pA + (1 - pA) * theta / (theta + mu), and the part after pick-up is the second term.

With lognormal patience there is no closed form; an independent simulation written here (the
FCFS multi-server recursion, nothing shared with chirpdesk's engines) is the reference.
"""

from __future__ import annotations

import heapq
import json

import numpy as np
import pytest

from chirpdesk.sim.analytic import erlang_a
from chirpdesk.sim.loader import load_scenario
from chirpdesk.sim.metrics import confidence_interval, replication_metrics
from chirpdesk.sim.model import simulate_once
from chirpdesk.sim.run import run_scenario
from simkit import SCENARIOS

LAM, MU, THETA, C = 11 / 60, 1 / 60, 1 / 120, 10  # 11 Erlangs offered to 10 agents, patience 2 min
BASE = ["arrivals.base_rate=660", 'customers.patience={ dist = "exponential", mean = "2m" }',
        "scenario.replications=6", "scenario.horizon=5d"]


def ci99(result, metric):
    return confidence_interval([m[metric] for m in result.per_replication], 0.99)


@pytest.fixture(scope="module")
def theory():
    return erlang_a(LAM, MU, THETA, C)


@pytest.fixture(scope="module")
def first_response_run():
    sc = load_scenario(SCENARIOS / "erlang-check.toml", [*BASE, 'customers.patience_until="first_response"'])
    return run_scenario(sc, jobs=2)


def test_first_response_patience_matches_erlang_a_plus_abandonment_while_writing(first_response_run, theory):
    during = (1 - theory.p_abandon) * THETA / (THETA + MU)
    mean, lo, hi = ci99(first_response_run, "abandoned_share")
    assert hi - lo < 0.03
    assert lo <= theory.p_abandon + during <= hi
    mean, lo, hi = ci99(first_response_run, "abandoned_after_pickup_share")
    assert hi - lo < 0.03
    assert lo <= during <= hi


def test_the_queue_is_erlang_a_s_under_either_setting(first_response_run, theory):
    # Agents are busy for the whole reply either way, so the queue is Erlang A's; and leaving
    # during the reply (probability theta / (theta + mu) after any wait) is independent of the
    # wait, so the served customers' waits are Erlang A's served waits.
    mean, lo, hi = ci99(first_response_run, "wait_mean_s")
    assert hi - lo < 8.0
    assert lo <= theory.mean_wait_served <= hi
    mean, lo, hi = ci99(first_response_run, "occupancy")
    assert lo <= LAM * (1 - theory.p_abandon) / (C * MU) <= hi


def test_pickup_patience_is_erlang_a(theory):
    sc = load_scenario(SCENARIOS / "erlang-check.toml", [*BASE, 'customers.patience_until="pickup"'])
    res = run_scenario(sc, jobs=2)
    mean, lo, hi = ci99(res, "abandoned_share")
    assert hi - lo < 0.03
    assert lo <= theory.p_abandon <= hi
    assert max(m["abandoned_after_pickup_share"] for m in res.per_replication) == 0.0


def _independent_abandonment(lam, mean_service, patience_mean, patience_cv, c, horizon, warmup, seed):
    """M/M/c with lognormal patience counted to the first response, FCFS, simulated directly."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(lam * horizon)
    arrivals = np.sort(rng.uniform(0, horizon, n))
    sigma2 = np.log(1 + patience_cv**2)
    patience = rng.lognormal(np.log(patience_mean) - sigma2 / 2, np.sqrt(sigma2), n)
    service = rng.exponential(mean_service, n)
    free = [0.0] * c
    counted = gone = 0
    for a, p, s in zip(arrivals, patience, service, strict=True):
        start = max(a, free[0])
        left = a + p < start or a + p < start + s
        if a + p >= start:  # picked up: the agent writes the whole reply
            heapq.heapreplace(free, start + s)
        if a >= warmup:
            counted += 1
            gone += left
    return gone / counted


def test_first_response_patience_with_lognormal_patience_matches_an_independent_simulation():
    over = ["arrivals.base_rate=660", 'customers.patience={ dist = "lognormal", mean = "2m", cv = 1.5 }',
            'customers.patience_until="first_response"', "scenario.horizon=3d", "scenario.warmup=6h"]
    sc = load_scenario(SCENARIOS / "erlang-check.toml", over)
    root = np.random.SeedSequence(42)
    ours = [replication_metrics(sc, simulate_once(sc, s, engine="simpy"))["abandoned_share"] for s in root.spawn(5)]
    theirs = [_independent_abandonment(LAM, 60.0, 120.0, 1.5, C, 3 * 86400, 6 * 3600, 1000 + i) for i in range(5)]
    a = confidence_interval(ours, 0.99)
    b = confidence_interval(theirs, 0.99)
    assert a[2] - a[1] < 0.02 and b[2] - b[1] < 0.02
    # The two 99% intervals overlap: the same model, simulated two independent ways.
    assert a[1] <= b[2] and b[1] <= a[2], (a, b)
    # And the rule matters: counting patience only to pick-up gives clearly fewer abandons.
    pickup = load_scenario(SCENARIOS / "erlang-check.toml", [*over[:-3], 'customers.patience_until="pickup"',
                                                              "scenario.horizon=3d", "scenario.warmup=6h"])
    fewer = [replication_metrics(pickup, simulate_once(pickup, s))["abandoned_share"] for s in root.spawn(3)]
    assert max(fewer) < a[1] - 0.05


def test_simulate_once_leaves_its_seed_unchanged():
    sc = load_scenario(SCENARIOS / "erlang-check.toml", ["scenario.horizon=2d"])
    seed = np.random.SeedSequence(7)
    first = simulate_once(sc, seed)
    second = simulate_once(sc, seed)
    assert seed.n_children_spawned == 0
    for name, column in first.conversations.items():
        np.testing.assert_array_equal(column, second.conversations[name], err_msg=name)
    for engine in ("simpy", "fast"):
        again = simulate_once(sc, seed, engine=engine)
        np.testing.assert_array_equal(again.conversations["first_response"], first.conversations["first_response"])


def test_entry_points_leave_their_inputs_unchanged_and_repeat_exactly():
    from chirpdesk.sim import fastpath
    from chirpdesk.sim.arrivals import generate_arrivals
    from chirpdesk.sim.model import Desk
    from chirpdesk.sim.run import run_replication

    sc = load_scenario(SCENARIOS / "erlang-check.toml", ["scenario.horizon=2d", "scenario.replications=2"])
    before = repr(sc)
    stream = generate_arrivals(sc, np.random.default_rng(3))
    times = stream.time.copy()
    seed = np.random.SeedSequence(11)
    runs = [Desk(sc, stream, seed).run(), Desk(sc, stream, seed).run(),
            fastpath.simulate(sc, stream, seed), fastpath.simulate(sc, stream, seed)]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0].conversations["first_response"], other.conversations["first_response"])
    np.testing.assert_array_equal(stream.time, times)
    assert seed.n_children_spawned == 0
    a, b = run_scenario(sc, jobs=1), run_scenario(sc, jobs=2)
    same = json.dumps  # NaN-safe comparison (NaN != NaN)
    assert same(a.per_replication) == same(b.per_replication)
    assert same(a.groups) == same(b.groups)
    assert same(run_replication(sc, 5, 1).metrics) == same(run_replication(sc, 5, 1).metrics)
    assert repr(sc) == before


def test_conversation_times_keep_full_precision_in_csv(tmp_path):
    from chirpdesk.sim.outputs import read_table, write_table

    t = np.array([116 * 86400 + 0.123456789, 3.0e8 + 0.5, float("nan")])
    write_table(tmp_path / "t.csv", {"arrival_s": t})
    back = read_table(tmp_path / "t.csv")["arrival_s"]
    np.testing.assert_array_equal(back[:2], t[:2])
    assert np.isnan(back[2])
