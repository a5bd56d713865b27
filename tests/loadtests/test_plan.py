"""The pure plan behind the Locust shapes and users: schedule, shares, agent gates, tick()."""

from __future__ import annotations

import numpy as np
import pytest

from chirpdesk.loadtests.plan import LEAD_S, TAIL_S, Settings, build_plan
from chirpdesk.sim.arrivals import generate_arrivals
from chirpdesk.sim.loader import load_scenario

STORM = "scenarios/outage-storm.toml"


@pytest.fixture(scope="module")
def storm():
    return build_plan(Settings(scenario=STORM))


def test_arrivals_are_the_scenario_generator_over_the_window(storm) -> None:
    sc = load_scenario(STORM)
    lt = sc.loadtest
    again = generate_arrivals(sc, np.random.default_rng(sc.meta.seed), lt.offset, lt.offset + lt.duration * lt.speedup)
    assert np.array_equal(storm.arrivals.time, again.time)
    assert storm.real_times.min() >= 0 and storm.real_times.max() < lt.duration
    assert storm.intended_rate == pytest.approx(len(again) / lt.duration)


def test_schedule_shares_partition_and_keep_redeliveries_with_originals(storm) -> None:
    whole = storm.schedule
    kinds = {s.what for s in whole}
    assert kinds == {"tweet", "redelivery", "malformed", "oversized"}
    parts = [storm.share(i, 3) for i in range(3)]
    assert sum(len(p) for p in parts) == len(whole)
    for i, part in enumerate(parts):
        assert all(s.index % 3 == i for s in part)
    firsts = {s.index: s.at for s in whole if s.what == "tweet"}
    assert all(s.at > firsts[s.index] for s in whole if s.what == "redelivery")
    assert [s.at for s in whole] == sorted(s.at for s in whole)


def test_tick_counts_agents_then_stops(storm) -> None:
    users, rate, counts = storm.tick(0.0)
    assert counts == {"AgentUser": 5}  # day shift at 10:00: round(6 x 0.85) = 5
    assert users == 5 and rate > 0
    assert storm.tick(LEAD_S + storm.duration + TAIL_S - 0.1) is not None
    assert storm.tick(LEAD_S + storm.duration + TAIL_S) is None


def test_agents_follow_the_shift_calendar() -> None:
    # baseline from Monday 09:00 for 12 simulated hours: early+late shifts overlap at 14:00-15:00.
    plan = build_plan(Settings(scenario="scenarios/baseline.toml", speedup=3600.0, duration=12.0))
    on = [plan.agents_at(h) for h in range(12)]
    assert on[0] == 3 and on[5] == 6 and on[6] == 3  # round(4 x 0.8) = 3 per weekday shift
    assert plan.max_agents == 6


def test_conversation_plans_are_deterministic_and_follow_the_mix(storm) -> None:
    a, b = storm.conversation(17), storm.conversation(17)
    assert a == b
    plans = [storm.conversation(i) for i in range(len(storm.arrivals))]
    turns = np.array([p.turns for p in plans])
    assert set(turns) <= {1, 2, 3} and 1.5 < turns.mean() < 1.9  # weights 0.5/0.3/0.2: mean 1.7
    private = np.mean([p.private for p in plans])
    assert 0.06 < private < 0.14  # private_share 0.1
    assert all(len(p.compose) == p.turns for p in plans)


def test_step_shape_ramps_the_rate() -> None:
    plan = build_plan(Settings(scenario=STORM, shape="step"))
    lt = plan.lt
    assert plan.duration == lt.step_every * lt.step_count
    counts = np.histogram(plan.real_times, bins=lt.step_count, range=(0, plan.duration))[0] / lt.step_every
    expected = lt.step_rate * np.arange(1, lt.step_count + 1)
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected / lt.step_every) + 0.5)


def test_spike_and_soak_shapes() -> None:
    soak = build_plan(Settings(scenario=STORM, shape="soak"))
    spike = build_plan(Settings(scenario=STORM, shape="spike"))
    lt = spike.lt
    inside = (spike.real_times >= lt.spike_at) & (spike.real_times < lt.spike_at + lt.spike_duration)
    rate_in = inside.sum() / lt.spike_duration
    rate_out = (~inside).sum() / (spike.duration - lt.spike_duration)
    assert rate_in / rate_out == pytest.approx(lt.spike_multiplier, rel=0.3)
    assert soak.intended_rate == pytest.approx(rate_out, rel=0.25)
