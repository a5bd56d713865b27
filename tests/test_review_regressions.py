"""Regressions found in review: exact window integrals, occupancy while open, held turns after a
shift ends, hand-offs cut by the stop, long study samples, 24-hour shifts, loader messages."""

import numpy as np
import pytest

from chirpdesk.sim.errors import ScenarioError
from chirpdesk.sim.loader import scenario_from_toml
from chirpdesk.sim.model import ABANDONED
from chirpdesk.sim.run import run_replication
from chirpdesk.sim.scenario import Shift
from chirpdesk.sim.study import periods, sample_scenario, with_shifts
from simkit import MINIMAL


def queue_mean_from_records(sc, rep):
    c = rep.records.conversations
    w0, w1 = sc.meta.warmup, sc.meta.horizon
    left = np.where(c["outcome"] == ABANDONED, c["end"], c["pickup"])
    left = np.where(np.isnan(left), np.inf, left)
    inside = np.clip(np.minimum(left, w1) - np.maximum(c["arrival"], w0), 0, None)[c["needs_reply"]]
    return inside.sum() / (w1 - w0)


@pytest.mark.parametrize("overrides", [
    ['scenario.horizon="10h"', 'scenario.interval="3h"', 'scenario.warmup="0s"'],
    ['scenario.horizon="10h"', 'scenario.drain="0s"', 'scenario.warmup="0s"'],
    ['scenario.horizon="3d"', 'scenario.interval="1d"', 'scenario.warmup="20h"'],
])
def test_window_integrals_are_exact_off_the_interval_grid(overrides):
    sc = scenario_from_toml(MINIMAL, "w.toml", overrides + ["arrivals.base_rate=55", "agents.shifts.0.count=1"])
    rep = run_replication(sc, 1, 0, keep_records=True)
    assert rep.metrics["queue_mean"] == pytest.approx(queue_mean_from_records(sc, rep), rel=1e-9)
    # intervals.csv keeps its own grid, ending with a shorter last interval at the horizon.
    assert rep.intervals["start"][0] == 0 and rep.intervals["start"][-1] < sc.meta.horizon


def test_occupancy_counts_only_open_time_and_overtime():
    extra = '\n[agents.tweeting_hours]\ndays = "all"\nstart = "08:00"\nend = "09:00"\n'
    sc = scenario_from_toml(MINIMAL + extra, "o.toml", [
        'handling.compose={ dist = "constant", value = "50m" }', "agents.shifts.0.count=1", "arrivals.base_rate=10"])
    m = run_replication(sc, 1, 0).metrics
    assert 0 < m["occupancy"] <= 1.0


def test_held_conversations_go_back_to_the_queue_when_the_shift_ends():
    sc = scenario_from_toml(MINIMAL, "h.toml", [
        "handling.hold_during_think=true", 'handling.turns={ dist = "constant", value = 4 }',
        'handling.compose={ dist = "constant", value = "2m" }',
        'customers.think_time={ dist = "exponential", mean = "20m" }',
        'agents.shifts.0.start="08:00"', 'agents.shifts.0.end="09:00"', 'scenario.horizon="10d"',
        "agents.shifts.0.count=4", "arrivals.base_rate=5"])
    c = run_replication(sc, 1, 0, keep_records=True).records.conversations
    done = ~np.isnan(c["end"]) & (c["turns"] > 0)
    # Every reply is composed on shift: a turn started before 09:00 ends by 09:02.
    clock = c["end"][done] % 86400
    assert done.sum() > 50
    assert np.all((clock >= 8 * 3600) & (clock <= 9 * 3600 + 120 + 1e-6))


def test_a_hand_off_cut_by_the_stop_does_not_poison_the_resolution_time():
    sc = scenario_from_toml(MINIMAL, "e.toml", [
        "handling.escalation={ email = 0.3 }", 'handling.escalation_work={ email = { dist = "constant", value = "20m" } }',
        'scenario.drain="0s"', "arrivals.base_rate=40"])
    m = run_replication(sc, 1, 0).metrics
    assert np.isfinite(m["resolution_time_mean_s"])


def test_study_samples_longer_than_ten_days():
    text = MINIMAL.replace('horizon = "2d"', 'horizon = "120d"') + '\n[study]\nsample = "14d"\nwarmup = "12d"\n'
    sc = scenario_from_toml(text, "s.toml")
    first = periods(sc, "quarter")[0]
    sample = sample_scenario(sc, first)
    assert sample.meta.horizon == 26 * 86400 and sample.meta.warmup == 12 * 86400


def test_a_24_hour_shift_starting_at_eight_round_trips():
    sc = scenario_from_toml(MINIMAL, "s.toml", ['agents.shifts.0.start="08:00"', 'agents.shifts.0.end="08:00"'])
    assert sc.agents.shifts[0].length == 86400
    again = with_shifts(sc, [Shift("full day", tuple(range(7)), 8 * 3600.0, 8 * 3600.0 + 86400, 3)])
    assert again.agents.shifts[0].length == 86400 and again.agents.shifts[0].start == 8 * 3600


@pytest.mark.parametrize("overrides, fragment", [
    (["deflection.max_share=0.3"], "deflection.max_share: is not used here: deflection is off"),
    (["arrivals.cascade.enabled=false", "arrivals.cascade.branching_ratio=0.2"], "is not used here: the cascade is off"),
    (['arrivals.adoption.start_share=0.1'], 'is not used here: adoption model is "none"'),
    (['handling.compose={ dist = "none" }'], "handling.compose.dist: got \"none\""),
    (['customers.think_time={ dist = "none" }'], "customers.think_time.dist"),
    (['agents.shifts.0.start="24:00"'], "agents.shifts[0].start"),
])
def test_loader_explains_settings_that_cannot_apply(overrides, fragment):
    with pytest.raises(ScenarioError) as info:
        scenario_from_toml(MINIMAL, "m.toml", overrides)
    assert fragment in str(info.value)
