"""Least-cost shifts covering a per-interval requirement: a set-covering integer program.

Allowed shift patterns (a day set, a start time on the ``start_every`` grid, a length from
``[staffing] lengths``) each cover some intervals of the week. The program

    minimise   sum_p cost_p x_p
    subject to sum_{p covers i} x_p >= required_i   for every interval i of the week
               0 <= x_p <= max_agents_per_pattern, x_p integer

is solved exactly by HiGHS through :func:`scipy.optimize.milp`. ``cost_p`` is the pattern's paid
hours per week times ``[cost] agent_hour`` (hours alone when that is 0); a tie-break far below
one interval's cost prefers fewer shift rows (e.g. one weekday shift over five single days).
Pure functions: no files, no printing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from chirpdesk.sim.scenario import Shift, Staffing
from chirpdesk.sim.tables import DAY_NAMES
from chirpdesk.sim.units import DAY, WEEK


@dataclass(frozen=True)
class Pattern:
    """An allowed shift: on ``days`` (0 = Monday), from ``start`` for ``length`` seconds."""

    days: tuple[int, ...]
    start: float
    length: float

    @property
    def hours_per_week(self) -> float:
        """Paid hours of one agent on this pattern per week."""
        return self.length / 3600.0 * len(self.days)

    @property
    def name(self) -> str:
        """A readable name such as ``weekdays 07:00+8h``."""
        return f"{days_text(self.days)} {clock_text(self.start)}+{self.length / 3600:g}h"


@dataclass(frozen=True)
class ShiftPlan:
    """A solved cover: ``counts[p]`` agents on ``patterns[p]``; ``coverage`` agents scheduled per
    weekly interval; ``cost`` per week in money (``hours`` paid agent hours per week);
    ``status`` is scipy's message; ``optimal`` whether HiGHS proved optimality."""

    patterns: tuple[Pattern, ...]
    counts: np.ndarray
    coverage: np.ndarray
    cost: float
    hours: float
    optimal: bool
    status: str

    def shifts(self) -> tuple[Shift, ...]:
        """The used patterns as scenario :class:`~chirpdesk.sim.scenario.Shift` rows (count > 0)."""
        out = []
        for p, n in zip(self.patterns, self.counts, strict=True):
            if n > 0:
                out.append(Shift(p.name, p.days, p.start, (p.start + p.length) % DAY, int(n)))
        return tuple(out)


def clock_text(seconds: float) -> str:
    """``"HH:MM"`` for seconds after midnight (``24:00`` for exactly a full day; later times,
    e.g. the end of a 24-hour shift starting at 08:00, wrap to the next day's clock)."""
    s = int(round(seconds))
    if s != 86400:
        s %= 86400
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


def days_text(days: Sequence[int]) -> str:
    """``weekdays``, ``weekends``, ``all`` or day names joined by ``+``."""
    d = tuple(sorted(days))
    named = {(0, 1, 2, 3, 4): "weekdays", (5, 6): "weekends", tuple(range(7)): "all"}
    return named.get(d, "+".join(DAY_NAMES[i] for i in d))


def patterns_for(staffing: Staffing, interval_s: float) -> list[Pattern]:
    """Every allowed pattern: day set x start on the ``start_every`` grid x length."""
    step = max(staffing.start_every, interval_s)
    starts = np.arange(0.0, DAY, step)
    return [Pattern(tuple(days), float(s), float(length))
            for days in staffing.days for length in staffing.lengths for s in starts]


def coverage_matrix(patterns: Sequence[Pattern], interval_s: float) -> np.ndarray:
    """0/1 matrix ``(intervals of the week, patterns)``: 1 where the pattern works the whole
    interval. Shifts crossing midnight run into the next day (Sunday night into Monday)."""
    n = int(round(WEEK / interval_s))
    per_day = int(round(DAY / interval_s))
    a = np.zeros((n, len(patterns)), dtype=np.int8)
    for j, p in enumerate(patterns):
        first = int(round(p.start / interval_s))
        k = int(round(p.length / interval_s))
        for d in p.days:
            idx = (d * per_day + first + np.arange(k)) % n
            a[idx, j] = 1
    return a


def solve_cover(required: Sequence[float] | np.ndarray, matrix: np.ndarray, costs: Sequence[float] | np.ndarray,
                upper: float = math.inf, tie_break: float = 0.0,
                time_limit: float = 60.0) -> tuple[np.ndarray, bool, str]:
    """Solve ``min costs.x`` s.t. ``matrix x >= required``, ``0 <= x <= upper`` integer.

    ``tie_break`` is added per agent on any pattern (keep it below the smallest cost step).
    Returns ``(x, optimal, message)``; raises ValueError when no cover exists (a requirement
    above what the capped patterns can give).
    """
    req = np.asarray(required, dtype=float)
    c = np.asarray(costs, dtype=float) + tie_break
    ub = np.full(c.size, np.inf if not math.isfinite(upper) or upper <= 0 else float(upper))
    res = milp(c, constraints=LinearConstraint(matrix, lb=req, ub=np.inf),
               integrality=np.ones(c.size), bounds=Bounds(0.0, ub),
               options={"time_limit": time_limit, "mip_rel_gap": 1e-7, "disp": False})
    if res.x is None:
        raise ValueError(f"no shift plan covers the requirement with the allowed patterns: {res.message}")
    x = np.round(res.x).astype(np.int64)
    return x, bool(res.status == 0), str(res.message)


def plan_shifts(required: Sequence[int] | np.ndarray, staffing: Staffing, interval_s: float,
                agent_hour: float, time_limit: float = 60.0) -> ShiftPlan:
    """Least-cost :class:`ShiftPlan` covering ``required`` scheduled agents per weekly interval.

    ``agent_hour`` is money per paid agent hour (0: minimise hours). Patterns come from
    :func:`patterns_for` (``[staffing]``), capped at ``max_agents_per_pattern`` (0 = no cap).
    """
    req = np.asarray(required, dtype=float)
    pats = patterns_for(staffing, interval_s)
    a = coverage_matrix(pats, interval_s)
    hours = np.array([p.hours_per_week for p in pats])
    rate = agent_hour if agent_hour > 0 else 1.0
    # One interval of one agent is the smallest cost step; the tie-break stays far below it even
    # summed over a few hundred agents.
    tie = rate * interval_s / 3600.0 * 1e-5
    x, optimal, msg = solve_cover(req, a, hours * rate, staffing.max_agents_per_pattern or math.inf,
                                  tie, time_limit)
    coverage = a.astype(np.int64) @ x
    paid = float(hours @ x)
    return ShiftPlan(tuple(pats), x, coverage, paid * agent_hour, paid, optimal, msg)


def toml_snippet(shifts: Sequence[Shift]) -> str:
    """``[[agents.shifts]]`` tables for ``shifts``, ready to paste into a scenario file."""
    lines = []
    for s in shifts:
        d = days_text(s.days)
        days = f'"{d}"' if d in ("weekdays", "weekends", "all") else "[" + ", ".join(
            f'"{DAY_NAMES[i]}"' for i in s.days) + "]"
        end = clock_text(s.end) if s.end != 0 else "24:00"
        lines += ["[[agents.shifts]]", f'name = "{s.name}"', f"days = {days}",
                  f'start = "{clock_text(s.start)}"', f'end = "{end}"', f"count = {s.count}", ""]
    return "\n".join(lines)


__all__ = [
    "Pattern",
    "ShiftPlan",
    "coverage_matrix",
    "patterns_for",
    "plan_shifts",
    "solve_cover",
    "toml_snippet",
]
