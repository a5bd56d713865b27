"""After a load test: request records -> rates, lag, latency, gates, and predicted vs measured.

Pure (stdlib, numpy, sim; no Locust): the Locust processes write one records CSV each
(``loadgen/records-*.csv``, columns :data:`RECORD_COLUMNS`) plus a meta JSON; everything in
``loadtest.json``, ``timeline.csv`` and ``first_responses.csv`` (docs/outputs.md) is computed here.
Real times are epoch seconds; ``first_response_s`` values are *simulated* seconds (measured real
seconds x speedup), so they compare directly with the scenario's SLA threshold.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.loadtests.plan import LoadPlan, parse_tweet_id

#: Columns of the per-process records files.
RECORD_COLUMNS = ("name", "what", "intended", "start", "latency_ms", "status", "ok", "expected", "tweet_id")
#: Model replications simulated over the replayed arrivals for the prediction.
PREDICT_REPLICATIONS = 5
#: How many standard errors the SLA-attainment difference may span before "disagree" (there is
#: no systematic allowance on top: see docs/loadtests.md, "Predicted vs measured").
SLA_Z = 3.0
#: CPU use (% of one core) above which the generator counts as saturated.
CPU_SATURATED = 90.0
#: Names of the send kinds that follow the intended schedule (their lag is measured).
SCHEDULED = ("tweet", "redelivery", "malformed", "oversized")
_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


@dataclass
class Records:
    """All request records of a run as columns (``intended``/``start`` epoch s, ``latency_ms``)."""

    name: np.ndarray
    what: np.ndarray
    intended: np.ndarray
    start: np.ndarray
    latency_ms: np.ndarray
    status: np.ndarray
    ok: np.ndarray
    expected: np.ndarray
    tweet_id: np.ndarray

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]]) -> Records:
        """Build from tuples in :data:`RECORD_COLUMNS` order."""
        cols: list[list[Any]] = [[] for _ in RECORD_COLUMNS]
        for row in rows:
            for j, v in enumerate(row):
                cols[j].append(v)

        def num(values: list[Any]) -> np.ndarray:
            return np.asarray([float(v) if v not in ("", None) else math.nan for v in values], dtype=float)

        return cls(np.asarray(cols[0], dtype=object), np.asarray(cols[1], dtype=object), num(cols[2]),
                   num(cols[3]), num(cols[4]), num(cols[5]).astype(int) if cols[5] else np.zeros(0, int),
                   num(cols[6]).astype(bool) if cols[6] else np.zeros(0, bool),
                   np.asarray(cols[7], dtype=object), np.asarray(cols[8], dtype=object))

    def __len__(self) -> int:
        return int(self.start.size)


def load_records(out: Path) -> tuple[Records, list[dict[str, Any]]]:
    """Read every ``loadgen/records-*.csv`` and ``meta-*.json`` of a run folder."""
    rows: list[list[str]] = []
    metas = []
    folder = Path(out) / "loadgen"
    for path in sorted(folder.glob("records-*.csv")):
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            rows.extend(reader)
    for path in sorted(folder.glob("meta-*.json")):
        metas.append(json.loads(path.read_text()))
    return Records.from_rows(rows), metas


def check_senders(out: Path, metas: list[dict[str, Any]], processes: int) -> list[str]:
    """Check that every sending process of the run left its records; returns warnings.

    Each share of the schedule belongs to one process (index ``i`` of ``count``): a share whose
    records are missing would count as unsent tweets, so a missing or inconsistent process
    raises :class:`~chirpdesk.sim.errors.ChirpdeskError` naming it. With ``processes`` > 1 the master's
    ``loadgen/processes.json`` (which worker got which index, and its records file) is required.
    """
    from chirpdesk.sim.errors import ChirpdeskError

    folder = Path(out) / "loadgen"
    senders = [m for m in metas if m.get("dispatcher")]
    warnings: list[str] = []
    assigned = folder / "processes.json"
    problems: list[str] = []
    if assigned.exists():
        doc = json.loads(assigned.read_text())
        count = int(doc["count"])
        if count < processes:
            warnings.append(f"only {count} of {processes} Locust worker processes took part (see locust.log); "
                            "the whole schedule was still shared among them")
        for w in doc["workers"]:
            name = f"process {w['index'] + 1}/{count} (Locust worker {w['client_id']}"
            name += f", pid {w['pid']})" if w.get("pid") else ")"
            if not w.get("acknowledged"):
                problems.append(f"{name} never acknowledged its set-up")
            elif not (folder / str(w["records"])).exists() or not (folder / str(w["meta"])).exists():
                problems.append(f"{name} wrote no {folder / str(w['records'])}")
        if not problems and any(m.get("run_id") != doc["run_id"] for m in senders):
            problems.append(f"records of another run in {folder} (run ids {sorted({m.get('run_id') for m in senders})})")
    elif processes > 1:
        problems.append(f"the Locust master wrote no {assigned} (no worker received its set-up)")
    if not problems and senders:
        counts = {int(m["count"]) for m in senders}
        runs = {m.get("run_id") for m in senders}
        indices = sorted(int(m["index"]) for m in senders)
        if len(counts) != 1 or len(runs) != 1:
            problems.append(f"sending processes disagree on the run (counts {sorted(counts)}, run ids {sorted(runs)})")
        else:
            count = counts.pop()
            missing = sorted(set(range(count)) - set(indices))
            if missing or len(indices) != count:
                problems.append("no records from sending process(es) "
                                + ", ".join(f"{i + 1}/{count}" for i in missing)
                                + f" (found {[f'{i + 1}/{count}' for i in indices]})")
    if problems:
        raise ChirpdeskError("load generator records incomplete: " + "; ".join(problems)
                             + f"; their tweets would count as unsent (see {Path(out) / 'locust.log'})")
    return warnings


def percentiles(x: np.ndarray) -> dict[str, float | None]:
    """``{"p50","p90","p95","p99","max"}`` of ``x`` (``None`` when empty)."""
    x = x[~np.isnan(x)]
    if not x.size:
        return {"p50": None, "p90": None, "p95": None, "p99": None, "max": None}
    p = np.percentile(x, [50, 90, 95, 99])
    return {"p50": float(p[0]), "p90": float(p[1]), "p95": float(p[2]), "p99": float(p[3]), "max": float(x.max())}


def generator_stats(rec: Records, plan: LoadPlan, t0: float, cpu: Sequence[float],
                    lag_threshold: float) -> dict[str, Any]:
    """Intended vs achieved arrival rate, schedule lag and the saturation verdict.

    ``achieved_rate`` counts first tweets whose request started within the window (real
    ``[t0, t0 + duration)``); lag is request start - intended time over every scheduled send.
    Saturated when p95 lag exceeds ``lag_threshold``, when lag grows (median of the last quarter
    of sends exceeds the first quarter's by more than half the threshold), or when the process
    ran above :data:`CPU_SATURATED` % CPU for at least two samples.
    """
    sched = np.isin(rec.what, SCHEDULED)
    lag = (rec.start - rec.intended)[sched]
    order = np.argsort(rec.intended[sched])
    lag_sorted = lag[order]
    tweets = rec.what == "tweet"
    sent_in_window = int(np.sum(tweets & (rec.start - t0 < plan.duration)))
    intended = plan.intended_rate
    achieved = sent_in_window / plan.duration
    reasons = []
    lag_p = percentiles(lag)
    if lag_p["p95"] is not None and lag_p["p95"] > lag_threshold:
        reasons.append(f"p95 schedule lag {lag_p['p95']:.3f} s > {lag_threshold:g} s")
    if lag_sorted.size >= 40:
        q = lag_sorted.size // 4
        growth = float(np.median(lag_sorted[-q:]) - np.median(lag_sorted[:q]))
        if growth > lag_threshold / 2:
            reasons.append(f"schedule lag grew by {growth:.3f} s over the run")
    hot = sum(1 for c in cpu if c > CPU_SATURATED)
    if hot >= 2:
        reasons.append(f"load generator CPU above {CPU_SATURATED:g}% in {hot} samples")
    return {
        "intended_rate": intended,
        "achieved_rate": achieved,
        "achieved_rate_ratio": achieved / intended if intended else math.nan,
        "tweets_scheduled": len(plan.arrivals),
        "tweets_sent": int(tweets.sum()),
        "schedule_lag_s": {"p50": lag_p["p50"], "p95": lag_p["p95"], "max": lag_p["max"]},
        "cpu_percent_max": max(cpu) if cpu else None,
        "generator_saturated": bool(reasons),
        "saturation_reasons": reasons,
    }


def request_stats(rec: Records) -> dict[str, Any]:
    """Requests, failures by reason, expected 4xx by reason, latency per endpoint name."""
    failures = Counter(f"{n}: HTTP {s}" for n, s, ok in zip(rec.name, rec.status, rec.ok, strict=True) if not ok)
    expected = Counter(e for e, ok in zip(rec.expected, rec.ok, strict=True) if e and ok)
    latency = {str(n): percentiles(rec.latency_ms[rec.name == n]) for n in sorted(set(rec.name.tolist()))}
    n = len(rec)
    return {"requests": n, "failures": dict(failures), "expected_4xx": dict(expected), "latency_ms": latency,
            "error_share": sum(failures.values()) / n if n else math.nan}


# -- predicted vs measured ---------------------------------------------------------------------

def population(plan: LoadPlan) -> np.ndarray:
    """Indices of arrivals whose SLA verdict both sides know: needing a reply and arriving at
    least one SLA threshold before the window ends (later ones are cut off by the test's end)."""
    arr = plan.arrivals
    if not len(arr):
        return np.zeros(0, int)
    cutoff = plan.end - plan.scenario.sla.within
    needs = np.asarray([plan.needs_reply(i) for i in range(len(arr))], dtype=bool)
    return np.nonzero(needs & (arr.time < cutoff))[0]


def predict(plan: LoadPlan, replications: int = PREDICT_REPLICATIONS) -> dict[str, Any]:
    """Simulate the replayed window: the same arrivals (same generator and seed) through
    :class:`chirpdesk.sim.model.Desk`, ``replications`` times with independent model streams.

    Returns ``first_response_s`` (pooled, simulated seconds, answered tweets of the population),
    per-replication SLA attainments and ``n`` (population size).
    """
    from chirpdesk.sim.model import Desk

    sc = plan.scenario
    pop = population(plan)
    frts, shares = [], []
    for r in range(replications):
        rec = Desk(sc, plan.arrivals, np.random.SeedSequence([plan.seed, 103, r])).run()
        c = rec.conversations
        basis = c["first_response"] if sc.sla.basis == "first_response" else c["pickup"]
        wait = (basis - c["arrival"])[pop]
        frt = (c["first_response"] - c["arrival"])[pop]
        # Percentiles compare like with like: the test stops at the window's end, so only
        # responses given by then are measured; the model's later (drain) answers are left out.
        frt = np.where(c["first_response"][pop] <= plan.end, frt, np.nan)
        shares.append(float(np.sum(wait <= sc.sla.within)) / pop.size if pop.size else math.nan)
        frts.append(frt[~np.isnan(frt)])
    return {"first_response_s": np.concatenate(frts) if frts else np.zeros(0), "shares": shares, "n": int(pop.size)}


def measure(plan: LoadPlan, items: Iterable[dict[str, Any]], run_id: int, t0: float) -> dict[str, Any]:
    """Measured first responses of the population from the endpoint's records.

    ``items`` are ``/stats/first_responses`` entries (``first_tweet_id``, ``seconds`` real,
    ``first_response_at`` epoch); ``t0`` is the epoch of the window start. Only responses given
    by the window's end count (as in :func:`predict`). Returns ``first_response_s`` (simulated seconds) and ``met`` (count within the SLA, out of
    ``n``; unanswered conversations count as missed, as abandoned ones do in the model).
    """
    pop = set(population(plan).tolist())
    frt = {}
    for item in items:
        parsed = parse_tweet_id(item.get("first_tweet_id"), run_id)
        if parsed is None or parsed[1] != 0 or parsed[0] not in pop or item.get("seconds") is None:
            continue
        at = item.get("first_response_at")
        if at is not None and plan.start + (float(at) - t0) * plan.speedup > plan.end:
            continue
        frt[parsed[0]] = float(item["seconds"]) * plan.speedup
    values = np.asarray(sorted(frt.values()), dtype=float)
    met = int(np.sum(values <= plan.scenario.sla.within))
    return {"first_response_s": values, "met": met, "n": len(pop)}


def compare(plan: LoadPlan, predicted: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    """Side-by-side summary and the agreement verdict on SLA attainment.

    Tolerance = ``SLA_Z`` x sigma, sigma the standard error of measured - predicted from
    sampling alone: sigma^2 = se_run^2 + sd^2 / R. ``se_run``, the measured run's own error, is
    the binomial standard error sqrt(p(1-p)/n) of an attainment over the n judged conversations
    (p the predicted attainment: its value if the two agree), but not less than ``sd``, the
    model's between-replication standard deviation (same arrivals, new service draws: the
    randomness separating one run from another, which can exceed the binomial error because
    queueing correlates the conversations' outcomes); ``sd / sqrt(R)`` is the prediction's
    own error (the mean of R replications).
    """
    n = predicted["n"]
    shares = np.asarray(predicted["shares"], dtype=float)
    p_pred = float(np.mean(shares)) if shares.size else math.nan
    p_meas = measured["met"] / measured["n"] if measured["n"] else math.nan

    def side(frt: np.ndarray, share: float, count: int) -> dict[str, Any]:
        return {"sla_attainment": share, "first_response_p50_s": float(np.percentile(frt, 50)) if frt.size else None,
                "first_response_p90_s": float(np.percentile(frt, 90)) if frt.size else None, "n": count,
                "answered": int(frt.size)}

    pred = side(predicted["first_response_s"], p_pred, n)
    meas = side(measured["first_response_s"], p_meas, measured["n"])
    sd_rep = float(np.std(shares, ddof=1)) if shares.size > 1 else 0.0
    binom = math.sqrt(p_pred * (1 - p_pred) / n) if n and 0 <= p_pred <= 1 else math.nan
    se_run = max(binom, sd_rep)
    se_pred = sd_rep / math.sqrt(max(shares.size, 1))
    sigma = math.sqrt(se_run**2 + se_pred**2)
    tol = SLA_Z * sigma

    def diff(key: str) -> float | None:
        a, b = meas[key], pred[key]
        return None if a is None or b is None or (isinstance(a, float) and math.isnan(a)) else float(a - b)

    gap = diff("sla_attainment")
    return {
        "predicted": pred, "measured": meas,
        "difference": {k: diff(k) for k in ("sla_attainment", "first_response_p50_s", "first_response_p90_s")},
        "tolerance": {"sla_attainment": tol, "z": SLA_Z, "sigma": sigma, "sd_replications": sd_rep,
                      "binomial_se": binom, "measured_se": se_run, "predicted_se": se_pred,
                      "replications": int(shares.size)},
        "agree": gap is not None and abs(gap) <= tol,
        "sla_within_s": plan.scenario.sla.within,
        "speedup": plan.speedup,
    }


def evaluate_gates(plan: LoadPlan, metrics: dict[str, float]) -> list[dict[str, Any]]:
    """Check each ``[loadtest].gates`` entry against ``metrics``; NaN/missing fails."""
    out = []
    for g in plan.scenario.loadtest.gates:
        actual = metrics.get(g.metric)
        ok = actual is not None and not math.isnan(actual) and bool(_OPS[g.op](actual, g.value))
        out.append({"metric": g.metric, "op": g.op, "value": g.value, "actual": actual, "passed": ok})
    return out


def timeline(rec: Records, plan: LoadPlan, t0: float, step: float = 1.0) -> list[dict[str, Any]]:
    """Rows of ``timeline.csv``: per ``step`` real seconds since ``t0``, intended and achieved
    tweet rates (per second), latency percentiles (all requests and per endpoint) and p95 lag."""
    rel = rec.start - t0
    last = max(float(np.nanmax(rel)) if rel.size else 0.0, plan.duration)
    edges = np.arange(0.0, last + step, step)
    names = sorted(set(rec.name.tolist()))
    intended_at = plan.real_times
    lag = rec.start - rec.intended
    sched = np.isin(rec.what, SCHEDULED)
    rows = []
    for a in edges[:-1]:
        b = a + step
        inb = (rel >= a) & (rel < b)
        row: dict[str, Any] = {
            "t_s": a,
            "intended_rate": float(np.sum((intended_at >= a) & (intended_at < b))) / step,
            "achieved_rate": float(np.sum(inb & (rec.what == "tweet"))) / step,
        }
        p = percentiles(rec.latency_ms[inb])
        row.update({"p50_ms": p["p50"], "p95_ms": p["p95"], "p99_ms": p["p99"]})
        for n in names:
            q = percentiles(rec.latency_ms[inb & (rec.name == n)])
            row.update({f"{n}_p50_ms": q["p50"], f"{n}_p95_ms": q["p95"], f"{n}_p99_ms": q["p99"]})
        lb = lag[inb & sched]
        row["schedule_lag_s"] = float(np.percentile(lb, 95)) if lb.size else None
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Write dict rows; ``None``/NaN become empty cells (docs/outputs.md)."""
    columns = list(columns or (rows[0].keys() if rows else []))
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for row in rows:
            w.writerow(["" if (v := row.get(c)) is None or (isinstance(v, float) and math.isnan(v)) else v
                        for c in columns])


def format_comparison(cmp: dict[str, Any]) -> str:
    """Predicted and measured side by side, in simulated seconds."""
    p, m, d = cmp["predicted"], cmp["measured"], cmp["difference"]

    def f(v: Any, pct: bool = False) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        return f"{v:.1%}" if pct else f"{v:,.0f}"

    lines = [
        f"predicted vs measured (simulated seconds; SLA {cmp['sla_within_s']:g} s, speedup {cmp['speedup']:g})",
        f"  {'':22}{'predicted':>12}{'measured':>12}{'difference':>12}",
        f"  {'SLA attainment':22}{f(p['sla_attainment'], True):>12}{f(m['sla_attainment'], True):>12}"
        f"{f(d['sla_attainment'], True):>12}",
        f"  {'first response p50 s':22}{f(p['first_response_p50_s']):>12}{f(m['first_response_p50_s']):>12}"
        f"{f(d['first_response_p50_s']):>12}",
        f"  {'first response p90 s':22}{f(p['first_response_p90_s']):>12}{f(m['first_response_p90_s']):>12}"
        f"{f(d['first_response_p90_s']):>12}",
        f"  {'conversations (n)':22}{p['n']:>12}{m['n']:>12}",
        f"  agreement: |difference| {'<=' if cmp['agree'] else '>'} tolerance "
        f"{cmp['tolerance']['sla_attainment']:.1%} -> {'agree' if cmp['agree'] else 'DISAGREE'}",
    ]
    return "\n".join(lines)


def quick_summary(rows: list[tuple[Any, ...]], setup: Any, plan: LoadPlan | None, cpu: Sequence[float]) -> str:
    """One paragraph for a Locust process's own output: rates, lag, saturation warning."""
    if setup is None or plan is None:
        return "chirpdesk: no run"
    rec = Records.from_rows(rows)
    share = len(plan.share(setup.index, setup.count)) / max(len(plan.schedule), 1)
    g = generator_stats(rec, plan, setup.t0, cpu, 0.25)
    intended = g["intended_rate"] * share
    lag = g["schedule_lag_s"]
    text = (f"chirpdesk: process {setup.index + 1}/{setup.count}: sent {g['tweets_sent']} tweets, "
            f"{g['achieved_rate']:.1f}/s of {intended:.1f}/s intended; schedule lag p50 "
            f"{(lag['p50'] or 0) * 1000:.1f} ms, p95 {(lag['p95'] or 0) * 1000:.1f} ms")
    if g["generator_saturated"]:
        text += "\nchirpdesk: WARNING: load generator saturated: " + "; ".join(g["saturation_reasons"])
    return text
