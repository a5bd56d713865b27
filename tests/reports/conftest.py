"""Fixtures for the report tests: real small simulate runs, contract-following folders for the
other commands, and a headless Chromium (Debian's package, driven by Playwright).

Browser tests skip with a reason when Chromium or Playwright is missing, except under
``CHIRPDESK_CI=1`` where they fail: CI must never pass without looking at the pages.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import reportdata  # noqa: E402
from reportkit import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from sim.cli import main  # noqa: E402

IN_CI = os.environ.get("CHIRPDESK_CI") == "1"

#: The small real run every simulate test uses (about a second with one job).
SMALL_RUN = ["scenarios/erlang-check.toml", "--set", "scenario.horizon=2d",
             "--set", "scenario.replications=2", "--jobs", "1", "-q"]


def simulate(out: Path, *extra: str) -> Path:
    """Run ``chirpdesk simulate`` on the small erlang-check case into ``out``; returns ``out``."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert main(["simulate", *SMALL_RUN, *extra, "--out", str(out)]) == 0
    finally:
        os.chdir(cwd)
    return out


@pytest.fixture(scope="session")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real simulate run (erlang-check, 2 days, 2 replications, 10 agents) with report.html."""
    return simulate(tmp_path_factory.mktemp("sim") / "run-a")


@pytest.fixture(scope="session")
def sim_run_more_agents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same run with 12 agents instead of 10: the "after" of a staffing change."""
    return simulate(tmp_path_factory.mktemp("sim") / "run-b", "--set", "agents.shifts.0.count=12")


@pytest.fixture
def staff_run(tmp_path: Path) -> Path:
    """A staff folder following docs/outputs.md."""
    return reportdata.write_staff(tmp_path / "staff")


@pytest.fixture
def sweep_run(tmp_path: Path) -> Path:
    """A sweep folder with break points, sensitivity and Sobol tables."""
    return reportdata.write_sweep(tmp_path / "sweep")


@pytest.fixture
def loadtest_run(tmp_path: Path) -> Path:
    """A passing load-test folder."""
    return reportdata.write_loadtest(tmp_path / "loadtest")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``test-artifacts/reports/`` (gitignored): screenshots of every page the tests open."""
    path = ROOT / "test-artifacts" / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CHIRPDESK_CI=1: browser tests must run; see .ci/chromium.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium from /usr/bin/chromium (never downloaded)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).is_file():
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or bash .ci/chromium.sh)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
