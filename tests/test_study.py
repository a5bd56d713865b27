"""Adoption studies by sample weeks: the fixed team breaks, the erlang policy holds at rising cost."""

from __future__ import annotations

import pytest

from chirpdesk.sim.arrivals import adoption_factor
from chirpdesk.sim.loader import load_scenario, scenario_from_toml
from chirpdesk.sim.policies import policy_shifts
from chirpdesk.sim.study import periods, sample_scenario
from chirpdesk.sim.sweep import LocalExecutor, breakpoints, metric_table, run_sweep


def test_periods_and_sample_scenario(scenarios_dir):
    sc = load_scenario(scenarios_dir / "adoption-2011-2016.toml")
    per = periods(sc, "year")
    assert [p.label for p in per] == ["2011", "2012", "2013", "2014", "2015", "2016"]
    assert len(periods(sc, "quarter")) == 24
    p = per[3]
    sample = sample_scenario(sc, p)
    import datetime as dt

    assert (sample.meta.start + dt.timedelta(seconds=sample.meta.warmup)).weekday() == 0  # measured from Monday
    assert sample.meta.horizon == sc.study.warmup + sc.study.sample
    assert sample.arrivals.adoption.model == "none"
    expected = sc.arrivals.base_rate * float(adoption_factor(sc, p.sample_start_s + 0.5 * sc.study.sample))
    assert sample.arrivals.base_rate == pytest.approx(expected)
    assert p.adoption > per[0].adoption > 1.0
    prop = policy_shifts(sc, "proportional", p, sample)
    assert sum(s.count for s in prop) > sum(s.count for s in sc.agents.shifts)


def test_policy_sections_are_strict(minimal_toml):
    from chirpdesk.sim.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"x\.toml: policy\.hiring_lagg: unknown key"):
        scenario_from_toml(minimal_toml + '\n[policy]\nhiring_lagg = "30d"\n', "x.toml")
    with pytest.raises(ScenarioError, match=r"study\.period"):
        scenario_from_toml(minimal_toml + '\n[study]\nperiod = "decade"\n', "x.toml")


@pytest.mark.slow
def test_adoption_fixed_team_breaks_and_erlang_policy_holds(scenarios_dir):
    sc = load_scenario(scenarios_dir / "adoption-2011-2016.toml")
    pool = LocalExecutor(2)
    try:
        res = run_sweep(sc, policies=["fixed", "erlang"], period="half-year", replications=2, executor=pool,
                        metrics=("sla_attainment", "cost_total"))
    finally:
        pool.close()
    assert "half-year" in res.sampling and "sample" in res.sampling
    target = sc.sla.share
    sla = {(r["policy"], r["period"]): r for r in metric_table(res, "sla_attainment")}
    cost = {(r["policy"], r["period"]): r for r in metric_table(res, "cost_total")}
    labels = [p.label for p in res.periods]
    assert labels[0] == "2011-H1" and labels[-1] == "2016-H2"

    # Fixed team: on target in 2011, and later clearly (whole CI) below target.
    assert sla[("fixed", labels[0])]["mean"] >= target
    broken = [lab for lab in labels if sla[("fixed", lab)]["ci_high"] < target]
    assert broken, "the fixed team should miss the SLA in some period"
    br = {b["policy"]: b for b in breakpoints(res)}
    year = int(br["fixed"]["break_period"][:4])
    assert 2012 <= year <= 2015
    assert labels.index(br["fixed"]["break_period"]) <= labels.index(broken[0])

    # Erlang policy: never significantly below target, no break point, cost rising with volume.
    assert all(sla[("erlang", lab)]["ci_high"] >= target for lab in labels)
    assert br["erlang"]["break_period"] == ""
    first, last = cost[("erlang", labels[0])], cost[("erlang", labels[-1])]
    assert last["ci_low"] > 2 * first["ci_high"]
