"""Shift covering IP: covers every interval and is optimal (brute force on tiny grids)."""

from __future__ import annotations

import itertools

import numpy as np

from chirpdesk.sim.calendar import agents_on_shift, value_at
from chirpdesk.sim.loader import scenario_from_toml
from chirpdesk.sim.scenario import Staffing
from chirpdesk.sim.shifts_milp import (
    coverage_matrix,
    patterns_for,
    plan_shifts,
    solve_cover,
    toml_snippet,
)
from chirpdesk.sim.staffing import staffing_requirement


def _brute_force(required, matrix, costs, upper):
    best, best_x = np.inf, None
    for combo in itertools.product(range(upper + 1), repeat=matrix.shape[1]):
        x = np.array(combo)
        if np.all(matrix @ x >= required):
            c = float(costs @ x)
            if c < best - 1e-9:
                best, best_x = c, x
    return best, best_x


def test_cover_is_optimal_against_brute_force_on_a_tiny_cyclic_day():
    # Four slots, patterns of 1 or 2 slots starting anywhere (wrapping); a fixed cost per agent
    # makes long shifts cheaper per hour, so the optimum is not the trivial per-slot cover.
    n, patterns = 4, []
    for length in (1, 2):
        for start in range(n):
            patterns.append([(start + j) % n for j in range(length)])
    a = np.zeros((n, len(patterns)), dtype=int)
    for j, slots in enumerate(patterns):
        a[slots, j] = 1
    costs = np.array([len(p) * 10.0 + 7.0 for p in patterns])
    for required in ([2, 3, 1, 0], [1, 2, 2, 3], [3, 0, 2, 1]):
        req = np.array(required)
        x, optimal, _ = solve_cover(req, a, costs, upper=3)
        best, _ = _brute_force(req, a, costs, 3)
        assert optimal
        assert np.all(a @ x >= req)
        assert abs(float(costs @ x) - best) < 1e-9


def test_week_plan_with_two_patterns_matches_brute_force():
    st = Staffing(interval=3600.0, lengths=(12 * 3600.0,), start_every=12 * 3600.0, days=(tuple(range(7)),))
    pats = patterns_for(st, 3600.0)
    assert len(pats) == 2
    req = np.zeros(168, dtype=int)
    req[9:12] = 4   # Monday morning
    req[20] = 2     # Monday evening
    req[150] = 3    # Sunday 06:00
    plan = plan_shifts(req, st, 3600.0, agent_hour=25.0)
    a = coverage_matrix(pats, 3600.0)
    best, _ = _brute_force(req, a, np.array([p.hours_per_week for p in pats]) * 25.0, 5)
    assert np.all(plan.coverage >= req)
    assert abs(plan.cost - best) < 1e-6
    assert plan.cost == plan.hours * 25.0


def test_plan_covers_a_real_requirement_and_pastes_back(minimal_toml):
    sc = scenario_from_toml(minimal_toml.replace('horizon = "2d"', 'horizon = "8d"')
                            .replace("base_rate = 30", "base_rate = 60")
                            + '\n[arrivals.adoption]\nmodel = "none"\n', "tiny.toml")
    req = staffing_requirement(sc, "mol")
    plan = plan_shifts(req.used, sc.staffing, req.interval_s, 30.0)
    assert plan.optimal
    assert np.all(plan.coverage >= req.used)
    # The TOML snippet loads back into a scenario whose shifts give the same coverage.
    head = minimal_toml[: minimal_toml.index("[[agents.shifts]]")]
    again = scenario_from_toml(head.replace('horizon = "2d"', 'horizon = "8d"') + toml_snippet(plan.shifts()),
                               "pasted.toml")
    times, counts = agents_on_shift(again, 14 * 86400.0)
    monday = (7 - again.meta.start.weekday()) % 7 * 86400.0  # first Monday 00:00 after the start
    mids = monday + (np.arange(168) + 0.5) * 3600.0
    assert np.array_equal(value_at(times, counts, mids), plan.coverage)
