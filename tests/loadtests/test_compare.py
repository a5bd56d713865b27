"""Predicted vs measured without a run: the tolerance is sampling error only, and the embedded
desk is told the scenario's queue discipline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chirpdesk.loadtests.cli import desk_order_flags
from chirpdesk.loadtests.plan import Settings, build_plan
from chirpdesk.loadtests.report import SLA_Z, compare

STORM = "scenarios/outage-storm.toml"


@pytest.fixture(scope="module")
def storm():
    return build_plan(Settings(scenario=STORM))


def _sides(shares: list[float], met: int, n: int) -> tuple[dict, dict]:
    frt = np.array([100.0, 700.0, 2000.0])
    return {"first_response_s": frt, "shares": shares, "n": n}, {"first_response_s": frt, "met": met, "n": n}


def test_tolerance_is_three_sigma_of_sampling_error_without_allowance(storm) -> None:
    shares = [0.10, 0.12, 0.11, 0.09, 0.13]
    predicted, measured = _sides(shares, met=70, n=700)
    cmp = compare(storm, predicted, measured)
    tol = cmp["tolerance"]
    p, sd, r = float(np.mean(shares)), float(np.std(shares, ddof=1)), len(shares)
    binom = math.sqrt(p * (1 - p) / 700)
    assert tol["binomial_se"] == pytest.approx(binom) and tol["sd_replications"] == pytest.approx(sd)
    assert tol["measured_se"] == pytest.approx(max(binom, sd))
    assert tol["predicted_se"] == pytest.approx(sd / math.sqrt(r))
    assert tol["sigma"] == pytest.approx(math.sqrt(max(binom, sd) ** 2 + sd**2 / r))
    assert tol["sla_attainment"] == pytest.approx(SLA_Z * tol["sigma"]) and "allowance" not in tol
    assert cmp["agree"] is True  # 10.0% measured vs 11.0% predicted, tolerance ~5 points
    # A gap beyond 3 sigma disagrees; with identical replications the binomial error remains.
    _, far = _sides(shares, met=int(700 * (p - 1.1 * tol["sla_attainment"])), n=700)
    assert compare(storm, predicted, far)["agree"] is False
    same, meas = _sides([0.11] * 5, met=77, n=700)
    assert compare(storm, same, meas)["tolerance"]["sigma"] == pytest.approx(math.sqrt(0.11 * 0.89 / 700))


def test_embedded_desk_gets_the_scenario_queue_discipline(storm) -> None:
    assert desk_order_flags(storm) == ["--priority-rule", "influencer_fail", "--followups-first"]
    fifo = build_plan(Settings(scenario=STORM, overrides=("handling.priority=fifo", "handling.followups_first=false")))
    assert desk_order_flags(fifo) == ["--priority-rule", "fifo", "--no-followups-first"]
