"""The scenario loader: valid files load, every mistake names file, key and what is allowed."""

import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chirpdesk.sim.errors import ScenarioError
from chirpdesk.sim.loader import load_scenario, scenario_from_toml, with_overrides
from simkit import MINIMAL, ROOT


def test_minimal_scenario_resolves_units(minimal_toml):
    sc = scenario_from_toml(minimal_toml, "tiny.toml")
    assert sc.meta.horizon == 2 * 86400
    assert sc.meta.warmup == 7200
    assert sc.arrivals.base_rate == pytest.approx(30 / 3600)
    assert sc.handling.compose.family == "exponential" and sc.handling.compose.mean == 120
    assert sc.agents.shifts[0].days == tuple(range(7)) and sc.agents.shifts[0].length == 86400
    assert sc.customers.patience.is_none
    assert sc.sla.within == 600 and sc.sla.share == 0.9


def expect_error(text, *fragments, overrides=()):
    with pytest.raises(ScenarioError) as info:
        scenario_from_toml(text, "my.toml", overrides)
    message = str(info.value)
    assert message.startswith("my.toml: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_unknown_key_is_an_error_with_a_suggestion(minimal_toml):
    text = minimal_toml.replace("base_rate = 30", "base_rte = 30\nbase_rate = 30")
    expect_error(text, "arrivals.base_rte", "unknown key", "did you mean 'base_rate'")


def test_unknown_section(minimal_toml):
    expect_error(minimal_toml + "\n[agnets]\nx = 1\n", "agnets", "did you mean 'agents'")


def test_wrong_type(minimal_toml):
    expect_error(minimal_toml.replace("base_rate = 30", 'base_rate = "thirty"'),
                 "arrivals.base_rate", "expected tweets per hour")


def test_negative_rate(minimal_toml):
    expect_error(minimal_toml.replace("base_rate = 30", "base_rate = -5"), "arrivals.base_rate", "-5", ">= 0")


def test_profile_of_wrong_length(minimal_toml):
    text = minimal_toml.replace("base_rate = 30", "base_rate = 30\ndiurnal = [1, 2, 3]")
    expect_error(text, "arrivals.diurnal", "3 values", "exactly 24")


def test_duration_without_unit(minimal_toml):
    expect_error(minimal_toml.replace('horizon = "2d"', "horizon = 2"), "scenario.horizon", '"10m"')


def test_unknown_distribution(minimal_toml):
    text = minimal_toml.replace('dist = "exponential"', 'dist = "exponentail"')
    expect_error(text, "handling.compose.dist", "exponential, lognormal")


def test_distribution_missing_parameter(minimal_toml):
    text = minimal_toml.replace('{ dist = "exponential", mean = "2m" }', '{ dist = "lognormal", mean = "2m" }')
    expect_error(text, "handling.compose.cv", "required")


def test_shares_must_sum_to_one(minimal_toml):
    expect_error(minimal_toml.replace("praise = 0.3", "praise = 0.4"), "mix.kinds", "sum to 1.1")


def test_unknown_kind(minimal_toml):
    expect_error(minimal_toml.replace("praise = 0.3", "prase = 0.3"), "mix.kinds.prase", "did you mean 'praise'")


def test_branching_ratio_must_be_below_one(minimal_toml):
    text = minimal_toml.replace("base_rate = 30", "base_rate = 30\ncascade = { branching_ratio = 1.0 }")
    text = text.replace('kinds = { question = 0.7, praise = 0.3 }', 'kinds = { question = 0.7, complaint = 0.3 }')
    expect_error(text, "arrivals.cascade.branching_ratio", "< 1")


def test_warmup_longer_than_horizon(minimal_toml):
    expect_error(minimal_toml.replace('warmup = "2h"', 'warmup = "3d"'), "scenario.warmup", "shorter than the horizon")


def test_bad_days(minimal_toml):
    expect_error(minimal_toml.replace('days = "all"', 'days = ["mon", "funday"]'), "agents.shifts[0].days", "weekdays")


def test_missing_section(minimal_toml):
    text = minimal_toml.split("[handling]")[0] + minimal_toml.split("compose = { dist = \"exponential\", mean = \"2m\" }")[1]
    expect_error(text, "handling", "is required")


def test_bad_toml_syntax():
    expect_error("[scenario\nname = 1", "not valid TOML")


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.toml")


def test_overrides_are_validated_like_the_file(minimal_toml):
    sc = scenario_from_toml(minimal_toml, "my.toml", ["arrivals.base_rate=240", "agents.shifts.0.count=7"])
    assert sc.arrivals.base_rate == pytest.approx(240 / 3600)
    assert sc.agents.shifts[0].count == 7
    expect_error(minimal_toml, "arrivals.base_rate", overrides=["arrivals.base_rate=-1"])
    expect_error(minimal_toml, "agents.shifts.3", "no element", overrides=["agents.shifts.3.count=1"])
    expect_error(minimal_toml, "arrivals.speed", "unknown key", overrides=["arrivals.speed=1"])


def test_with_overrides_returns_a_new_scenario(minimal_toml):
    sc = scenario_from_toml(minimal_toml, "my.toml")
    other = with_overrides(sc, {"agents.concurrency": 3, "customers.patience": {"dist": "exponential", "mean": "5m"}})
    assert other.agents.concurrency == 3 and other.customers.patience.mean == 300
    assert sc.agents.concurrency == 1


def test_tier2_and_tweeting_hours(minimal_toml):
    text = minimal_toml + """
[agents.tweeting_hours]
days = "weekdays"
start = "08:00"
end = "20:00"
outside = "auto_reply"

[agents.tier2]
count = 2
handle_time = { dist = "constant", value = "15m" }
"""
    sc = scenario_from_toml(text, "my.toml")
    assert sc.agents.tweeting_hours.days == (0, 1, 2, 3, 4)
    assert sc.agents.tweeting_hours.outside == "auto_reply"
    assert sc.agents.tier2 is not None and sc.agents.tier2.handle_time.value == 900
    expect_error(text.replace('outside = "auto_reply"', 'outside = "sleep"'), "agents.tweeting_hours.outside", "wait, auto_reply")


def test_cli_reports_bad_scenario_in_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "scenarios" / "erlang-check.toml").read_text().replace("base_rate = 540", "base_rate = -540"))
    proc = subprocess.run([sys.executable, "-m", "chirpdesk.sim", "simulate", str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}: arrivals.base_rate: got -540" in proc.stderr


# -- properties -----------------------------------------------------------------------------------

_durations = st.tuples(st.integers(1, 500), st.sampled_from(["s", "m", "h", "d"]))


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0, 5000, allow_nan=False), horizon=_durations, conc=st.integers(1, 10),
       profile=st.lists(st.floats(0.01, 10), min_size=24, max_size=24))
def test_valid_values_round_trip(rate, horizon, conc, profile):
    n, unit = horizon
    text = (MINIMAL.replace("base_rate = 30", f"base_rate = {rate!r}\ndiurnal = {profile!r}")
            .replace('horizon = "2d"', f'horizon = "{n}{unit}"').replace('warmup = "2h"', 'warmup = "0s"')
)
    text = text.replace("[[agents.shifts]]", f"[agents]\nconcurrency = {conc}\n\n[[agents.shifts]]")
    sc = scenario_from_toml(text, "p.toml")
    assert sc.arrivals.base_rate == pytest.approx(rate / 3600)
    assert math.isclose(sum(sc.arrivals.diurnal) / 24, 1.0, rel_tol=1e-9)
    assert sc.agents.concurrency == conc


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(["scenario", "arrivals", "mix", "handling", "agents", "customers", "sla", "cost"]),
       junk=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12))
def test_any_unknown_key_is_rejected_naming_it(key, junk):
    known = {"name", "start", "horizon", "warmup", "seed", "replications", "base_rate", "kinds", "needs_reply",
             "compose", "shifts", "description", "interval", "drain", "diurnal", "weekly", "interpolation",
             "adoption", "bursts", "cascade", "fail_share", "followers", "influencer_followers", "private_share",
             "private_target", "marketing_share", "reroute_delay", "turns", "escalation", "escalation_work",
             "priority", "followups_first", "hold_during_think", "concurrency", "slowdown", "shrinkage",
             "tweeting_hours", "tier2", "patience", "think_time", "share", "within", "basis", "agent_hour",
             "tier2_hour", "currency"}
    if junk in known:
        return
    with pytest.raises(ScenarioError) as info:
        scenario_from_toml(MINIMAL, "p.toml", [f"{key}.{junk}=1"])
    assert str(info.value).startswith(f"p.toml: {key}.{junk}: unknown key")
