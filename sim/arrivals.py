"""Tweet arrivals: the rate as a function of calendar time, and the stream itself.

The rate (tweets per second) is ``base_rate x diurnal(hour) x weekly(day) x adoption(t) x bursts(t)``.
Arrivals are a non-homogeneous Poisson process drawn exactly by thinning a piecewise-homogeneous
process (one bound per calendar hour, vectorised in numpy); self-exciting cascades are added in
cluster form. The simulation and the load tests both draw their tweets here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from chirpdesk.sim.scenario import Adoption, Scenario
from chirpdesk.sim.units import DAY, HOUR

#: Candidates thinned per rate() evaluation (bounds the memory of a long horizon's arrivals).
_THIN_CHUNK = 1 << 17

#: Where a tweet came from: the base stream, a burst's excess, or a cascade (pile-on).
ORIGINS = ("base", "burst", "cascade")


@dataclass(frozen=True)
class ArrivalStream:
    """Tweets in arrival order, as columns.

    ``time``: seconds from the scenario start; ``kind``: index into ``kinds``; ``fail``: carries
    ``#fail``; ``followers``: author's follower count; ``marketing``: landed on the marketing
    handle; ``origin``: index into :data:`ORIGINS`.
    """

    time: np.ndarray
    kind: np.ndarray
    fail: np.ndarray
    followers: np.ndarray
    marketing: np.ndarray
    origin: np.ndarray
    kinds: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.time.size)


# -- rate function (pure) ---------------------------------------------------------------------

def _clock_offset(scenario: Scenario) -> tuple[float, int]:
    s = scenario.meta.start
    return s.hour * HOUR + s.minute * 60.0 + s.second, s.weekday()


def penetration(adoption: Adoption, t: np.ndarray | float, horizon: float) -> np.ndarray:
    """Share of customers using the channel at ``t`` seconds from the start (0..1)."""
    t = np.asarray(t, dtype=float)
    if adoption.model == "none":
        return np.ones_like(t)
    if adoption.model == "linear":
        return adoption.start_share + (adoption.end_share - adoption.start_share) * np.clip(t / horizon, 0.0, 1.0)
    p, q, f0 = adoption.p, adoption.q, adoption.start_share
    # Bass: F(tau) = (1 - e^{-(p+q)tau}) / (1 + (q/p) e^{-(p+q)tau}); shift tau so F(0) = start_share.
    tau0 = -math.log((1.0 - f0) / (1.0 + f0 * q / p)) / (p + q)
    x = np.exp(-(p + q) * (tau0 + t / adoption.period))
    return (1.0 - x) / (1.0 + (q / p) * x)


def adoption_factor(scenario: Scenario, t: np.ndarray | float) -> np.ndarray:
    """Volume multiplier penetration(t) / penetration(0) at ``t`` seconds."""
    a = scenario.arrivals.adoption
    return penetration(a, t, scenario.meta.horizon) / penetration(a, 0.0, scenario.meta.horizon)


def _diurnal(scenario: Scenario, t: np.ndarray) -> np.ndarray:
    h0, _ = _clock_offset(scenario)
    prof = np.asarray(scenario.arrivals.diurnal)
    hours = (t + h0) / HOUR
    if scenario.arrivals.interpolation == "step":
        return prof[np.floor(hours).astype(np.int64) % 24]
    # Linear between hour midpoints, periodic over the day (keeps the daily mean at 1).
    xp = np.arange(-0.5, 25.0, 1.0)
    fp = np.concatenate(([prof[-1]], prof, [prof[0]]))
    return np.interp(np.mod(hours, 24.0), xp, fp)


def _weekly(scenario: Scenario, t: np.ndarray) -> np.ndarray:
    h0, w0 = _clock_offset(scenario)
    prof = np.asarray(scenario.arrivals.weekly)
    return prof[(np.floor((t + h0) / DAY).astype(np.int64) + w0) % 7]


def _week_shape(scenario: Scenario, t: np.ndarray) -> np.ndarray:
    """The relative rate of the calendar at ``t``: ``diurnal x weekly``, or ``hour_of_week``."""
    how = scenario.arrivals.hour_of_week
    if not how:
        return _diurnal(scenario, t) * _weekly(scenario, t)
    h0, w0 = _clock_offset(scenario)
    hours = np.floor((t + h0) / HOUR).astype(np.int64) + 24 * w0
    return np.asarray(how)[hours % 168]


def burst_excess(scenario: Scenario, t: np.ndarray) -> np.ndarray:
    """Extra rate factor from bursts at ``t`` (shape ``(n_bursts, len(t))``), after updates."""
    t = np.asarray(t, dtype=float)
    out = np.zeros((len(scenario.arrivals.bursts), t.size))
    for i, b in enumerate(scenario.arrivals.bursts):
        inside = (t >= b.start) & (t < b.start + b.duration)
        excess = np.full(t.size, b.multiplier - 1.0)
        excess[t >= b.start + b.update_after] *= 1.0 - b.update_deflects
        out[i] = np.where(inside, excess, 0.0)
    return out


def rate(scenario: Scenario, t: np.ndarray | float) -> np.ndarray:
    """Arrival rate in tweets per second at ``t`` seconds from the start (before cascades)."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    factor = 1.0 + burst_excess(scenario, t).sum(axis=0)
    return (scenario.arrivals.base_rate * _week_shape(scenario, t)
            * adoption_factor(scenario, t) * np.maximum(factor, 0.0))


def expected_count(scenario: Scenario, start: float, end: float, step: float = 60.0) -> float:
    """Expected number of tweets in ``[start, end)`` seconds (integrated rate, before cascades)."""
    if end <= start:
        return 0.0
    n = max(int(math.ceil((end - start) / step)), 1)
    edges = np.linspace(start, end, n + 1)
    # Midpoint rule on a grid aligned with the window; exact for step profiles when step divides hours.
    mids = 0.5 * (edges[:-1] + edges[1:])
    return float(np.sum(rate(scenario, mids) * np.diff(edges)))


def _hour_edges(scenario: Scenario, start: float, end: float) -> np.ndarray:
    h0, _ = _clock_offset(scenario)
    first = math.floor((start + h0) / HOUR) * HOUR - h0
    edges = np.arange(first, end + HOUR, HOUR)
    edges = np.clip(edges, start, end)
    return np.unique(edges)


def _rate_bounds(scenario: Scenario, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """An upper bound of the rate on each window [lo, hi) no longer than one calendar hour."""
    a = scenario.arrivals
    mid = 0.5 * (lo + hi)
    prof = np.asarray(a.diurnal)
    h0, _ = _clock_offset(scenario)
    if a.interpolation == "step":
        di = _diurnal(scenario, mid)
    else:
        h = np.floor((mid + h0) / HOUR).astype(np.int64)
        di = np.maximum.reduce([prof[(h - 1) % 24], prof[h % 24], prof[(h + 1) % 24]])
    wk = np.maximum(_weekly(scenario, lo), _weekly(scenario, np.maximum(hi - 1e-9, lo)))
    if a.hour_of_week:  # windows lie within one calendar hour: the step value at the midpoint
        di, wk = _week_shape(scenario, mid), np.ones_like(mid)
    ad = np.maximum(adoption_factor(scenario, lo), adoption_factor(scenario, hi))
    burst = np.ones_like(lo)
    for b in a.bursts:
        overlap = (lo < b.start + b.duration) & (hi > b.start)
        burst += np.where(overlap, max(b.multiplier - 1.0, 0.0), 0.0)
    return a.base_rate * di * wk * ad * burst


def _poisson_times(scenario: Scenario, rng: np.random.Generator, start: float, end: float) -> np.ndarray:
    """Exact NHPP arrival times in [start, end) by thinning, one bound per calendar hour."""
    edges = _hour_edges(scenario, start, end)
    lo, hi = edges[:-1], edges[1:]
    bound = _rate_bounds(scenario, lo, hi)
    counts = rng.poisson(bound * (hi - lo))
    total = int(counts.sum())
    if total == 0:
        return np.empty(0)
    which = np.repeat(np.arange(lo.size), counts)
    cand = lo[which] + rng.random(total) * (hi - lo)[which]
    u = rng.random(total)
    # Thin in chunks: rate() builds several temporaries the size of its input, and a year of
    # candidates is ~1M; chunking bounds that peak without changing a single random number.
    keep = np.empty(total, dtype=bool)
    for a in range(0, total, _THIN_CHUNK):
        b = min(a + _THIN_CHUNK, total)
        keep[a:b] = u[a:b] * bound[which[a:b]] < rate(scenario, cand[a:b])
    return np.sort(cand[keep])


def generate_arrivals(scenario: Scenario, rng: np.random.Generator, start: float = 0.0,
                      end: float | None = None) -> ArrivalStream:
    """Draw every tweet arriving in ``[start, end)`` seconds (default: the whole horizon).

    Returns an :class:`ArrivalStream` sorted by time, with kinds, ``#fail``, followers, handle
    and origin drawn from the scenario's ``[mix]``, burst kinds and cascades.
    """
    end = scenario.meta.horizon if end is None else end
    a, mix = scenario.arrivals, scenario.mix
    kinds = tuple(mix.kinds)
    shares = np.asarray([mix.kinds[k] for k in kinds])
    shares = shares / shares.sum()
    complaint = kinds.index("complaint") if "complaint" in kinds else -1

    times = _poisson_times(scenario, rng, start, end)
    n = times.size
    kind = rng.choice(len(kinds), size=n, p=shares).astype(np.int16)
    origin = np.zeros(n, dtype=np.int8)
    if a.bursts and n:
        excess = np.maximum(burst_excess(scenario, times), 0.0)
        total = 1.0 + burst_excess(scenario, times).sum(axis=0)
        u = rng.random(n) * np.maximum(total, 1e-300)
        cum = np.ones(n)
        for i, b in enumerate(a.bursts):
            hit = (u >= cum) & (u < cum + excess[i])
            cum = cum + excess[i]
            origin[hit] = 1
            if b.kind:
                kind[hit] = kinds.index(b.kind)
    fail = (kind == complaint) & (rng.random(n) < mix.fail_share)
    followers = np.round(mix.followers.sample(rng, n))

    if a.cascade.enabled and a.cascade.branching_ratio > 0 and n:
        times, kind, fail, followers, origin = _add_cascades(
            scenario, rng, times, kind, fail, followers, origin, complaint, kinds, end)
    marketing = rng.random(times.size) < mix.marketing_share
    return ArrivalStream(times, kind, fail, followers, marketing, origin, kinds)


def _add_cascades(scenario: Scenario, rng: np.random.Generator, times: np.ndarray, kind: np.ndarray,
                  fail: np.ndarray, followers: np.ndarray, origin: np.ndarray, complaint: int,
                  kinds: tuple[str, ...], end: float) -> tuple[np.ndarray, ...]:
    """Add pile-on tweets generation by generation (Hawkes process in cluster form)."""
    c, mix = scenario.arrivals.cascade, scenario.mix
    ckind = kinds.index(c.kind)
    parts = [(times, kind, fail, followers, origin)]
    gen_t, gen_k, gen_f, gen_fo = times, kind, fail, followers
    while gen_t.size:
        trig = (gen_k == complaint) & ((gen_fo >= c.min_followers) | (gen_f & c.on_fail))
        parents = gen_t[trig]
        if parents.size == 0:
            break
        kids = rng.poisson(c.branching_ratio, parents.size)
        t = np.repeat(parents, kids) + rng.exponential(c.decay, int(kids.sum()))
        t = t[t < end]
        m = t.size
        gen_t = t
        gen_k = np.full(m, ckind, dtype=np.int16)
        gen_f = (gen_k == complaint) & (rng.random(m) < mix.fail_share)
        gen_fo = np.round(mix.followers.sample(rng, m))
        parts.append((gen_t, gen_k, gen_f, gen_fo, np.full(m, 2, dtype=np.int8)))
    cols = [np.concatenate(col) for col in zip(*parts, strict=True)]
    order = np.argsort(cols[0], kind="stable")
    return tuple(col[order] for col in cols)
