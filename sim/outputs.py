"""Write and read a run's data files: summary.json, intervals.csv, conversations.csv.

The files are the contract between the simulation and everything downstream (reports,
comparisons, notebooks): flat, documented, and readable without chirpdesk.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.sim.metrics import METRIC_UNITS
from chirpdesk.sim.model import OUTCOMES
from chirpdesk.sim.run import SimulationResult
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.units import format_duration

SUMMARY = "summary.json"
INTERVALS = "intervals.csv"
CONVERSATIONS = "conversations.csv"


def json_safe(value: Any) -> Any:
    """Make ``value`` JSON-safe, recursively: NaN and inf become ``None`` (null), numpy scalars
    become Python numbers, dict keys become strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def scenario_as_run(scenario: Scenario) -> dict[str, Any]:
    """Every setting of the scenario with defaults filled in, in readable units."""
    import dataclasses
    import datetime as dt

    from chirpdesk.sim.distributions import Distribution

    def conv(obj: Any, key: str = "") -> Any:
        if isinstance(obj, Distribution):
            d = obj.describe()
            return {k: (format_duration(v) if isinstance(v, float) and key not in ("followers", "turns") and k != "cv" else v)
                    for k, v in d.items()}
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: conv(getattr(obj, f.name), f.name) for f in dataclasses.fields(obj)
                    if f.name not in ("raw", "source")}
        if isinstance(obj, dict):
            return {k: conv(v, k) for k, v in obj.items()}
        if isinstance(obj, tuple | list):
            return [conv(v, key) for v in obj]
        if isinstance(obj, dt.datetime):
            return obj.isoformat()
        return obj

    data = conv(scenario)
    data["arrivals"]["base_rate_per_hour"] = scenario.arrivals.base_rate * 3600.0
    del data["arrivals"]["base_rate"]
    return data


def summary_document(result: SimulationResult) -> dict[str, Any]:
    """The summary.json document: scenario, replications, seed, metrics (mean, ci_low, ci_high)."""
    sc = result.scenario
    return json_safe({
        "scenario": sc.meta.name,
        "source": sc.source,
        "replications": len(result.replications),
        "seed": result.seed,
        "window": {"start_s": sc.meta.warmup, "end_s": sc.meta.horizon,
                   "start": sc.meta.start.isoformat()},
        "sla": {"share": sc.sla.share, "within_s": sc.sla.within, "basis": sc.sla.basis},
        "units": METRIC_UNITS,
        "metrics": result.summary,
        "groups": result.groups,
        "per_replication": result.per_replication,
        "wall_seconds": result.wall_seconds,
        "settings": scenario_as_run(sc),
        "raw": sc.raw,
        **result.extra,
    })


def write_outputs(result: SimulationResult, out: str | Path) -> Path:
    """Write summary.json, intervals.csv and conversations.csv into ``out``; returns the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / SUMMARY, "w", encoding="utf-8") as f:
        json.dump(summary_document(result), f, indent=2, default=str)
    write_table(out / INTERVALS, result.intervals)
    if result.records is not None:
        write_table(out / CONVERSATIONS, conversation_columns(result))
    return out


def conversation_columns(result: SimulationResult) -> dict[str, np.ndarray]:
    """The first replication's conversations as readable columns (times in seconds from start)."""
    assert result.records is not None
    c, kinds = result.records.conversations, result.records.kinds
    arrival = c["arrival"]
    return {
        "id": np.arange(arrival.size),
        "arrival_s": arrival,
        "kind": np.asarray(kinds, dtype=object)[c["kind"]] if arrival.size else np.array([], dtype=object),
        "fail": c["fail"].astype(int),
        "followers": c["followers"].astype(np.int64),
        "handle": np.where(c["marketing"], "marketing", "service"),
        "needs_reply": c["needs_reply"].astype(int),
        "in_window": ((arrival >= result.scenario.meta.warmup) & (arrival < result.scenario.meta.horizon)).astype(int),
        "wait_s": c["pickup"] - arrival,
        "first_response_s": c["first_response"] - arrival,
        "turns": c["turns"],
        "outcome": np.asarray(OUTCOMES, dtype=object)[c["outcome"]],
        "resolution_s": c["end"] - arrival,
        "agent_work_s": c["busy"],
        "auto_replied": c["auto_replied"].astype(int),
    }


def write_table(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write columns as CSV (NaN as empty cells)."""
    names = list(columns)
    rows = zip(*(columns[n].tolist() for n in names), strict=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(names)
        for row in rows:
            w.writerow(["" if isinstance(v, float) and v != v else (repr(v) if isinstance(v, float) else v) for v in row])


def read_table(path: str | Path) -> dict[str, np.ndarray]:
    """Read a CSV written by :func:`write_table` into numpy columns (numbers where they parse)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        names = next(reader)
        raw = list(zip(*reader, strict=True)) or [()] * len(names)
    out = {}
    for name, col in zip(names, raw, strict=True):
        try:
            out[name] = np.array([float(v) if v != "" else math.nan for v in col])
        except ValueError:
            out[name] = np.array(col, dtype=object)
    return out


def read_summary(folder: str | Path) -> dict[str, Any]:
    """Load a run's summary.json."""
    with open(Path(folder) / SUMMARY, encoding="utf-8") as f:
        return json.load(f)
