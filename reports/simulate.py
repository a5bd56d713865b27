"""The simulate report: headline cards, the week's shape, queue, first responses, occupancy,
escalation and the scenario as run — from summary.json (metrics, waiting-time histograms) and the
interval table, never from the conversations themselves."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.reports import format as fmt
from chirpdesk.reports import plots
from chirpdesk.reports.data import Table, load_simulate
from chirpdesk.reports.page import Card, TableView, ci_text, target_state
from chirpdesk.reports.plots import COLORS, Plot
from chirpdesk.reports.settings import settings_tree
from chirpdesk.sim.histogram import LINEAR_PER_WITHIN, LINEAR_SPAN, TimeHistogram
from chirpdesk.sim.vocabulary import ESCALATION_TARGETS


def run_info(summary: dict[str, Any]) -> dict[str, Any]:
    """Scenario start (datetime), warm-up and horizon (s), interval (s), SLA and currency."""
    window = summary["window"]
    settings = summary.get("settings") or {}
    meta = settings.get("meta") or {}
    return {
        "start": dt.datetime.fromisoformat(window["start"]),
        "warmup_s": float(window.get("start_s") or 0.0),
        "horizon_s": float(window["end_s"]),
        "interval_s": float(meta.get("interval") or 3600.0),
        "sla_share": float(summary["sla"]["share"]),
        "sla_within_s": float(summary["sla"]["within_s"]),
        "sla_basis": summary["sla"].get("basis", "first_response"),
        "currency": (settings.get("cost") or {}).get("currency", "USD"),
        "replications": summary.get("replications"),
    }


def plural_replications(n: Any) -> str:
    """``"averaged over 5 replications"``, or ``"one replication"`` for one."""
    return "one replication" if n == 1 else f"averaged over {n} replications"


def sla_phrase(info: dict[str, Any]) -> str:
    """``"90% of tweets answered within 10 min"`` (or "picked up" for the pickup basis)."""
    verb = "picked up" if info["sla_basis"] == "pickup" else "answered"
    return f"{fmt.share(info['sla_share'], 0)} of tweets {verb} within {fmt.duration(info['sla_within_s'])}"


def period_text(info: dict[str, Any]) -> str:
    """``"measured Mon 04 Mar 2024 00:00 – Mon 11 Mar 00:00 (7.0 d) after 1.0 d warm-up"``."""
    a = info["start"] + dt.timedelta(seconds=info["warmup_s"])
    b = info["start"] + dt.timedelta(seconds=info["horizon_s"])
    days = (info["horizon_s"] - info["warmup_s"]) / 86400
    span = f"{days:g} days" if days != 1 else "1 day"
    warm = f" after {fmt.duration(info['warmup_s'])} warm-up" if info["warmup_s"] > 0 else ""
    return (f"{fmt.WEEKDAYS[a.weekday()]} {a:%d %b %Y %H:%M} – {fmt.WEEKDAYS[b.weekday()]} "
            f"{b:%d %b %Y %H:%M} ({span}){warm}")


def cards(summary: dict[str, Any], info: dict[str, Any]) -> list[Card]:
    """The headline cards: SLA attainment, first response p50/p90, answered, abandoned,
    escalated, cost per conversation — values exactly as in summary.json."""
    m, units, cur = summary["metrics"], summary.get("units", {}), info["currency"]
    within = info["sla_within_s"]

    def card(key: str, label: str, state: str = "neutral", detail: str | None = None) -> Card:
        unit = units.get(key, "share" if key.endswith("_share") else "")
        metric = m.get(key) or {}
        value = metric.get("mean")
        return Card(key, label, value, fmt.by_unit(value, unit, cur),
                    ci_text(metric, unit, cur) if detail is None else detail, state)

    sla = m.get("sla_attainment") or {}
    frt_state = lambda key: target_state((m.get(key) or {}).get("mean"), within,  # noqa: E731
                                         higher_is_better=False)
    return [
        card("sla_attainment", f"SLA attainment (target {fmt.share(info['sla_share'], 0)})",
             target_state(sla.get("mean"), info["sla_share"], sla.get("ci_low"), sla.get("ci_high"))),
        card("first_response_p50_s", "First response, median", frt_state("first_response_p50_s")),
        card("first_response_p90_s", "First response, 90th percentile", frt_state("first_response_p90_s")),
        card("answered_share", "Answered"),
        card("abandoned_share", "Gave up waiting"),
        card("escalated_share", "Moved off Twitter"),
        card("cost_per_conversation", "Cost per conversation"),
    ]


def verdict(summary: dict[str, Any], info: dict[str, Any]) -> tuple[str, str]:
    """The one-sentence answer and its state: does the desk meet the SLA target?"""
    sla = summary["metrics"].get("sla_attainment") or {}
    mean = sla.get("mean")
    state = target_state(mean, info["sla_share"], sla.get("ci_low"), sla.get("ci_high"))
    words = {"good": "meets the target", "bad": "misses the target",
             "warn": "is on the edge of the target (the 95% CI crosses it)",
             "neutral": "could not be measured"}[state]
    return (f"Target: {sla_phrase(info)}. Simulated attainment {fmt.share(mean)} — the desk {words}.",
            state)


# -- plots ----------------------------------------------------------------------------------

def week_shape(iv: Table, info: dict[str, Any]) -> Plot:
    """Two panels: tweets arriving per hour and agents on shift, over the simulated time."""
    start, width = info["start"], info["interval_s"]
    x = plots.to_dates(info["start"], iv["start"])
    per_hour = 3600.0 / width
    w_days = width / 86400.0
    with plots.figure("week_shape", height=4.2, nrows=2, sharex=True,
                      gridspec_kw={"height_ratios": [3, 2], "hspace": 0.12}) as (fig, (top, bottom)):
        plots.step_series(top, x, iv["arrivals"] * per_hour, w_days, color=COLORS["demand"], lw=1.6,
                          label="all tweets")
        if "needs_reply" in iv:
            plots.step_series(top, x, iv["needs_reply"] * per_hour, w_days, color=COLORS["demand_light"],
                              lw=1.2, label="needing a reply")
        top.set_ylabel("tweets per hour")
        top.set_ylim(bottom=0)
        plots.step_series(bottom, x, iv["agents"], w_days, color=COLORS["staff"], lw=1.6)
        bottom.fill_between(np.append(x, x[-1] + w_days), np.append(iv["agents"], iv["agents"][-1]),
                            step="post", color=COLORS["staff"], alpha=0.12, lw=0)
        bottom.set_ylabel("agents on shift")
        bottom.set_ylim(bottom=0)
        for ax in (top, bottom):
            plots.shade_warmup(ax, start, info["warmup_s"], label=ax is top)
        plots.top_legend(fig, top)
        plots.time_axis(bottom, info["horizon_s"])
        points = 2 * len(x) + (len(x) if "needs_reply" in iv else 0)
        return plots.finish(
            "week_shape", "Demand and staff by hour",
            f"Tweets arriving per hour (top) and agents on shift (bottom), "
            f"{plural_replications(info['replications'])}. Where the blue peaks are not matched by green, "
            "tweets wait. Grey: warm-up, simulated but not counted.", fig, points)


def queue_length(iv: Table, info: dict[str, Any]) -> Plot:
    """Mean number of tweets waiting in each interval."""
    x = plots.to_dates(info["start"], iv["start"])
    w = info["interval_s"] / 86400.0
    q = iv["queue_mean"]
    with plots.figure("queue_length", height=2.8) as (fig, ax):
        plots.step_series(ax, x, q, w, color=COLORS["queue"], lw=1.5, label="tweets waiting (hourly mean)")
        ax.fill_between(np.append(x, x[-1] + w), np.append(q, q[-1]), step="post",
                        color=COLORS["queue"], alpha=0.18, lw=0)
        ax.set_ylabel("tweets waiting")
        ax.set_ylim(bottom=0)
        plots.shade_warmup(ax, info["start"], info["warmup_s"])
        plots.top_legend(fig, ax)
        plots.time_axis(ax, info["horizon_s"])
        peak = int(np.nanargmax(q)) if np.isfinite(q).any() else 0
        when = fmt.moment(info["start"], iv["start"][peak]) if len(q) else ""
        return plots.finish(
            "queue_length", "Queue length over time",
            f"Average number of tweets waiting for an agent in each hour (longest: {q[peak]:.1f} on "
            f"{when}). A queue that does not drain back to zero means the team is not keeping up.",
            fig, len(x))


def sla_by_interval(iv: Table, info: dict[str, Any]) -> Plot | None:
    """SLA attainment of the tweets arriving in each interval, against the target."""
    if "sla_attainment" not in iv or not np.isfinite(iv["sla_attainment"]).any():
        return None
    x = plots.to_dates(info["start"], iv["start"])
    w = info["interval_s"] / 86400.0
    s = iv["sla_attainment"]
    target = info["sla_share"]
    with plots.figure("sla_by_interval", height=2.8) as (fig, ax):
        plots.step_series(ax, x, s, w, color=COLORS["ink"], lw=1.3)
        xs, ys = np.append(x, x[-1] + w), np.append(s, s[-1])
        ax.fill_between(xs, ys, target, where=ys < target, step="post", color=COLORS["bad"],
                        alpha=0.25, lw=0, label="below target")
        ax.axhline(target, color=COLORS["target"], lw=1.2, ls="--", label=f"target {fmt.share(target, 0)}")
        ax.set_ylim(0, 1.02)
        plots.percent_axis(ax)
        plots.shade_warmup(ax, info["start"], info["warmup_s"])
        plots.top_legend(fig, ax)
        plots.time_axis(ax, info["horizon_s"])
        in_window = (iv["start"] >= info["warmup_s"]) & np.isfinite(s)
        below = int(np.sum(s[in_window] < target))
        return plots.finish(
            "sla_by_interval", "SLA attainment hour by hour",
            f"Share of tweets {sla_phrase(info).split(' of tweets ', 1)[1]}, by the hour they arrived. "
            f"Red: hours below the {fmt.share(target, 0)} target ({below} of {int(in_window.sum())} "
            "measured hours).", fig, int(np.isfinite(s).sum()))


def histogram_cap(hist: TimeHistogram, within_s: float) -> float:
    """Where a first-response chart stops: the 99th percentile or twice the SLA time, whichever
    is later, rounded up to a multiple of 40 grid bins while on the grid's fine part (so the
    40 bars of the histogram are sums of whole grid bins)."""
    cap = max(hist.quantile(0.99), 2 * within_s)
    step = within_s / LINEAR_PER_WITHIN
    if cap <= LINEAR_SPAN * within_s:
        cap = min(math.ceil(cap / (40 * step) - 1e-9) * 40 * step, LINEAR_SPAN * within_s)
    return float(cap)


def first_response_plots(hists: dict[str, TimeHistogram], info: dict[str, Any]) -> list[Plot]:
    """Histogram and cumulative share of first-response times (all replications pooled, from
    the run's histograms), SLA line drawn."""
    frt = hists.get("first_response_s")
    if frt is None or frt.total == 0 or frt.count == 0:
        return []
    within, n = info["sla_within_s"], frt.total
    reps = frt.replications
    pooled = f"{reps} replications pooled" if reps != 1 else "replication 1"
    cap = histogram_cap(frt, within)
    bins = np.linspace(0, cap, 41)
    counts = frt.rebin(bins)
    over = frt.count - int(round(frt.cumulative(cap)))
    counts[-1] += over
    out = []
    with plots.figure("first_response_histogram", width=plots.HALF, height=3.2) as (fig, ax):
        ax.stairs(counts, bins, fill=True, color=COLORS["demand"], alpha=0.85)
        ax.axvline(within, color=COLORS["target"], lw=1.5, ls="--")
        ax.text(within, 0.97, f" SLA {fmt.duration(within)}", transform=ax.get_xaxis_transform(),
                color=COLORS["target"], va="top", fontsize=9)
        ax.set_xlabel(f"{plots.minutes_axis(ax, cap)} to first response")
        ax.set_ylabel("tweets")
        ax.set_ylim(bottom=0)
        tail = f" The last bar also holds the {over:,} slower replies." if over else ""
        missed = (f"bars right of the red line took longer than the {fmt.duration(within)} SLA"
                  if info["sla_basis"] != "pickup" else
                  f"red line: the {fmt.duration(within)} SLA (counted on pick-up time here)")
        out.append(plots.finish(
            "first_response_histogram", "How long customers wait for a first reply",
            f"First-response times of the {frt.count:,} answered tweets ({pooled}); "
            f"{missed}.{tail}", fig, frt.count))
    pickup = info["sla_basis"] == "pickup" and "wait_s" in hists
    basis = hists["wait_s"] if pickup else frt
    met = basis.met / n
    with plots.figure("first_response_cdf", width=plots.HALF, height=3.2) as (fig, ax):
        x, y = plots.histogram_cdf_points(frt, cap)
        ax.plot(x, y, color=COLORS["demand"], lw=1.8, label="first response")
        if pickup:
            wx, wy = plots.histogram_cdf_points(basis, cap)
            ax.plot(wx, wy, color=COLORS["queue"], lw=1.6, label="picked up (SLA basis)")
        ax.plot([within], [met], "o", color=COLORS["target"], ms=5)
        ax.annotate(f"{fmt.share(met)} {'picked up' if pickup else 'answered'} within {fmt.duration(within)}",
                    (within, met), xytext=(8, -14), textcoords="offset points", fontsize=9,
                    color=COLORS["ink"])
        plots.sla_cdf_axes(ax, within, info["sla_share"], cap)
        note = (" This scenario's SLA counts pick-up time (orange), as Erlang C does."
                if pickup else "")
        out.append(plots.finish(
            "first_response_cdf", "Share answered within a given time",
            f"Share of tweets answered within each time ({pooled}, {n:,} tweets needing a reply; "
            f"never-answered tweets keep the curve below 100%). Red dashed line: the "
            f"{fmt.duration(within)} SLA; dotted: the {fmt.share(info['sla_share'], 0)} target.{note}",
            fig, n))
    return out


def occupancy(iv: Table, info: dict[str, Any]) -> Plot | None:
    """Occupancy (busy / staffed agent slots) by day and hour as a heat map, or over time."""
    staffed, busy = iv["staffed_slots"], iv["busy_slots"]
    with np.errstate(invalid="ignore", divide="ignore"):
        occ = np.where(staffed > 0, busy / staffed, np.nan)
    if not np.isfinite(occ).any():
        return None
    caption_tail = ("Blue: room to absorb a burst. Orange and red (85% and above): agents have no "
                    "slack, so queues grow quickly when tweets bunch up. Blank cells: nobody on shift.")
    if info["interval_s"] <= 3600 and info["horizon_s"] <= 35 * 86400:
        times = [info["start"] + dt.timedelta(seconds=float(s)) for s in iv["start"]]
        days = sorted({t.date() for t in times})
        grid_sum = np.zeros((len(days), 24))
        grid_n = np.zeros((len(days), 24))
        row = {d: i for i, d in enumerate(days)}
        for t, v in zip(times, occ, strict=True):
            if np.isfinite(v):
                grid_sum[row[t.date()], t.hour] += v
                grid_n[row[t.date()], t.hour] += 1
        with np.errstate(invalid="ignore"):
            grid = np.where(grid_n > 0, grid_sum / grid_n, np.nan)
        height = 1.0 + 0.28 * len(days)
        with plots.figure("occupancy_by_hour", height=height) as (fig, ax):
            ax.grid(False)
            im = ax.pcolormesh(np.arange(25) - 0.5, np.arange(len(days) + 1) - 0.5, grid,
                               cmap=plots.OCCUPANCY_CMAP, vmin=0, vmax=1, edgecolors="white",
                               linewidth=0.5)
            ax.invert_yaxis()
            for (r, c), v in np.ndenumerate(grid):
                if np.isfinite(v):
                    ax.text(c, r, f"{v * 100:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if v > 0.55 else COLORS["ink"])
            ax.set_xticks(range(0, 24, 2), [f"{h:02d}:00" for h in range(0, 24, 2)])
            warm_end = (info["start"] + dt.timedelta(seconds=info["warmup_s"])).date()
            ax.set_yticks(range(len(days)), [f"{fmt.WEEKDAYS[d.weekday()]} {d:%d %b}"
                                             + (" (warm-up)" if d < warm_end else "") for d in days])
            ax.tick_params(length=0)
            for s in ax.spines.values():
                s.set_visible(False)
            cb = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
            cb.ax.yaxis.set_major_formatter(plots.PercentFormatter(1.0, decimals=0))
            cb.outline.set_visible(False)
            return plots.finish(
                "occupancy_by_hour", "How busy agents are, by day and hour",
                "Occupancy: share of staffed agent capacity spent working on conversations, in % "
                f"for each hour of each day (warm-up included). {caption_tail}",
                fig, int(np.isfinite(grid).sum()))
    x = plots.to_dates(info["start"], iv["start"])
    with plots.figure("occupancy_by_hour", height=2.8) as (fig, ax):
        plots.step_series(ax, x, occ, info["interval_s"] / 86400.0, color=COLORS["staff"], lw=1.3)
        ax.axhline(0.85, color=COLORS["target"], lw=1, ls=":")
        ax.set_ylim(0, 1.02)
        plots.percent_axis(ax)
        plots.time_axis(ax, info["horizon_s"])
        return plots.finish("occupancy_by_hour", "How busy agents are over time",
                            f"Occupancy: share of staffed agent capacity spent working, per interval. "
                            f"{caption_tail}", fig, int(np.isfinite(occ).sum()))


def escalation(summary: dict[str, Any]) -> Plot | None:
    """Where resolved conversations ended: in public or in DM, email, phone, ticket (with CIs)."""
    m = summary["metrics"]
    keys = ["resolved_in_public_share"] + [f"escalated_{t}_share" for t in ESCALATION_TARGETS]
    labels = ["resolved in public"] + [{"dm": "moved to DM"}.get(t, f"moved to {t}") for t in ESCALATION_TARGETS]
    present = [(k, lbl) for k, lbl in zip(keys, labels, strict=True)
               if m.get(k) and not fmt.is_missing(m[k].get("mean"))]
    if not present:
        return None
    means = np.array([m[k]["mean"] for k, _ in present])
    lo = np.array([m[k]["ci_low"] if not fmt.is_missing(m[k].get("ci_low")) else m[k]["mean"] for k, _ in present])
    hi = np.array([m[k]["ci_high"] if not fmt.is_missing(m[k].get("ci_high")) else m[k]["mean"] for k, _ in present])
    with plots.figure("escalation", height=0.5 + 0.36 * len(present)) as (fig, ax):
        y = np.arange(len(present))[::-1]
        colors = [COLORS["staff"]] + [COLORS["demand"]] * (len(present) - 1)
        bars = ax.barh(y, means, color=colors, height=0.6,
                       xerr=[np.maximum(means - lo, 0), np.maximum(hi - means, 0)],
                       error_kw={"ecolor": COLORS["muted"], "capsize": 3, "lw": 1})
        ax.set_yticks(y, [lbl for _, lbl in present])
        ax.set_xlim(0, max(1e-9, float(np.nanmax(hi))) * 1.15)
        plots.percent_axis(ax, "x")
        ax.grid(axis="y", visible=False)
        plots.bar_labels(ax, bars, [fmt.share(v) for v in means], at=hi)
        return plots.finish(
            "escalation", "Where conversations were resolved",
            "Of the conversations that were resolved, the share answered publicly on Twitter (green) "
            "and the share moved to another channel — the \"three tweets and an email\" pattern. "
            "Black whiskers: 95% CIs across replications.", fig, len(present))


#: How each grouping is named in the report.
GROUPING_LABELS = {"class": "triage class", "kind": "kind", "handle": "handle"}


def groups_table(summary: dict[str, Any], info: dict[str, Any]) -> TableView | None:
    """Results by triage class, kind and handle (summary.json ``groups``): tweets needing a
    reply, mean wait to pick-up, first response p50/p90, SLA attainment and abandonment, each the
    mean over replications with its 95% interval where there is one."""
    groups = summary.get("groups") or {}
    if not groups:
        return None

    def cell(m: dict[str, Any], key: str, kind: str) -> str:
        v = m.get(key) or {}
        mean = v.get("mean")
        text = fmt.share(mean) if kind == "share" else fmt.duration(mean) if kind == "s" else fmt.number(mean, 0)
        if kind != "n" and v.get("ci_low") is not None and v.get("ci_high") is not None and mean is not None:
            lo, hi = v["ci_low"], v["ci_high"]
            span = (f"{fmt.share(lo)}–{fmt.share(hi)}" if kind == "share"
                    else f"{fmt.duration(lo)}–{fmt.duration(hi)}")
            text += f" ({span})"
        return text

    rows = []
    for grouping in ("class", "kind", "handle"):
        for name, m in (groups.get(grouping) or {}).items():
            rows.append([GROUPING_LABELS[grouping], name, cell(m, "needs_reply", "n"), cell(m, "wait_mean_s", "s"),
                         cell(m, "first_response_p50_s", "s"), cell(m, "first_response_p90_s", "s"),
                         cell(m, "sla_attainment", "share"), cell(m, "abandoned_share", "share")])
    return TableView(
        name="groups",
        headers=["grouping", "group", "tweets needing a reply", "mean wait to pick-up", "first response p50",
                 "first response p90", "SLA", "gave up"],
        rows=rows, numeric=[False, False, True, True, True, True, True, True],
        caption=("Means over replications with 95% intervals. Triage class as the desk ranks tweets: fail "
                 "(#fail or an outage report), influencer, normal. SLA: " + sla_phrase(info) + "."),
    )


def build(folder: Path, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the simulate template needs: title, period, verdict, cards, plots, settings.

    ``data`` is :func:`chirpdesk.reports.data.simulate_data` of a run in memory; without it the
    folder is read (:func:`chirpdesk.reports.data.load_simulate`). Either way the cost grows with
    the intervals, not with the conversations.
    """
    data = load_simulate(folder) if data is None else data
    summary, iv, hists = data["summary"], data["intervals"], data["histograms"]
    info = run_info(summary)
    figures: list[Plot | None] = [week_shape(iv, info), sla_by_interval(iv, info), queue_length(iv, info)]
    notes = []
    if hists:
        figures += first_response_plots(hists, info)
    else:
        notes.append("The run folder has no first-response histograms (summary.json) and no conversation "
                     "table, so the first-response distribution is not shown.")
    figures += [occupancy(iv, info), escalation(summary)]
    text, state = verdict(summary, info)
    reps = summary.get("replications")
    return {
        "kind": "simulate",
        "title": f"{summary['scenario']}",
        "subtitle": "Simulated customer service on Twitter/X",
        "period": period_text(info),
        "facts": [f"{reps} replications" if reps != 1 else "1 replication",
                  f"seed {summary.get('seed')}",
                  f"scenario file {summary.get('source') or '—'}",
                  f"{float((summary['metrics'].get('tweets') or {}).get('mean') or 0):,.0f} tweets in the "
                  "measured window (mean per replication)"],
        "verdict": text,
        "verdict_state": state,
        "cards": cards(summary, info),
        "groups": groups_table(summary, info),
        "plots": [p for p in figures if p is not None],
        "notes": notes,
        "settings": settings_tree(summary.get("settings") or {}, summary.get("raw") or {}),
        "description": ((summary.get("settings") or {}).get("meta") or {}).get("description", ""),
    }
