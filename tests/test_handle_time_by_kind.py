"""Handle time per tweet kind, against theory: Cobham's non-preemptive priority formula with a
different service-time distribution per class, and Pollaczek-Khinchine for the FIFO mixture.

One agent; outage reports (the top class under ``influencer_fail``) take a gamma 30 s reply,
questions an exponential 90 s one; 0.5 tweets a minute, 30% outage reports: load 0.6.
"""

from __future__ import annotations

import numpy as np
import pytest

from chirpdesk.sim.analytic import priority_mean_waits
from chirpdesk.sim.errors import ScenarioError
from chirpdesk.sim.loader import scenario_from_toml
from chirpdesk.sim.metrics import confidence_interval
from chirpdesk.sim.run import run_replication
from chirpdesk.sim.staffing import work_model
from simkit import MINIMAL

LAM = 1 / 120
SHARE = {"outage_report": 0.3, "question": 0.7}
MEAN = {"outage_report": 30.0, "question": 90.0}
SECOND = {"outage_report": 30.0**2 * (1 + 0.5**2), "question": 2 * 90.0**2}
BY_KIND = [
    "arrivals.base_rate=30", "mix.kinds={ outage_report = 0.3, question = 0.7 }",
    'mix.needs_reply=["outage_report", "question"]', "agents.shifts.0.count=1",
    'handling.compose={ outage_report = { dist = "gamma", mean = "30s", cv = 0.5 }, '
    'question = { dist = "exponential", mean = "90s" } }',
    'scenario.horizon="40d"', 'scenario.warmup="1d"', "scenario.replications=8",
]


def class_waits(overrides: list[str]) -> dict[str, tuple[float, float, float]]:
    sc = scenario_from_toml(MINIMAL, "by-kind.toml", overrides)
    per_rep: dict[str, list[float]] = {k: [] for k in SHARE}
    for r in range(sc.meta.replications):
        c = run_replication(sc, sc.meta.seed, r, keep_records=True).records.conversations
        inside = (c["arrival"] >= sc.meta.warmup) & (c["arrival"] < sc.meta.horizon) & ~np.isnan(c["pickup"])
        kinds = tuple(sc.mix.kinds)
        for name in SHARE:
            pick = inside & (c["kind"] == kinds.index(name))
            per_rep[name].append(float(np.mean(c["pickup"][pick] - c["arrival"][pick])))
    return {name: confidence_interval(v, 0.99) for name, v in per_rep.items()}


def cobham(order: list[str]) -> list[float]:
    """Cobham's mean waits of the kinds in ``order`` (highest priority first)."""
    return priority_mean_waits([LAM * SHARE[k] for k in order], [MEAN[k] for k in order],
                               [SECOND[k] for k in order])


def assert_cobham(waits: dict[str, tuple[float, float, float]], order: list[str]) -> None:
    """Each kind's 99% interval is narrow and contains Cobham's wait."""
    for name, expected in zip(order, cobham(order), strict=True):
        mean, lo, hi = waits[name]
        assert hi - lo < 0.15 * expected, (name, waits[name])
        assert lo <= expected <= hi, (name, expected, waits[name])


def test_priority_waits_per_class_match_cobham_with_different_handle_times() -> None:
    waits = class_waits([*BY_KIND, 'handling.priority="influencer_fail"'])
    order = ["outage_report", "question"]
    assert_cobham(waits, order)


def test_each_kind_gets_its_own_handle_time() -> None:
    sc = scenario_from_toml(MINIMAL, "by-kind.toml", BY_KIND)
    c = run_replication(sc, sc.meta.seed, 0, keep_records=True).records.conversations
    kinds = tuple(sc.mix.kinds)
    for name, mean in MEAN.items():
        busy = c["busy"][(c["kind"] == kinds.index(name)) & (c["busy"] > 0)]
        assert busy.size > 5000
        assert float(busy.mean()) == pytest.approx(mean, rel=0.03)
    question = c["busy"][(c["kind"] == kinds.index("question")) & (c["busy"] > 0)]
    assert float(question.std() / question.mean()) == pytest.approx(1.0, abs=0.05)  # exponential


def test_fifo_waits_of_the_mixture_match_pollaczek_khinchine() -> None:
    waits = class_waits(BY_KIND)
    # One class whose service time is the mixture: E[S] and E[S^2] are the share-weighted moments.
    es = sum(SHARE[k] * MEAN[k] for k in SHARE)
    es2 = sum(SHARE[k] * SECOND[k] for k in SHARE)
    (expected,) = priority_mean_waits([LAM], [es], [es2])
    for name in SHARE:  # FIFO: both kinds wait the same
        mean, lo, hi = waits[name]
        assert lo <= expected <= hi, (name, expected, waits[name])


def test_staffing_work_is_the_mix_weighted_handle_time() -> None:
    sc = scenario_from_toml(MINIMAL, "by-kind.toml", BY_KIND)
    work = work_model(sc, conversations=40_000)
    expected = sum(SHARE[k] * MEAN[k] for k in SHARE)
    assert work.mean_job_s == pytest.approx(expected, rel=0.02)
    second = float(np.mean(work.durations**2))
    assert second == pytest.approx(sum(SHARE[k] * SECOND[k] for k in SHARE), rel=0.05)


def test_a_kind_without_a_handle_time_is_named() -> None:
    with pytest.raises(ScenarioError, match=r"handling.compose: no entry for question"):
        scenario_from_toml(MINIMAL, "by-kind.toml", [
            *BY_KIND[:4], 'handling.compose={ outage_report = { dist = "gamma", mean = "30s", cv = 0.5 } }'])
    # An 'other' entry covers the rest.
    sc = scenario_from_toml(MINIMAL, "by-kind.toml", [
        *BY_KIND[:4], 'handling.compose={ outage_report = { dist = "constant", value = "30s" }, '
                      'other = { dist = "constant", value = "2m" } }'])
    assert sc.handling.compose_for("question").value == 120.0
    assert sc.handling.compose_for("outage_report").value == 30.0


def test_results_by_class_and_kind_carry_intervals_that_contain_cobham() -> None:
    from chirpdesk.sim.run import run_scenario

    sc = scenario_from_toml(MINIMAL, "by-kind.toml", [*BY_KIND, 'handling.priority="influencer_fail"'])
    groups = run_scenario(sc, jobs=2).groups
    order = ["outage_report", "question"]
    theory = cobham(order)
    # Outage reports are the "fail" triage class; questions from ordinary authors are "normal".
    for (grouping, group), expected in zip([("class", "fail"), ("class", "normal")], theory, strict=True):
        w = groups[grouping][group]["wait_mean_s"]
        assert w["ci_high"] - w["ci_low"] < 0.15 * expected
        assert w["ci_low"] <= expected <= w["ci_high"], (group, expected, w)
    for kind, expected in zip(order, theory, strict=True):
        w = groups["kind"][kind]["wait_mean_s"]
        assert w["ci_low"] <= expected <= w["ci_high"], (kind, expected, w)
    assert set(groups["handle"]) == {"service"}
    n = groups["kind"]["outage_report"]["needs_reply"]["mean"] + groups["kind"]["question"]["needs_reply"]["mean"]
    assert n == pytest.approx(LAM * (sc.meta.horizon - sc.meta.warmup), rel=0.02)


def test_a_user_defined_order_is_served_as_written_cobham_reversed() -> None:
    # Questions ("rest") ahead of outage reports: the reverse of the preset, Cobham reversed.
    waits = class_waits([*BY_KIND, 'handling.priority=["rest", "outage"]'])
    order = ["question", "outage_report"]
    assert_cobham(waits, order)


def test_the_presets_are_orders_and_spelling_one_out_changes_nothing() -> None:
    base = ['handling.turns={ dist = "constant", value = 2 }', "mix.fail_share=0.3",
            'mix.kinds={ question = 0.5, complaint = 0.3, outage_report = 0.2 }',
            'mix.followers={ dist = "empirical", values = [50, 50000], weights = [0.9, 0.1] }']
    preset = scenario_from_toml(MINIMAL, "p.toml", [*base, 'handling.priority="influencer_fail"'])
    spelled = scenario_from_toml(MINIMAL, "p.toml", [
        *base, 'handling.priority=["followup", ["outage", "fail"], "influencer", "rest"]'])
    assert spelled.handling.priority == "followup>outage+fail>influencer>rest"
    assert spelled.handling.levels == preset.handling.levels
    a = run_replication(preset, 3, 0, keep_records=True).records.conversations
    b = run_replication(spelled, 3, 0, keep_records=True).records.conversations
    for name in ("pickup", "first_response", "outcome"):
        np.testing.assert_array_equal(a[name], b[name])


@pytest.mark.parametrize(("value", "needle"), [
    ('["outage", "vip", "rest"]', "unknown class 'vip'; allowed: outage, fail, influencer, followup, rest"),
    ('["outage", "fail"]', "must include 'rest'"),
    ('["rest", "rest"]', "listed twice"),
    ('"vip"', "unknown class 'vip'"),
])
def test_a_bad_priority_order_names_the_field_and_the_allowed_classes(value: str, needle: str) -> None:
    with pytest.raises(ScenarioError, match="handling.priority") as err:
        scenario_from_toml(MINIMAL, "p.toml", [f"handling.priority={value}"])
    assert needle in str(err.value)


def test_followups_first_beside_a_priority_list_is_refused() -> None:
    with pytest.raises(ScenarioError, match="handling.followups_first: the priority list says where follow-ups go"):
        scenario_from_toml(MINIMAL, "p.toml", ['handling.priority=["followup", "rest"]', "handling.followups_first=true"])
