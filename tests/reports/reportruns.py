"""The real small runs the report tests render (imported by a unique name, not from
``conftest``: with several test folders in one session ``conftest`` is ambiguous)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The small real run every simulate test uses (about a second with one job).
SMALL_RUN = ["scenarios/erlang-check.toml", "--set", "scenario.horizon=2d",
             "--set", "scenario.replications=2", "--jobs", "1", "-q"]

#: ``chirpdesk staff`` on baseline, hourly MOL requirement, plan verified with 2 replications (~4 s).
STAFF_RUN = ["scenarios/baseline.toml", "--interval", "60m", "--method", "mol", "-r", "2", "-j", "1", "-q"]

#: A 2x2 grid on two days of baseline, with a tornado and Sobol indices (8 samples) (~3 s).
SWEEP_RUN = ["scenarios/baseline.toml", "--set", "scenario.horizon=2d",
             "--grid", "agents.concurrency=1,2", "--grid", "arrivals.base_rate=30,45", "-r", "2", "-j", "1", "-q",
             "--tornado", "arrivals.base_rate=30,60", "--tornado", "agents.concurrency=1,3",
             "--sobol", "arrivals.base_rate=30,60", "--sobol", "agents.concurrency=1,3", "--sobol-samples", "8"]

#: The 2011-2016 adoption study, fixed team vs Erlang staffing, one sample week per year (~5 s).
STUDY_RUN = ["scenarios/adoption-2011-2016.toml", "--policy", "fixed,erlang", "--period", "year",
             "-r", "2", "-j", "1", "-q"]


def run_command(command: str, args: list[str], out: Path, *extra: str) -> Path:
    """Run ``chirpdesk COMMAND ARGS EXTRA --out OUT`` from the repository; returns ``out``."""
    from chirpdesk.sim.cli import main

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert main([command, *args, *extra, "--out", str(out)]) == 0
    finally:
        os.chdir(cwd)
    return out


def simulate(out: Path, *extra: str) -> Path:
    """Run ``chirpdesk simulate`` on the small erlang-check case into ``out``; returns ``out``."""
    return run_command("simulate", SMALL_RUN, out, *extra)
