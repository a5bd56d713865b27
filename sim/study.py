"""Multi-year studies by sample weeks: periods, their adoption level and their one-week scenarios.

Simulating every tweet of six years is wasteful when the question is "in which quarter does the
SLA break?". A study cuts the horizon into periods (month, quarter, half-year, year) and, for
each, simulates one *sample*: a short scenario (``[study] sample``, default a week, after
``[study] warmup``) starting on the Monday nearest the period's middle, whose base rate is the
scenario's ``base_rate`` times :func:`chirpdesk.sim.arrivals.adoption_factor` at the sample's middle (flat
within the sample) and whose shifts come from the staffing policy (:mod:`chirpdesk.sim.policies`).
Bursts are dated events of the full horizon and are left out of samples.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from chirpdesk.sim.arrivals import adoption_factor
from chirpdesk.sim.loader import scenario_from_dict
from chirpdesk.sim.scenario import Scenario, Shift
from chirpdesk.sim.shifts_milp import clock_text
from chirpdesk.sim.tables import DAY_NAMES
from chirpdesk.sim.units import DAY, YEAR, seconds_text

#: Period lengths in seconds.
PERIOD_SECONDS: dict[str, float] = {
    "month": YEAR / 12,
    "quarter": YEAR / 4,
    "half-year": YEAR / 2,
    "year": YEAR,
}


@dataclass(frozen=True)
class Period:
    """One period of a study: ``index``, ``label`` (``2013-Q2``), ``start_s`` and ``end_s``
    (seconds from the scenario start), the sample's measured start ``sample_start_s`` and the
    volume multiplier ``adoption`` at the sample's middle."""

    index: int
    label: str
    start_s: float
    end_s: float
    sample_start_s: float
    adoption: float


def _label(when: dt.datetime, period: str) -> str:
    if period == "month":
        return f"{when.year}-{when.month:02d}"
    if period == "quarter":
        return f"{when.year}-Q{(when.month - 1) // 3 + 1}"
    if period == "half-year":
        return f"{when.year}-H{1 if when.month <= 6 else 2}"
    return str(when.year)


def periods(sc: Scenario, period: str | None = None) -> list[Period]:
    """The periods covering ``[0, horizon)`` of ``sc`` (``period`` defaults to ``[study] period``).

    A period's sample starts at midnight of the Monday nearest ``middle - sample / 2``, so every
    sample sees whole weeks in the same weekday order; the last partial period is kept when its
    sample fits before the horizon plus one period (a last period shorter than half a period
    is dropped).
    """
    period = period or sc.study.period
    length = PERIOD_SECONDS[period]
    sample = sc.study.sample
    out = []
    k = 0
    # A last period shorter than half a period (e.g. the extra day of a 2191-day horizon) is
    # dropped: its sample would mostly lie beyond the horizon.
    while k * length < sc.meta.horizon and (k == 0 or sc.meta.horizon - k * length >= 0.5 * length):
        a, b = k * length, min((k + 1) * length, sc.meta.horizon)
        start_dt = sc.meta.start + dt.timedelta(seconds=a)
        want = sc.meta.start + dt.timedelta(seconds=0.5 * (a + b) - 0.5 * sample)
        monday = dt.datetime(want.year, want.month, want.day) - dt.timedelta(days=want.weekday())
        if want - monday > dt.timedelta(days=3.5):
            monday += dt.timedelta(days=7)
        s0 = (monday - sc.meta.start).total_seconds()
        s0 = max(s0, 0.0)  # the first sample may not start before the scenario
        factor = float(adoption_factor(sc, s0 + 0.5 * sample))
        out.append(Period(k, _label(start_dt, period), a, b, s0, factor))
        k += 1
    return out


#: :func:`periods` under the name :mod:`chirpdesk.sim` exports it by.
study_periods = periods


def shift_table(s: Shift) -> dict:
    """A shift as the TOML table the loader reads (for building scenarios from raw tables)."""
    return {"name": s.name, "days": [DAY_NAMES[d] for d in s.days], "start": clock_text(s.start),
            # Stored ends may exceed a day (24-hour shifts); an end equal to the start reads as 24 h.
            "end": clock_text(s.end % DAY),
            "count": int(s.count)}


def with_shifts(sc: Scenario, shifts: Sequence[Shift]) -> Scenario:
    """``sc`` with its ``[[agents.shifts]]`` replaced (raw table updated too, so the result can
    be overridden and written back). Shifts with count 0 are kept only if nothing else is left."""
    keep = [s for s in shifts if s.count > 0] or list(shifts[:1])
    raw = copy.deepcopy(sc.raw)
    raw.setdefault("agents", {})["shifts"] = [shift_table(s) for s in keep]
    return scenario_from_dict(raw, sc.source)


def sample_scenario(sc: Scenario, period: Period, shifts: Sequence[Shift] | None = None) -> Scenario:
    """The sample scenario of ``period``: ``[study] warmup`` then ``[study] sample`` seconds,
    base rate scaled by the period's adoption factor, no adoption growth or bursts, and
    ``shifts`` (default: the scenario's own)."""
    raw = copy.deepcopy(sc.raw)
    warm = sc.study.warmup
    meta = raw.setdefault("scenario", {})
    meta["start"] = sc.meta.start + dt.timedelta(seconds=period.sample_start_s - warm)
    meta["horizon"] = seconds_text(warm + sc.study.sample)
    meta["warmup"] = seconds_text(warm)
    if sc.meta.interval > sc.study.sample:
        meta["interval"] = "1h"
    meta["drain"] = seconds_text(min(sc.meta.drain, DAY))
    arr = raw.setdefault("arrivals", {})
    arr["base_rate"] = sc.arrivals.base_rate * 3600.0 * period.adoption
    arr["adoption"] = {"model": "none"}
    arr.pop("bursts", None)
    if shifts is not None:
        keep = [s for s in shifts if s.count > 0] or list(shifts[:1])
        raw.setdefault("agents", {})["shifts"] = [shift_table(s) for s in keep]
    return scenario_from_dict(raw, sc.source)


def sampling_sentence(sc: Scenario, period: str | None, n_periods: int) -> str:
    """What was simulated, in one sentence (for sweep.json and the terminal)."""
    if not period:
        return f"the whole scenario horizon ({sc.meta.horizon / DAY:g} days) was simulated"
    return (f"one sample of {sc.study.sample / DAY:g} days (after {sc.study.warmup / DAY:g} days of "
            f"warm-up) per {period} for {n_periods} periods, at the adoption level of the sample's "
            "middle; the rest of each period was not simulated and bursts were left out")


__all__ = [
    "PERIOD_SECONDS",
    "Period",
    "periods",
    "sample_scenario",
    "sampling_sentence",
    "shift_table",
    "study_periods",
    "with_shifts",
]
