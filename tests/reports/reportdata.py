"""Load-test folders written exactly as docs/outputs.md specifies, for what a real run cannot show.

Staff, sweep and load-test reports are tested on real runs (tests/reports/conftest.py and
tests/loadtests/test_run.py). A real storm passes its gates and fails no request, so the failed
gate, unexpected failures by reason and the "nothing failed at all" page are tested on these
small contract folders: a one-minute load test at 60x speed-up with three endpoints.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np


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
