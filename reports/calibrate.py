"""The calibrate report: what the brand's desk did, from calibration.json, volume.csv and
first_responses.csv (cards with 95% intervals, volume by hour of the week, first responses)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.reports import format as fmt
from chirpdesk.reports import plots
from chirpdesk.reports.data import load_json
from chirpdesk.reports.page import Card, TableView
from chirpdesk.reports.plots import COLORS, Plot

TEN_MINUTES = 600.0


def _column(path: Path, name: str) -> np.ndarray:
    if not path.is_file():
        return np.zeros(0)
    with open(path, encoding="utf-8") as f:
        return np.asarray([float(r[name]) for r in csv.DictReader(f)], dtype=float)


def _ci(pair: Any, kind: str) -> str:
    if not pair or pair[0] is None or pair[1] is None:
        return ""
    show = fmt.share if kind == "share" else fmt.duration if kind == "s" else (lambda v: fmt.number(v, 2))
    return f"95% CI {show(pair[0])} – {show(pair[1])}"


def cards(s: dict[str, Any]) -> list[Card]:
    """Headline figures exactly as in calibration.json."""
    def card(key: str, label: str, kind: str, ci_key: str | None = None, state: str = "neutral") -> Card:
        value = s.get(key)
        text = fmt.share(value) if kind == "share" else fmt.duration(value) if kind == "s" else fmt.number(value, 2)
        return Card(key, label, value, text, _ci(s.get(ci_key), kind) if ci_key else "", state)

    within = s.get("answered_within_10m_share")
    return [
        card("threads", "Threads", "n"),
        card("response_rate", "Customer tweets answered", "share", "response_rate_ci"),
        card("first_response_p50_s", "First response, median", "s", "first_response_p50_ci",
             "good" if (s.get("first_response_p50_s") or 1e9) <= TEN_MINUTES else "bad"),
        card("first_response_p90_s", "First response, 90th percentile", "s", "first_response_p90_ci",
             "good" if (s.get("first_response_p90_s") or 1e9) <= TEN_MINUTES else "bad"),
        card("answered_within_10m_share", "Answered within 10 minutes", "share", "answered_within_10m_ci",
             "good" if (within or 0) >= 0.8 else "warn" if (within or 0) >= 0.5 else "bad"),
        card("turns_mean", "Customer tweets per thread", "n", "turns_mean_ci"),
        card("dm_share", "Moved to DM", "share", "dm_share_ci"),
    ]


def volume_plot(volume: np.ndarray) -> Plot | None:
    """Threads per hour for each hour of the week."""
    if volume.size != 168:
        return None
    with plots.figure("volume_by_hour_of_week", height=3.0) as (fig, ax):
        plots.step_series(ax, np.arange(168) * 3600.0, volume, 3600.0, color=COLORS["demand"], lw=1.6)
        ax.set_xticks(np.arange(7) * 86400.0 + 43200.0)
        ax.set_xticklabels(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
        ax.set_ylabel("threads per hour")
        return plots.finish("volume_by_hour_of_week", "When customers start threads",
                            "New threads per hour for each hour of the week (UTC), averaged over the weeks of "
                            "the window: the arrivals of the written scenario.", fig, 168)


def response_plot(frt: np.ndarray) -> Plot | None:
    """Empirical CDF of first-response times with the 10-minute line."""
    if frt.size == 0:
        return None
    cap = max(float(np.percentile(frt, 99)), 2 * TEN_MINUTES)
    x, y = plots.ecdf_points(frt)
    with plots.figure("first_response_cdf", width=plots.HALF, height=3.2) as (fig, ax):
        ax.plot(x, y, color=COLORS["demand"], lw=1.8, drawstyle="steps-post")
        ax.axvline(TEN_MINUTES, color=COLORS["target"], lw=1.5, ls="--")
        ax.set_xlim(0, cap)
        ax.set_xlabel(f"{plots.minutes_axis(ax, cap)} to first response")
        plots.percent_axis(ax)
        return plots.finish("first_response_cdf", "Share of answered threads answered within a given time",
                            f"First responses of the {frt.size:,} answered threads; red dashed line: 10 minutes, "
                            "what customers expect on Twitter.", fig, frt.size)


def heatmap(volume: np.ndarray) -> Plot | None:
    """Threads per hour as a weekday x hour heatmap."""
    if volume.size != 168:
        return None
    with plots.figure("volume_heatmap", height=2.6) as (fig, ax):
        im = ax.imshow(volume.reshape(7, 24), aspect="auto", cmap="Blues", interpolation="nearest")
        ax.set_yticks(range(7))
        ax.set_yticklabels(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
        ax.set_xticks(range(0, 24, 3))
        ax.set_xticklabels([f"{h:02d}:00" for h in range(0, 24, 3)])
        ax.grid(False)
        fig.colorbar(im, ax=ax, label="threads per hour", pad=0.01)
        return plots.finish("volume_heatmap", "The week at a glance", "Threads started per hour, by weekday and "
                            "hour (UTC): the hour-of-week profile of the written scenario.", fig, 168)


def turns_plot(folder: Path, s: dict[str, Any]) -> Plot | None:
    """Observed replies per answered thread against the fitted distribution."""
    path = folder / "turns.csv"
    fit = s.get("turns_fit") or {}
    if not path.is_file() or not fit:
        return None
    with open(path, encoding="utf-8") as f:
        rows = [(int(r["brand_replies"]), int(r["threads"])) for r in csv.DictReader(f)]
    total = sum(c for _, c in rows) or 1
    with plots.figure("turns", width=plots.HALF, height=3.2) as (fig, ax):
        ax.bar([v for v, _ in rows], [c / total for _, c in rows], color=COLORS["demand"], alpha=0.8, label="observed")
        ax.plot(fit["values"], fit["weights"], "o-", color=COLORS["target"], label=f"fitted ({fit['best']})")
        ax.set_xlabel("brand replies per answered thread")
        plots.percent_axis(ax)
        ax.legend(frameon=False, fontsize=9)
        return plots.finish("turns", "Replies per thread", f"Observed against the {fit['best']} distribution "
                            "written to handling.turns (chosen by AIC over empirical and geometric).", fig, total)


def think_plot(folder: Path, s: dict[str, Any]) -> Plot | None:
    """Observed think times (empirical CDF) against each fitted family."""
    x = _column(folder / "think_times.csv", "think_s")
    fit = s.get("think_time_fit") or {}
    if x.size == 0 or not fit.get("fits"):
        return None
    from scipy import stats

    cap = float(np.percentile(x, 99))
    grid = np.linspace(0, cap, 200)
    ex, ey = plots.ecdf_points(x)
    with plots.figure("think_time", width=plots.HALF, height=3.2) as (fig, ax):
        ax.plot(ex, ey, color=COLORS["demand"], lw=2.2, drawstyle="steps-post", label="observed")
        for name, f in fit["fits"].items():
            mean, cv = f["mean"], f["cv"]
            if name == "exponential":
                cdf = stats.expon.cdf(grid, scale=mean)
            elif name == "lognormal":
                sigma = np.sqrt(np.log(1 + cv**2))
                cdf = stats.lognorm.cdf(grid, sigma, scale=mean / np.exp(sigma**2 / 2))
            else:
                a = 1 / cv**2
                cdf = stats.gamma.cdf(grid, a, scale=mean / a)
            ax.plot(grid, cdf, lw=1.2, ls="--" if name != fit["best"] else "-", label=f"{name} (KS {f['ks']:.3f})")
        ax.set_xlim(0, cap)
        ax.set_xlabel(f"{plots.minutes_axis(ax, cap)} from a brand reply to the customer's next tweet")
        plots.percent_axis(ax)
        ax.legend(frameon=False, fontsize=8)
        return plots.finish("think_time", "How long customers take to write back",
                            f"{x.size:,} follow-ups against each fitted family; {fit['best']} won by AIC and is "
                            "written to customers.think_time.", fig, int(x.size))


def build(folder: Path) -> dict[str, Any]:
    """The template context of a calibrate folder."""
    s = load_json(folder / "calibration.json")
    volume = _column(folder / "volume.csv", "threads_per_hour")
    frt = _column(folder / "first_responses.csv", "first_response_s")
    rejected = s.get("rows_rejected") or {}
    table = TableView(name="rejected", headers=["rows left out or flagged", "count"],
                      rows=[[k, f"{v:,}"] for k, v in rejected.items()], numeric=[False, True],
                      caption=f"{s.get('rows_read', 0):,} rows read, {s.get('rows_used', 0):,} used.")
    fitted = s.get("fitted") or {}
    params = TableView(name="fitted", headers=["scenario setting", "value", "95% interval"],
                       rows=[[k, fmt.number(v.get("value"), 3), f"{fmt.number(v.get('ci_low'), 3)} – "
                              f"{fmt.number(v.get('ci_high'), 3)}"] for k, v in fitted.items()],
                       numeric=[False, True, True])
    return {
        "kind": "calibrate",
        "title": f"{s.get('brand')}: the desk as its tweets show it",
        "subtitle": "Calibrated from tweet history",
        "period": f"{s.get('window_start_iso')} – {s.get('window_end_iso')}",
        "facts": [f"source {s.get('source')} ({s.get('format')})", f"{s.get('threads', 0):,} threads",
                  f"{s.get('reply_pairs', 0):,} reply pairs"],
        "verdict": (f"{fmt.share(s.get('answered_within_10m_share'))} of threads got a first reply within 10 "
                    f"minutes; the median first reply took {fmt.duration(s.get('first_response_p50_s'))}."),
        "verdict_state": "neutral",
        "cards": cards(s),
        "plots": [p for p in (volume_plot(volume), heatmap(volume), response_plot(frt), turns_plot(folder, s),
                              think_plot(folder, s)) if p is not None],
        "notes": [],
        "rejected": table,
        "fitted": params,
        "unknowable": s.get("cannot_be_known") or [],
    }
