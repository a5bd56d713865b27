"""The staff report: required vs scheduled agents per interval, the shift plan, its cost and
how the plan performed when simulated — from staff.json, requirement.csv and shifts.csv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.reports import format as fmt
from chirpdesk.reports import plots
from chirpdesk.reports.data import Table, load_staff, rows, text_column
from chirpdesk.reports.page import Card, TableView, ci_text, target_state
from chirpdesk.reports.plots import COLORS, SERIES, Plot
from chirpdesk.sim.metrics import METRIC_UNITS

#: Optional per-method requirement columns and their legend names.
METHODS = {"required_sipp": "each interval on its own (SIPP)", "required_mol": "multi-interval (MOL)",
           "required_isa": "simulation search (ISA)"}


def _ticks(ax: object, start: np.ndarray, labels: np.ndarray) -> None:
    """Label the x axis (seconds) at day starts with the labels from requirement.csv."""
    span = float(start[-1] - start[0]) if start.size else 0.0
    every = 86400.0 if span > 3 * 86400 else 6 * 3600.0
    idx = [i for i, s in enumerate(start) if s % every == 0] or [0]
    text = [str(labels[i]).split(" ")[0] if every == 86400.0 else str(labels[i]).replace(" ", "\n", 1)
            for i in idx]
    ax.set_xticks(start[idx], text)
    ax.set_xticks(start[::6] if every == 86400.0 else start, minor=True)


def staffing_plot(req: Table, doc: dict[str, Any]) -> Plot:
    """Two panels: arrival rate, then required vs scheduled agents (steps) with method lines."""
    start = req["start"]
    width = float(doc.get("interval_s") or (np.median(np.diff(start)) if start.size > 1 else 3600))
    labels = text_column(req, "label") if "label" in req else np.array([f"{s:g} s" for s in start])
    has_rate = "arrival_rate_per_h" in req and np.isfinite(req["arrival_rate_per_h"]).any()
    nrows = 2 if has_rate else 1
    with plots.figure("staffing", height=5.0 if has_rate else 3.4, nrows=nrows, sharex=True,
                      **({"gridspec_kw": {"height_ratios": [2, 3], "hspace": 0.12}} if has_rate else {})
                      ) as (fig, axes):
        axes = np.atleast_1d(axes)
        points = 0
        if has_rate:
            top = axes[0]
            plots.step_series(top, start, req["arrival_rate_per_h"], width, color=COLORS["demand"], lw=1.5)
            top.set_ylabel("tweets per hour")
            top.set_ylim(bottom=0)
            points += start.size
        ax = axes[-1]
        required, scheduled = req["required"], req["scheduled"]
        xs = np.append(start, start[-1] + width)
        plots.step_series(ax, start, scheduled, width, color=COLORS["staff"], lw=2.0, label="scheduled")
        ax.fill_between(xs, np.append(scheduled, scheduled[-1]), step="post", color=COLORS["staff"],
                        alpha=0.12, lw=0)
        same = [c for c in METHODS if c in req and np.array_equal(req[c], required, equal_nan=True)]
        req_name = "required" + (f" ({METHODS[same[0]].split('(')[-1].rstrip(')')})" if same else "")
        plots.step_series(ax, start, required, width, color=COLORS["ink"], lw=1.4, label=req_name)
        short = np.append(scheduled < required, False)
        ax.fill_between(xs, np.append(required, required[-1]), np.append(scheduled, scheduled[-1]),
                        where=short, step="post", color=COLORS["bad"], alpha=0.35, lw=0,
                        label="short of requirement" if short.any() else None)
        points += 2 * start.size
        for i, (col, name) in enumerate(METHODS.items()):
            if col in req and np.isfinite(req[col]).any() and col not in same:
                plots.step_series(ax, start, req[col], width, color=SERIES[(i + 1) % len(SERIES)],
                                  lw=1.0, ls="--", label=name)
                points += int(np.isfinite(req[col]).sum())
        ax.set_ylabel("agents")
        ax.set_ylim(bottom=0)
        plots.top_legend(fig, ax, anchor=axes[0])
        _ticks(ax, start, labels)
        n_short = int(np.sum(scheduled < required))
        return plots.finish(
            "staffing", "Agents required and scheduled",
            ("Tweets expected per hour (top) and, below, the agents needed to meet the target in each "
             "interval (black) against the agents the shift plan puts on (green). Red: intervals where "
             f"the plan is short ({n_short} of {start.size}). Dashed: what each sizing method asks for."),
            fig, points)


def shifts_table(sh: Table, currency: str) -> TableView:
    """The shift plan, one row per shift, with a total row."""
    out, total_h, total_cost = [], 0.0, 0.0
    for r in sorted(rows(sh), key=_shift_order):
        hours, cost = r.get("hours_per_week"), r.get("cost_per_week")
        total_h += 0.0 if fmt.is_missing(hours) else float(hours)
        total_cost += 0.0 if fmt.is_missing(cost) else float(cost)
        out.append([str(r["name"]), str(r["days"]), _clock(r["start"]), _clock(r["end"]),
                    fmt.number(r["count"]), fmt.number(hours), fmt.money(cost, currency)])
    out.append(["total", "", "", "", "", fmt.number(total_h), fmt.money(total_cost, currency)])
    return TableView("shifts", ["shift", "days", "start", "end", "agents", "agent-hours / week",
                                "cost / week"], out, row_classes=[""] * (len(out) - 1) + ["total"],
                     numeric=[False, False, False, False, True, True, True])


#: Day sets first (every day, weekdays, weekends), then single days in week order.
DAY_ORDER = ("all", "daily", "weekdays", "mon-fri", "weekends", "sat,sun", "mon", "tue", "wed", "thu", "fri",
             "sat", "sun")


def _shift_order(r: dict[str, Any]) -> tuple[int, str, str, str]:
    """Shifts as a planner reads a rota: by day set, then start time (shifts.csv is in the
    optimiser's pattern order, which puts 07:00 before 00:00)."""
    days = str(r.get("days", "")).strip().lower()
    rank = DAY_ORDER.index(days) if days in DAY_ORDER else len(DAY_ORDER)
    return rank, days, _clock(r.get("start")), _clock(r.get("end"))


def _clock(value: Any) -> str:
    return fmt.clock(value) if isinstance(value, int | float) else str(value)


def cards(doc: dict[str, Any], req: Table) -> list[Card]:
    """Plan cost, simulated SLA attainment and abandonment against the target, peak agents."""
    cur = doc.get("currency", "USD")
    target = doc.get("target") or {}
    sim = doc.get("simulated") or {}
    out = [Card("plan_cost", "Plan cost per week", doc.get("plan_cost"),
                fmt.money(doc.get("plan_cost"), cur), f"sized with {str(doc.get('method', '?')).upper()}")]
    sla = sim.get("sla_attainment")
    if sla:
        out.append(Card("sla_attainment", f"SLA attainment, simulated (target {fmt.share(target.get('share'), 0)})",
                        sla.get("mean"), fmt.share(sla.get("mean")), ci_text(sla, "share", cur),
                        target_state(sla.get("mean"), float(target.get("share", 0)), sla.get("ci_low"),
                                     sla.get("ci_high"))))
    ab = sim.get("abandoned_share")
    if ab:
        limit = target.get("max_abandon")
        state = ("neutral" if fmt.is_missing(limit) else
                 target_state(ab.get("mean"), float(limit), ab.get("ci_low"), ab.get("ci_high"), False))
        name = "Gave up waiting" + ("" if fmt.is_missing(limit) else f" (limit {fmt.share(limit, 0)})")
        out.append(Card("abandoned_share", name, ab.get("mean"),
                        fmt.share(ab.get("mean")), ci_text(ab, "share", cur), state))
    for key in ("first_response_p90_s", "occupancy", "cost_per_conversation"):
        m = sim.get(key)
        if m:
            unit = METRIC_UNITS.get(key, "")
            label = {"first_response_p90_s": "First response, 90th percentile",
                     "occupancy": "Occupancy", "cost_per_conversation": "Cost per conversation"}[key]
            out.append(Card(key, label, m.get("mean"), fmt.by_unit(m.get("mean"), unit, cur),
                            ci_text(m, unit, cur)))
    peak = float(np.nanmax(req["scheduled"])) if req["scheduled"].size else None
    out.append(Card("peak_scheduled", "Most agents at once", peak, fmt.number(peak),
                    f"required at peak: {fmt.number(np.nanmax(req['required']) if req['required'].size else None)}"))
    return out


def build(folder: Path) -> dict[str, Any]:
    """Everything the staff template needs: title, verdict, cards, plot, shift table, snippet."""
    data = load_staff(folder)
    doc, req, sh = data["staff"], data["requirement"], data["shifts"]
    target = doc.get("target") or {}
    cur = doc.get("currency", "USD")
    sla = (doc.get("simulated") or {}).get("sla_attainment") or {}
    state = target_state(sla.get("mean"), float(target.get("share", 0)), sla.get("ci_low"), sla.get("ci_high"))
    goal = (f"{fmt.share(target.get('share'), 0)} of tweets answered within "
            f"{fmt.duration(target.get('within_s'))}")
    words = {"good": "meets", "bad": "misses", "warn": "is on the edge of",
             "neutral": "was not checked against"}[state]
    verdict = (f"Target: {goal}. The plan costs {fmt.money(doc.get('plan_cost'), cur)} per week and "
               f"{words} the target when simulated ({fmt.share(sla.get('mean'))}).")
    return {
        "kind": "staff",
        "title": str(doc.get("scenario", folder.name)),
        "subtitle": "Staffing plan",
        "period": (f"{req['start'].size} intervals of {fmt.duration(doc.get('interval_s'))}, "
                   f"{fmt.duration(req['start'].size * float(doc.get('interval_s') or 3600))} in all"),
        "facts": [f"method {str(doc.get('method', '?')).upper()}",
                  f"abandonment limit {fmt.share(target.get('max_abandon'), 0)}" if target.get("max_abandon") is not None else "",
                  f"currency {cur}"],
        "verdict": verdict,
        "verdict_state": state,
        "cards": cards(doc, req),
        "plots": [staffing_plot(req, doc)],
        "shifts": shifts_table(sh, cur),
        "snippet": doc.get("snippet", ""),
    }
