"""Fixtures for the report tests: real small runs of ``simulate``, ``staff`` and ``sweep`` (the
load test's real run lives in tests/loadtests, see test_run.py), and a headless Chromium
(Debian's package, driven by Playwright). ``reportdata`` still writes load-test folders for the
cases a real run cannot produce (a failed gate, no failures at all).

Browser tests skip with a reason when Chromium or Playwright is missing, except under
``CHIRPDESK_CI=1`` where they fail: CI must never pass without looking at the pages.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from reportkit import ARTIFACTS, launch_browser  # noqa: E402
from reportruns import STAFF_RUN, STUDY_RUN, SWEEP_RUN, run_command, simulate  # noqa: E402


@pytest.fixture(scope="session")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real simulate run (erlang-check, 2 days, 2 replications, 10 agents) with report.html."""
    return simulate(tmp_path_factory.mktemp("sim") / "run-a")


@pytest.fixture(scope="session")
def sim_run_more_agents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same run with 12 agents instead of 10: the "after" of a staffing change."""
    return simulate(tmp_path_factory.mktemp("sim") / "run-b", "--set", "agents.shifts.0.count=12")


@pytest.fixture(scope="session")
def staff_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``chirpdesk staff`` run (baseline, MOL, 60-min intervals) with its report.html."""
    return run_command("staff", STAFF_RUN, tmp_path_factory.mktemp("staff") / "plan")


@pytest.fixture(scope="session")
def sweep_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``chirpdesk sweep``: a 2x2 grid with break points, a tornado and Sobol indices.
    ``sweep`` writes data files only; the tests render the report (``chirpdesk report``)."""
    return run_command("sweep", SWEEP_RUN, tmp_path_factory.mktemp("sweep") / "grid")


@pytest.fixture(scope="session")
def study_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real multi-period ``chirpdesk sweep``: two policies over six yearly sample weeks."""
    return run_command("sweep", STUDY_RUN, tmp_path_factory.mktemp("sweep") / "study")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``test-artifacts/reports/`` (gitignored): screenshots of every page the tests open."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium from /usr/bin/chromium (never downloaded); skips with a reason when
    Chromium or Playwright is missing, fails under CHIRPDESK_CI=1."""
    with launch_browser() as b:
        yield b
