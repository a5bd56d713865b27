"""Parameter sweeps and multi-period studies, run in parallel on local processes or Dask.

A sweep is the Cartesian product of ``--grid key=v1,v2,...`` values (scenario keys, as in
``--set``) x staffing policies x study periods (when a period is given) x replications. Work is
split into independent tasks -- first building each case's scenario (policies may solve a
staffing plan), then ``run_replication(case, seed, r)`` for every replication ``r`` -- and handed
to an :class:`Executor`. Replication ``r`` of every case uses child ``r`` of the master seed, so
results are identical with 1 process, many processes or a Dask cluster.

Results are a tidy table: one row per case (grid point x policy x period) and metric, with the
replication mean and 95% Student-t interval; the break point (first period whose mean SLA
attainment is below target) per grid point and policy is computed by :func:`breakpoints`.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.loader import parse_override, with_overrides
from chirpdesk.sim.metrics import METRIC_UNITS, confidence_interval, metric_interval
from chirpdesk.sim.policies import policy_shifts
from chirpdesk.sim.run import run_replication
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.study import Period, periods, sample_scenario, sampling_sentence, with_shifts

#: Columns of sweep.csv after the grid keys.
TIDY_COLUMNS: tuple[str, ...] = ("policy", "period", "period_start_s", "metric", "mean", "ci_low",
                                 "ci_high", "replications")


# -- executors ----------------------------------------------------------------------------------

class Executor:
    """Runs a picklable function over tasks and returns the results in task order."""

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        """Apply ``fn`` to every task; results in the order of ``tasks``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (no-op by default)."""


class LocalExecutor(Executor):
    """``jobs`` local worker processes (``jobs <= 1``: in this process, no pool)."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        """Run the tasks serially or on the process pool (kept for the next call)."""
        if self.jobs <= 1 or len(tasks) <= 1:
            return [fn(t) for t in tasks]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.jobs)
        # One task at a time: a task is a whole simulation run (tens of ms at least), so the
        # hand-off costs little, and chunks would leave one process idle at the end.
        return list(self._pool.map(fn, tasks))

    def close(self) -> None:
        """Shut the process pool down."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class DaskExecutor(Executor):
    """Tasks on a Dask distributed cluster: ``address`` such as ``tcp://host:8786`` or an
    existing ``distributed.Client`` (not closed by :meth:`close`)."""

    def __init__(self, address: str | Any) -> None:
        from distributed import Client

        if isinstance(address, str):
            self.client = Client(address)
            self._own = True
        else:
            self.client, self._own = address, False

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        """Submit every task (``pure=False``: no result sharing by hash) and gather in order."""
        if not tasks:
            return []
        futures = self.client.map(fn, list(tasks), pure=False)
        return list(self.client.gather(futures))

    def close(self) -> None:
        """Close the client if this executor opened it."""
        if self._own:
            self.client.close()


def make_executor(jobs: int | None = None, scheduler: str | None = None) -> Executor:
    """A :class:`DaskExecutor` when ``scheduler`` is given, else a :class:`LocalExecutor`."""
    return DaskExecutor(scheduler) if scheduler else LocalExecutor(jobs)


# -- grid ----------------------------------------------------------------------------------------

def parse_grid(items: Iterable[str]) -> dict[str, list[Any]]:
    """``["key=v1,v2", ...]`` -> ``{key: [v1, v2]}`` (each value read as TOML, bare words as
    strings). Raises :class:`~chirpdesk.sim.errors.ChirpdeskError` on a malformed item."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ChirpdeskError(f"--grid: got {item!r}, expected KEY=V1,V2,... e.g. agents.concurrency=1,2,3")
        key, _, text = item.partition("=")
        values = [parse_override(f"{key.strip()}={v.strip()}", "--grid")[1] for v in text.split(",") if v.strip()]
        if not values:
            raise ChirpdeskError(f"--grid: no values for {key.strip()!r}")
        grid[key.strip()] = values
    return grid


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The Cartesian product of the grid as override dicts, first key varying slowest."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


# -- tasks (module-level so they pickle) --------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One simulated configuration: grid ``point``, ``policy``, ``period`` (None: the whole
    scenario) and its ``scenario``."""

    point: dict[str, Any]
    policy: str
    period: Period | None
    scenario: Scenario


def build_case(args: tuple[Scenario, dict[str, Any], str, Period | None]) -> Case:
    """Task: the scenario of one grid point, policy and period (policies may solve an IP)."""
    point_sc, point, policy, period = args
    if period is None:
        shifts = policy_shifts(point_sc, policy, None, point_sc)
        sc = point_sc if policy == "fixed" else with_shifts(point_sc, shifts)
        return Case(point, policy, None, sc)
    sample = sample_scenario(point_sc, period)
    shifts = policy_shifts(point_sc, policy, period, sample)
    return Case(point, policy, period, sample_scenario(point_sc, period, shifts))


def replicate(args: tuple[Scenario, int, int]) -> dict[str, float]:
    """Task: metrics of replication ``r`` of a scenario under master ``seed``."""
    sc, seed, r = args
    return run_replication(sc, seed, r).metrics


# -- the sweep ----------------------------------------------------------------------------------

@dataclass
class SweepResult:
    """A finished sweep: the tidy ``rows`` (dicts with grid keys and :data:`TIDY_COLUMNS`),
    ``cases`` with per-replication metrics, and what was run."""

    scenario: Scenario
    grid: dict[str, list[Any]]
    policies: list[str]
    period: str | None
    replications: int
    seed: int
    rows: list[dict[str, Any]]
    cases: list[Case]
    per_replication: list[list[dict[str, float]]]
    periods: list[Period] = field(default_factory=list)
    sampling: str = ""
    wall_seconds: float = 0.0


def _row(case: Case, grid_keys: Sequence[str], metric: str, mean: float, lo: float, hi: float,
         reps: int) -> dict[str, Any]:
    row: dict[str, Any] = {k: case.point.get(k) for k in grid_keys}
    row.update(policy=case.policy, period=case.period.label if case.period else "",
               period_start_s=case.period.start_s if case.period else 0.0, metric=metric,
               mean=mean, ci_low=lo, ci_high=hi, replications=reps)
    return row


def run_sweep(scenario: Scenario, grid: Mapping[str, Sequence[Any]] | None = None,
              policies: Sequence[str] | None = None, period: str | None = None,
              replications: int | None = None, seed: int | None = None,
              executor: Executor | None = None, metrics: Sequence[str] | None = None,
              on_phase: Callable[[str, int], None] | None = None) -> SweepResult:
    """Run every grid point x policy x period with ``replications`` each.

    ``grid`` maps scenario keys to values; ``policies`` default to ``["fixed"]`` unless the
    grid varies ``policy.name``; ``period`` (``month``, ``quarter``, ``half-year``, ``year``)
    turns each point into a study of sample weeks (None: simulate the scenario as is).
    ``metrics`` limits the tidy rows (default: all of :data:`chirpdesk.sim.metrics.METRIC_UNITS`, plus
    ``adoption_factor`` in studies). ``on_phase(name, tasks)`` reports progress phases.
    """
    t0 = time.perf_counter()
    grid_lists = {k: list(v) for k, v in (grid or {}).items()}
    reps = replications or scenario.meta.replications
    seed = scenario.meta.seed if seed is None else seed
    names = list(metrics or METRIC_UNITS)
    own = executor is None
    executor = executor or LocalExecutor(1)
    pol_from_grid = "policy.name" in grid_lists
    policies = list(policies or ([] if pol_from_grid else ["fixed"]))
    try:
        build: list[tuple[Scenario, dict[str, Any], str, Period | None]] = []
        all_periods: list[Period] = []
        for point in grid_points(grid_lists):
            point_sc = with_overrides(scenario, point) if point else scenario
            pols = [point_sc.policy.name] if pol_from_grid else policies
            pers: list[Period | None] = list(periods(point_sc, period)) if period else [None]
            if period and not all_periods:
                all_periods = [p for p in pers if p is not None]
            for pol in pols:
                build.extend((point_sc, point, pol, p) for p in pers)
        if on_phase:
            on_phase("building cases", len(build))
        cases: list[Case] = executor.map(build_case, build)
        tasks = [(c.scenario, seed, r) for c in cases for r in range(reps)]
        if on_phase:
            on_phase("simulating", len(tasks))
        flat = executor.map(replicate, tasks)
    finally:
        if own:
            executor.close()
    per_rep = [flat[i * reps:(i + 1) * reps] for i in range(len(cases))]
    keys = list(grid_lists)
    rows = []
    for case, ms in zip(cases, per_rep, strict=True):
        if case.period is not None and (metrics is None or "adoption_factor" in names):
            a = case.period.adoption
            rows.append(_row(case, keys, "adoption_factor", a, a, a, reps))
        for name in names:
            if name == "adoption_factor":
                continue
            mean, lo, hi = metric_interval(name, [m[name] for m in ms])
            rows.append(_row(case, keys, name, mean, lo, hi, reps))
    return SweepResult(scenario, grid_lists, sorted({c.policy for c in cases}, key=[c.policy for c in cases].index),
                       period, reps, seed, rows, cases, per_rep, all_periods,
                       sampling_sentence(scenario, period, len(all_periods)), time.perf_counter() - t0)


def breakpoints(result: SweepResult) -> list[dict[str, Any]]:
    """First period whose mean SLA attainment is below the target, per grid point and policy.

    Rows: grid keys, ``policy``, ``break_period`` (label; empty if never; for a sweep without
    periods ``"horizon"`` when the whole run misses) and ``break_start_s`` (NaN if never).
    """
    keys = list(result.grid)
    out: dict[tuple, dict[str, Any]] = {}
    for case, ms in zip(result.cases, result.per_replication, strict=True):
        k = (tuple(repr(case.point.get(g)) for g in keys), case.policy)
        row = out.setdefault(k, {**{g: case.point.get(g) for g in keys}, "policy": case.policy,
                                 "break_period": "", "break_start_s": math.nan})
        if row["break_period"]:
            continue
        mean = confidence_interval([m["sla_attainment"] for m in ms])[0]
        if mean < case.scenario.sla.share:
            row["break_period"] = case.period.label if case.period else "horizon"
            row["break_start_s"] = case.period.start_s if case.period else 0.0
    return list(out.values())


def metric_table(result: SweepResult, metric: str) -> list[dict[str, Any]]:
    """The tidy rows of one metric (for terminal tables and tests)."""
    return [r for r in result.rows if r["metric"] == metric]


__all__ = [
    "Case",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "SweepResult",
    "TIDY_COLUMNS",
    "breakpoints",
    "build_case",
    "grid_points",
    "make_executor",
    "metric_table",
    "parse_grid",
    "replicate",
    "run_sweep",
]
