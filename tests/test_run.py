"""Replications in parallel: the same numbers on any number of processes, handed out in order."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sim.loader import load_scenario
from sim.run import run_scenario
from simkit import ROOT, SCENARIOS


@pytest.fixture(scope="module")
def short_baseline():
    return load_scenario(SCENARIOS / "baseline.toml", ['scenario.horizon="3d"', 'scenario.warmup="2h"'])


def test_replications_are_identical_on_one_two_and_three_processes(short_baseline) -> None:
    runs = {jobs: run_scenario(short_baseline, replications=5, jobs=jobs) for jobs in (1, 2, 3)}
    base = runs[1]
    for jobs in (2, 3):
        other = runs[jobs]
        assert [r.index for r in other.replications] == list(range(5))
        assert json.dumps(other.summary, sort_keys=True) == json.dumps(base.summary, sort_keys=True)
        for mine, theirs in zip(other.replications, base.replications, strict=True):
            assert json.dumps(mine.metrics, sort_keys=True) == json.dumps(theirs.metrics, sort_keys=True)
            for key, column in theirs.intervals.items():
                np.testing.assert_array_equal(mine.intervals[key], column)
        # Replication 0's records (the conversation file) are kept, whoever ran it.
        assert other.records is not None and base.records is not None
        for key, column in base.records.conversations.items():
            np.testing.assert_array_equal(other.records.conversations[key], column)


def test_progress_hears_of_every_replication_once_in_order(short_baseline) -> None:
    seen: list[int] = []
    run_scenario(short_baseline, replications=6, jobs=2, on_done=lambda r: seen.append(r.index))
    assert seen == list(range(6))


def test_cli_output_files_are_byte_identical_with_jobs_1_and_2(tmp_path) -> None:
    out = {}
    for jobs in (1, 2):
        out[jobs] = tmp_path / f"jobs{jobs}"
        subprocess.run(
            [sys.executable, "-m", "sim", "simulate", str(SCENARIOS / "baseline.toml"), "--out", str(out[jobs]),
             "--set", 'scenario.horizon="2d"', "--set", "scenario.replications=3", "--jobs", str(jobs), "-q",
             "--no-report"],
            check=True, cwd=ROOT,
        )
    for name in ("intervals.csv", "conversations.csv"):
        assert (out[1] / name).read_bytes() == (out[2] / name).read_bytes(), name
    one, two = (json.loads((out[j] / "summary.json").read_text()) for j in (1, 2))
    one.pop("wall_seconds", None)
    two.pop("wall_seconds", None)
    assert one == two


def _stand_in(scenario, seed, index, keep_records=False):
    # A stand-in replication (module level; workers are forked with it patched in): replication 1
    # misbehaves as ``scenario`` says, the others take 0.05 s and return their index.
    import os
    import time

    if index == 1 and scenario == "raise":
        raise ValueError("replication 1 failed in a worker")
    if index == 1 and scenario == "die":
        os._exit(3)
    time.sleep(0.05)
    return index


@pytest.fixture
def stand_in(monkeypatch):
    import multiprocessing

    import sim.run as run

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the stand-in replication reaches workers only when they are forked")
    monkeypatch.setattr(run, "run_replication", _stand_in)
    return run


def test_a_failure_in_a_worker_is_raised_in_the_caller_as_itself(stand_in) -> None:
    with pytest.raises(ValueError, match="replication 1 failed in a worker"):
        list(stand_in.iter_replications("raise", 4, 0, 2))


def test_a_worker_that_dies_is_reported_with_the_replication_it_lost(stand_in) -> None:
    with pytest.raises(RuntimeError, match=r"exited \(codes \[3\]\) without returning replication\(s\) \[1"):
        list(stand_in.iter_replications("die", 4, 0, 2))


def test_workers_share_the_replications_and_are_gone_afterwards(stand_in) -> None:
    import multiprocessing

    assert list(stand_in.iter_replications("ok", 9, 0, 3)) == list(range(9))
    assert multiprocessing.active_children() == []
    # Stopping early (a progress consumer that gives up) stops the workers too.
    gen = stand_in.iter_replications("ok", 40, 0, 2)
    assert next(gen) == 0
    gen.close()
    assert multiprocessing.active_children() == []
