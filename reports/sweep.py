"""The sweep report: each metric against the swept parameter (or the study's periods) with CI
bands, one line per policy; break points; tornado chart and Sobol indices when present."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.reports import format as fmt
from chirpdesk.reports import plots
from chirpdesk.reports.data import Table, load_sweep, rows, text_column
from chirpdesk.reports.page import TableView
from chirpdesk.reports.plots import COLORS, SERIES, Plot
from chirpdesk.sim.metrics import METRIC_UNITS

#: At most this many metrics get their own chart (in METRIC_UNITS order).
MAX_METRIC_PLOTS = 6

#: Metrics charted first, in this order; the rest follow in METRIC_UNITS order.
FIRST_METRICS = ("sla_attainment", "first_response_p90_s", "abandoned_share", "occupancy",
                 "cost_per_conversation", "cost_total")

#: What each metric is called on the page.
METRIC_LABELS = {
    "sla_attainment": "SLA attainment", "first_response_p50_s": "first response, median",
    "first_response_p90_s": "first response, 90th percentile", "abandoned_share": "gave up waiting",
    "answered_share": "answered", "occupancy": "occupancy", "cost_total": "total cost",
    "cost_per_conversation": "cost per conversation", "queue_mean": "mean queue length",
    "escalated_share": "moved off Twitter", "agent_hours": "agent-hours",
}


def label(metric: str) -> str:
    """A metric's readable name (``sla_attainment`` -> ``"SLA attainment"``)."""
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def _grid_keys(doc: dict[str, Any], table: Table) -> list[str]:
    grid = doc.get("grid") or {}
    return [k for k in grid if k in table]


def _value_text(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def metric_plot(table: Table, doc: dict[str, Any], metric: str) -> Plot | None:
    """One metric: x = swept parameter (or period for multi-period studies), CI band, a line per
    policy (and per value of any other swept key)."""
    sel = text_column(table, "metric") == metric
    if not sel.any():
        return None
    keys = _grid_keys(doc, table)
    periods = text_column(table, "period") if "period" in table else np.array([""] * sel.size, dtype=object)
    multi_period = any(p for p in periods[sel])
    varying = [k for k in keys if len(set(table[k][sel].tolist())) > 1]
    xkey = None if multi_period else (varying[0] if varying else None)
    others = [k for k in varying if k != xkey]
    policies = text_column(table, "policy")
    unit = METRIC_UNITS.get(metric, "")
    cur = str(doc.get("currency", "USD"))
    groups: dict[str, np.ndarray] = {}
    for i in np.flatnonzero(sel):
        name = str(policies[i]) or "as configured"
        if others:
            name += " · " + ", ".join(f"{k.rsplit('.', 1)[-1]}={_value_text(table[k][i])}" for k in others)
        groups.setdefault(name, [])
        groups[name].append(i)
    with plots.figure(f"sweep_{metric}", width=plots.HALF, height=3.3) as (fig, ax):
        points = 0
        tick_labels: dict[float, str] = {}
        for j, (name, idx) in enumerate(groups.items()):
            idx = np.array(idx)
            if multi_period:
                x = table["period_start_s"][idx] if "period_start_s" in table else np.arange(idx.size, dtype=float)
                for xi, p in zip(x, periods[idx], strict=True):
                    tick_labels[float(xi)] = str(p)
            else:
                x = table[xkey][idx].astype(float) if xkey else np.zeros(idx.size)
            order = np.argsort(x, kind="stable")
            x, idx = x[order], idx[order]
            color = SERIES[j % len(SERIES)]
            lo, hi = table["ci_low"][idx], table["ci_high"][idx]
            if unit == "share":  # a share's CI cannot leave 0..100% (Student-t bands can)
                lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
            elif np.nanmin(table["mean"][idx], initial=0.0) >= 0:  # nor can a time, cost or count go negative
                lo = np.clip(lo, 0, None)
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
            ax.plot(x, table["mean"][idx], "o-", color=color, lw=1.8, ms=4, label=name)
            points += idx.size
        if multi_period and tick_labels:
            xs = sorted(tick_labels)
            step = max(1, len(xs) // 8)
            ax.set_xticks(xs[::step], [tick_labels[v] for v in xs[::step]])
        elif xkey:
            # Tick the swept values themselves: a grid of 1, 2 concurrent chats has no 1.4.
            values = sorted(set(table[xkey][sel].astype(float).tolist()))
            if len(values) <= 12:
                ax.set_xticks(values, [_value_text(v) for v in values])
        if unit == "share":
            plots.percent_axis(ax)
            target = (doc.get("sla") or {}).get("share") if metric == "sla_attainment" else None
            if target is not None:
                ax.axhline(float(target), color=COLORS["target"], ls="--", lw=1.2,
                           label=f"target {fmt.share(target, 0)}")
        elif unit == "s":
            hi = float(np.nanmax(table["ci_high"][sel])) if np.isfinite(table["ci_high"][sel]).any() else 60.0
            ax.set_ylabel(plots.minutes_axis(ax, max(hi, 60.0), "y"))
            ax.set_ylim(bottom=0)
        elif unit == "money":
            ax.set_ylabel(cur)
        xname = "period" if multi_period else (xkey or "")
        ax.set_xlabel(xname)
        ax.legend(fontsize=8, loc="best")
        over = ("in each period of the study" if multi_period else f"against {xkey}" if xkey
                else "at the single point")
        lines = "one line per policy" + (f" and value of {', '.join(others)}" if others else "")
        sample = (" Costs are those of the simulated sample of each period, not of the whole period."
                  if multi_period and unit == "money" else "")
        return plots.finish(
            f"sweep_{metric}", f"{label(metric)[0].upper() + label(metric)[1:]} across the sweep",
            f"Mean {label(metric)} {over}, {lines}; the band is the 95% CI across "
            f"{doc.get('replications', '?')} replications.{sample}", fig, points)


def breakpoints_table(bp: Table, doc: dict[str, Any]) -> TableView:
    """When each policy (and grid point) first misses the SLA target; empty means never."""
    keys = [k for k in (doc.get("grid") or {}) if k in bp]
    periods = bool(doc.get("periods"))
    out, classes = [], []
    for r in rows(bp):
        broke = not fmt.is_missing(r.get("break_period"))
        when = "" if fmt.is_missing(r.get("break_start_s")) else fmt.duration(r["break_start_s"])
        cells = [*(_value_text(r[k]) for k in keys), str(r.get("policy") or "—")]
        if periods:  # without periods the break is always "horizon" at 0 s: nothing to show
            cells += [_value_text(r["break_period"]) if broke else "never", when if broke else ""]
        out.append([*cells, "misses target" if broke else "holds"])
        classes.append("fail" if broke else "pass")
    if periods:
        return TableView("breakpoints", [*keys, "policy", "first period below target",
                                         "starts after", "verdict"], out, classes,
                         caption="First period whose mean SLA attainment falls below the target.")
    return TableView("breakpoints", [*keys, "policy", "verdict"], out, classes,
                     caption="Whether the mean SLA attainment over the simulated run meets the target.")


def tornado(sens: Table, metric: str, doc: dict[str, Any]) -> Plot | None:
    """Tornado chart: the metric at each parameter's low and high value, widest swing on top."""
    sel = text_column(sens, "metric") == metric
    if not sel.any():
        return None
    params = text_column(sens, "parameter")[sel]
    low, high, base = sens["low"][sel], sens["high"][sel], sens["base"][sel]
    lv = sens["low_value"][sel] if "low_value" in sens else np.full(sel.sum(), np.nan)
    hv = sens["high_value"][sel] if "high_value" in sens else np.full(sel.sum(), np.nan)
    order = np.argsort(np.abs(high - low))
    b = float(np.nanmean(base))
    unit = METRIC_UNITS.get(metric, "")
    cur = str(doc.get("currency", "USD"))
    with plots.figure(f"tornado_{metric}", height=0.9 + 0.45 * order.size) as (fig, ax):
        y = np.arange(order.size)
        ax.barh(y, low[order] - b, left=b, color=COLORS["demand_light"], height=0.6, label="parameter at low value")
        ax.barh(y, high[order] - b, left=b, color=COLORS["demand"], height=0.6, label="parameter at high value")
        ax.axvline(b, color=COLORS["ink"], lw=1)
        names = [f"{params[i]}  ({_value_text(lv[i])} → {_value_text(hv[i])})" for i in order]
        ax.set_yticks(y, names)
        ax.grid(axis="y", visible=False)
        for yi, i in zip(y, order, strict=True):
            for v in (low[i], high[i]):
                ax.text(v, yi, f" {fmt.by_unit(v, unit, cur)} ", va="center", fontsize=8,
                        ha="left" if v >= b else "right", color=COLORS["ink"])
        ax.margins(x=0.2)
        xlabel = f"{label(metric)} (base {fmt.by_unit(b, unit, cur)})"
        if unit == "share":
            plots.percent_axis(ax, "x")
        elif unit == "s":
            lo_x, hi_x = ax.get_xlim()
            xlabel += f", {plots.minutes_axis(ax, hi_x - lo_x, 'x')}"
        elif unit == "money":
            xlabel += f", {cur}"
        ax.set_xlabel(xlabel)
        plots.top_legend(fig, ax)
        return plots.finish(
            f"tornado_{metric}", f"What moves {label(metric)} most",
            f"Each bar shows {label(metric)} when one parameter is set to its low (light) or high "
            f"(dark) value and everything else stays at the base case ({fmt.by_unit(b, unit, cur)}). "
            "Widest bars on top: the parameters worth getting right.", fig, 2 * order.size)


def sobol_table(sobol: Table) -> TableView:
    """First-order (S1) and total (ST) Sobol indices with their confidence half-widths."""
    out = []
    for r in sorted(rows(sobol), key=lambda r: (str(r["metric"]), -float(r["ST"]))):
        out.append([str(r["parameter"]), label(str(r["metric"])),
                    f"{r['S1']:.2f} ± {r.get('S1_conf', float('nan')):.2f}",
                    f"{r['ST']:.2f} ± {r.get('ST_conf', float('nan')):.2f}"])
    return TableView("sobol", ["parameter", "metric", "first-order S1", "total ST"], out,
                     numeric=[False, False, True, True],
                     caption="Share of the metric's variance explained by each parameter alone (S1) "
                             "and including its interactions (ST).")


def build(folder: Path) -> dict[str, Any]:
    """Everything the sweep template needs: metric plots, break points, tornado, Sobol."""
    data = load_sweep(folder)
    doc, table = data["sweep"], data["table"]
    present = set(text_column(table, "metric").tolist())
    metrics = [m for m in FIRST_METRICS if m in present]
    if not metrics:  # a sweep of other metrics only: chart them in METRIC_UNITS order
        metrics = [m for m in METRIC_UNITS if m in present] + sorted(present - set(METRIC_UNITS))
    figures = [metric_plot(table, doc, m) for m in metrics[:MAX_METRIC_PLOTS]]
    sens = data["sensitivity"]
    tornados = []
    if sens is not None:
        sm = list(dict.fromkeys(text_column(sens, "metric").tolist()))
        tornados = [tornado(sens, m, doc) for m in sm]
    grid = doc.get("grid") or {}
    policies = sorted(set(text_column(table, "policy").tolist()) - {""})
    bp = data["breakpoints"]
    verdict, state = "", "neutral"
    if bp is not None and len(bp["policy"]):
        broken = [r for r in rows(bp) if not fmt.is_missing(r.get("break_period"))]
        if broken:
            first = min(broken, key=lambda r: float(r.get("break_start_s") or 0))
            keys = [k for k in grid if k in first]
            where = ", ".join(f"{k} = {_value_text(first[k])}" for k in keys)
            when = (f" in period {_value_text(first['break_period'])}" if doc.get("periods") else "")
            verdict = (f"{len(broken)} of {len(bp['policy'])} configurations miss the SLA target; the first "
                       f"is policy \"{first.get('policy')}\"" + (f" at {where}" if where else "") + f"{when}.")
            state = "bad"
        else:
            verdict, state = "Every configuration holds the SLA target in every period.", "good"
    return {
        "kind": "sweep",
        "title": str(doc.get("scenario", folder.name)),
        "subtitle": "Study over time" if doc.get("periods") else "Parameter sweep",
        "period": doc.get("sampling") or "",
        "facts": [", ".join(f"{k}: {', '.join(map(_value_text, v))}" for k, v in grid.items()),
                  f"policies: {', '.join(policies)}" if policies else "",
                  f"{doc.get('replications', '?')} replications per point",
                  f"seed {doc.get('seed')}" if doc.get("seed") is not None else ""],
        "verdict": verdict,
        "verdict_state": state,
        "cards": [],
        "plots": [p for p in figures if p is not None],
        "tornado": [p for p in tornados if p is not None],
        "breakpoints": breakpoints_table(bp, doc) if bp is not None else None,
        "sobol": sobol_table(data["sobol"]) if data["sobol"] is not None else None,
    }
