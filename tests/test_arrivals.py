"""Arrivals: the count in any window matches the integrated rate; bursts, adoption, cascades."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from chirpdesk.sim.arrivals import (
    adoption_factor,
    expected_count,
    generate_arrivals,
    penetration,
    rate,
)
from chirpdesk.sim.loader import scenario_from_toml
from chirpdesk.sim.scenario import Adoption
from simkit import MINIMAL

DIURNAL = [0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.2, 1.6, 1.8, 1.9, 1.9,
           2.0, 1.8, 1.6, 1.5, 1.4, 1.5, 1.6, 1.7, 1.5, 1.0, 0.6, 0.3]


def scenario(extra: str = "", **replace: str):
    text = MINIMAL
    for old, new in replace.items():
        text = text.replace(old.replace("_", " ") if False else old, new)
    return scenario_from_toml(text + extra, "arrivals.toml")


def weekly_scenario(interp: str = "step", rate_per_h: float = 120.0):
    text = (MINIMAL.replace("base_rate = 30", f"base_rate = {rate_per_h}\ndiurnal = {DIURNAL}\n"
                            f"weekly = [1.2, 1.1, 1.0, 1.0, 1.0, 0.8, 0.9]\ninterpolation = \"{interp}\"")
            .replace('horizon = "2d"', 'horizon = "14d"').replace('start = 2024-03-04T00:00:00', 'start = 2024-03-06T05:30:00'))
    return scenario_from_toml(text, "weekly.toml")


def test_profiles_are_normalised_so_base_rate_is_the_mean():
    sc = weekly_scenario()
    assert expected_count(sc, 0, 7 * 86400) == pytest.approx(120 * 24 * 7, rel=1e-9)


def test_rate_follows_the_calendar():
    sc = weekly_scenario()
    # The scenario starts Wednesday 05:30: t = 30 min is 06:00 on a Wednesday (weekly[2] = 1.0).
    diurnal = np.asarray(sc.arrivals.diurnal)
    weekly = np.asarray(sc.arrivals.weekly)
    assert rate(sc, 1800.0)[0] == pytest.approx(sc.arrivals.base_rate * diurnal[6] * weekly[2])
    # Saturday 12:30 (three days and seven hours after Wednesday 05:30).
    t = (3 * 86400) + 7 * 3600
    assert rate(sc, t)[0] == pytest.approx(sc.arrivals.base_rate * diurnal[12] * weekly[5])


@pytest.mark.parametrize("interp", ["step", "linear"])
def test_hour_of_day_distribution_matches_the_profile(interp):
    sc = weekly_scenario(interp)
    stream = generate_arrivals(sc, np.random.default_rng(3))
    hours = np.floor((stream.time + 5.5 * 3600) / 3600).astype(int) % 24
    observed = np.bincount(hours, minlength=24)
    expected = np.array([sum(expected_count(sc, d * 86400 + h * 3600 - 5.5 * 3600, d * 86400 + (h + 1) * 3600 - 5.5 * 3600)
                             for d in range(15)) for h in range(24)])
    # Clip to the horizon: the sums above include a little before 0 and after the end.
    expected = expected * observed.sum() / expected.sum()
    chi2, p = stats.chisquare(observed, expected)
    assert p > 0.001, (chi2, p)


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0, 13 * 86400), length=st.floats(600, 86400), seed=st.integers(0, 2**31))
def test_count_in_any_window_matches_the_integrated_rate(a, length, seed):
    sc = weekly_scenario("linear")
    b = min(a + length, sc.meta.horizon)
    stream = generate_arrivals(sc, np.random.default_rng(seed), a, b)
    lam = expected_count(sc, a, b, step=30.0)
    n = len(stream)
    # Poisson count: a two-sided test at 1e-4 (|z| < 3.9) so the property is tight and rarely flaky.
    assert stats.poisson.cdf(n, lam) > 5e-5 and stats.poisson.sf(n - 1, lam) > 5e-5, (n, lam)
    assert np.all((stream.time >= a) & (stream.time < b))
    assert np.all(np.diff(stream.time) >= 0)


def test_same_seed_same_stream_and_windows_are_exact():
    sc = weekly_scenario()
    one = generate_arrivals(sc, np.random.default_rng(9))
    two = generate_arrivals(sc, np.random.default_rng(9))
    np.testing.assert_array_equal(one.time, two.time)
    np.testing.assert_array_equal(one.kind, two.kind)


BURST = """
[[arrivals.bursts]]
name = "outage"
start = "1d 10h"
duration = "2h"
multiplier = 8.0
update_after = "30m"
update_deflects = 0.5
kind = "complaint"
"""


def test_burst_with_public_update_matches_its_integral():
    text = MINIMAL.replace("kinds = { question = 0.7, praise = 0.3 }", "kinds = { question = 0.7, praise = 0.2, complaint = 0.1 }")
    sc = scenario_from_toml(text + BURST, "burst.toml")
    start = 86400 + 10 * 3600
    # 30 min at 8x, then 90 min at 1 + 7 * 0.5 = 4.5x.
    assert expected_count(sc, start, start + 7200) == pytest.approx(30 * (0.5 * 8 + 1.5 * 4.5), rel=1e-9)
    counts, burst_kind = [], []
    for seed in range(40):
        s = generate_arrivals(sc, np.random.default_rng(seed), start, start + 7200)
        counts.append(len(s))
        burst_kind.append(np.mean(s.origin == 1))
    mean, se = np.mean(counts), np.std(counts, ddof=1) / math.sqrt(len(counts))
    assert abs(mean - 322.5) < 3.5 * se
    # Share of excess tweets: (0.5 * 7 + 1.5 * 3.5) / (0.5 * 8 + 1.5 * 4.5) = 8.75 / 10.75.
    assert np.mean(burst_kind) == pytest.approx(8.75 / 10.75, abs=0.02)
    s = generate_arrivals(sc, np.random.default_rng(1), start, start + 7200)
    assert np.all(np.asarray(s.kinds)[s.kind[s.origin == 1]] == "complaint")


def test_bass_penetration():
    a = Adoption("bass", start_share=0.02, p=0.01, q=0.6, period=365 * 86400.0)
    year = 365 * 86400.0
    f = penetration(a, np.arange(0, 30) * year, 6 * year)
    assert f[0] == pytest.approx(0.02)
    assert np.all(np.diff(f) > 0) and f[-1] < 1 and f[-1] > 0.99
    # Bass ODE: dF/dt = (p + q F)(1 - F), checked numerically at year 3.
    h = 1e-4
    dfdt = (penetration(a, 3 * year + h * year, 6 * year) - penetration(a, 3 * year - h * year, 6 * year)) / (2 * h)
    f3 = penetration(a, 3 * year, 6 * year)
    assert dfdt == pytest.approx((0.01 + 0.6 * f3) * (1 - f3), rel=1e-6)


def test_linear_adoption_scales_the_rate():
    text = MINIMAL.replace("base_rate = 30", "base_rate = 30\nadoption = { model = \"linear\", start_share = 0.1, end_share = 0.3 }")
    sc = scenario_from_toml(text, "lin.toml")
    assert adoption_factor(sc, sc.meta.horizon)[()] == pytest.approx(3.0)
    assert expected_count(sc, 0, sc.meta.horizon) == pytest.approx(30 * 48 * 2.0, rel=1e-6)


def test_cascade_multiplies_volume_by_one_over_one_minus_branching():
    # Every tweet is a #fail complaint and every offspring too, so each generation triggers:
    # expected total = base / (1 - n).
    text = (MINIMAL.replace("kinds = { question = 0.7, praise = 0.3 }", "kinds = { complaint = 1.0 }")
            .replace('needs_reply = ["question"]', 'needs_reply = ["complaint"]\nfail_share = 1.0')
            .replace("base_rate = 30", "base_rate = 30\ncascade = { branching_ratio = 0.5, decay = \"10m\" }")
            .replace('horizon = "2d"', 'horizon = "10d"'))
    sc = scenario_from_toml(text, "cascade.toml")
    totals = [len(generate_arrivals(sc, np.random.default_rng(s))) for s in range(10)]
    base = 30 * 24 * 10
    mean = np.mean(totals)
    se = np.std(totals, ddof=1) / math.sqrt(len(totals))
    assert abs(mean - base / (1 - 0.5)) < 4 * se + 0.002 * base  # tiny allowance for offspring past the horizon
    s = generate_arrivals(sc, np.random.default_rng(0))
    assert np.mean(s.origin == 2) == pytest.approx(0.5, abs=0.02)


def test_an_hour_of_week_profile_sets_each_hour_of_the_week():
    from chirpdesk.sim.arrivals import expected_count, generate_arrivals
    from chirpdesk.sim.errors import ScenarioError

    profile = [1.0 + (h % 24 >= 9) * 2 + (h // 24 == 6) * 3 for h in range(168)]
    sc = scenario_from_toml(MINIMAL, "how.toml", [f"arrivals.hour_of_week={profile}", 'scenario.horizon="28d"'])
    norm = np.asarray(profile) / np.mean(profile)
    for h in (0, 9, 150):  # Monday 00:00 (the scenario starts on a Monday), Monday 09:00, Sunday 06:00
        assert expected_count(sc, h * 3600.0, (h + 1) * 3600.0) == pytest.approx(30 * norm[h])
    times = generate_arrivals(sc, np.random.default_rng(1)).time
    counts = np.bincount((times // 3600).astype(int) % 168, minlength=168) / 4  # four weeks
    assert np.all(np.abs(counts - 30 * norm) < 5 * np.sqrt(30 * norm / 4))
    with pytest.raises(ScenarioError, match="hour_of_week replaces diurnal and weekly"):
        scenario_from_toml(MINIMAL, "how.toml", [f"arrivals.hour_of_week={profile}", f"arrivals.diurnal={[1] * 24}"])
    with pytest.raises(ScenarioError, match="expected an array of exactly 168"):
        scenario_from_toml(MINIMAL, "how.toml", ["arrivals.hour_of_week=[1, 2]"])
