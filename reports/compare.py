"""Two simulate runs side by side (before/after a staffing change): per metric mean ± CI of A
and B, the difference, a Welch t-test on the per-replication values, and overlaid plots."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from chirpdesk.reports import format as fmt
from chirpdesk.reports import plots
from chirpdesk.reports.data import detect_kind, load_simulate
from chirpdesk.reports.page import Card
from chirpdesk.reports.plots import COLORS, Plot
from chirpdesk.reports.render import render_html, write_html
from chirpdesk.reports.simulate import histogram_cap, run_info
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.metrics import METRIC_UNITS

#: p-value below which a difference is flagged as significant.
ALPHA = 0.05

#: Metrics where a higher value is better; for the others in LOWER_IS_BETTER lower is better.
HIGHER_IS_BETTER = frozenset({"answered_share", "sla_attainment", "service_level_pickup",
                              "resolved_in_public_share"})
LOWER_IS_BETTER = frozenset({"abandoned_share", "unanswered_share", "p_wait", "wait_mean_s", "wait_p90_s",
                             "first_response_mean_s", "first_response_p50_s", "first_response_p90_s",
                             "first_response_p95_s", "queue_mean", "cost_total", "cost_per_conversation",
                             "resolution_time_mean_s", "tier2_wait_mean_s"})

#: Metrics shown as headline cards, with their labels.
HEADLINE = {"sla_attainment": "SLA attainment", "first_response_p90_s": "First response, 90th pct.",
            "abandoned_share": "Gave up waiting", "occupancy": "Occupancy",
            "cost_per_conversation": "Cost per conversation", "cost_total": "Total cost"}


def welch(a: list[Any], b: list[Any]) -> float:
    """Two-sided Welch t-test p-value of per-replication values ``a`` vs ``b``.

    NaN when either side has fewer than two finite values, or both are constant and equal.
    """
    x = np.array([v for v in a if not fmt.is_missing(v)], dtype=float)
    y = np.array([v for v in b if not fmt.is_missing(v)], dtype=float)
    if x.size < 2 or y.size < 2:
        return math.nan
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(stats.ttest_ind(x, y, equal_var=False).pvalue)


def metric_rows(sa: dict[str, Any], sb: dict[str, Any], currency: str) -> list[dict[str, Any]]:
    """One row per metric present in both runs: means, CIs, difference, p-value, verdict."""
    out = []
    ra, rb = sa.get("per_replication") or [], sb.get("per_replication") or []
    for key, unit in METRIC_UNITS.items():
        ma, mb = (sa["metrics"].get(key) or {}), (sb["metrics"].get(key) or {})
        if not ma or not mb:
            continue
        a, b = ma.get("mean"), mb.get("mean")
        diff = None if fmt.is_missing(a) or fmt.is_missing(b) else float(b) - float(a)
        p = welch([r.get(key) for r in ra], [r.get(key) for r in rb])
        significant = not math.isnan(p) and p < ALPHA
        direction = ("better" if (key in HIGHER_IS_BETTER) == (diff > 0) else "worse") \
            if significant and diff and (key in HIGHER_IS_BETTER or key in LOWER_IS_BETTER) else ""
        out.append({
            "metric": key, "unit": unit, "a": a, "b": b, "diff": diff, "p": p,
            "significant": significant, "direction": direction,
            "a_text": fmt.by_unit(a, unit, currency), "b_text": fmt.by_unit(b, unit, currency),
            "a_ci": _ci(ma, unit, currency), "b_ci": _ci(mb, unit, currency),
            "diff_text": fmt.signed(diff, unit, currency),
            "p_text": fmt.MISSING if math.isnan(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}"),
            "verdict": ("significant" if significant else
                        "no variance" if math.isnan(p) and diff == 0 else "not significant"),
        })
    return out


def _ci(m: dict[str, Any], unit: str, currency: str) -> str:
    lo, hi = m.get("ci_low"), m.get("ci_high")
    if fmt.is_missing(lo) or fmt.is_missing(hi):
        return ""
    return f"{fmt.by_unit(lo, unit, currency)} – {fmt.by_unit(hi, unit, currency)}"


def cards(rows: list[dict[str, Any]], target: float) -> list[Card]:
    """Headline cards showing B, with A, the change and its significance underneath."""
    by_key = {r["metric"]: r for r in rows}
    out = []
    for key, label in HEADLINE.items():
        r = by_key.get(key)
        if r is None:
            continue
        state = {"better": "good", "worse": "bad"}.get(r["direction"], "neutral")
        if key == "sla_attainment" and not fmt.is_missing(r["b"]):
            state = "good" if r["b"] >= target else "bad"
        detail = f"A: {r['a_text']} · {r['diff_text']} · {r['verdict']}" + (
            f" (p {r['p_text']})" if r["p_text"] != fmt.MISSING else "")
        out.append(Card(key, f"{label}, B", r["b"], r["b_text"], detail, state,
                        {"value-a": fmt.raw(r["a"]), "p": fmt.raw(r["p"]),
                         "significant": "true" if r["significant"] else "false"}))
    return out


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(d, list) and d and all(isinstance(v, dict) for v in d):
        out = {}
        for i, v in enumerate(d):
            out.update(_flatten(v, f"{prefix}.{i}"))
        return out
    return {prefix: d}


def settings_diff(sa: dict[str, Any], sb: dict[str, Any]) -> list[list[str]]:
    """``[key, A value, B value]`` for every scenario setting that differs between the runs."""
    fa, fb = _flatten(sa.get("settings") or {}), _flatten(sb.get("settings") or {})
    rows = []
    for key in list(dict.fromkeys([*fa, *fb])):
        if key.startswith("meta.name") or key.startswith("meta.description"):
            continue
        va, vb = fa.get(key, "—"), fb.get(key, "—")
        if va != vb:
            rows.append([key, _short(va), _short(vb)])
    return rows


def _short(v: Any) -> str:
    text = str(v)
    return text if len(text) <= 80 else text[:77] + "…"


def overlay_plots(da: dict[str, Any], db: dict[str, Any], ia: dict[str, Any], ib: dict[str, Any]) -> list[Plot]:
    """Interval overlays (arrivals and agents, SLA by hour, queue) and first-response CDFs."""
    A, B = COLORS["muted"], COLORS["demand"]
    span = max(ia["horizon_s"], ib["horizon_s"])
    out = []

    def series(ax: Any, d: dict[str, Any], info: dict[str, Any], col: str, scale: float, **kw: Any) -> int:
        iv = d["intervals"]
        if col not in iv:
            return 0
        x = plots.to_dates(ia["start"], iv["start"])
        plots.step_series(ax, x, iv[col] * scale, info["interval_s"] / 86400.0, **kw)
        return int(np.isfinite(iv[col]).sum())

    with plots.figure("compare_week_shape", height=4.2, nrows=2, sharex=True,
                      gridspec_kw={"height_ratios": [3, 2], "hspace": 0.12}) as (fig, (top, bottom)):
        n = series(top, da, ia, "arrivals", 3600 / ia["interval_s"], color=A, lw=1.4, ls="--", label="A")
        n += series(top, db, ib, "arrivals", 3600 / ib["interval_s"], color=B, lw=1.4, label="B")
        n += series(bottom, da, ia, "agents", 1, color=A, lw=1.6, ls="--", label="A")
        n += series(bottom, db, ib, "agents", 1, color=B, lw=1.6, label="B")
        top.set_ylabel("tweets per hour")
        bottom.set_ylabel("agents on shift")
        for ax in (top, bottom):
            ax.set_ylim(bottom=0)
            plots.shade_warmup(ax, ia["start"], ia["warmup_s"], label=ax is top)
        plots.top_legend(fig, top)
        plots.time_axis(bottom, span)
        out.append(plots.finish("compare_week_shape", "Demand and staff, A vs B",
                                "Tweets arriving per hour (top) and agents on shift (bottom) in run A "
                                "(grey dashed) and run B (blue), hour by hour.", fig, n))
    with plots.figure("compare_sla_by_interval", height=2.8) as (fig, ax):
        n = series(ax, da, ia, "sla_attainment", 1, color=A, lw=1.2, ls="--", label="A")
        n += series(ax, db, ib, "sla_attainment", 1, color=B, lw=1.3, label="B")
        ax.axhline(ib["sla_share"], color=COLORS["target"], ls=":", lw=1.2, label=f"target {fmt.share(ib['sla_share'], 0)}")
        ax.set_ylim(0, 1.02)
        plots.percent_axis(ax)
        plots.shade_warmup(ax, ia["start"], ia["warmup_s"])
        plots.top_legend(fig, ax)
        plots.time_axis(ax, span)
        out.append(plots.finish("compare_sla_by_interval", "SLA attainment hour by hour, A vs B",
                                "Share of tweets meeting the SLA by the hour they arrived, run A (grey "
                                "dashed) and run B (blue); red dotted: the target.", fig, n))
    with plots.figure("compare_queue_length", height=2.8) as (fig, ax):
        n = series(ax, da, ia, "queue_mean", 1, color=A, lw=1.3, ls="--", label="A")
        n += series(ax, db, ib, "queue_mean", 1, color=B, lw=1.4, label="B")
        ax.set_ylabel("tweets waiting")
        ax.set_ylim(bottom=0)
        plots.shade_warmup(ax, ia["start"], ia["warmup_s"])
        plots.top_legend(fig, ax)
        plots.time_axis(ax, span)
        out.append(plots.finish("compare_queue_length", "Queue length, A vs B",
                                "Average number of tweets waiting for an agent each hour.", fig, n))
    ha, hb = da["histograms"].get("first_response_s"), db["histograms"].get("first_response_s")
    if ha is not None and hb is not None and ha.count and hb.count:
        within = ib["sla_within_s"]
        cap = max(histogram_cap(ha, ha.within_s), histogram_cap(hb, within))
        with plots.figure("compare_first_response_cdf", width=plots.HALF, height=3.3) as (fig, ax):
            n = 0
            for h, color, name, ls in ((ha, A, "A", "--"), (hb, B, "B", "-")):
                x, y = plots.histogram_cdf_points(h, cap)
                if x.size:
                    ax.plot(x, y, color=color, ls=ls, lw=1.8, label=name)
                    n += h.total
            plots.sla_cdf_axes(ax, within, ib["sla_share"], cap)
            out.append(plots.finish(
                "compare_first_response_cdf", "Share answered within a given time, A vs B",
                f"All replications of each run pooled; red dashed line: the {fmt.duration(within)} SLA. "
                "The curve further up and left answers faster.", fig, n))
    return out


def _check_simulate(folder: Path) -> None:
    kind = detect_kind(folder)
    if kind != "simulate":
        raise ChirpdeskError(f"{folder}: holds a {kind} run; compare needs two simulate runs "
                             "(folders with summary.json)")


def build(folder_a: Path, folder_b: Path) -> dict[str, Any]:
    """The compare template's context for simulate runs ``folder_a`` (A) and ``folder_b`` (B)."""
    for f in (folder_a, folder_b):
        _check_simulate(f)
    da, db = load_simulate(folder_a), load_simulate(folder_b)
    sa, sb = da["summary"], db["summary"]
    ia, ib = run_info(sa), run_info(sb)
    rows = metric_rows(sa, sb, ib["currency"])
    n_sig = sum(r["significant"] for r in rows)
    key = {r["metric"]: r for r in rows}.get("sla_attainment")
    verdict, state = f"{n_sig} of {len(rows)} metrics differ significantly (Welch t-test, p < {ALPHA}).", "neutral"
    if key:
        verdict = (f"SLA attainment {key['a_text']} in A → {key['b_text']} in B ({key['diff_text']}, "
                   f"{key['verdict']}). " + verdict)
        state = {"better": "good", "worse": "bad"}.get(key["direction"], "neutral")
    notes = []
    if ia["start"] != ib["start"]:
        notes.append(f"The runs start at different times ({ia['start']:%Y-%m-%d %H:%M} vs "
                     f"{ib['start']:%Y-%m-%d %H:%M}); overlays align them by time since start and use A's calendar.")
    return {
        "kind": "compare",
        "title": f"{sa['scenario']} vs {sb['scenario']}",
        "subtitle": "Comparison of two simulation runs",
        "period": f"A = {folder_a} ({sa.get('replications')} replications) · "
                  f"B = {folder_b} ({sb.get('replications')} replications)",
        "facts": [f"generated {dt.date.today():%d %b %Y}"],
        "verdict": verdict,
        "verdict_state": state,
        "cards": cards(rows, ib["sla_share"]),
        "rows": rows,
        "alpha": ALPHA,
        "plots": overlay_plots(da, db, ia, ib),
        "settings_diff": settings_diff(sa, sb),
        "notes": notes,
    }


def render_comparison(folder_a: Path, folder_b: Path, out: Path) -> Path:
    """Write the comparison page to ``out``; returns its path."""
    return write_html(out, render_html("compare.html.j2", build(folder_a, folder_b)))
