"""From records to numbers: per-replication metrics, confidence intervals, interval tables.

Pure functions over :class:`~chirpdesk.sim.model.RunRecords`; nothing here touches the simulation. Only
conversations arriving in the measurement window ``[warmup, horizon)`` count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from chirpdesk.sim.calendar import scheduled_agent_seconds
from chirpdesk.sim.histogram import TimeHistogram
from chirpdesk.sim.model import (
    ABANDONED,
    DEFLECTED,
    OPEN,
    OUTCOMES,
    RESOLVED_PUBLIC,
    TARGET_CODE,
    RunRecords,
)
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.vocabulary import ESCALATION_TARGETS, HANDLES, PRIORITY_CLASSES, URGENT_KINDS

#: Metric names in summary.json, in display order, with their units.
METRIC_UNITS: dict[str, str] = {
    "tweets": "tweets",
    "tweets_per_hour": "tweets/h",
    "needs_reply": "tweets",
    "deflected_share": "share",
    "answered_share": "share",
    "abandoned_share": "share",
    "abandoned_after_pickup_share": "share",
    "unanswered_share": "share",
    "p_wait": "share",
    "wait_mean_s": "s",
    "wait_p90_s": "s",
    "first_response_mean_s": "s",
    "first_response_p50_s": "s",
    "first_response_p90_s": "s",
    "first_response_p95_s": "s",
    "sla_attainment": "share",
    "service_level_pickup": "share",
    "auto_replied_share": "share",
    "escalated_share": "share",
    **{f"escalated_{t}_share": "share" for t in ESCALATION_TARGETS},
    "resolved_in_public_share": "share",
    "turns_mean": "turns",
    "followup_visits_per_hour": "visits/h",
    "followup_wait_mean_s": "s",
    "resolution_time_mean_s": "s",
    "tier2_wait_mean_s": "s",
    "queue_mean": "tweets",
    "occupancy": "share",
    "agent_hours": "h",
    "cost_total": "money",
    "cost_per_conversation": "money",
}


def _nanmean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else math.nan


def _share(num: float, den: float) -> float:
    return num / den if den else math.nan


def _window(arrival: np.ndarray, w0: float, w1: float) -> slice | np.ndarray:
    """Index of the tweets arriving in [w0, w1): a slice when arrivals are in time order.

    The model's records always are, and slicing gives views: the metrics then copy no column
    (a year of tweets is ~6 MB per float column) and skip a full boolean pass per column.
    """
    if arrival.size < 2 or bool(np.all(arrival[1:] >= arrival[:-1])):
        lo, hi = np.searchsorted(arrival, [w0, w1], side="left")
        return slice(int(lo), int(hi))
    return (arrival >= w0) & (arrival < w1)


def replication_metrics(scenario: Scenario, rec: RunRecords) -> dict[str, float]:
    """Compute every metric of :data:`METRIC_UNITS` for one replication (times in seconds)."""
    sc, c = scenario, rec.conversations
    w0, w1 = sc.meta.warmup, sc.meta.horizon
    window = _window(c["arrival"], w0, w1)
    out = c["outcome"][window]
    arrival = c["arrival"][window]
    needs = c["needs_reply"][window] & (out != DEFLECTED)
    deflected = int(np.sum(out == DEFLECTED))
    n_needs = int(needs.sum())
    answered = needs & ~np.isnan(c["first_response"][window])
    abandoned = needs & (out == ABANDONED)
    # Served: picked up and not abandoned (with patience_until = first_response a customer may
    # leave while the agent writes the first reply; that conversation counts as abandoned).
    picked_up = needs & ~np.isnan(c["pickup"][window])
    picked = picked_up & ~abandoned
    wait = (c["pickup"][window] - arrival)[picked]
    frt = (c["first_response"][window] - arrival)[answered]
    basis = frt if sc.sla.basis == "first_response" else wait
    met = int(np.sum(basis <= sc.sla.within))
    # Finished: an outcome and an end time (a hand-off still being written at the stop has neither).
    resolved = answered & (out != OPEN) & ~np.isnan(c["end"][window])
    n_resolved = int(resolved.sum())
    esc = {t: int(np.sum(resolved & (out == TARGET_CODE[t]))) for t in ESCALATION_TARGETS}
    hours = (w1 - w0) / 3600.0

    agent_s = scheduled_agent_seconds(sc, w0, w1)
    tier2 = sc.agents.tier2
    cost = agent_s / 3600.0 * sc.cost.agent_hour
    if tier2 is not None:
        cost += tier2.count * (w1 - w0) / 3600.0 * sc.cost.tier2_hour
    cost += sum(esc[t] * sc.cost.escalation.get(t, 0.0) for t in ESCALATION_TARGETS)

    iv = rec.intervals
    area = {k: np.interp([w0, w1], iv["time"], iv[k]) for k in ("queue_area", "busy_area", "staffed_area")}
    t2 = c["tier2_start"][window] - c["end"][window]
    t2 = t2[~np.isnan(t2)]
    res_time = (c["end"][window] - arrival)[resolved]

    m = {
        "tweets": float(arrival.size),
        "tweets_per_hour": float(arrival.size) / hours,
        "needs_reply": float(n_needs),
        "deflected_share": _share(deflected, int(np.sum(c["needs_reply"][window]))),
        "answered_share": _share(int(answered.sum()), n_needs),
        "abandoned_share": _share(int(abandoned.sum()), n_needs),
        "abandoned_after_pickup_share": _share(int(np.sum(abandoned & picked_up)), n_needs),
        "unanswered_share": _share(n_needs - int(answered.sum()) - int(abandoned.sum()), n_needs),
        "p_wait": _share(int(np.sum(wait > 1e-9)) + int(abandoned.sum()), int(picked.sum()) + int(abandoned.sum())),
        "wait_mean_s": _nanmean(wait),
        "wait_p90_s": float(np.percentile(wait, 90)) if wait.size else math.nan,
        "first_response_mean_s": _nanmean(frt),
        "first_response_p50_s": float(np.percentile(frt, 50)) if frt.size else math.nan,
        "first_response_p90_s": float(np.percentile(frt, 90)) if frt.size else math.nan,
        "first_response_p95_s": float(np.percentile(frt, 95)) if frt.size else math.nan,
        "sla_attainment": _share(met, n_needs),
        "service_level_pickup": _share(int(np.sum(wait <= sc.sla.within)), n_needs),
        "auto_replied_share": _share(int(np.sum(c["auto_replied"][window] & needs)), n_needs),
        "escalated_share": _share(sum(esc.values()), n_resolved),
        **{f"escalated_{t}_share": _share(esc[t], n_resolved) for t in ESCALATION_TARGETS},
        "resolved_in_public_share": _share(int(np.sum(resolved & (out == RESOLVED_PUBLIC))), n_resolved),
        "turns_mean": _nanmean(c["turns"][window][answered].astype(float)),
        # Follow-ups queue again (each a visit of its own): with these, Little's law over the
        # queue is queue_mean = needs_reply/T x (time first contacts queue) + visits/T x wait.
        "followup_visits_per_hour": float(np.sum(c["followup_visits"][window])) / hours,
        "followup_wait_mean_s": _share(float(np.sum(c["followup_wait"][window])),
                                       float(np.sum(c["followup_visits"][window]))),
        "resolution_time_mean_s": _nanmean(res_time),
        "tier2_wait_mean_s": _nanmean(t2),
        "queue_mean": float(np.diff(area["queue_area"])[0]) / (w1 - w0),
        "occupancy": _share(float(np.diff(area["busy_area"])[0]), float(np.diff(area["staffed_area"])[0])),
        "agent_hours": agent_s / 3600.0,
        "cost_total": cost,
        "cost_per_conversation": _share(cost, n_needs),
    }
    return m


def confidence_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval of independent replication values.

    Returns ``(mean, low, high)``; with fewer than two finite values the bounds are NaN.
    """
    x = np.asarray([v for v in values if v == v], dtype=float)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def metric_interval(name: str, values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """:func:`confidence_interval` of metric ``name``, intersected with the metric's range.

    Every metric is non-negative and shares are at most 1; a symmetric t interval from few
    replications can cross those limits, and cutting it there loses no coverage.
    """
    mean, lo, hi = confidence_interval(values, level)
    top = 1.0 if METRIC_UNITS.get(name) == "share" else math.inf
    return mean, min(max(lo, 0.0), top) if lo == lo else lo, min(max(hi, 0.0), top) if hi == hi else hi


def summarise(per_replication: Sequence[dict[str, float]], level: float = 0.95) -> dict[str, dict[str, float]]:
    """Aggregate replication metrics into ``{name: {"mean", "ci_low", "ci_high"}}``."""
    out = {}
    for name in METRIC_UNITS:
        mean, lo, hi = metric_interval(name, [m[name] for m in per_replication], level)
        out[name] = {"mean": mean, "ci_low": lo, "ci_high": hi}
    return out


def interval_table(scenario: Scenario, rec: RunRecords) -> dict[str, np.ndarray]:
    """Per-interval columns over [0, horizon): arrivals, answered, abandoned, queue, staff, FRT.

    ``start`` is seconds from the scenario start; ``queue_mean``, ``busy_slots`` and
    ``staffed_slots`` are time averages over the interval; ``queue_end`` and ``agents`` are the
    values at its start boundary snapshot; first-response percentiles are over tweets arriving in
    the interval (NaN where none was answered).
    """
    c = rec.conversations
    # Rows at interval boundaries only (the model also snapshots at the end of the warm-up).
    on_grid = rec.intervals["boundary"] > 0
    iv = {k: v[on_grid] for k, v in rec.intervals.items()}
    edges = iv["time"]
    if edges.size < 2:
        edges = np.array([0.0, scenario.meta.horizon])
    starts, widths = edges[:-1], np.diff(edges)
    n = starts.size
    idx = np.searchsorted(edges, c["arrival"], side="right") - 1
    ok = (idx >= 0) & (idx < n)
    needs = c["needs_reply"] & (c["outcome"] != DEFLECTED)
    frt = c["first_response"] - c["arrival"]
    answered = ~np.isnan(frt)
    ans_idx = np.searchsorted(edges, c["first_response"], side="right") - 1

    def count(mask: np.ndarray, where: np.ndarray = idx) -> np.ndarray:
        sel = mask & (where >= 0) & (where < n)
        return np.bincount(where[sel], minlength=n)[:n].astype(float)

    sel = ok & answered & needs
    p50, p90 = grouped_percentiles(idx[sel], frt[sel], n, (50.0, 90.0))
    basis = frt if scenario.sla.basis == "first_response" else c["pickup"] - c["arrival"]
    met = count(ok & needs & answered & (basis <= scenario.sla.within))
    needing = count(ok & needs)
    with np.errstate(invalid="ignore", divide="ignore"):
        sla = np.where(needing > 0, met / needing, math.nan)
    return {
        "start": starts,
        "arrivals": count(np.ones(idx.size, bool)),
        "needs_reply": needing,
        "answered": count(answered & needs, ans_idx),
        "abandoned": count((c["outcome"] == ABANDONED), np.searchsorted(edges, c["end"], side="right") - 1),
        "queue_mean": np.diff(iv["queue_area"]) / widths if edges.size == iv["time"].size else np.zeros(n),
        "queue_end": iv["queue"][1:] if edges.size == iv["time"].size else np.zeros(n),
        "agents": iv["agents"][:-1] if edges.size == iv["time"].size else np.zeros(n),
        "busy_slots": np.diff(iv["busy_area"]) / widths if edges.size == iv["time"].size else np.zeros(n),
        "staffed_slots": np.diff(iv["staffed_area"]) / widths if edges.size == iv["time"].size else np.zeros(n),
        "open": iv["open"][:-1] if edges.size == iv["time"].size else np.ones(n),
        "first_response_p50_s": p50,
        "first_response_p90_s": p90,
        "sla_attainment": sla,
    }


def response_histograms(scenario: Scenario, rec: RunRecords) -> dict[str, TimeHistogram]:
    """Histograms of the window's tweets needing a reply (deflected ones excluded), on the grid
    of the scenario's SLA time: ``first_response_s`` (arrival to first reply, answered tweets)
    and ``wait_s`` (arrival to pick-up, served tweets: picked up and not abandoned), each out of
    every tweet needing a reply. Their ``met`` counts are the ones ``sla_attainment`` uses for
    the scenario's basis."""
    sc, c = scenario, rec.conversations
    window = _window(c["arrival"], sc.meta.warmup, sc.meta.horizon)
    out = c["outcome"][window]
    arrival = c["arrival"][window]
    needs = c["needs_reply"][window] & (out != DEFLECTED)
    n = int(needs.sum())
    frt = (c["first_response"][window] - arrival)[needs]
    served = needs & ~np.isnan(c["pickup"][window]) & (out != ABANDONED)
    wait = (c["pickup"][window] - arrival)[served]
    return {"first_response_s": TimeHistogram.of(frt, n, sc.sla.within),
            "wait_s": TimeHistogram.of(wait, n, sc.sla.within)}


def pool_histograms(per_replication: Sequence[dict[str, TimeHistogram]]) -> dict[str, TimeHistogram]:
    """Add replications' :func:`response_histograms` bin by bin."""
    pooled: dict[str, TimeHistogram] = {}
    for hists in per_replication:
        for name, h in hists.items():
            pooled[name] = pooled[name] + h if name in pooled else h
    return pooled


def grouped_percentiles(groups: np.ndarray, values: np.ndarray, n: int,
                        qs: Sequence[float]) -> list[np.ndarray]:
    """Percentiles ``qs`` of ``values`` within each group ``0..n-1`` (NaN for empty groups).

    Equal, bit for bit, to ``np.percentile(values[groups == j], q)`` (the default ``linear``
    method) for every group ``j``, but with one sort for all groups instead of a Python loop
    over them: a year of hourly intervals is 8,760 groups.
    """
    groups = np.asarray(groups, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    order = np.lexsort((values, groups))  # by group, then by value
    v = values[order]
    counts = np.bincount(groups, minlength=n)[:n]
    starts = np.cumsum(counts) - counts
    has = counts > 0
    out = []
    for q in qs:
        res = np.full(n, math.nan)
        cnt, st = counts[has], starts[has]
        # numpy's linear method: virtual index (n - 1) * q, then _lerp between its neighbours.
        virtual = (cnt - 1) * (q / 100.0)
        below = np.floor(virtual)
        gamma = virtual - below
        lo = below.astype(np.int64)
        hi = np.minimum(lo + 1, cnt - 1)
        a, b = v[st + lo], v[st + hi]
        diff = b - a
        val = a + diff * gamma
        upper = gamma >= 0.5
        val[upper] = (b - diff * (1 - gamma))[upper]
        res[has] = val
        out.append(res)
    return out


def outcome_names(codes: np.ndarray) -> np.ndarray:
    """Map outcome codes to their names (see :data:`chirpdesk.sim.model.OUTCOMES`)."""
    return np.asarray(OUTCOMES, dtype=object)[codes]


# -- results by group ---------------------------------------------------------------------------

#: Metrics computed for each group (see :func:`group_metrics`), with their units.
GROUP_METRICS: dict[str, str] = {
    "needs_reply": "tweets",
    "wait_mean_s": "s",
    "wait_p90_s": "s",
    "first_response_p50_s": "s",
    "first_response_p90_s": "s",
    "sla_attainment": "share",
    "abandoned_share": "share",
}
#: The groupings: the triage class the desk gives a tweet (as ``influencer_fail`` ranks them,
#: whatever the scenario's own rule), the tweet's kind, and the handle it reached.
GROUPINGS: tuple[str, ...] = ("class", "kind", "handle")


def _classes(sc: Scenario, c: dict[str, np.ndarray], kinds: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    urgent = np.isin(c["kind"], [kinds.index(k) for k in URGENT_KINDS if k in kinds]) | c["fail"].astype(bool)
    influencer = c["followers"] >= sc.mix.influencer_followers
    code = np.where(urgent, 0, np.where(influencer, 1, 2))
    return code, PRIORITY_CLASSES


def group_metrics(scenario: Scenario, rec: RunRecords) -> dict[str, float]:
    """:data:`GROUP_METRICS` of each group of :data:`GROUPINGS`, keyed ``"grouping/group/metric"``
    (e.g. ``"kind/complaint/first_response_p90_s"``), for tweets arriving in the window.

    Waits count from arrival to the first pick-up (served tweets), first responses from arrival
    to the first reply posted, SLA on the scenario's basis over the group's tweets that need a
    reply, abandonment over the same; a group with no tweet needing a reply is left out.
    """
    sc, c = scenario, rec.conversations
    w0, w1 = sc.meta.warmup, sc.meta.horizon
    window = _window(c["arrival"], w0, w1)
    cw = {k: c[k][window] for k in ("arrival", "outcome", "needs_reply", "pickup", "first_response", "kind",
                                      "fail", "followers", "marketing")}
    needs = cw["needs_reply"] & (cw["outcome"] != DEFLECTED)
    abandoned = cw["outcome"] == ABANDONED
    wait = cw["pickup"] - cw["arrival"]
    frt = cw["first_response"] - cw["arrival"]
    basis = frt if sc.sla.basis == "first_response" else wait
    class_code, class_names = _classes(sc, cw, rec.kinds)
    codes = {
        "class": (class_code, class_names),
        "kind": (cw["kind"], rec.kinds),
        "handle": (cw["marketing"].astype(np.int8), HANDLES),
    }
    out: dict[str, float] = {}
    for grouping, (code, names) in codes.items():
        for index, name in enumerate(names):
            member = needs & (code == index)
            n = int(member.sum())
            if not n:
                continue
            served = member & ~np.isnan(cw["pickup"]) & ~abandoned
            answered = member & ~np.isnan(cw["first_response"])
            w, f = wait[served], frt[answered]
            values = {
                "needs_reply": float(n),
                "wait_mean_s": _nanmean(w),
                "wait_p90_s": float(np.percentile(w, 90)) if w.size else math.nan,
                "first_response_p50_s": float(np.percentile(f, 50)) if f.size else math.nan,
                "first_response_p90_s": float(np.percentile(f, 90)) if f.size else math.nan,
                "sla_attainment": _share(int(np.sum(basis[answered if sc.sla.basis == "first_response" else served]
                                                    <= sc.sla.within)), n),
                "abandoned_share": _share(int(np.sum(member & abandoned)), n),
            }
            for metric, value in values.items():
                out[f"{grouping}/{name}/{metric}"] = value
    return out


def summarise_groups(per_replication: Sequence[dict[str, float]], level: float = 0.95) -> dict[str, Any]:
    """Group metrics across replications: ``{grouping: {group: {metric: {"mean", "ci_low",
    "ci_high"}}}}`` (95% Student-t, as :func:`summarise`; a group missing from a replication
    counts as no value there)."""
    keys = sorted({k for m in per_replication for k in m}, key=lambda k: k.split("/"))
    out: dict[str, Any] = {}
    for key in keys:
        grouping, group, metric = key.split("/")
        values = [m.get(key, math.nan) for m in per_replication]
        mean, lo, hi = confidence_interval(values, level)
        if GROUP_METRICS[metric] == "share" and lo == lo:
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        if lo == lo:
            lo = max(lo, 0.0)
        out.setdefault(grouping, {}).setdefault(group, {})[metric] = {"mean": mean, "ci_low": lo, "ci_high": hi}
    return out
