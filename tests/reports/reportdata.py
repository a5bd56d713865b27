"""Write run folders exactly as docs/outputs.md specifies, for the commands still being built.

``staff``, ``sweep`` and ``loadtest`` do not exist yet; these builders produce small but
realistic folders (a week of hourly requirements, a five-point sweep with two policies, a
one-minute load test) so the renderers are tested against the contract, not against guesses.
Values are computed from simple models (Erlang-C-like staffing, a saturating SLA curve) so
the charts have a believable shape.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DIURNAL = [0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.3, 1.5, 1.6, 1.6,
           1.7, 1.6, 1.5, 1.4, 1.4, 1.4, 1.5, 1.6, 1.5, 1.2, 0.8, 0.4]


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """Write a CSV the way the contract says: NaN/None as empty cells."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in r])


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write a JSON document (NaN must already be None)."""
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


# -- staff ----------------------------------------------------------------------------------

SHIFTS = [  # name, days, start, end, count, days per week
    ("early", "Mon-Fri", "07:00", "15:00", 4, 5),
    ("late", "Mon-Fri", "14:00", "22:00", 4, 5),
    ("night", "all", "22:00", "07:00", 1, 7),
    ("weekend", "Sat,Sun", "08:00", "20:00", 3, 2),
]


def _on_shift(day: int, hour: int) -> int:
    n = 0
    for _, days, start, end, count, _ in SHIFTS:
        s, e = int(start[:2]), int(end[:2])
        active_days = range(5) if days == "Mon-Fri" else (5, 6) if days == "Sat,Sun" else range(7)
        if s < e and day in active_days and s <= hour < e:
            n += count
        if s > e and ((day in active_days and hour >= s) or ((day - 1) % 7 in active_days and hour < e)):
            n += count
    return n


def write_staff(folder: Path, agent_hour: float = 32.0) -> Path:
    """A week of hourly staffing requirements (SIPP and MOL, no ISA) and a four-shift plan."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for day in range(7):
        for hour in range(24):
            rate = 45.0 * DIURNAL[hour] * (0.85 if day >= 5 else 1.0)
            load = rate * 240 / 3600 / 3           # 4 min per conversation, concurrency 3
            sipp = max(1, math.ceil(load + 1.3 * math.sqrt(load)))
            mol = max(1, math.ceil(load + 1.1 * math.sqrt(load)))
            rows.append([(day * 24 + hour) * 3600, f"{WEEKDAYS[day]} {hour:02d}:00", round(rate, 3),
                         round(load, 4), sipp, mol, None, sipp, _on_shift(day, hour)])
    write_csv(folder / "requirement.csv",
              ["start", "label", "arrival_rate_per_h", "offered_load", "required_sipp",
               "required_mol", "required_isa", "required", "scheduled"], rows)
    shift_rows, cost = [], 0.0
    for name, days, start, end, count, ndays in SHIFTS:
        hours = ((int(end[:2]) - int(start[:2])) % 24) * ndays * count
        cost += hours * agent_hour
        shift_rows.append([name, days, start, end, count, hours, hours * agent_hour])
    write_csv(folder / "shifts.csv", ["name", "days", "start", "end", "count", "hours_per_week",
                                      "cost_per_week"], shift_rows)
    snippet = "\n\n".join(
        f'[[agents.shifts]]\nname = "{n}"\ndays = "{d}"\nstart = "{s}"\nend = "{e}"\ncount = {c}'
        for n, d, s, e, c, _ in SHIFTS)
    write_json(folder / "staff.json", {
        "kind": "staff", "scenario": "baseline",
        "target": {"share": 0.9, "within_s": 600.0, "max_abandon": 0.05},
        "method": "sipp", "interval_s": 3600.0, "plan_cost": cost, "currency": "USD",
        "simulated": {
            "sla_attainment": {"mean": 0.9231, "ci_low": 0.9105, "ci_high": 0.9357},
            "abandoned_share": {"mean": 0.0123, "ci_low": 0.0087, "ci_high": 0.0159},
            "first_response_p90_s": {"mean": 512.4, "ci_low": 470.2, "ci_high": 554.6},
            "occupancy": {"mean": 0.612, "ci_low": 0.598, "ci_high": 0.626},
        },
        "snippet": snippet,
    })
    return folder


# -- sweep ----------------------------------------------------------------------------------

def _sla(rate: float, agents: float) -> float:
    return float(1 / (1 + math.exp((rate / agents - 12.0) / 1.0)))


def write_sweep(folder: Path, sensitivity: bool = True) -> Path:
    """A sweep of arrivals.base_rate over five values for two policies, three metrics each,
    with break points, a tornado table and Sobol indices (when ``sensitivity``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rates = [30.0, 45.0, 60.0, 75.0, 90.0]
    policies = {"fixed team": lambda r: 5.0, "grow with demand": lambda r: 5.0 * r / 45.0}
    rows, bp_rows = [], []
    for policy, agents_for in policies.items():
        for r in rates:
            a = agents_for(r)
            sla = _sla(r, a)
            frt = 180 + 4000 * (1 - sla) ** 2
            cpc = 32 * a * 24 * 7 / (r * 24 * 7 * 0.75)
            for metric, mean, half in (("sla_attainment", sla, 0.015), ("first_response_p90_s", frt, 40.0),
                                       ("cost_per_conversation", cpc, 0.12)):
                rows.append([r, policy, "", "", metric, mean, mean - half, mean + half, 5])
            bp_rows.append([r, policy, "week 1" if sla < 0.9 else None, 0.0 if sla < 0.9 else None])
    write_csv(folder / "sweep.csv", ["arrivals.base_rate", "policy", "period", "period_start_s", "metric",
                                     "mean", "ci_low", "ci_high", "replications"], rows)
    write_csv(folder / "breakpoints.csv", ["arrivals.base_rate", "policy", "break_period", "break_start_s"],
              bp_rows)
    write_json(folder / "sweep.json", {
        "kind": "sweep", "scenario": "baseline", "grid": {"arrivals.base_rate": rates},
        "replications": 5, "seed": 7, "wall_seconds": 41.2,
        "sampling": "one simulated week per grid point and policy"})
    if sensitivity:
        params = [("arrivals.base_rate", 36, 54, -0.09, 0.05), ("handling.compose.mean", 150, 210, 0.06, -0.08),
                  ("agents.concurrency", 2, 4, -0.12, 0.03), ("customers.patience.mean", 3600, 10800, -0.01, 0.012)]
        write_csv(folder / "sensitivity.csv",
                  ["parameter", "low_value", "high_value", "metric", "low", "high", "base"],
                  [[p, lo, hi, "sla_attainment", 0.86 + dl, 0.86 + dh, 0.86] for p, lo, hi, dl, dh in params])
        write_csv(folder / "sobol.csv", ["parameter", "metric", "S1", "S1_conf", "ST", "ST_conf"],
                  [[p, "sla_attainment", s1, 0.03, st, 0.04] for p, s1, st in
                   (("arrivals.base_rate", 0.31, 0.38), ("handling.compose.mean", 0.27, 0.33),
                    ("agents.concurrency", 0.22, 0.30), ("customers.patience.mean", 0.01, 0.02))])
    return folder


def write_study(folder: Path) -> Path:
    """A multi-period sweep (adoption 2011-2016, one sample week per year) without sensitivity."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, bp_rows = [], []
    years = list(range(2011, 2017))
    for agents in (4, 6):
        broke = None
        for i, year in enumerate(years):
            rate = 1.5 * math.exp(0.75 * i) * 10
            sla = _sla(rate, agents)
            if sla < 0.9 and broke is None:
                broke = (str(year), i * 365 * 86400.0)
            rows.append([agents, "fixed team", str(year), i * 365 * 86400.0, "sla_attainment", sla,
                         sla - 0.02, min(1.0, sla + 0.02), 2])
        bp_rows.append([agents, "fixed team", broke[0] if broke else None, broke[1] if broke else None])
    write_csv(folder / "sweep.csv", ["agents.shifts.0.count", "policy", "period", "period_start_s", "metric",
                                     "mean", "ci_low", "ci_high", "replications"], rows)
    write_csv(folder / "breakpoints.csv", ["agents.shifts.0.count", "policy", "break_period", "break_start_s"],
              bp_rows)
    write_json(folder / "sweep.json", {
        "kind": "sweep", "scenario": "adoption-2011-2016", "grid": {"agents.shifts.0.count": [4, 6]},
        "replications": 2, "seed": 2011, "wall_seconds": 12.5, "periods": [str(y) for y in years],
        "sampling": "one sample week per year, 2011-2016"})
    return folder


# -- loadtest -------------------------------------------------------------------------------

ENDPOINTS = ("webhook", "claim", "reply")


def write_loadtest(folder: Path, passed: bool = True, seed: int = 3) -> Path:
    """A one-minute load test at 60x speed-up with three endpoints; ``passed=False`` makes the
    webhook slow and the p95 gate fail."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(0, 60, 1.0)
    intended = 8 + 4 * np.sin(t / 60 * np.pi)
    achieved = intended * (0.97 + 0.03 * rng.random(t.size))
    slow = 1.0 if passed else 3.5
    header = ["t_s", "intended_rate", "achieved_rate", "p50_ms", "p95_ms", "p99_ms"]
    cols = [t, intended, achieved, 12 + rng.random(t.size) * 3, 40 + rng.random(t.size) * 10,
            80 + rng.random(t.size) * 20]
    for i, ep in enumerate(ENDPOINTS):
        base = (10 + 5 * i) * (slow if ep == "webhook" else 1.0)
        header += [f"{ep}_p50_ms", f"{ep}_p95_ms", f"{ep}_p99_ms"]
        cols += [base + rng.random(t.size) * 2, 3 * base + rng.random(t.size) * 10,
                 5 * base + rng.random(t.size) * 30]
    header.append("schedule_lag_s")
    cols.append(np.abs(rng.normal(0.01, 0.005, t.size)))
    write_csv(folder / "timeline.csv", header, [[round(float(c[i]), 4) for c in cols] for i in range(t.size)])
    pred = rng.lognormal(math.log(240), 0.6, 400)
    meas = rng.lognormal(math.log(255), 0.62, 380)
    write_csv(folder / "first_responses.csv", ["source", "first_response_s"],
              [["predicted", round(float(v), 2)] for v in pred] + [["measured", round(float(v), 2)] for v in meas])
    p95_webhook = 3 * 10 * slow + 8
    gates = [
        {"metric": "p95_ingest_ms", "op": "<=", "value": 500 if passed else 80, "actual": p95_webhook,
         "passed": passed},
        {"metric": "error_share", "op": "<=", "value": 0.01, "actual": 0.002, "passed": True},
        {"metric": "achieved_rate_ratio", "op": ">=", "value": 0.95, "actual": 0.985, "passed": True},
    ]

    def summary(v: np.ndarray) -> dict[str, float]:
        return {"sla_attainment": float(np.mean(v <= 600)), "first_response_p50_s": float(np.percentile(v, 50)),
                "first_response_p90_s": float(np.percentile(v, 90)), "n": int(v.size)}

    p, m = summary(pred), summary(meas)
    write_json(folder / "loadtest.json", {
        "kind": "loadtest", "scenario": "baseline", "host": "http://127.0.0.1:8080", "speedup": 60.0,
        "duration_s": 60.0, "requests": 1234, "failures": {"ConnectionResetError": 2, "HTTP 500": 1},
        "expected_4xx": {"HTTP 400 malformed": 18, "HTTP 413 oversized": 0},
        "latency_ms": {ep: {"p50": 10.0 + 5 * i, "p90": 25.0 + 10 * i, "p95": 30.0 + 15 * i,
                            "p99": 52.0 + 20 * i, "max": 140.0 + 30 * i} for i, ep in enumerate(ENDPOINTS)},
        "intended_rate": float(intended.mean()), "achieved_rate": float(achieved.mean()),
        "achieved_rate_ratio": float(achieved.mean() / intended.mean()),
        "schedule_lag_s": {"p50": 0.01, "p95": 0.02, "max": 0.05}, "generator_saturated": False,
        "gates": gates, "passed": passed,
        "predicted_vs_measured": {"predicted": p, "measured": m,
                                  "difference": {k: m[k] - p[k] for k in p},
                                  "tolerance": {"sla_attainment": 0.05}, "agree": True},
    })
    return folder
