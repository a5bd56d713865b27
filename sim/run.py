"""Replications: run the model several times with independent seed streams, in parallel.

Replication ``r`` always uses child ``r`` of ``SeedSequence(seed)``, so results depend only on
the scenario and the seed — not on how many processes ran them or in what order.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.metrics import interval_table, replication_metrics, summarise
from sim.model import RunRecords, simulate_once
from sim.scenario import Scenario


@dataclass(frozen=True)
class ReplicationResult:
    """One replication's outputs: its metrics, its interval table, and (when kept) its records."""

    index: int
    metrics: dict[str, float]
    intervals: dict[str, np.ndarray]
    records: RunRecords | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class SimulationResult:
    """All replications of one scenario.

    ``summary`` maps metric -> ``{"mean", "ci_low", "ci_high"}`` (95% Student-t across
    replications); ``intervals`` is the per-interval table averaged over replications;
    ``records`` are the first replication's conversation records; ``wall_seconds`` is elapsed time.
    """

    scenario: Scenario
    seed: int
    replications: list[ReplicationResult]
    summary: dict[str, dict[str, float]]
    intervals: dict[str, np.ndarray]
    records: RunRecords | None
    wall_seconds: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def per_replication(self) -> list[dict[str, float]]:
        """Metrics of each replication, in replication order."""
        return [r.metrics for r in self.replications]


def run_replication(scenario: Scenario, seed: int, index: int, keep_records: bool = False) -> ReplicationResult:
    """Run replication ``index`` of ``scenario`` under master ``seed``."""
    t0 = time.perf_counter()
    child = np.random.SeedSequence(seed).spawn(index + 1)[index]
    rec = simulate_once(scenario, child)
    metrics = replication_metrics(scenario, rec)
    table = interval_table(scenario, rec)
    return ReplicationResult(index, metrics, table, rec if keep_records else None, time.perf_counter() - t0)


def default_jobs(replications: int) -> int:
    """Processes to use by default: one per replication, at most one per CPU."""
    return max(1, min(replications, os.cpu_count() or 1))


def _claim(counter: Any, replications: int) -> int | None:
    """Take the next unclaimed replication index from the shared ``counter``; None when all are taken."""
    with counter.get_lock():
        r = int(counter.value)
        if r >= replications:
            return None
        counter.value = r + 1
        return r


def _portable(exc: BaseException) -> BaseException:
    """``exc`` itself when it pickles, else a RuntimeError carrying its formatted traceback."""
    try:
        pickle.dumps(exc)
        return exc
    except Exception:
        return RuntimeError("".join(traceback.format_exception(exc)))


def _worker(scenario: Scenario, seed: int, replications: int, counter: Any, out: Any) -> None:
    """A worker process: run replications claimed from ``counter`` until none is left, sending
    ``(index, result, error)`` for each on the queue ``out``."""
    while (r := _claim(counter, replications)) is not None:
        try:
            result = run_replication(scenario, seed, r)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, which re-raises it
            out.put((r, None, _portable(exc)))
            return
        out.put((r, result, None))


def iter_replications(scenario: Scenario, replications: int, seed: int, jobs: int,
                      keep_first: bool = True) -> Iterator[ReplicationResult]:
    """Yield replication results in order, computed by ``jobs`` processes (this one included).

    This process is one of the ``jobs``: it claims replication 0 before any worker starts and runs
    it itself (so its records, when kept, are never pickled). Every process then claims the next
    replication from a shared counter the moment it is free, so no process waits for another to
    hand it work, and this one needs no helper thread competing for its GIL. Results come back
    through a queue and are yielded in replication order as soon as they are all there.
    """
    if jobs <= 1 or replications == 1:
        for r in range(replications):
            yield run_replication(scenario, seed, r, keep_first and r == 0)
        return
    ctx = mp.get_context()
    counter = ctx.Value("q", 0)
    out = ctx.Queue()
    first = _claim(counter, replications)  # replication 0, here
    workers = [ctx.Process(target=_worker, args=(scenario, seed, replications, counter, out), daemon=True,
                           name=f"chirpdesk-replications-{i + 1}")
               for i in range(min(jobs, replications) - 1)]
    results: dict[int, ReplicationResult] = {}
    ready = 0  # replications yielded so far

    def receive(block: bool) -> bool:
        # Take one worker result (waiting for it when ``block``); False when there is none to
        # take without waiting. Re-raises a worker's failure.
        while True:
            try:
                r, result, error = out.get(timeout=0.2) if block else out.get_nowait()
            except queue.Empty:
                if not block:
                    return False
                lost = [w for w in workers if w.exitcode not in (None, 0)]
                if lost or (all(w.exitcode == 0 for w in workers) and out.empty()):
                    missing = [i for i in range(ready, int(counter.value)) if i not in results]
                    raise RuntimeError(
                        f"a replication worker process exited (codes {[w.exitcode for w in workers]}) "
                        f"without returning replication(s) {missing}") from None
                continue
            if error is not None:
                raise error
            results[r] = result
            return True

    try:
        for w in workers:
            w.start()
        mine = first
        while mine is not None:
            results[mine] = run_replication(scenario, seed, mine, keep_first and mine == 0)
            while receive(block=False):  # collect what the workers finished meanwhile
                pass
            while ready in results:  # yield what is finished, in order, as it comes
                yield results.pop(ready)
                ready += 1
            mine = _claim(counter, replications)
        while ready < replications:
            while ready not in results:
                receive(block=True)
            yield results.pop(ready)
            ready += 1
        for w in workers:
            w.join()
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
            if w.pid is not None:
                w.join()
        out.close()
        out.cancel_join_thread()


def combine(scenario: Scenario, seed: int, results: list[ReplicationResult], wall: float = 0.0) -> SimulationResult:
    """Aggregate replication results into a :class:`SimulationResult`."""
    results = sorted(results, key=lambda r: r.index)
    keys = results[0].intervals.keys()
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_intervals = {k: np.nanmean(np.stack([r.intervals[k] for r in results]), axis=0) for k in keys}
    mean_intervals["start"] = results[0].intervals["start"]
    return SimulationResult(
        scenario=scenario,
        seed=seed,
        replications=results,
        summary=summarise([r.metrics for r in results]),
        intervals=mean_intervals,
        records=results[0].records,
        wall_seconds=wall,
    )


def run_scenario(scenario: Scenario, replications: int | None = None, seed: int | None = None,
                 jobs: int | None = None,
                 on_done: Callable[[ReplicationResult], None] | None = None) -> SimulationResult:
    """Simulate ``scenario`` (replications and seed default to the scenario's own).

    ``jobs`` worker processes (default: one per CPU, at most one per replication); ``on_done`` is
    called after each replication (progress bars). Returns a :class:`SimulationResult`.
    """
    reps = replications or scenario.meta.replications
    seed = scenario.meta.seed if seed is None else seed
    jobs = default_jobs(reps) if jobs is None else max(1, jobs)
    t0 = time.perf_counter()
    results = []
    for res in iter_replications(scenario, reps, seed, jobs):
        results.append(res)
        if on_done is not None:
            on_done(res)
    return combine(scenario, seed, results, time.perf_counter() - t0)
