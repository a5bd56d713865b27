"""Replications in parallel: the same numbers on any number of processes, handed out in order."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from chirpdesk.sim.loader import load_scenario
from chirpdesk.sim.run import run_scenario
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
    for jobs, fmt in ((1, "parquet"), (2, "parquet"), (1, "csv"), (2, "csv")):
        out[jobs, fmt] = tmp_path / f"jobs{jobs}-{fmt}"
        subprocess.run(
            [sys.executable, "-m", "chirpdesk.sim", "simulate", str(SCENARIOS / "baseline.toml"), "--out",
             str(out[jobs, fmt]), "--set", 'scenario.horizon="2d"', "--set", "scenario.replications=3",
             "--jobs", str(jobs), "-q", "--no-report", "--format", fmt],
            check=True, cwd=ROOT,
        )
    for fmt in ("parquet", "csv"):
        for name in (f"intervals.{fmt}", f"conversations.{fmt}"):
            assert (out[1, fmt] / name).read_bytes() == (out[2, fmt] / name).read_bytes(), name
    out = {1: out[1, "parquet"], 2: out[2, "parquet"]}
    one, two = (json.loads((out[j] / "summary.json").read_text()) for j in (1, 2))
    one.pop("wall_seconds", None)
    two.pop("wall_seconds", None)
    assert one == two


CALLER_RAN: list[int] = []  # tasks the stand-in ran in this (the calling) process


def _stand_in(scenario, seed, index, keep_records=False):
    # A stand-in replication (module level; workers are forked with it patched in). ``scenario``
    # says how replication 1 (the first a worker takes) misbehaves; the others take 0.05 s.
    import os
    import time

    if os.getpid() == CALLER_PID:
        CALLER_RAN.append(index)
        if scenario == "big_then_die":
            time.sleep(1.0)  # not reading the pipe while the worker is mid-send
    if index == 1 and scenario == "raise":
        raise ValueError("replication 1 failed in a worker")
    if index == 1 and scenario == "die":
        os._exit(3)
    if index == 1 and scenario == "exit":
        raise SystemExit(0)
    if scenario == "big_then_die" and index == 1:
        return b"x" * 2_000_000  # several times a pipe's buffer
    if scenario == "big_then_die" and index == 2:
        time.sleep(0.3)  # the sender thread is now blocked half-way through replication 1's result
        os._exit(9)
    time.sleep(0.05)
    return index


CALLER_PID = 0


@pytest.fixture
def stand_in(monkeypatch):
    import multiprocessing
    import os
    import signal

    import chirpdesk.sim.run as run

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the stand-in replication reaches workers only when they are forked")
    monkeypatch.setattr(run, "run_replication", _stand_in)
    global CALLER_PID
    CALLER_PID = os.getpid()
    CALLER_RAN.clear()
    # A hang is a failure, not a stuck test run.
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("timed out: the caller hung"))
    signal.alarm(30)
    yield run
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _our_workers() -> list:
    import multiprocessing

    return [p for p in multiprocessing.active_children() if p.name.startswith("chirpdesk-worker-")]


def test_a_failure_in_a_worker_is_raised_in_the_caller_as_itself_with_its_traceback(stand_in) -> None:
    with pytest.raises(ValueError, match="replication 1 failed in a worker") as info:
        list(stand_in.iter_replications("raise", 4, 0, 2))
    note = "\n".join(getattr(info.value, "__notes__", []))
    assert "in replication 1, worker process" in note and "_stand_in" in note
    assert _our_workers() == []


def test_a_workers_system_exit_does_not_end_the_caller(stand_in) -> None:
    with pytest.raises(RuntimeError, match="SystemExit"):
        list(stand_in.iter_replications("exit", 4, 0, 2))


def test_a_worker_that_dies_is_reported_at_once_with_the_replication_it_lost(stand_in) -> None:
    from chirpdesk.sim.workers import WorkerLost

    with pytest.raises(WorkerLost, match=r"exited with code 3 (while running replication 1;|between two)"):
        list(stand_in.iter_replications("die", 30, 0, 2))
    # Noticed after the caller's next replication, not after it has run the other 28 alone.
    assert len(CALLER_RAN) <= 3


def test_a_worker_killed_in_the_middle_of_sending_a_result_does_not_hang_the_caller(stand_in) -> None:
    from chirpdesk.sim.workers import WorkerLost

    with pytest.raises(WorkerLost, match="while running replication 1;"):
        list(stand_in.iter_replications("big_then_die", 4, 0, 2))


def test_workers_share_the_replications_and_are_gone_afterwards(stand_in) -> None:
    assert list(stand_in.iter_replications("ok", 9, 0, 3)) == list(range(9))
    assert _our_workers() == []
    # Stopping early (a progress consumer that gives up) stops the workers too, even when the
    # caller's program ignores SIGTERM (workers do not inherit that).
    import signal
    import time

    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        gen = stand_in.iter_replications("ok", 200, 0, 2)
        assert next(gen) == 0
        t0 = time.monotonic()
        gen.close()
        assert time.monotonic() - t0 < 2.0
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert _our_workers() == []
