"""From a brand's tweet history to what its desk does today, and to a scenario that starts there.

Definitions (docs/calibration.md; ``tests/test_calibrate.py`` pins them):

- a **thread** is the tree of replies under a root tweet (a tweet that answers no tweet of the
  history, or whose parent is missing from it: a thread cut at the file's edge, counted). It is
  the brand's when a brand tweet is in it, or, with none, when the root mentions ``@brand``;
- a **reply pair** is a customer's tweet and the brand's *earliest* tweet answering it; its
  **response time** is the difference of their ``created_at``. A thread's **first response**
  is the reply pair of its root;
- **turns** are the customer tweets in a thread; a thread is **moved to DM** when a brand reply
  in it asks for a private channel (:data:`chirpdesk.sim.vocabulary.DM_REQUEST_WORDS`);
- **volume** is the threads started per hour of the week (Monday 00:00 first, UTC), averaged
  over the weeks of the window.

Every figure comes with a 95% interval where one exists: exact Poisson for the arrival rate,
Clopper-Pearson for shares, distribution-free order statistics for percentiles, Student t for
means. Nothing here can see agents' other work or conversations that were private from the
start; calibration.json says so.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.history import History

#: The seeds' expectation: a reply within about 10 minutes.
TEN_MINUTES = 600.0
#: Fewest threads from which a brand is calibrated.
MIN_THREADS = 30
WEEK = 7 * 86400.0
#: 1970-01-01 was a Thursday: shift epoch seconds so that hour-of-week 0 is Monday 00:00 UTC.
_MONDAY_OFFSET = 3 * 86400.0

#: What tweets cannot tell, written into calibration.json.
UNKNOWABLE = (
    "agents' other work (email, phone, DMs handled elsewhere) and how many agents were on: the "
    "history shows answers, not the people writing them",
    "conversations that were private from the start (DMs) and replies sent outside the export",
    "how long a reply took to write: a response time is queueing plus writing; the scenario keeps "
    "the template's compose time",
    "customers' patience: an unanswered tweet may have been abandoned or simply ignored",
)


@dataclass(frozen=True)
class Calibration:
    """The result: ``summary`` (calibration.json's document), the hour-of-week volume (168
    values, threads per hour), and the samples the report draws."""

    summary: dict[str, Any]
    volume: np.ndarray
    first_response_s: np.ndarray
    turns: np.ndarray
    brand_replies: np.ndarray


def brands(h: History) -> Counter[str]:
    """Brands of a history and their tweet counts: the authors of outbound tweets."""
    counts = np.bincount(h.author[~h.inbound], minlength=h.names.size)
    return Counter({str(h.names[c]): int(counts[c]) for c in np.flatnonzero(counts)})


def poisson_interval(count: int, exposure: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson rate: ``count`` events over ``exposure``."""
    a = (1 - level) / 2
    lo = 0.0 if count == 0 else stats.chi2.ppf(a, 2 * count) / 2
    hi = stats.chi2.ppf(1 - a, 2 * count + 2) / 2
    return float(lo / exposure), float(hi / exposure)


def share_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of a share ``k / n`` (NaN for ``n = 0``)."""
    if n == 0:
        return math.nan, math.nan
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def quantile_interval(values: np.ndarray, q: float, level: float = 0.95) -> tuple[float, float, float]:
    """The ``q`` quantile of ``values`` and its distribution-free interval (order statistics
    whose ranks are the binomial(n, q) quantiles)."""
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    a = (1 - level) / 2
    lo_rank = int(stats.binom.ppf(a, n, q))
    hi_rank = int(stats.binom.ppf(1 - a, n, q))
    est = float(np.quantile(x, q))
    lo = float(x[max(lo_rank - 1, 0)]) if lo_rank >= 1 else math.nan
    hi = float(x[hi_rank]) if hi_rank < n else math.nan
    return est, lo, hi


def mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return (float(x.mean()) if x.size else math.nan), math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return float(x.mean()), float(x.mean()) - half, float(x.mean()) + half


def _fitted(est: float, lo: float, hi: float) -> dict[str, float]:
    return {"value": est, "ci_low": lo, "ci_high": hi}


def _roots(parent_row: np.ndarray) -> np.ndarray:
    """The root row of each row (pointer doubling: O(n log depth))."""
    root = np.where(parent_row >= 0, parent_row, np.arange(parent_row.size))
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt


def calibrate(h: History, brand: str | None = None, since: float | None = None,
              until: float | None = None) -> Calibration:
    """Measure ``brand`` (default: the brand with most tweets) in history ``h``, for threads
    started in ``[since, until)`` (epoch seconds, default all). Raises
    :class:`ChirpdeskError` when the brand is unknown or has too few threads (saying how many
    are needed)."""
    if h.format == "x-v2":
        h = _settle_x_v2(h, brand)
    counts = brands(h)
    if not counts:
        raise ChirpdeskError(f"{h.source}: no brand tweets found (no outbound tweets), so no brand to calibrate")
    if brand is None:
        brand = counts.most_common(1)[0][0]
    elif brand not in counts:
        by_lower = {b.lower(): b for b in counts}
        if brand.lower().lstrip("@") not in by_lower:
            top = ", ".join(f"{b} ({n})" for b, n in counts.most_common(10))
            raise ChirpdeskError(f"--brand: {brand!r} has no tweets in {h.source}; brands with most tweets: {top}")
        brand = by_lower[brand.lower().lstrip("@")]

    n = len(h)
    pos = np.searchsorted(h.tweet_id, h.parent)
    pos = np.minimum(pos, max(n - 1, 0))
    found = (h.parent >= 0) & (n > 0) & (h.tweet_id[pos] == h.parent) if n else np.zeros(0, bool)
    parent_row = np.where(found, pos, -1)
    missing_parent = int(np.sum((h.parent >= 0) & ~found))
    root = _roots(parent_row) if n else np.zeros(0, np.int64)

    mine = (~h.inbound) & (h.author == h.code(brand))
    brand_roots = np.unique(root[mine])
    has_brand = np.zeros(n, bool)
    has_brand[brand_roots] = True
    any_brand_roots = np.unique(root[~h.inbound])
    touched = np.zeros(n, bool)
    touched[any_brand_roots] = True
    # Threads no brand answered belong to the brand they mention at the root.
    is_root = root == np.arange(n)
    silent = is_root & h.inbound & ~touched
    addressed = h.mention_code("brand") if h.format == "desk" else h.mention_code(brand)
    thread_root = has_brand & is_root & h.inbound
    if addressed >= 0:
        thread_root |= silent & (h.mention == addressed)
    if since is not None:
        thread_root &= h.created >= since
    if until is not None:
        thread_root &= h.created < until
    roots = np.flatnonzero(thread_root)
    if roots.size < MIN_THREADS:
        raise ChirpdeskError(f"{brand}: {roots.size} threads in the window, at least {MIN_THREADS} are needed "
                             "to calibrate (widen --since/--until or choose a brand with more history)")
    in_thread = thread_root[root]
    customer = in_thread & h.inbound
    # Reply pairs: the brand's earliest tweet answering each customer tweet.
    replies = np.flatnonzero(mine & in_thread & (parent_row >= 0))
    replies = replies[h.inbound[parent_row[replies]]]
    parents = parent_row[replies]
    dt = h.created[replies] - h.created[parents]
    negative = dt < 0
    order = np.lexsort((dt, parents))
    parents_sorted, dt_sorted = parents[order], dt[order]
    first = np.ones(parents_sorted.size, bool)
    first[1:] = parents_sorted[1:] != parents_sorted[:-1]
    pair_parent, pair_dt = parents_sorted[first], dt_sorted[first]
    keep = pair_dt >= 0
    pair_parent, pair_dt = pair_parent[keep], pair_dt[keep]
    answered_rows = np.zeros(n, bool)
    answered_rows[pair_parent] = True
    root_response = np.full(n, math.nan)
    root_response[pair_parent] = pair_dt
    frt = root_response[roots]
    answered_roots = ~np.isnan(frt)
    frt_answered = frt[answered_roots]
    # Turns and DM moves per thread.
    root_index = np.full(n, -1)
    root_index[roots] = np.arange(roots.size)
    turns = np.bincount(root_index[root[customer]], minlength=roots.size)
    brand_replies = np.bincount(root_index[root[mine & in_thread]], minlength=roots.size)
    mine_rows = np.flatnonzero(mine & in_thread)
    asks_dm = h.asks_dm[mine_rows]
    dm_threads = np.zeros(roots.size, bool)
    dm_threads[root_index[root[mine_rows[asks_dm]]]] = True

    created = h.created[roots]
    start, end = float(created.min()), float(created.max())
    span = max(end - start, 3600.0)
    hours = span / 3600.0
    volume = hour_of_week_rate(created, start, end)
    n_roots = int(roots.size)
    n_customer = int(customer.sum())
    answered_customer = int(np.sum(answered_rows & customer))
    within = int(np.sum(frt_answered <= TEN_MINUTES))
    rate_lo, rate_hi = poisson_interval(n_roots, hours)
    p50 = quantile_interval(frt_answered, 0.5)
    p90 = quantile_interval(frt_answered, 0.9)
    tm = mean_interval(turns.astype(float))
    answered_threads = int(answered_roots.sum())
    dm_k = int(np.sum(dm_threads & answered_roots))
    rr_lo, rr_hi = share_interval(answered_customer, n_customer)
    w_lo, w_hi = share_interval(within, n_roots)
    dm_lo, dm_hi = share_interval(dm_k, answered_threads)
    rejected = dict(h.rejected)
    if missing_parent:
        rejected["reply whose parent is not in the history (kept as a thread root: cut at the edge)"] = missing_parent
    if int(negative.sum()):
        rejected["brand reply dated before the tweet it answers (left out of reply pairs)"] = int(negative.sum())
    summary: dict[str, Any] = {
        "kind": "calibrate",
        "source": h.source,
        "format": h.format,
        "brand": brand,
        "brands": dict(counts.most_common(20)),
        "rows_read": h.rows_read,
        "rows_used": len(h),
        "rows_rejected": rejected,
        "threads": n_roots,
        "reply_pairs": int(pair_dt.size),
        "customer_tweets": n_customer,
        "response_rate": answered_customer / n_customer if n_customer else math.nan,
        "response_rate_ci": [rr_lo, rr_hi],
        "first_response_p50_s": p50[0],
        "first_response_p50_ci": [p50[1], p50[2]],
        "first_response_p90_s": p90[0],
        "first_response_p90_ci": [p90[1], p90[2]],
        "answered_within_10m_share": within / n_roots,
        "answered_within_10m_ci": [w_lo, w_hi],
        "turns_mean": tm[0],
        "turns_mean_ci": [tm[1], tm[2]],
        "dm_share": dm_k / answered_threads if answered_threads else math.nan,
        "dm_share_ci": [dm_lo, dm_hi],
        "window_start": start,
        "window_end": end,
        "window_start_iso": _iso(start),
        "window_end_iso": _iso(end),
        "fitted": {
            "arrivals.base_rate_per_hour": _fitted(n_roots / hours, rate_lo, rate_hi),
            "mix.private_share": _fitted(dm_k / answered_threads if answered_threads else math.nan, dm_lo, dm_hi),
            "handling.turns_mean": _fitted(*mean_interval(brand_replies[answered_roots].astype(float))),
        },
        "cannot_be_known": list(UNKNOWABLE),
    }
    return Calibration(summary, volume, frt_answered, turns, brand_replies[answered_roots])


def hour_of_week(t: np.ndarray) -> np.ndarray:
    """Hour of the week (0 = Monday 00:00-01:00 UTC ... 167) of epoch seconds ``t``."""
    return ((np.asarray(t, dtype=float) + _MONDAY_OFFSET) % WEEK // 3600).astype(int)


def hour_of_week_rate(times: np.ndarray, start: float, end: float) -> np.ndarray:
    """Events per hour for each hour of the week: the events in that hour-of-week divided by
    how many times the window ``[start, end]`` covers it (0 where never covered)."""
    counts = np.bincount(hour_of_week(times), minlength=168)[:168].astype(float)
    grid = np.arange(math.floor(start / 3600) * 3600.0, end + 1.0, 3600.0)
    exposure = np.bincount(hour_of_week(grid), minlength=168)[:168].astype(float)
    return np.divide(counts, exposure, out=np.zeros(168), where=exposure > 0)


def scenario_document(cal: Calibration, template: dict[str, Any], name: str) -> dict[str, Any]:
    """The scenario (as a TOML table) of a calibration: ``template``'s table (a shipped
    scenario's) with the brand's arrival rate, hour-of-day and day-of-week profiles, share
    moved to DM and turns per thread. Bursts are dropped (the template's are fictional); what
    tweets cannot tell (compose time, patience, staffing) stays the template's."""
    import copy
    import datetime as dt

    doc = copy.deepcopy(template)
    s = cal.summary
    vol = cal.volume.reshape(7, 24)
    mean = float(cal.volume.mean())
    if mean <= 0:
        raise ChirpdeskError(f"{s['brand']}: no volume to build arrivals from")
    diurnal = vol.mean(axis=0) / mean
    weekly = vol.mean(axis=1) / mean
    start = dt.datetime.fromtimestamp(s["window_start"], dt.UTC).replace(tzinfo=None)
    monday = (start - dt.timedelta(days=start.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    meta = doc.setdefault("scenario", {})
    meta["name"] = name
    meta["description"] = (f"Calibrated from {s['threads']} threads of {s['brand']} ({s['window_start_iso']} to "
                           f"{s['window_end_iso']}, {s['source']}): arrival rate and its weekly shape, share moved "
                           "to DM and replies per thread are the brand's; compose time, patience and staff are the "
                           "template's (tweets cannot show them).")
    meta["start"] = monday
    arrivals = doc.setdefault("arrivals", {})
    arrivals["base_rate"] = round(float(s["fitted"]["arrivals.base_rate_per_hour"]["value"]), 4)
    arrivals["diurnal"] = [round(float(x), 4) for x in diurnal]
    arrivals["weekly"] = [round(float(x), 4) for x in weekly]
    arrivals.pop("bursts", None)
    mix = doc.setdefault("mix", {})
    if s["dm_share"] == s["dm_share"]:
        mix["private_share"] = round(float(s["dm_share"]), 4)
        mix.setdefault("private_target", "dm")
    replies = np.clip(cal.brand_replies, 1, 10)
    if replies.size:
        values, counts = np.unique(replies, return_counts=True)
        doc.setdefault("handling", {})["turns"] = {
            "dist": "empirical", "values": [int(v) for v in values],
            "weights": [round(float(c) / replies.size, 6) for c in counts]}
    return doc


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _settle_x_v2(h: History, brand: str | None) -> History:
    """X v2 exports carry no inbound flag: the brand's tweets are its author's. Without
    ``--brand``, the brand is the author who answers others most."""
    if brand is None:
        pos = np.searchsorted(h.tweet_id, h.parent)
        pos = np.minimum(pos, max(len(h) - 1, 0))
        ok = (h.parent >= 0) & (h.tweet_id[pos] == h.parent) if len(h) else np.zeros(0, bool)
        answering = ok & (h.author != h.author[pos])
        if not answering.any():
            raise ChirpdeskError(f"{h.source}: give --brand (the brand's author_id): no author answers another's tweets")
        brand = str(h.names[np.bincount(h.author[answering]).argmax()])
    return h.reordered(np.arange(len(h)), inbound=h.author != h.code(brand))
