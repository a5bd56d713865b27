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
    think_s: np.ndarray
    #: When each of the brand's threads started (epoch s, sorted): the series forecasts read.
    starts: np.ndarray
    #: Each thread's first response time (s; NaN: never answered), aligned with ``starts``.
    start_first_response: np.ndarray


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


def parent_rows(h: History) -> np.ndarray:
    """The row of each tweet's parent in ``h`` (sorted by id), -1 when it answers nothing or its
    parent is not in the history."""
    n = len(h)
    if n == 0:
        return np.zeros(0, np.int64)
    pos = np.minimum(np.searchsorted(h.tweet_id, h.parent), n - 1)
    return np.where((h.parent >= 0) & (h.tweet_id[pos] == h.parent), pos, -1)


def earliest_replies(h: History, parent_row: np.ndarray, replies: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Reply pairs from candidate reply rows ``replies``: for each parent, the earliest reply.
    Returns ``(parent rows, response times s, replies dated before their parent)``; those are
    left out of the pairs."""
    parents = parent_row[replies]
    dt = h.created[replies] - h.created[parents]
    order = np.lexsort((dt, parents))
    ps, ds = parents[order], dt[order]
    first = np.ones(ps.size, bool)
    first[1:] = ps[1:] != ps[:-1]
    ps, ds = ps[first], ds[first]
    return ps[ds >= 0], ds[ds >= 0], int(np.sum(dt < 0))


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
            import difflib

            close = difflib.get_close_matches(brand.lower().lstrip("@"), list(by_lower), n=5, cutoff=0.5)
            near = (f"closest: {', '.join(by_lower[c] for c in close)}; " if close else "")
            top = ", ".join(f"{b} ({n})" for b, n in counts.most_common(10))
            raise ChirpdeskError(f"--brand: {brand!r} has no tweets in {h.source}; {near}brands with most tweets: {top}")
        brand = by_lower[brand.lower().lstrip("@")]

    n = len(h)
    parent_row = parent_rows(h)
    missing_parent = int(np.sum((h.parent >= 0) & (parent_row < 0)))
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
    if roots.size == 0 and (since is not None or until is not None):
        raise ChirpdeskError(f"{brand}: no thread starts in the window given by --since/--until "
                             f"(its history runs {_iso(float(h.created.min()))} to {_iso(float(h.created.max()))})")
    if roots.size < MIN_THREADS:
        raise ChirpdeskError(f"{brand}: {roots.size} threads in the window, at least {MIN_THREADS} are needed "
                             "to calibrate (widen --since/--until or choose a brand with more history)")
    in_thread = thread_root[root]
    customer = in_thread & h.inbound
    # Reply pairs: the brand's earliest tweet answering each customer tweet.
    replies = np.flatnonzero(mine & in_thread & (parent_row >= 0))
    pair_parent, pair_dt, negative = earliest_replies(h, parent_row, replies[h.inbound[parent_row[replies]]])
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

    # Think time: from a brand reply to the customer's next tweet answering it.
    follow = np.flatnonzero(customer & (parent_row >= 0))
    follow = follow[mine[parent_row[follow]]]
    think = h.created[follow] - h.created[parent_row[follow]]
    think = think[think > 0]

    created = h.created[roots]
    start, end = float(created.min()), float(created.max())
    span = end - start  # the rate is threads over the time they were observed starting in
    if span <= 0:
        raise ChirpdeskError(f"{brand}: every thread starts at the same second; no rate can be measured")
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
    if negative:
        rejected["brand reply dated before the tweet it answers (left out of reply pairs)"] = negative
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
            "reply_share": _fitted(answered_threads / n_roots, *share_interval(answered_threads, n_roots)),
        },
        "think_time_fit": fit_durations(think),
        "turns_fit": fit_turns(brand_replies[answered_roots]),
        "cannot_be_known": list(UNKNOWABLE),
    }
    by_time = np.argsort(created, kind="stable")
    return Calibration(summary, volume, frt_answered, turns, brand_replies[answered_roots], think, created[by_time],
                       frt[by_time])


#: Families :func:`fit_durations` compares (all in the scenario format's vocabulary).
DURATION_FAMILIES = ("exponential", "lognormal", "gamma")


def fit_durations(x: np.ndarray) -> dict[str, Any]:
    """Maximum-likelihood fits of ``x`` (seconds, > 0) by each of :data:`DURATION_FAMILIES`,
    compared by AIC, with the Kolmogorov-Smirnov distance of each; ``best`` is the lowest AIC,
    and ``dist`` its scenario form (``{"dist", "mean", "cv"}``). Empty for fewer than 20 values."""
    x = np.asarray(x, dtype=float)
    x = x[x > 0]
    if x.size < 20:
        return {}
    mean = float(x.mean())
    if float(np.ptp(x)) <= 1e-9 * mean:  # every value the same: no family to compare
        return {"n": int(x.size), "fits": {}, "best": "constant", "dist": {"dist": "constant", "value": f"{mean:.0f}s"}}
    fits: dict[str, dict[str, float]] = {}
    loglik = float(np.sum(stats.expon.logpdf(x, scale=mean)))
    fits["exponential"] = {"mean": mean, "cv": 1.0, "aic": 2 - 2 * loglik,
                           "ks": float(stats.kstest(x, "expon", args=(0, mean)).statistic)}
    with np.errstate(all="ignore"):
        try:
            shape, _, scale = stats.lognorm.fit(x, floc=0)
            loglik = float(np.sum(stats.lognorm.logpdf(x, shape, 0, scale)))
            fits["lognormal"] = {"mean": float(scale * math.exp(shape**2 / 2)),
                                 "cv": float(math.sqrt(math.exp(shape**2) - 1)), "aic": 4 - 2 * loglik,
                                 "ks": float(stats.kstest(x, "lognorm", args=(shape, 0, scale)).statistic)}
        except (ValueError, RuntimeError, OverflowError):
            pass  # no maximum-likelihood lognormal for these values: compared without it
        try:
            a, _, scale = stats.gamma.fit(x, floc=0)
            loglik = float(np.sum(stats.gamma.logpdf(x, a, 0, scale)))
            fits["gamma"] = {"mean": float(a * scale), "cv": float(1 / math.sqrt(a)), "aic": 4 - 2 * loglik,
                             "ks": float(stats.kstest(x, "gamma", args=(a, 0, scale)).statistic)}
        except (ValueError, RuntimeError, OverflowError):
            pass
    fits = {k: v for k, v in fits.items() if all(math.isfinite(x_) for x_ in v.values())}
    best = min(fits, key=lambda k: fits[k]["aic"])
    dist: dict[str, Any] = {"dist": best, "mean": f"{fits[best]['mean']:.0f}s"}
    if best != "exponential":
        dist["cv"] = round(fits[best]["cv"], 3)
    return {"n": int(x.size), "fits": fits, "best": best, "dist": dist}


def fit_turns(replies: np.ndarray, most: int = 10) -> dict[str, Any]:
    """Replies per answered thread (>= 1): the empirical distribution (``most - 1`` free
    weights) against a geometric one (one parameter), by AIC; ``weights`` are the winner's
    probabilities of 1..``most`` (the tail folded into ``most``)."""
    k = np.clip(np.asarray(replies, dtype=int), 1, most)
    if k.size == 0:
        return {}
    counts = np.bincount(k, minlength=most + 1)[1:]
    emp = counts / k.size
    with np.errstate(divide="ignore"):
        ll_emp = float(np.sum(counts[counts > 0] * np.log(emp[counts > 0])))
    p = 1.0 / float(k.mean())  # geometric on 1, 2, ...: MLE
    geo = p * (1 - p) ** np.arange(most)
    geo[-1] = (1 - p) ** (most - 1)  # the tail folded into the last value
    with np.errstate(divide="ignore"):
        ll_geo = float(np.sum(counts * np.log(np.maximum(geo, 1e-300))))
    used = int(np.count_nonzero(counts))
    aic = {"empirical": 2 * max(used - 1, 0) - 2 * ll_emp, "geometric": 2 - 2 * ll_geo}
    best = min(aic, key=lambda f: aic[f])
    weights = emp if best == "empirical" else geo
    keep = weights > 0
    return {"n": int(k.size), "aic": aic, "best": best, "values": [int(v) for v in np.arange(1, most + 1)[keep]],
            "weights": [float(w) for w in weights[keep] / weights[keep].sum()]}


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
    mean = float(cal.volume.mean())
    if mean <= 0:
        raise ChirpdeskError(f"{s['brand']}: no volume to build arrivals from")
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
    # Hours the window never covered get the mean (a profile value must be >= 0, not unknown).
    profile = np.where(cal.volume > 0, cal.volume, 0.0) / mean
    arrivals["hour_of_week"] = [round(float(x), 4) for x in profile]
    for key in ("diurnal", "weekly", "bursts"):
        arrivals.pop(key, None)
    arrivals["interpolation"] = "step"
    mix = doc.setdefault("mix", {})
    # The share of threads the brand answers at all: the kinds that need a reply carry it.
    kinds = dict(mix.get("kinds") or {"question": 1.0})
    needs = [k for k in (mix.get("needs_reply") or ["question"]) if k in kinds] or [next(iter(kinds))]
    reply = float(s["fitted"]["reply_share"]["value"])
    quiet = [k for k in kinds if k not in needs]
    if not quiet and reply < 1.0:
        kinds["praise"], quiet = 0.0, ["praise"]
    total_needs = sum(kinds[k] for k in needs)
    total_quiet = sum(kinds[k] for k in quiet)
    for k in needs:
        kinds[k] = round(reply * kinds[k] / total_needs, 6)
    for k in quiet:
        kinds[k] = round((1 - reply) * (kinds[k] / total_quiet if total_quiet else 1 / len(quiet)), 6)
    drift = 1.0 - sum(kinds.values())
    kinds[needs[0]] = round(kinds[needs[0]] + drift, 6)
    mix["kinds"] = kinds
    mix["needs_reply"] = needs
    if s["dm_share"] == s["dm_share"]:
        mix["private_share"] = round(float(s["dm_share"]), 4)
        mix.setdefault("private_target", "dm")
    turns = s.get("turns_fit") or {}
    if turns:
        weights = [round(w, 6) for w in turns["weights"]]
        weights[0] = round(weights[0] + 1.0 - sum(weights), 6)
        doc.setdefault("handling", {})["turns"] = {"dist": "empirical", "values": turns["values"], "weights": weights}
    think = s.get("think_time_fit") or {}
    if think:
        doc.setdefault("customers", {})["think_time"] = dict(think["dist"])
    return doc


def scenario_comments(cal: Calibration, template: str) -> str:
    """The header of scenario.toml: where each calibrated number came from."""
    s = cal.summary
    f = s["fitted"]
    lines = [
        f"Written by `chirpdesk calibrate` from {s['source']} ({s['format']}), brand {s['brand']}, threads started",
        f"{s['window_start_iso']} to {s['window_end_iso']} ({s['threads']:,} threads). Template: {template}.",
        "Where each calibrated number came from (calibration.json has them all, with 95% intervals):",
        f"  arrivals.base_rate     threads started per hour: {f['arrivals.base_rate_per_hour']['value']:.3f} "
        f"(Poisson 95% CI {f['arrivals.base_rate_per_hour']['ci_low']:.3f}-{f['arrivals.base_rate_per_hour']['ci_high']:.3f})",
        "  arrivals.hour_of_week  threads per hour of the week (Monday 00:00 UTC first), divided by the mean",
        f"  mix.kinds              kinds needing a reply scaled to the share of threads answered, "
        f"{f['reply_share']['value']:.3f}",
        f"  mix.private_share      threads whose brand reply asks for a DM: {s['dm_share']:.3f}",
    ]
    turns, think = s.get("turns_fit") or {}, s.get("think_time_fit") or {}
    if turns:
        lines.append(f"  handling.turns         brand replies per answered thread, {turns['best']} "
                     f"(AIC {turns['aic']['empirical']:.0f} empirical vs {turns['aic']['geometric']:.0f} geometric)")
    if think:
        fits = ", ".join(f"{k} AIC {v['aic']:.0f} KS {v['ks']:.3f}" for k, v in think["fits"].items()) or "one value"
        lines.append(f"  customers.think_time   brand reply to the customer's next tweet ({think['n']:,}): "
                     f"{think['best']} won ({fits})")
    lines.append("Everything else is the template's: compose time, patience and the team cannot be seen in tweets.")
    return "".join(f"# {line}\n" for line in lines)


#: Columns of brands.csv.
BRAND_COLUMNS = ("brand", "threads", "customer_tweets", "reply_pairs", "response_rate", "first_response_p50_s",
                 "first_response_p90_s", "answered_within_10m_share", "turns_mean", "dm_share")


def brand_table(h: History) -> list[dict[str, Any]]:
    """Every brand's figures (:data:`BRAND_COLUMNS`, the same definitions as :func:`calibrate`),
    sorted by threads, most first: the per-handle benchmark ("response rate vs volume")."""
    if h.format == "x-v2":
        h = _settle_x_v2(h, None)
    n = len(h)
    if n == 0:
        return []
    parent_row = parent_rows(h)
    root = _roots(parent_row)
    outbound = ~h.inbound
    thread_brand = np.full(n, -1, dtype=np.int64)
    thread_brand[root[outbound]] = h.author[outbound]
    # Threads no brand answered: the brand their root mentions.
    brand_codes = np.unique(h.author[outbound])
    by_name = {str(h.names[c]).lower(): int(c) for c in brand_codes}
    mention_to_brand = np.asarray([by_name.get(str(m), -1) for m in h.mention_names], dtype=np.int64)
    is_root = root == np.arange(n)
    silent = is_root & h.inbound & (thread_brand < 0) & (h.mention >= 0)
    if mention_to_brand.size:
        thread_brand[silent] = mention_to_brand[h.mention[silent]]
    roots = np.flatnonzero(is_root & h.inbound & (thread_brand >= 0))
    tb = thread_brand[root]  # every row's thread brand
    customer = h.inbound & (tb >= 0) & h.inbound[root]
    reply = np.flatnonzero(outbound & (parent_row >= 0) & (h.author == tb))
    ps, ds, _ = earliest_replies(h, parent_row, reply[h.inbound[parent_row[reply]]])
    answered = np.zeros(n, bool)
    answered[ps] = True
    frt = np.full(n, math.nan)
    frt[ps] = ds
    dm_row = outbound & h.asks_dm & (h.author == tb)
    dm_thread = np.zeros(n, bool)
    dm_thread[root[dm_row]] = True
    size = int(h.names.size)
    threads = np.bincount(tb[roots], minlength=size)
    cust = np.bincount(tb[customer], minlength=size)
    cust_answered = np.bincount(tb[customer & answered], minlength=size)
    pairs = np.bincount(tb[ps], minlength=size)
    rows = []
    root_brand = tb[roots]
    root_frt = frt[roots]
    for code in np.flatnonzero(threads):
        mine = root_brand == code
        f = root_frt[mine]
        ok = f[~np.isnan(f)]
        mine_roots = roots[mine]
        answered_threads = int(ok.size)
        rows.append({
            "brand": str(h.names[code]),
            "threads": int(threads[code]),
            "customer_tweets": int(cust[code]),
            "reply_pairs": int(pairs[code]),
            "response_rate": float(cust_answered[code] / cust[code]) if cust[code] else math.nan,
            "first_response_p50_s": float(np.quantile(ok, 0.5)) if ok.size else math.nan,
            "first_response_p90_s": float(np.quantile(ok, 0.9)) if ok.size else math.nan,
            "answered_within_10m_share": float(np.sum(ok <= TEN_MINUTES) / threads[code]),
            "turns_mean": float(cust[code] / threads[code]),
            "dm_share": float(np.sum(dm_thread[mine_roots] & ~np.isnan(frt[mine_roots])) / answered_threads)
            if answered_threads else math.nan,
        })
    rows.sort(key=lambda r: (-float(r["threads"]), str(r["brand"])))  # type: ignore[arg-type]
    return rows


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _settle_x_v2(h: History, brand: str | None) -> History:
    """X v2 exports carry no inbound flag: the brand's tweets are its author's. Without
    ``--brand``, the brand is the author who answers others most."""
    if brand is None:
        parent_row = parent_rows(h)
        answering = (parent_row >= 0) & (h.author != h.author[np.maximum(parent_row, 0)])
        if not answering.any():
            raise ChirpdeskError(f"{h.source}: give --brand (the brand's author_id): no author answers another's tweets")
        brand = str(h.names[np.bincount(h.author[answering]).argmax()])
    return h.reordered(np.arange(len(h)), inbound=h.author != h.code(brand))
