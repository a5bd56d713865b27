"""Replications: run the model several times with independent seed streams, in parallel.

Replication ``r`` always uses child ``r`` of ``SeedSequence(seed)``, so results depend only on
the scenario and the seed — not on how many processes ran them or in what order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from chirpdesk.sim.histogram import TimeHistogram
from chirpdesk.sim.metrics import (
    group_metrics,
    interval_table,
    pool_histograms,
    replication_metrics,
    response_histograms,
    summarise,
    summarise_groups,
)
from chirpdesk.sim.model import RunRecords, simulate_once
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.workers import run_numbered


@dataclass(frozen=True)
class ReplicationResult:
    """One replication's outputs: its metrics, its interval table, and (when kept) its records."""

    index: int
    metrics: dict[str, float]
    intervals: dict[str, np.ndarray]
    records: RunRecords | None = None
    seconds: float = 0.0
    #: Results by group (:func:`chirpdesk.sim.metrics.group_metrics`), ``"grouping/group/metric"``.
    groups: dict[str, float] = field(default_factory=dict)
    #: Waiting-time histograms (:func:`chirpdesk.sim.metrics.response_histograms`).
    histograms: dict[str, TimeHistogram] = field(default_factory=dict)


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
    #: Results by group across replications (:func:`chirpdesk.sim.metrics.summarise_groups`).
    groups: dict[str, Any] = field(default_factory=dict)
    #: Waiting-time histograms pooled over all replications (what the report draws).
    histograms: dict[str, TimeHistogram] = field(default_factory=dict)

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
    groups = group_metrics(scenario, rec)
    hists = response_histograms(scenario, rec)
    return ReplicationResult(index, metrics, table, rec if keep_records else None, time.perf_counter() - t0,
                             groups, hists)


def default_jobs(replications: int) -> int:
    """Processes to use by default: one per replication, at most one per CPU."""
    return max(1, min(replications, os.cpu_count() or 1))


def iter_replications(scenario: Scenario, replications: int, seed: int, jobs: int,
                      keep_first: bool = True) -> Iterator[ReplicationResult]:
    """Yield replication results in order, computed by ``jobs`` processes (this one included).

    This process runs replication 0 itself (so its records, when kept, are never pickled) and
    every process takes the next replication the moment it is free (:mod:`chirpdesk.sim.workers`). A
    replication's exception is raised here as itself; a worker that dies raises
    :class:`chirpdesk.sim.workers.WorkerLost`.
    """
    yield from run_numbered(
        lambda r: run_replication(scenario, seed, r, keep_first and r == 0),
        partial(run_replication, scenario, seed),
        replications, jobs, label="replication",
    )


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
        groups=summarise_groups([r.groups for r in results]),
        histograms=pool_histograms([r.histograms for r in results]),
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
