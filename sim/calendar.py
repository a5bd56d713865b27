"""Staffing and opening hours as piecewise-constant functions of simulated time.

Shifts and tweeting hours are written as wall-clock patterns; the model needs them as change
points in seconds from the scenario start. Pure functions, shared by the model, the cost
accounting and the staffing tools.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from chirpdesk.sim.scenario import Agents, Scenario, Shift, TweetingHours
from chirpdesk.sim.units import DAY


def _start_offset(scenario: Scenario) -> tuple[float, int]:
    s = scenario.meta.start
    return s.hour * 3600.0 + s.minute * 60.0 + s.second, s.weekday()


def shift_blocks(shifts: Iterable[Shift], scenario: Scenario, end: float,
                 shrinkage: float = 0.0) -> list[tuple[float, float, int]]:
    """Every worked block ``(start, end, agents)`` in seconds from the start, clipped to [0, end].

    ``agents`` is ``round(count * (1 - shrinkage))``: the productive headcount of that block.
    """
    h0, w0 = _start_offset(scenario)
    blocks = []
    n_days = int(math.ceil((end + h0) / DAY)) + 1
    for d in range(-1, n_days):
        day0 = d * DAY - h0  # midnight of calendar day d, in simulation seconds
        weekday = (w0 + d) % 7
        for s in shifts:
            if weekday not in s.days:
                continue
            a, b = day0 + s.start, day0 + s.start + s.length
            a, b = max(a, 0.0), min(b, end)
            n = int(math.floor(s.count * (1.0 - shrinkage) + 0.5))
            if b > a and n > 0:
                blocks.append((a, b, n))
    return blocks


def step_function(blocks: Iterable[tuple[float, float, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum of blocks as change points: returns ``(times, values)`` where ``values[i]`` holds on
    ``[times[i], times[i+1])``; times start at 0."""
    events: dict[float, int] = {0.0: 0}
    for a, b, n in blocks:
        events[a] = events.get(a, 0) + n
        events[b] = events.get(b, 0) - n
    times = np.array(sorted(events))
    values = np.cumsum([events[t] for t in times])
    keep = np.concatenate(([True], np.diff(values) != 0))
    return times[keep], values[keep].astype(np.int64)


def agents_on_shift(scenario: Scenario, end: float, agents: Agents | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Productive agents on shift as change points ``(times, counts)`` over [0, end)."""
    agents = agents or scenario.agents
    return step_function(shift_blocks(agents.shifts, scenario, end, agents.shrinkage))


def scheduled_agent_seconds(scenario: Scenario, start: float, end: float, agents: Agents | None = None) -> float:
    """Paid agent-seconds in [start, end): scheduled headcount (before shrinkage) x time."""
    agents = agents or scenario.agents
    total = 0.0
    for a, b, n in shift_blocks(agents.shifts, scenario, end):
        total += n * max(0.0, min(b, end) - max(a, start))
    return total


def open_hours(hours: TweetingHours, scenario: Scenario, end: float) -> tuple[np.ndarray, np.ndarray]:
    """When the handle answers, as change points ``(times, open)`` with open in {0, 1}."""
    if hours.always:
        return np.array([0.0]), np.array([1])
    as_shift = Shift("tweeting_hours", hours.days, hours.start, hours.end, 1)
    times, values = step_function(shift_blocks([as_shift], scenario, end))
    return times, np.minimum(values, 1)


def value_at(times: np.ndarray, values: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Evaluate a step function given as change points at ``t``."""
    idx = np.searchsorted(times, np.asarray(t, dtype=float), side="right") - 1
    return values[np.clip(idx, 0, None)]


def interval_grid(scenario: Scenario) -> np.ndarray:
    """Interval boundaries ``0, interval, 2 x interval, ...`` up to the horizon, plus the horizon
    itself when it is not on the grid (the last interval is then shorter)."""
    step, horizon = scenario.meta.interval, scenario.meta.horizon
    grid = []
    t = 0.0
    while t <= horizon + 1e-9:  # accumulated, so every engine sees the very same floats
        grid.append(t)
        t += step
    if horizon - grid[-1] > 1e-9:
        grid.append(horizon)
    return np.asarray(grid)


def snapshot_times(scenario: Scenario) -> np.ndarray:
    """When the model records its time-integrals: every interval boundary, the end of the
    warm-up and the horizon, so metrics over ``[warmup, horizon)`` are exact."""
    return np.unique(np.concatenate((interval_grid(scenario), [scenario.meta.warmup, scenario.meta.horizon])))


def interval_boundaries(scenario: Scenario, times: np.ndarray) -> np.ndarray:
    """1.0 where a snapshot time is an interval boundary (rows of the interval table), else 0.0."""
    return np.isin(times, interval_grid(scenario)).astype(float)
