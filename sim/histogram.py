"""Waiting-time histograms on a fixed grid: what a report needs of a million conversations.

A report draws the distribution of first responses (a histogram and the share answered within
each time) and quotes the share within the SLA. Keeping every conversation to draw that makes
the report's cost and memory grow with the conversations; a histogram on a grid fixed by the
SLA alone does not: replications add bin by bin, the SLA count stays exact (the SLA time is a
bin edge), and a year of traffic costs the same few hundred bins as a day.

The grid: bins of ``within / 60`` up to ``4 x within`` (10-second bins for a 10-minute SLA),
then 16 bins per doubling up to :data:`LAST_EDGE_S` (about three years); slower values are
counted in ``over``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Linear bins per SLA time, and how many SLA times they cover.
LINEAR_PER_WITHIN = 60
LINEAR_SPAN = 4
#: Geometric bins per doubling beyond the linear part.
PER_DOUBLING = 16
#: The last edge of the grid, in seconds (10^8 s, about 3.2 years).
LAST_EDGE_S = 1e8


def grid_edges(within_s: float) -> np.ndarray:
    """Bin edges in seconds for an SLA of ``within_s`` seconds (see the module docstring)."""
    if not (within_s > 0 and math.isfinite(within_s)):
        raise ValueError(f"within_s must be a positive number of seconds, got {within_s!r}")
    step = within_s / LINEAR_PER_WITHIN
    linear = np.arange(LINEAR_PER_WITHIN * LINEAR_SPAN + 1) * step
    top = linear[-1]
    doublings = max(0.0, math.log2(LAST_EDGE_S / top))
    n_geo = math.ceil(doublings * PER_DOUBLING)
    geometric = top * 2.0 ** (np.arange(1, n_geo + 1) / PER_DOUBLING)
    return np.concatenate([linear, geometric])


@dataclass(frozen=True, eq=False)
class TimeHistogram:
    """Counts of durations (seconds) on :func:`grid_edges`, out of ``total`` tweets.

    ``counts[i]`` holds values in ``[edges[i], edges[i+1])``; ``over`` those at or beyond the
    last edge; ``total`` is every tweet the histogram is a share of (including those never
    answered, which are in no bin); ``met`` is how many were within ``within_s`` (inclusive, the
    SLA's own rule); ``replications`` how many replications were pooled.
    """

    within_s: float
    counts: np.ndarray
    over: int
    total: int
    met: int
    replications: int = 1

    @classmethod
    def of(cls, values: np.ndarray, total: int, within_s: float) -> TimeHistogram:
        """The histogram of the finite ``values`` (seconds), out of ``total`` tweets."""
        edges = grid_edges(within_s)
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        idx = np.searchsorted(edges, v, side="right") - 1
        over = int(np.sum(idx >= edges.size - 1))
        counts = np.bincount(idx[(idx >= 0) & (idx < edges.size - 1)], minlength=edges.size - 1)
        return cls(within_s, counts.astype(np.int64), over, int(total), int(np.sum(v <= within_s)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TimeHistogram):
            return NotImplemented
        return ((self.within_s, self.over, self.total, self.met, self.replications)
                == (other.within_s, other.over, other.total, other.met, other.replications)
                and np.array_equal(self.counts, other.counts))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking numpy field: not hashable

    @property
    def edges(self) -> np.ndarray:
        """The bin edges in seconds (``counts.size + 1`` of them)."""
        return grid_edges(self.within_s)

    @property
    def count(self) -> int:
        """How many values were counted (finite ones: the answered tweets)."""
        return int(self.counts.sum()) + self.over

    def __add__(self, other: TimeHistogram) -> TimeHistogram:
        """Pool two histograms on the same grid (replications add bin by bin)."""
        if other.within_s != self.within_s:
            raise ValueError(f"cannot pool histograms of SLA {self.within_s} s and {other.within_s} s")
        return TimeHistogram(self.within_s, self.counts + other.counts, self.over + other.over,
                             self.total + other.total, self.met + other.met,
                             self.replications + other.replications)

    def _cum_counts(self) -> np.ndarray:
        # Counted values below each edge (one more entry than there are bins).
        return np.concatenate([[0.0], np.cumsum(self.counts, dtype=np.float64)])

    def cumulative(self, x: np.ndarray | float) -> np.ndarray:
        """How many values are below ``x`` seconds, interpolating linearly inside a bin
        (values are taken as spread evenly over their bin); values beyond the grid count at
        its last edge."""
        edges, cum = self.edges, self._cum_counts()
        return np.interp(np.asarray(x, dtype=np.float64), edges, cum, left=0.0, right=cum[-1])

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0..1) of the counted values, interpolated inside its bin; NaN
        when nothing was counted, the last edge when it falls among the ``over`` values."""
        n = self.count
        if n == 0:
            return math.nan
        edges, cum = self.edges, self._cum_counts()
        target = q * n
        if target > cum[-1]:
            return float(edges[-1])
        # The first edge where the cumulative count reaches the target, then back inside the bin.
        i = int(np.searchsorted(cum, target, side="left"))
        if i == 0:
            return float(edges[0])
        lo, hi = cum[i - 1], cum[i]
        frac = (target - lo) / (hi - lo) if hi > lo else 0.0
        return float(edges[i - 1] + frac * (edges[i] - edges[i - 1]))

    def rebin(self, edges: np.ndarray) -> np.ndarray:
        """Counts in the bins of ``edges`` (seconds, increasing), spreading each grid bin's
        count evenly over it; exact wherever ``edges`` fall on grid edges."""
        return np.diff(self.cumulative(edges))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: ``within_s``, ``edges_s`` and ``counts`` (trailing empty bins left
        out), ``over``, ``total``, ``met``, ``replications``."""
        nz = np.flatnonzero(self.counts)
        keep = max(LINEAR_PER_WITHIN * LINEAR_SPAN, int(nz[-1]) + 1 if nz.size else 0)
        return {
            "within_s": self.within_s,
            "edges_s": self.edges[: keep + 1].tolist(),
            "counts": self.counts[:keep].tolist(),
            "over": self.over,
            "total": self.total,
            "met": self.met,
            "replications": self.replications,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TimeHistogram:
        """Read back :meth:`to_json` (raises ValueError when it does not fit the grid)."""
        within = float(doc["within_s"])
        size = grid_edges(within).size - 1
        counts = np.asarray(doc["counts"], dtype=np.int64)
        if counts.size > size or counts.ndim != 1 or (counts < 0).any():
            raise ValueError(f"counts: expected at most {size} non-negative integers")
        full = np.zeros(size, dtype=np.int64)
        full[: counts.size] = counts
        return cls(within, full, int(doc["over"]), int(doc["total"]), int(doc["met"]),
                   int(doc.get("replications", 1)))
