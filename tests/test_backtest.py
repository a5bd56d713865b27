"""``chirpdesk backtest``: real arrival times replayed exactly, and a history made by the model
itself with a known team gives that team back (implied staffing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chirpdesk.sim.backtest import replay
from chirpdesk.sim.calibrate import calibrate
from chirpdesk.sim.cli import main
from chirpdesk.sim.history import read_history
from chirpdesk.sim.history_gen import twcs_from_records
from chirpdesk.sim.loader import load_scenario
from chirpdesk.sim.model import simulate_once

TEMPLATE = """
[scenario]
name = "known-team"
start = 2017-10-02T00:00:00
horizon = "10d"
warmup = "0s"
seed = 5
replications = 1

[arrivals]
base_rate = 30

[mix]
kinds = { question = 1.0 }
needs_reply = ["question"]

[handling]
compose = { dist = "exponential", mean = "6m" }

[[agents.shifts]]
name = "all day"
days = "all"
start = "00:00"
end = "24:00"
count = AGENTS
"""


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    folder = tmp_path_factory.mktemp("known")
    template = folder / "team.toml"
    template.write_text(TEMPLATE.replace("AGENTS", "4"))
    sc = load_scenario(template)
    twcs_from_records(folder / "twcs.csv", simulate_once(sc, np.random.SeedSequence(3)).conversations, sc.meta.start)
    return folder / "twcs.csv", template, 4


def test_real_arrival_times_are_replayed_exactly(known: tuple[Path, Path, int]) -> None:
    import tomllib

    history, template, _ = known
    cal = calibrate(read_history(str(history)))
    r = replay(cal, tomllib.loads(template.read_text()), agents=3)
    answered = cal.starts[~np.isnan(cal.start_first_response)]
    assert len(r.stream) == answered.size
    np.testing.assert_array_equal(r.stream.time + r.start, answered)  # count and order kept, to the second
    assert np.all(np.diff(r.stream.time) >= 0)


def test_fit_agents_recovers_the_team_that_made_the_history(known: tuple[Path, Path, int], tmp_path: Path) -> None:
    history, template, team = known
    out = tmp_path / "bt"
    assert main(["backtest", str(history), "--fit-agents", "--template", str(template), "--out", str(out),
                 "--replications", "5"]) == 0
    doc = json.loads((out / "backtest.json").read_text())
    assert doc["agents"] == team
    curve = {c["agents"]: c["ks_distance"] for c in doc["fit"]["curve"]}
    assert curve[team] < 0.05 and curve[team - 1] > 0.3 and curve[team + 1] > 2 * curve[team]
    # Replayed with the right team, the hourly medians fall inside the simulated range about as
    # often as they would for the model itself ((R - 1) / (R + 1) with R replications).
    assert doc["expected_share_inside"] == pytest.approx(4 / 6)
    assert doc["share_inside_p50"] >= doc["expected_share_inside"] - 0.1
    assert (out / "report.html").is_file() and (out / "backtest.csv").is_file()
    assert doc["cannot_be_known"]


def test_a_too_small_team_is_seen_to_be_slower_than_the_brand(known: tuple[Path, Path, int], tmp_path: Path) -> None:
    history, template, team = known
    out = tmp_path / "small"
    assert main(["backtest", str(history), "--agents", str(team - 1), "--template", str(template), "--out", str(out),
                 "--replications", "3", "--no-report"]) == 0
    doc = json.loads((out / "backtest.json").read_text())
    assert doc["simulated_p50_s"] > 3 * doc["observed_p50_s"]
    assert doc["share_inside_p50"] < 0.2


def test_a_shift_plan_replays_as_written_and_concurrency_can_be_fitted(known: tuple[Path, Path, int],
                                                                       tmp_path: Path) -> None:
    history, template, team = known
    out = tmp_path / "shifts"
    assert main(["backtest", str(history), "--shifts", "--template", str(template), "--out", str(out),
                 "--replications", "3", "--no-report"]) == 0
    with_shifts = json.loads((out / "backtest.json").read_text())
    assert with_shifts["simulated_p50_s"] == pytest.approx(with_shifts["observed_p50_s"], rel=0.15)
    out = tmp_path / "conc"
    assert main(["backtest", str(history), "--fit-agents", "--concurrency", "1,2", "--template", str(template),
                 "--out", str(out), "--replications", "2", "--no-report"]) == 0
    fit = json.loads((out / "backtest.json").read_text())["fit"]
    # Without slowdown, 4 agents and 2 agents x 2 conversations are the same 4 slots: either is
    # the team the tweets imply, and both concurrencies were tried.
    assert fit["agents"] * fit["concurrency"] == team
    assert [f["concurrency"] for f in fit["by_concurrency"]] == [1, 2]
    assert main(["backtest", str(history), "--agents", "3", "--concurrency", "1,2", "--out", str(tmp_path / "x")]) == 2
