"""``chirpdesk forecast``: prediction intervals that cover what they say over many seeds, a model
that beats seasonal naive when there is trend, spikes flagged not learned, and the chain
history -> forecast -> scenario."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from chirpdesk.sim.arrivals import expected_count
from chirpdesk.sim.cli import main
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.forecast import check_length, forecast_counts, seasonal_naive, wape
from chirpdesk.sim.history_gen import BrandTruth, generate_twcs
from chirpdesk.sim.loader import load_scenario

DAY = np.r_[np.full(7, 0.3), np.full(2, 1.0), np.full(9, 1.6), np.full(6, 0.9)]
PERIOD = 168


def _series(seed: int, weeks: int = 5, rate: float = 20.0, growth: float = 0.05) -> np.ndarray:
    t = np.arange(weeks * PERIOD)
    return np.random.default_rng(seed).poisson(rate * np.tile(DAY, 7 * weeks) * (1 + growth * t / PERIOD)).astype(float)


def test_prediction_intervals_cover_95_percent_over_many_seeds() -> None:
    hits = total = 0
    for seed in range(16):
        y = _series(seed)
        fc = forecast_counts(y[:-PERIOD], PERIOD, PERIOD)
        held = y[-PERIOD:]
        hits += int(np.sum((held >= np.floor(fc.low)) & (held <= np.ceil(fc.high))))
        total += held.size
    lo, hi = stats.binom.ppf([0.0005, 0.9995], total, 0.95) / total  # 99.9% binomial tolerance
    assert lo <= hits / total <= hi, (hits / total, lo, hi)


def test_the_model_beats_seasonal_naive_when_there_is_trend() -> None:
    model, naive = [], []
    for seed in range(8):
        y = _series(100 + seed, growth=0.08)
        fc = forecast_counts(y[:-PERIOD], PERIOD, PERIOD)
        model.append(wape(y[-PERIOD:], fc.mean))
        naive.append(wape(y[-PERIOD:], seasonal_naive(y[:-PERIOD], PERIOD, PERIOD)))
    assert np.mean(model) < 0.9 * np.mean(naive)
    assert sum(m < n for m, n in zip(model, naive, strict=True)) >= 7


def test_a_dated_spike_is_flagged_and_not_learned() -> None:
    y = _series(7, growth=0.0)
    spiked = y.copy()
    spiked[3 * PERIOD + 40] *= 8  # an outage storm, Tuesday 16:00 of week 4
    clean, storm = forecast_counts(y, PERIOD, PERIOD), forecast_counts(spiked, PERIOD, PERIOD)
    assert np.flatnonzero(storm.outliers).tolist() == [3 * PERIOD + 40]
    assert not clean.outliers.any()
    # Next week's Tuesday 16:00 is forecast as if the storm never happened.
    assert storm.mean[40] == pytest.approx(clean.mean[40], rel=0.02)


def test_too_short_a_history_says_how_much_is_needed() -> None:
    with pytest.raises(ChirpdeskError, match="forecasting needs at least 21 days .*7-day holdout"):
        check_length(20 * 24, PERIOD, PERIOD, 3600.0)
    with pytest.raises(ValueError, match="at least two weeks"):
        forecast_counts(np.ones(PERIOD), PERIOD, 24)


def test_history_to_forecast_to_a_scenario_that_plans_it(tmp_path: Path) -> None:
    generate_twcs(tmp_path / "twcs.csv", [BrandTruth("AcmeHelp", rate=12.0, growth_per_week=0.03)], weeks=5, seed=9)
    out = tmp_path / "fc"
    assert main(["forecast", str(tmp_path / "twcs.csv"), "--horizon", "2w", "--holdout", "1w", "--out", str(out)]) == 0
    doc = json.loads((out / "forecast.json").read_text())
    for key in ("wape", "mase", "baseline_wape", "baseline_mase", "intervals", "horizon_start", "horizon_end"):
        assert doc[key] is not None, key
    assert doc["intervals"] == 336 and doc["holdout_intervals"] == 168
    with open(out / "forecast.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    parts = [r["part"] for r in rows]
    assert parts.count("holdout") == 168 and parts.count("forecast") == 336
    assert all(r["observed"] for r in rows if r["part"] == "holdout")
    assert all(float(r["low"]) <= float(r["forecast"]) <= float(r["high"]) for r in rows if r["part"] != "history")
    sc = load_scenario(out / "scenario.toml")
    first_week = sum(float(r["forecast"]) for r in [r for r in rows if r["part"] == "forecast"][:168])
    assert expected_count(sc, 0.0, 7 * 86400.0) == pytest.approx(first_week, rel=0.03)
    assert sc.meta.horizon == 14 * 86400.0
    assert (out / "report.html").is_file()
    assert math.isfinite(doc["holdout_coverage"])
    assert main(["staff", str(out / "scenario.toml"), "--method", "sipp", "--out", str(tmp_path / "plan"),
                 "--no-report"]) == 0
