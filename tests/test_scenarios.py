"""Every shipped scenario loads and runs as is (shortened so the suite stays quick)."""

import math

import pytest

from chirpdesk.sim.loader import load_scenario
from chirpdesk.sim.run import run_scenario
from simkit import SCENARIOS

ALL = sorted(SCENARIOS.glob("*.toml"))
REQUIRED = {"baseline", "erlang-check", "outage-storm", "adoption-2011-2016", "tweeting-hours",
            "influencer-priority", "two-handles"}


def test_the_required_scenarios_are_shipped():
    assert REQUIRED <= {p.stem for p in ALL}


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_scenario_runs(path):
    sc = load_scenario(path)
    assert sc.meta.name == path.stem
    # Keep the first days (bursts included) but cap the run: the full runs are the CLI's job.
    horizon = min(sc.meta.horizon, 2.5 * 86400) if sc.arrivals.adoption.model == "none" else 30 * 86400
    short = load_scenario(path, [f'scenario.horizon="{int(horizon)}s"', f'scenario.warmup="{int(min(sc.meta.warmup, horizon / 4))}s"'])
    result = run_scenario(short, replications=2, jobs=1)
    m = result.summary
    assert m["tweets"]["mean"] > 0
    assert 0 <= m["sla_attainment"]["mean"] <= 1
    assert m["answered_share"]["mean"] + m["abandoned_share"]["mean"] + m["unanswered_share"]["mean"] == pytest.approx(1)
    assert math.isfinite(m["cost_total"]["mean"])
