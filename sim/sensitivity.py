"""Sensitivity of the results to scenario parameters: one-at-a-time tornado and Sobol indices.

* Tornado: each parameter alone at its low and its high value, the others at the scenario's
  values; the swing of each metric ranks the parameters.
* Sobol (variance-based, Saltelli 2002 / Jansen estimators via SALib): first-order ``S1`` and
  total ``ST`` indices over the box of the given ranges, from ``N (D + 2)`` Sobol-sequence
  points, each simulated with the given replications (metric = replication mean).

Parameters whose scenario value is an integer (``agents.concurrency``) are rounded. Every
simulation is a ``run_replication(scenario, seed, r)`` task run by a :mod:`chirpdesk.sim.sweep` executor,
so results do not depend on the executor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.loader import parse_override, with_overrides
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.sweep import Executor, LocalExecutor, replicate

#: Metrics reported by default (service, abandonment, speed, load, money).
SENSITIVITY_METRICS: tuple[str, ...] = ("sla_attainment", "abandoned_share", "first_response_p90_s",
                                        "occupancy", "cost_total")


def parse_ranges(items: Sequence[str], option: str = "--tornado") -> dict[str, tuple[float, float]]:
    """``["key=low,high", ...]`` -> ``{key: (low, high)}`` (numbers). Raises ChirpdeskError."""
    out = {}
    for item in items:
        key, _, text = item.partition("=")
        parts = [p.strip() for p in text.split(",")]
        if not key.strip() or len(parts) != 2:
            raise ChirpdeskError(f"{option}: got {item!r}, expected KEY=LOW,HIGH e.g. arrivals.base_rate=30,60")
        vals = [parse_override(f"v={p}", option)[1] for p in parts]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
            raise ChirpdeskError(f"{option}: {key.strip()!r} needs two numbers, got {text!r}")
        out[key.strip()] = (float(vals[0]), float(vals[1]))
    return out


def _raw_value(sc: Scenario, key: str) -> Any:
    node: Any = sc.raw
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _typed(sc: Scenario, key: str, value: float) -> float | int:
    """The value as the scenario writes that key: integers stay integers (rounded)."""
    return int(round(value)) if isinstance(_raw_value(sc, key), int) else float(value)


def _means(sc_list: Sequence[Scenario], seed: int, replications: int, executor: Executor,
           metrics: Sequence[str]) -> list[dict[str, float]]:
    tasks = [(s, seed, r) for s in sc_list for r in range(replications)]
    flat = executor.map(replicate, tasks)
    out = []
    for i in range(len(sc_list)):
        reps = flat[i * replications:(i + 1) * replications]
        out.append({m: float(np.nanmean([x[m] for x in reps])) for m in metrics})
    return out


@dataclass(frozen=True)
class TornadoRow:
    """One bar of the tornado: ``metric`` at ``parameter``'s ``low_value`` / ``high_value``
    (``low``, ``high``) against the scenario as is (``base``)."""

    parameter: str
    low_value: float
    high_value: float
    metric: str
    low: float
    high: float
    base: float


def tornado(sc: Scenario, ranges: Mapping[str, tuple[float, float]], replications: int = 3,
            seed: int | None = None, executor: Executor | None = None,
            metrics: Sequence[str] = SENSITIVITY_METRICS) -> list[TornadoRow]:
    """One-at-a-time sensitivity: 1 + 2 x parameters scenarios, each with ``replications``."""
    seed = sc.meta.seed if seed is None else seed
    executor = executor or LocalExecutor(1)
    keys = list(ranges)
    scs = [sc]
    for k in keys:
        lo, hi = ranges[k]
        scs += [with_overrides(sc, {k: _typed(sc, k, lo)}), with_overrides(sc, {k: _typed(sc, k, hi)})]
    means = _means(scs, seed, replications, executor, metrics)
    rows = []
    for i, k in enumerate(keys):
        lo_m, hi_m = means[1 + 2 * i], means[2 + 2 * i]
        for m in metrics:
            rows.append(TornadoRow(k, ranges[k][0], ranges[k][1], m, lo_m[m], hi_m[m], means[0][m]))
    return rows


@dataclass(frozen=True)
class SobolRow:
    """Sobol indices of ``parameter`` for ``metric``: first order ``S1`` and total ``ST`` with
    their 95% bootstrap half-widths ``S1_conf`` and ``ST_conf``."""

    parameter: str
    metric: str
    S1: float  # noqa: N815 - the literature's names, also the CSV columns
    S1_conf: float  # noqa: N815
    ST: float  # noqa: N815
    ST_conf: float  # noqa: N815


def sobol(sc: Scenario, ranges: Mapping[str, tuple[float, float]], samples: int = 16,
          replications: int = 1, seed: int | None = None, executor: Executor | None = None,
          metrics: Sequence[str] = SENSITIVITY_METRICS) -> list[SobolRow]:
    """Sobol indices from ``samples x (D + 2)`` points (``samples`` a power of two)."""
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    seed = sc.meta.seed if seed is None else seed
    executor = executor or LocalExecutor(1)
    keys = list(ranges)
    problem = {"num_vars": len(keys), "names": keys, "bounds": [list(ranges[k]) for k in keys]}
    x = sobol_sample.sample(problem, samples, calc_second_order=False, scramble=True, seed=seed)
    scs = [with_overrides(sc, {k: _typed(sc, k, v) for k, v in zip(keys, row, strict=True)}) for row in x]
    means = _means(scs, seed, replications, executor, metrics)
    out = []
    for m in metrics:
        y = np.array([d[m] for d in means], dtype=float)
        y = np.where(np.isnan(y), np.nanmean(y) if np.isfinite(np.nanmean(y)) else 0.0, y)
        res = sobol_analyze.analyze(problem, y, calc_second_order=False, print_to_console=False, seed=seed)
        for i, k in enumerate(keys):
            out.append(SobolRow(k, m, float(res["S1"][i]), float(res["S1_conf"][i]),
                                float(res["ST"][i]), float(res["ST_conf"][i])))
    return out


__all__ = ["SENSITIVITY_METRICS", "SobolRow", "TornadoRow", "parse_ranges", "sobol", "tornado"]
