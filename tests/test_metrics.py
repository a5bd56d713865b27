"""Metrics from records: confidence intervals and the interval table agree with the totals."""

import math

import numpy as np
import pytest
from scipy import stats

from chirpdesk.sim.loader import scenario_from_toml
from chirpdesk.sim.metrics import confidence_interval, metric_interval
from chirpdesk.sim.run import run_replication
from simkit import MINIMAL


def test_student_t_interval_matches_scipy():
    x = [0.8, 0.85, 0.9, 0.7, 0.95]
    mean, lo, hi = confidence_interval(x, 0.95)
    ref = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert mean == pytest.approx(np.mean(x))
    assert (lo, hi) == pytest.approx(ref)


def test_interval_coverage_is_nominal():
    # 2,000 intervals of 5 normal draws: about 95% must cover the true mean (binomial 4-sigma band).
    rng = np.random.default_rng(5)
    covered = sum(lo <= 1.0 <= hi for _, lo, hi in (confidence_interval(rng.normal(1.0, 0.3, 5)) for _ in range(2000)))
    sd = math.sqrt(2000 * 0.95 * 0.05)
    assert abs(covered - 1900) < 4 * sd


def test_share_intervals_stay_within_zero_and_one():
    mean, lo, hi = metric_interval("sla_attainment", [0.99, 0.90])
    assert confidence_interval([0.99, 0.90])[2] > 1.0
    assert hi == 1.0 and lo > 0.0 and mean == pytest.approx(0.945)
    assert metric_interval("wait_mean_s", [1.0, 30.0])[1] == 0.0


def test_single_value_has_no_interval():
    mean, lo, hi = confidence_interval([3.0])
    assert mean == 3.0 and math.isnan(lo) and math.isnan(hi)


def test_interval_table_adds_up_to_the_run():
    sc = scenario_from_toml(MINIMAL, "tiny.toml", ['customers.patience={ dist = "exponential", mean = "5m" }',
                                                    "arrivals.base_rate=80"])
    rep = run_replication(sc, 1, 0, keep_records=True)
    c, t = rep.records.conversations, rep.intervals
    assert t["arrivals"].sum() == c["arrival"].size
    assert t["needs_reply"].sum() == c["needs_reply"].sum()
    answered = ~np.isnan(c["first_response"]) & (c["first_response"] < sc.meta.horizon)
    assert t["answered"].sum() == answered.sum()
    assert np.all(t["staffed_slots"] == 2) and np.all(t["busy_slots"] <= 2 + 1e-9)
    # The time-average queue over the whole horizon equals the sum of waiting times / horizon.
    left = np.where(np.isnan(c["pickup"]), c["end"], c["pickup"])
    waits = np.clip(np.minimum(left, sc.meta.horizon) - c["arrival"], 0, None)[c["needs_reply"]]
    assert np.mean(t["queue_mean"]) == pytest.approx(waits.sum() / sc.meta.horizon, rel=1e-6)
