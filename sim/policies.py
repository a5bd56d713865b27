"""Staffing policies for multi-period studies: how the team follows (or not) growing volume.

* ``fixed``: the scenario's shifts, whatever the volume.
* ``proportional``: every shift's count scaled by the adoption factor as it was
  ``[policy] hiring_lag`` earlier (hiring takes time), rounded up.
* ``erlang``: staff each period to the SLA: the analytic requirement (``[policy] method``,
  ``mol`` or ``sipp``) of the period's sample, covered at least cost by
  :func:`chirpdesk.sim.shifts_milp.plan_shifts`.
* ``budget``: the ``erlang`` plan, scaled down when its yearly cost exceeds
  ``[policy] budget_per_year`` (0 = twice the fixed team's yearly cost).

Pure functions of the scenario and the period: deterministic, so a study gives the same shifts
in any process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from chirpdesk.sim.arrivals import adoption_factor
from chirpdesk.sim.scenario import Scenario, Shift
from chirpdesk.sim.shifts_milp import plan_shifts
from chirpdesk.sim.staffing import staffing_requirement
from chirpdesk.sim.study import Period
from chirpdesk.sim.units import YEAR

POLICY_NAMES: tuple[str, ...] = ("fixed", "proportional", "budget", "erlang")
WEEKS_PER_YEAR = YEAR / (7 * 86400.0)


def weekly_hours(shifts: Sequence[Shift]) -> float:
    """Paid agent hours per week of ``shifts`` (count x length x days)."""
    return sum(s.count * s.length / 3600.0 * len(s.days) for s in shifts)


def yearly_cost(sc: Scenario, shifts: Sequence[Shift]) -> float:
    """Money per year of ``shifts`` at ``[cost] agent_hour``."""
    return weekly_hours(shifts) * WEEKS_PER_YEAR * sc.cost.agent_hour


def erlang_shifts(sample: Scenario, method: str = "mol") -> tuple[Shift, ...]:
    """Least-cost shifts meeting the SLA analytically in the (one-week) ``sample`` scenario."""
    req = staffing_requirement(sample, method=method)
    plan = plan_shifts(req.used, sample.staffing, req.interval_s, sample.cost.agent_hour)
    return plan.shifts()


def policy_shifts(sc: Scenario, name: str, period: Period | None, sample: Scenario) -> tuple[Shift, ...]:
    """The team of policy ``name`` for ``period`` (None: the scenario as is).

    ``sc`` is the full scenario (its shifts are the starting team; ``[policy]`` holds the
    parameters); ``sample`` is the period's sample scenario, used by ``erlang`` and ``budget``.
    """
    base = sc.agents.shifts
    if name == "fixed":
        return base
    if name == "proportional":
        t = 0.0 if period is None else max(period.sample_start_s + 0.5 * sc.study.sample - sc.policy.hiring_lag, 0.0)
        factor = float(adoption_factor(sc, t))
        return tuple(Shift(s.name, s.days, s.start, s.end, int(math.ceil(s.count * factor - 1e-9))) for s in base)
    if name in ("erlang", "budget"):
        plan = erlang_shifts(sample, sc.policy.method)
        if name == "erlang":
            return plan
        cap = sc.policy.budget_per_year or 2.0 * yearly_cost(sc, base)
        cost = yearly_cost(sc, plan)
        if cost <= cap or cost == 0:
            return plan
        # Over budget: every shift shrinks by the same factor (rounded down), keeping the shape.
        f = cap / cost
        scaled = tuple(Shift(s.name, s.days, s.start, s.end, int(math.floor(s.count * f))) for s in plan)
        return scaled if any(s.count for s in scaled) else base
    raise ValueError(f"unknown policy {name!r}; expected one of {', '.join(POLICY_NAMES)}")


__all__ = ["POLICY_NAMES", "erlang_shifts", "policy_shifts", "weekly_hours", "yearly_cost"]
