"""The load-test report: intended vs achieved arrival rate, latency percentiles per endpoint,
failures by reason, gates, and predicted vs measured first responses — from loadtest.json,
timeline.csv and first_responses.csv."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.reports import format as fmt
from chirpdesk.reports import plots
from chirpdesk.reports.data import Table, load_loadtest, text_column
from chirpdesk.reports.page import Card, TableView
from chirpdesk.reports.plots import COLORS, SERIES, Plot

_LATENCY = re.compile(r"^(?:(?P<endpoint>.+)_)?p(?P<q>\d+)_ms$")
QUANTILE_STYLES = {"50": "-", "95": "--", "99": ":"}


def rate_plot(tl: Table) -> Plot:
    """Intended vs achieved request rate over real time, with the generator's schedule lag."""
    t = tl["t_s"]
    has_lag = "schedule_lag_s" in tl and np.isfinite(tl["schedule_lag_s"]).any()
    with plots.figure("arrival_rate", height=4.0 if has_lag else 2.9, nrows=2 if has_lag else 1,
                      sharex=True, **({"gridspec_kw": {"height_ratios": [3, 1.3], "hspace": 0.12}}
                                      if has_lag else {})) as (fig, axes):
        axes = np.atleast_1d(axes)
        ax = axes[0]
        ax.plot(t, tl["intended_rate"], color=COLORS["muted"], lw=1.6, ls="--", label="intended (scenario)")
        ax.plot(t, tl["achieved_rate"], color=COLORS["demand"], lw=1.8, label="achieved")
        ax.set_ylabel("requests per second")
        ax.set_ylim(bottom=0)
        plots.top_legend(fig, ax)
        points = 2 * t.size
        if has_lag:
            axes[1].plot(t, tl["schedule_lag_s"], color=COLORS["queue"], lw=1.3)
            axes[1].set_ylabel("lag (s)")
            axes[1].set_ylim(bottom=0)
            points += int(np.isfinite(tl["schedule_lag_s"]).sum())
        axes[-1].set_xlabel("seconds since the test started")
        return plots.finish(
            "arrival_rate", "Did the load generator keep up?",
            "Requests per second the scenario asked for (grey dashed) and what was actually sent (blue)"
            + (". Below: how far behind schedule the generator ran; a growing lag means the "
               "generator, not the desk, was the bottleneck." if has_lag else "."), fig, points)


def latency_plot(tl: Table) -> Plot | None:
    """Latency percentiles over time, one panel per endpoint (``<endpoint>_p95_ms`` columns)."""
    series: dict[str, dict[str, str]] = {}
    for col in tl:
        m = _LATENCY.match(col)
        if m and np.isfinite(tl[col]).any():
            series.setdefault(m.group("endpoint") or "all requests", {})[m.group("q")] = col
    if not series:
        return None
    names = sorted(series, key=lambda e: (e != "all requests", e))
    ncols = min(4 if len(names) <= 8 else 5, len(names))
    nrows = -(-len(names) // ncols)
    t = tl["t_s"]
    # base.html.j2 lets this grid grow past the usual 520 px chart height, so panels keep their size.
    height = 2.1 * nrows + 0.5
    with plots.figure("latency", height=height, nrows=nrows, ncols=ncols, sharex=True,
                      squeeze=False) as (fig, axes):
        top = 1 - 0.5 / height  # room for the quantile legend, close above the first row
        fig.subplots_adjust(top=top, hspace=0.45, wspace=0.3)
        points = 0
        for k, ax in enumerate(axes.flat):
            if k >= len(names):
                ax.set_visible(False)
                continue
            ep = names[k]
            for q, col in sorted(series[ep].items(), key=lambda kv: int(kv[0])):
                finite = int(np.isfinite(tl[col]).sum())
                # Rare requests (a few seconds with data) are isolated points a line cannot draw.
                marker = {"marker": "o", "ms": 2.5} if finite < 0.5 * t.size else {}
                ax.plot(t, tl[col], color=SERIES[k % len(SERIES)], lw=1.4,
                        ls=QUANTILE_STYLES.get(q, "-."), label=f"p{q}", **marker)
                points += finite
            ax.set_title(ep, loc="left", fontsize=10)
            ax.set_ylim(bottom=0)
            if k % ncols == 0:
                ax.set_ylabel("ms")
        for ax in axes[-1]:
            ax.set_xlabel("seconds since start")
        from matplotlib.lines import Line2D

        fig.legend([Line2D([], [], color=COLORS["ink"], ls=QUANTILE_STYLES[q]) for q in QUANTILE_STYLES],
                   [f"p{q}" for q in QUANTILE_STYLES], loc="lower center", ncols=3,
                   bbox_to_anchor=(0.5, top + 0.25 / height))
        return plots.finish(
            "latency", "Response times per endpoint",
            "Median (solid), 95th (dashed) and 99th (dotted) percentile response time of all requests "
            "and of each endpoint over the test, in milliseconds; dots mark seconds in which an "
            "endpoint was called only now and then.", fig, points)


def failures_plot(doc: dict[str, Any]) -> Plot | None:
    """Failures by reason (red) next to the 4xx answers the test provoked on purpose (grey)."""
    fails = {str(k): float(v) for k, v in (doc.get("failures") or {}).items() if v}
    expected = {str(k): float(v) for k, v in (doc.get("expected_4xx") or {}).items() if v}
    if not fails and not expected:
        return None
    items = [(k, v, COLORS["bad"]) for k, v in sorted(fails.items(), key=lambda kv: kv[1])]
    items = [(f"{k} (expected)", v, COLORS["muted"]) for k, v in sorted(expected.items(), key=lambda kv: kv[1])] + items
    with plots.figure("failures", height=0.7 + 0.38 * len(items)) as (fig, ax):
        y = np.arange(len(items))
        bars = ax.barh(y, [v for _, v, _ in items], color=[c for _, _, c in items], height=0.6)
        ax.set_yticks(y, [k for k, _, _ in items])
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.12)
        plots.bar_labels(ax, bars, [fmt.number(v) for _, v, _ in items])
        ax.set_xlabel("requests")
        return plots.finish(
            "failures", "What went wrong" if fails else "Nothing failed; errors provoked on purpose",
            "Failed requests by reason (red). Grey: error answers the test provoked on purpose "
            "(malformed or oversized payloads the desk must reject) — these are expected.", fig, len(items))


def cdf_plot(fr: Table, doc: dict[str, Any]) -> Plot | None:
    """Predicted (simulation) vs measured (real desk) first-response CDFs."""
    src = text_column(fr, "source")
    values = {s: fr["first_response_s"][src == s] for s in ("predicted", "measured")}
    values = {s: v for s, v in values.items() if v.size}
    if not values:
        return None
    span = max(float(np.nanpercentile(v, 99)) for v in values.values() if np.isfinite(v).any())
    totals = _cdf_totals(doc, values)
    with plots.figure("first_response_cdf", width=plots.HALF, height=3.3) as (fig, ax):
        points = 0
        for s, v in values.items():
            total = totals.get(s)
            x, y = plots.ecdf_points(v, total=total or v.size)
            answered = (f"{v.size:,} of {total:,} answered" if total and s == "measured" else
                        f"{v.size / total:.0%} answered" if total else f"n={v.size:,}")
            ax.plot(x, y, drawstyle="steps-post", lw=1.8,
                    color=COLORS["muted"] if s == "predicted" else COLORS["demand"],
                    ls="--" if s == "predicted" else "-", label=f"{s} ({answered})")
            points += v.size
        pvm = doc.get("predicted_vs_measured") or {}
        within = (doc.get("sla") or {}).get("within_s") or pvm.get("sla_within_s")
        if within:
            ax.axvline(float(within), color=COLORS["target"], lw=1.2, ls="--",
                       label=f"SLA {fmt.duration(within)}")
        ax.set_xlim(0, span)
        ax.set_ylim(0, 1.02)
        plots.percent_axis(ax)
        ax.set_xlabel(f"{plots.minutes_axis(ax, span)} to first response (scenario time)")
        ax.set_ylabel("share answered")
        ax.legend(loc="upper left" if totals else "lower right", fontsize=8)
        caption = ("Share of the tweets needing a reply that were answered within each time: what the "
                   "simulation predicted (grey dashed) and what the real desk achieved under load (blue)."
                   if totals else
                   "Share of the answered tweets answered within each time: what the simulation "
                   "predicted (grey dashed) and what the real desk achieved under load (blue).")
        if totals and within:
            caption += (" Where a curve crosses the red line is its SLA attainment; tweets still "
                        "unanswered when the test stopped keep the curves below 100%.")
        return plots.finish("first_response_cdf", "Does the real desk behave like the model?",
                            caption + " Close curves mean the model can be trusted for planning.", fig, points)


def _cdf_totals(doc: dict[str, Any], values: dict[str, np.ndarray]) -> dict[str, int]:
    """Tweets needing a reply behind each CDF: ``n`` per side in ``predicted_vs_measured``, the
    prediction pooled over its replications. Empty when the file does not say (then the CDFs
    are of answered tweets only)."""
    pvm = doc.get("predicted_vs_measured") or {}
    tol = pvm.get("tolerance")
    reps = {"measured": 1, "predicted": tol.get("replications") if isinstance(tol, dict) else None}
    out = {}
    for s, v in values.items():
        n, r = (pvm.get(s) or {}).get("n"), reps.get(s)
        if isinstance(n, int | float) and isinstance(r, int | float) and n * r >= v.size:
            out[s] = int(n * r)
    return out if len(out) == len(values) else {}


def gates_table(doc: dict[str, Any]) -> TableView:
    """The pass/fail gates: metric, rule, measured value, verdict."""
    out, classes = [], []
    for g in doc.get("gates") or []:
        passed = bool(g.get("passed"))
        metric = str(g.get("metric"))
        out.append([metric, f"{g.get('op')} {_gate_value(metric, g.get('value'))}",
                    _gate_value(metric, g.get("actual")), "pass" if passed else "FAIL"])
        classes.append("pass" if passed else "fail")
    return TableView("gates", ["gate", "rule", "measured", "result"], out, classes,
                     numeric=[False, False, True, False])


def latency_table(doc: dict[str, Any]) -> TableView:
    """Latency percentiles per endpoint over the whole test (ms)."""
    qs = ("p50", "p90", "p95", "p99", "max")
    out = [[str(ep), *(_num(v.get(q)) for q in qs)] for ep, v in (doc.get("latency_ms") or {}).items()]
    return TableView("latency", ["endpoint", *(f"{q} (ms)" for q in qs)], out,
                     numeric=[False] + [True] * len(qs))


def comparison_table(doc: dict[str, Any]) -> TableView | None:
    """Predicted vs measured SLA attainment and first-response percentiles, with the difference."""
    pvm = doc.get("predicted_vs_measured") or {}
    if not pvm:
        return None
    pred, meas, diff = pvm.get("predicted") or {}, pvm.get("measured") or {}, pvm.get("difference") or {}
    out = []
    for key, unit, name in (("sla_attainment", "share", "SLA attainment"),
                            ("first_response_p50_s", "s", "first response, median"),
                            ("first_response_p90_s", "s", "first response, 90th percentile"),
                            ("n", "", "tweets")):
        out.append([name, fmt.by_unit(pred.get(key), unit), fmt.by_unit(meas.get(key), unit),
                    fmt.signed(diff.get(key), unit) if key in diff else ""])
    tol = pvm.get("tolerance")
    agree = pvm.get("agree")
    caption = ("The measurement agrees with the prediction" if agree else
               "The measurement does NOT agree with the prediction") + (f" (tolerance {_tol(tol)})." if tol is not None else ".")
    return TableView("predicted_vs_measured", ["", "predicted", "measured", "difference"], out,
                     numeric=[False, True, True, True], caption=caption)


def _gate_value(metric: str, v: Any) -> str:
    """A gate's threshold or measurement in the unit its name says (``_share``, ``_ratio``,
    ``_gap``: percent; ``_ms``, ``_s``: milliseconds, seconds)."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return _num(v)
    if metric.endswith(("_share", "_ratio", "_gap")):
        return fmt.share(v)
    if metric.endswith("_ms"):
        return f"{_num(v)} ms"
    if metric.endswith("_s"):
        return f"{_num(v)} s"
    return _num(v)


def _tol(tol: Any) -> str:
    if isinstance(tol, dict):
        return ", ".join(f"{k} {_num(v)}" for k, v in tol.items())
    return _num(tol)


def _num(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return fmt.number(v, 3 if abs(float(v)) < 10 else 1)
    return fmt.MISSING if v is None else str(v)


def cards(doc: dict[str, Any]) -> list[Card]:
    """Gates, requests, achieved rate ratio, failures, worst endpoint p95, model agreement."""
    gates = doc.get("gates") or []
    n_pass = sum(bool(g.get("passed")) for g in gates)
    fails = sum(float(v) for v in (doc.get("failures") or {}).values())
    requests = doc.get("requests")
    ratio = doc.get("achieved_rate_ratio")
    lat = doc.get("latency_ms") or {}
    worst = max(lat.items(), key=lambda kv: kv[1].get("p95") or 0, default=None)
    pvm = doc.get("predicted_vs_measured") or {}
    out = [
        Card("passed", "Gates passed", float(n_pass), f"{n_pass} of {len(gates)}",
             "all gates pass" if doc.get("passed") else "at least one gate fails",
             "good" if doc.get("passed") else "bad"),
        Card("requests", "Requests sent", requests, fmt.number(requests),
             f"over {fmt.duration(doc.get('duration_s'))} at {_num(doc.get('speedup'))}× speed"),
        Card("achieved_rate_ratio", "Achieved / intended rate", ratio, fmt.share(ratio),
             "generator saturated" if doc.get("generator_saturated") else "generator kept up",
             "bad" if doc.get("generator_saturated") else ("good" if ratio is not None and ratio >= 0.95 else "warn")),
        Card("failures", "Failed requests", fails, fmt.number(fails),
             fmt.share(fails / requests) + " of requests" if requests else "",
             "good" if fails == 0 else "bad"),
    ]
    if worst:
        out.append(Card("latency_p95_ms", f"Slowest p95 ({worst[0]})", worst[1].get("p95"),
                        f"{_num(worst[1].get('p95'))} ms", f"p99 {_num(worst[1].get('p99'))} ms"))
    if pvm:
        meas = (pvm.get("measured") or {}).get("sla_attainment")
        pred = (pvm.get("predicted") or {}).get("sla_attainment")
        tol = pvm.get("tolerance")
        tol = tol.get("sla_attainment") if isinstance(tol, dict) else tol
        band = f" ±{fmt.share(tol)}" if isinstance(tol, int | float) else ""
        out.append(Card("measured_sla_attainment", "SLA attainment, measured vs model", meas, fmt.share(meas),
                        f"model predicted {fmt.share(pred)}; "
                        + (f"agrees within{band}" if pvm.get("agree") else f"differs by more than{band}"),
                        "neutral" if pvm.get("agree") else "bad"))
    return out


def build(folder: Path) -> dict[str, Any]:
    """Everything the load-test template needs."""
    data = load_loadtest(folder)
    doc, tl, fr = data["loadtest"], data["timeline"], data["first_responses"]
    passed = bool(doc.get("passed"))
    failed = [str(g.get("metric")) for g in doc.get("gates") or [] if not g.get("passed")]
    verdict = ("PASSED: every gate holds." if passed else
               f"FAILED: {', '.join(failed) or 'the run'} did not meet {'its gate' if len(failed) == 1 else 'their gates'}.")
    if doc.get("generator_saturated"):
        verdict += " Warning: the load generator could not keep up, so the desk saw less load than intended."
    figures = [rate_plot(tl), latency_plot(tl), failures_plot(doc), cdf_plot(fr, doc) if fr is not None else None]
    return {
        "kind": "loadtest",
        "title": str(doc.get("scenario", folder.name)),
        "subtitle": f"Load test against {doc.get('host', '?')}",
        "period": f"{fmt.duration(doc.get('duration_s'))} of real time, scenario replayed at "
                  f"{_num(doc.get('speedup'))}× speed",
        "facts": [f"{fmt.number(doc.get('requests'))} requests",
                  f"intended {_num(doc.get('intended_rate'))}/s, achieved {_num(doc.get('achieved_rate'))}/s",
                  "schedule lag p95 " + _num((doc.get("schedule_lag_s") or {}).get("p95")) + " s"],
        "verdict": verdict,
        "verdict_state": "good" if passed and not doc.get("generator_saturated") else ("warn" if passed else "bad"),
        "cards": cards(doc),
        "plots": [p for p in figures if p is not None],
        "gates": gates_table(doc),
        "latency_table": latency_table(doc),
        "comparison": comparison_table(doc),
        "notes": [] if (doc.get("failures") or doc.get("expected_4xx")) else ["No failed requests."],
    }
