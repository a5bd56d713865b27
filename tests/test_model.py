"""The SimPy desk against queueing theory (Erlang C, Erlang A, Little's law) and its own rules.

Statistical checks use fixed seeds and tolerances taken from the replications' confidence
interval (99%, Student t); each also checks that the interval is narrow enough to mean something.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chirpdesk.sim.analytic import erlang_a, erlang_c, mmc_mean_wait, mmc_service_level
from chirpdesk.sim.loader import load_scenario, scenario_from_toml
from chirpdesk.sim.metrics import confidence_interval
from chirpdesk.sim.model import ABANDONED, DEFLECTED, NO_REPLY, OPEN, OUTCOMES, RESOLVED_PUBLIC
from chirpdesk.sim.run import run_replication, run_scenario
from simkit import MINIMAL, SCENARIOS

LAM, MU, C = 9 / 60, 1 / 60, 10  # per second: the erlang-check case


def ci99(result, metric):
    mean, lo, hi = confidence_interval([m[metric] for m in result.per_replication], 0.99)
    return mean, lo, hi


@pytest.fixture(scope="module")
def erlang_c_run():
    sc = load_scenario(SCENARIOS / "erlang-check.toml", ["scenario.replications=6"])
    return run_scenario(sc, jobs=2)


def test_p_wait_matches_erlang_c(erlang_c_run):
    mean, lo, hi = ci99(erlang_c_run, "p_wait")
    assert hi - lo < 0.06
    assert lo <= erlang_c(C, LAM / MU) <= hi


def test_mean_wait_matches_erlang_c(erlang_c_run):
    mean, lo, hi = ci99(erlang_c_run, "wait_mean_s")
    assert hi - lo < 12
    assert lo <= mmc_mean_wait(LAM, MU, C) <= hi


def test_service_level_matches_erlang_c(erlang_c_run):
    # erlang-check measures its SLA at pick-up within 20 s: Erlang C's P(W <= t).
    mean, lo, hi = ci99(erlang_c_run, "sla_attainment")
    assert hi - lo < 0.06
    assert lo <= mmc_service_level(LAM, MU, C, 20.0) <= hi


def test_occupancy_is_the_offered_load_per_agent(erlang_c_run):
    mean, lo, hi = ci99(erlang_c_run, "occupancy")
    assert hi - lo < 0.01
    assert lo <= LAM / (C * MU) <= hi


def test_littles_law_holds_on_the_queue_path_by_path(erlang_c_run):
    window = 7 * 86400
    for m in erlang_c_run.per_replication:
        lam = m["needs_reply"] / window
        assert m["queue_mean"] == pytest.approx(lam * m["wait_mean_s"], rel=0.01)


def test_more_replications_narrow_the_interval():
    sc = load_scenario(SCENARIOS / "erlang-check.toml", ["scenario.horizon=3d"])
    few = run_scenario(sc, replications=4, jobs=2).summary["p_wait"]
    many = run_scenario(sc, replications=16, jobs=2).summary["p_wait"]
    assert many["ci_high"] - many["ci_low"] < 0.75 * (few["ci_high"] - few["ci_low"])


# -- Erlang A: exponential patience ---------------------------------------------------------------

ERLANG_A = ["arrivals.base_rate=660", 'customers.patience={ dist = "exponential", mean = "2m" }',
            "scenario.replications=6", "scenario.horizon=5d"]


@pytest.fixture(scope="module")
def erlang_a_run():
    sc = load_scenario(SCENARIOS / "erlang-check.toml", ERLANG_A)
    return run_scenario(sc, jobs=2)


@pytest.fixture(scope="module")
def erlang_a_theory():
    return erlang_a(11 / 60, MU, 1 / 120, C)  # overloaded: 11 Erlangs offered to 10 agents


@pytest.mark.parametrize("metric, attr", [
    ("abandoned_share", "p_abandon"), ("p_wait", "p_wait"), ("wait_mean_s", "mean_wait_served"),
])
def test_matches_erlang_a(erlang_a_run, erlang_a_theory, metric, attr):
    mean, lo, hi = ci99(erlang_a_run, metric)
    assert hi - lo < (0.05 if metric != "wait_mean_s" else 8.0)
    assert lo <= getattr(erlang_a_theory, attr) <= hi


def test_service_level_matches_erlang_a(erlang_a_run, erlang_a_theory):
    mean, lo, hi = ci99(erlang_a_run, "sla_attainment")  # pick-up within 20 s; abandons are misses
    assert hi - lo < 0.05
    assert lo <= erlang_a_theory.service_level(20.0) <= hi


def test_littles_law_with_abandonment():
    sc = load_scenario(SCENARIOS / "erlang-check.toml", ERLANG_A + ["scenario.horizon=3d"])
    rep = run_replication(sc, sc.meta.seed, 0, keep_records=True)
    c = rep.records.conversations
    w0, w1 = sc.meta.warmup, sc.meta.horizon
    inside = (c["arrival"] >= w0) & (c["arrival"] < w1)
    left_queue = np.where(c["outcome"] == ABANDONED, c["end"], c["pickup"])
    time_in_queue = (left_queue - c["arrival"])[inside]
    lam = inside.sum() / (w1 - w0)
    assert rep.metrics["queue_mean"] == pytest.approx(lam * time_in_queue.mean(), rel=0.01)


# -- the desk's own rules --------------------------------------------------------------------------

def small(extra: str = "", overrides=(), **kw):
    return scenario_from_toml(MINIMAL + extra, "small.toml", overrides)


def records_of(sc, index=0):
    return run_replication(sc, sc.meta.seed, index, keep_records=True)


DAY_SHIFT = MINIMAL.replace('start = "00:00"\nend = "24:00"\ncount = 2', 'start = "08:00"\nend = "16:00"\ncount = 3')


def test_agents_follow_their_shifts_and_finish_the_current_reply():
    sc = scenario_from_toml(DAY_SHIFT, "shift.toml", ['handling.compose={ dist = "exponential", mean = "20m" }'])
    rep = records_of(sc)
    c = rep.records.conversations
    picked = c["pickup"][~np.isnan(c["pickup"])]
    hour = (picked % 86400) / 3600
    assert picked.size > 100
    assert np.all((hour >= 8) & (hour < 16)), "no conversation is picked up off shift"
    replies = c["first_response"][~np.isnan(c["first_response"])] % 86400 / 3600
    assert np.any(replies >= 16), "an agent whose shift ends finishes the reply in hand"
    agents = rep.intervals["agents"]
    start_hour = (rep.intervals["start"] % 86400) / 3600
    assert np.all(agents[(start_hour >= 8) & (start_hour < 16)] == 3)
    assert np.all(agents[(start_hour < 8) | (start_hour >= 16)] == 0)


def test_shrinkage_reduces_productive_agents():
    sc = small(overrides=["agents.shrinkage=0.5", "agents.shifts.0.count=4"])
    assert set(records_of(sc).intervals["agents"]) == {2.0}


def test_tweeting_hours_with_auto_reply():
    extra = '\n[agents.tweeting_hours]\ndays = "all"\nstart = "09:00"\nend = "17:00"\noutside = "auto_reply"\n'
    sc = small(extra, ['customers.patience={ dist = "exponential", mean = "30m" }'])
    c = records_of(sc).records.conversations
    picked = ~np.isnan(c["pickup"])
    hour = (c["pickup"][picked] % 86400) / 3600
    assert np.all((hour >= 9) & (hour < 17))
    arrival_hour = (c["arrival"] % 86400) / 3600
    closed = (arrival_hour < 9) | (arrival_hour >= 17)
    needs = c["needs_reply"]
    np.testing.assert_array_equal(c["auto_replied"][needs], closed[needs])
    # Patience starts at opening: overnight tweets do not all give up before 09:00.
    overnight = needs & closed & (arrival_hour < 6)
    assert np.mean(c["outcome"][overnight] == ABANDONED) < 0.95
    gave_up = overnight & (c["outcome"] == ABANDONED)
    assert np.all((c["end"][gave_up] % 86400) / 3600 >= 9)


def test_priority_serves_fail_and_influencers_first():
    overrides = ['mix.kinds={ complaint = 0.6, question = 0.4 }', 'mix.needs_reply=["complaint", "question"]',
                 "mix.fail_share=0.3", "handling.priority=\"influencer_fail\"", "arrivals.base_rate=55",
                 "scenario.horizon=6d"]
    c = records_of(small(overrides=overrides)).records.conversations
    wait = c["pickup"] - c["arrival"]
    fail = c["fail"] & c["needs_reply"]
    normal = ~c["fail"] & c["needs_reply"]
    assert np.nanmean(wait[fail]) < 0.5 * np.nanmean(wait[normal])


def test_escalation_shares_match_their_probabilities():
    overrides = ["handling.escalation={ email = 0.2, phone = 0.1 }", "arrivals.base_rate=40", "scenario.horizon=10d",
                 "agents.shifts.0.count=4"]
    sc = small(overrides=overrides)
    m = records_of(sc).metrics
    n = m["needs_reply"] * m["answered_share"]
    for target, p in (("email", 0.2), ("phone", 0.1)):
        se = math.sqrt(p * (1 - p) / n)
        assert abs(m[f"escalated_{target}_share"] - p) < 4 * se
    assert m["resolved_in_public_share"] == pytest.approx(1 - m["escalated_share"])


def test_multi_turn_conversations_and_private_data_move_to_dm():
    overrides = ['handling.turns={ dist = "empirical", values = [1, 2, 3], weights = [1, 1, 2] }',
                 "mix.private_share=0.25", 'customers.think_time={ dist = "exponential", mean = "15m" }',
                 "agents.shifts.0.count=4"]
    sc = small(overrides=overrides)
    rep = records_of(sc)
    c, m = rep.records.conversations, rep.metrics
    done = c["needs_reply"] & (c["outcome"] != OPEN) & (c["outcome"] != ABANDONED)
    dm = done & (c["outcome"] == OUTCOMES.index("dm"))
    assert np.all(c["turns"][dm] == 1)
    public = done & (c["outcome"] == RESOLVED_PUBLIC)
    # Public conversations have 1, 2 or 3 turns with weights 1:1:2 (given they were not moved to DM).
    shares = np.bincount(c["turns"][public], minlength=4)[1:] / public.sum()
    assert shares == pytest.approx([0.25, 0.25, 0.5], abs=0.05)
    assert m["escalated_dm_share"] == pytest.approx(0.25, abs=0.04)
    assert m["turns_mean"] == pytest.approx(0.25 * 1 + 0.75 * 2.25, abs=0.1)


def test_concurrency_slows_composing():
    base = ["arrivals.base_rate=100", "agents.shifts.0.count=1", 'handling.compose={ dist = "constant", value = "1m" }']
    one = records_of(small(overrides=base + ["agents.concurrency=3"])).records.conversations
    slow = records_of(small(overrides=base + ["agents.concurrency=3", "agents.slowdown=0.5"])).records.conversations
    work1 = one["busy"][one["turns"] > 0]
    work2 = slow["busy"][slow["turns"] > 0]
    assert np.all(work1 == pytest.approx(60.0))
    assert set(np.round(np.unique(work2))) <= {60.0, 90.0, 120.0} and work2.max() == pytest.approx(120.0)


def test_marketing_handle_reroute_delays_the_first_response():
    sc = small(overrides=["mix.marketing_share=0.5", 'mix.reroute_delay={ dist = "constant", value = "30m" }'])
    c = records_of(sc).records.conversations
    wait = c["pickup"] - c["arrival"]
    assert np.nanmin(wait[c["marketing"] & c["needs_reply"]]) >= 1800 - 1e-6
    assert np.nanmedian(wait[~c["marketing"] & c["needs_reply"]]) < 1800


def test_deflection_grows_with_public_answers():
    extra = "\n[deflection]\nenabled = true\nmax_share = 0.5\nhalf_saturation = 200\n"
    sc = small(extra, ["scenario.horizon=6d"])
    c = records_of(sc).records.conversations
    q = c["needs_reply"]
    early = q & (c["arrival"] < 86400)
    late = q & (c["arrival"] > 5 * 86400)
    assert np.mean(c["outcome"][late] == DEFLECTED) > np.mean(c["outcome"][early] == DEFLECTED) + 0.1


def test_tier2_takes_escalations():
    extra = '\n[agents.tier2]\ncount = 1\nhandle_time = { dist = "constant", value = "10m" }\ntargets = ["phone"]\n'
    sc = small(extra, ["handling.escalation={ phone = 0.5 }"])
    c = records_of(sc).records.conversations
    phone = c["outcome"] == OUTCOMES.index("phone")
    done = phone & ~np.isnan(c["tier2_end"])
    assert done.sum() > 50
    np.testing.assert_allclose((c["tier2_end"] - c["tier2_start"])[done], 600.0)
    assert np.all(c["tier2_start"][done] >= c["end"][done])


def test_warmup_is_discarded():
    sc = small()
    rep = records_of(sc)
    c = rep.records.conversations
    assert rep.metrics["tweets"] == np.sum((c["arrival"] >= 7200) & (c["arrival"] < 2 * 86400))


# -- properties -------------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rate=st.floats(1, 200), agents=st.integers(0, 4), conc=st.integers(1, 3), patience=st.sampled_from(["none", "20m"]),
       turns=st.integers(1, 3), hold=st.booleans(), seed=st.integers(0, 1000),
       until=st.sampled_from(["first_response", "pickup"]))
def test_tweets_are_conserved_and_times_are_ordered(rate, agents, conc, patience, turns, hold, seed, until):
    overrides = [f"arrivals.base_rate={rate}", f"agents.shifts.0.count={agents}", f"agents.concurrency={conc}",
                 f"handling.turns={{ dist = \"constant\", value = {turns} }}", f"handling.hold_during_think={str(hold).lower()}",
                 "scenario.horizon=1d", "scenario.warmup=0s", "mix.marketing_share=0.2",
                 'customers.patience={ dist = "exponential", mean = "20m" }' if patience != "none" else 'customers.patience={ dist = "none" }',
                 "handling.escalation={ email = 0.2 }", 'agents.shifts.0.start="06:00"', 'agents.shifts.0.end="18:00"',
                 f'customers.patience_until="{until}"']
    sc = scenario_from_toml(MINIMAL, "prop.toml", overrides)
    rep = run_replication(sc, seed, 0, keep_records=True)
    c = rep.records.conversations
    outcome = c["outcome"]
    # Every tweet ends in exactly one state.
    counts = np.bincount(outcome, minlength=len(OUTCOMES))
    assert counts.sum() == c["arrival"].size
    assert np.all((outcome == NO_REPLY) == ~c["needs_reply"])
    picked = ~np.isnan(c["pickup"])
    assert np.all(c["pickup"][picked] >= c["arrival"][picked])
    answered = ~np.isnan(c["first_response"])
    assert np.all(c["first_response"][answered] >= c["pickup"][answered])
    assert np.all(c["turns"] <= turns)
    gone_after_pickup = picked & (outcome == ABANDONED)
    if until == "pickup":
        assert not np.any(gone_after_pickup & (c["pickup"] < c["end"]))
    else:
        # Gone while the first reply was being written: no reply reached them, the agent's
        # work on it counts, and they left before it would have been posted.
        assert not np.any(answered & (outcome == ABANDONED))
        assert np.all(c["turns"][gone_after_pickup] == 0)
        assert np.all(c["end"][gone_after_pickup] < c["pickup"][gone_after_pickup] + c["busy"][gone_after_pickup])
        assert np.all(c["busy"][gone_after_pickup] > 0)
    if agents == 0:
        assert not picked.any()
    m = rep.metrics
    shares = m["answered_share"] + m["abandoned_share"] + m["unanswered_share"]
    assert shares == pytest.approx(1.0) or math.isnan(shares)


def test_littles_law_from_summary_metrics_counts_follow_up_visits():
    # Three turns each: a third of the queue's visits are follow-ups. queue_mean must equal
    # arrivals x first wait + follow-up visits x their wait, from summary metrics alone.
    sc = small(overrides=['handling.turns={ dist = "constant", value = 3 }', "agents.shifts.0.count=6",
                          'customers.think_time={ dist = "exponential", mean = "10m" }',
                          'handling.compose={ dist = "exponential", mean = "4m" }', "scenario.horizon=6d",
                          "handling.followups_first=false"])
    for r in range(2):
        m = records_of(sc, r).metrics
        window = sc.meta.horizon - sc.meta.warmup
        first = m["needs_reply"] / window * m["wait_mean_s"]
        follow = m["followup_visits_per_hour"] / 3600 * m["followup_wait_mean_s"]
        assert m["followup_visits_per_hour"] == pytest.approx(2 * m["needs_reply"] / (window / 3600), rel=0.03)
        assert follow > 0.2 * (first + follow)  # follow-ups are a real share of the queue
        assert m["queue_mean"] == pytest.approx(first + follow, rel=0.03)
        assert m["queue_mean"] > 1.2 * first  # first contacts alone undershoot
