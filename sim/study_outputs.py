"""Write the data files of ``chirpdesk staff`` and ``chirpdesk sweep`` (see docs/outputs.md).

``staff``: ``staff.json``, ``requirement.csv``, ``shifts.csv``. ``sweep``: ``sweep.json``,
``sweep.csv``, ``sweep.parquet``, ``breakpoints.csv`` and, when asked, ``sensitivity.csv`` and
``sobol.csv``. Times in seconds, shares 0..1, NaN as an empty CSV cell or JSON ``null``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.sim.outputs import json_safe
from chirpdesk.sim.run import SimulationResult
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.shifts_milp import ShiftPlan, clock_text, days_text, toml_snippet
from chirpdesk.sim.staffing import METHODS, Requirement, Target
from chirpdesk.sim.sweep import TIDY_COLUMNS, SweepResult


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Write ``rows`` (dicts) with ``columns`` as a CSV file; NaN and None become empty cells."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for row in rows:
            w.writerow([_cell(row.get(c)) for c in columns])


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write a JSON document with NaN/inf as null."""
    path.write_text(json.dumps(json_safe(dict(doc)), indent=2) + "\n", encoding="utf-8")


# -- staff --------------------------------------------------------------------------------------

REQUIREMENT_COLUMNS = ("start", "label", "arrival_rate_per_h", "offered_load", "required_sipp",
                       "required_mol", "required_isa", "required", "scheduled")
SHIFT_COLUMNS = ("name", "days", "start", "end", "count", "hours_per_week", "cost_per_week")


def staff_document(sc: Scenario, target: Target, req: Requirement, plan: ShiftPlan,
                   verified: SimulationResult | None, wall_seconds: float = 0.0) -> dict[str, Any]:
    """The ``staff.json`` document (``notes`` lists the approximations made)."""
    return {
        "kind": "staff",
        "scenario": sc.meta.name,
        "source": sc.source,
        "target": {"share": target.share, "within_s": target.within_s, "max_abandon": target.max_abandon,
                   "basis": target.basis},
        "method": req.method,
        "interval_s": req.interval_s,
        "plan_cost": plan.cost,
        "plan_hours": plan.hours,
        "currency": sc.cost.currency,
        "optimal": plan.optimal,
        "simulated": verified.summary if verified else {},
        "replications": len(verified.replications) if verified else 0,
        "seed": verified.seed if verified else sc.meta.seed,
        "snippet": toml_snippet(plan.shifts()),
        "isa": ({"iterations": req.isa.iterations, "converged": req.isa.converged} if req.isa else None),
        "notes": list(req.notes),
        "wall_seconds": wall_seconds,
    }


def write_staff_outputs(out: Path, sc: Scenario, target: Target, req: Requirement, plan: ShiftPlan,
                        verified: SimulationResult | None, wall_seconds: float = 0.0) -> None:
    """Write ``staff.json``, ``requirement.csv`` and ``shifts.csv`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "staff.json", staff_document(sc, target, req, plan, verified, wall_seconds))
    rows = []
    for i in range(req.start.size):
        row = {"start": float(req.start[i]), "label": req.label[i],
               "arrival_rate_per_h": float(req.rate_per_h[i]), "offered_load": float(req.offered_load[i]),
               "required": int(req.used[i]), "scheduled": int(plan.coverage[i])}
        for m in METHODS:
            row[f"required_{m}"] = int(req.required[m][i]) if m in req.required else None
        rows.append(row)
    write_csv(out / "requirement.csv", REQUIREMENT_COLUMNS, rows)
    shift_rows = []
    for s in plan.shifts():
        hours = s.count * s.length / 3600.0 * len(s.days)
        shift_rows.append({"name": s.name, "days": days_text(s.days), "start": clock_text(s.start),
                           "end": clock_text(s.end), "count": s.count, "hours_per_week": hours,
                           "cost_per_week": hours * sc.cost.agent_hour})
    write_csv(out / "shifts.csv", SHIFT_COLUMNS, shift_rows)


# -- sweep --------------------------------------------------------------------------------------

def sweep_document(result: SweepResult) -> dict[str, Any]:
    """The ``sweep.json`` document."""
    return {
        "kind": "sweep",
        "scenario": result.scenario.meta.name,
        "source": result.scenario.source,
        "grid": result.grid,
        "policies": result.policies,
        "period": result.period,
        "replications": result.replications,
        "seed": result.seed,
        "wall_seconds": result.wall_seconds,
        "periods": [dataclasses.asdict(p) for p in result.periods] if result.period else None,
        "sampling": result.sampling,
        "sla": {"share": result.scenario.sla.share, "within_s": result.scenario.sla.within,
                "basis": result.scenario.sla.basis},
    }


def _plain(value: Any) -> Any:
    """Grid values as CSV/Parquet cells (lists and tables as TOML-ish text)."""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def write_sweep_outputs(out: Path, result: SweepResult, breaks: Sequence[Mapping[str, Any]],
                        tornado_rows: Sequence[Any] | None = None,
                        sobol_rows: Sequence[Any] | None = None) -> list[str]:
    """Write the sweep files into ``out``; returns the file names written."""
    out.mkdir(parents=True, exist_ok=True)
    keys = list(result.grid)
    columns = [*keys, *TIDY_COLUMNS]
    rows = [{k: _plain(v) for k, v in r.items()} for r in result.rows]
    write_json(out / "sweep.json", sweep_document(result))
    write_csv(out / "sweep.csv", columns, rows)
    written = ["sweep.json", "sweep.csv"]
    import pyarrow as pa
    import pyarrow.parquet as pq

    table: dict[str, list[Any]] = {
        c: [(None if isinstance(r.get(c), float) and math.isnan(r[c]) else r.get(c)) for r in rows]
        for c in columns}
    for k in keys:
        # A grid column mixing ints and floats (or strings) is stored as one type.
        vals = table[k]
        if any(isinstance(v, float) for v in vals) and all(isinstance(v, int | float) for v in vals):
            table[k] = [float(v) for v in vals]
        elif not all(isinstance(v, int | float) for v in vals):
            table[k] = [str(v) for v in vals]
    pq.write_table(pa.table(table), out / "sweep.parquet")
    written.append("sweep.parquet")
    write_csv(out / "breakpoints.csv", [*keys, "policy", "break_period", "break_start_s"],
              [{k: _plain(v) for k, v in b.items()} for b in breaks])
    written.append("breakpoints.csv")
    if tornado_rows:
        write_csv(out / "sensitivity.csv", ("parameter", "low_value", "high_value", "metric", "low", "high", "base"),
                  [dataclasses.asdict(r) for r in tornado_rows])
        written.append("sensitivity.csv")
    if sobol_rows:
        write_csv(out / "sobol.csv", ("parameter", "metric", "S1", "S1_conf", "ST", "ST_conf"),
                  [dataclasses.asdict(r) for r in sobol_rows])
        written.append("sobol.csv")
    return written


__all__ = [
    "REQUIREMENT_COLUMNS",
    "SHIFT_COLUMNS",
    "staff_document",
    "sweep_document",
    "write_csv",
    "write_json",
    "write_staff_outputs",
    "write_sweep_outputs",
]
