"""The backtest report: observed and simulated first responses hour by hour, and the implied
team size's fit curve (backtest.json, backtest.csv)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.reports import format as fmt
from chirpdesk.reports import plots
from chirpdesk.reports.data import load_json
from chirpdesk.reports.page import Card
from chirpdesk.reports.plots import COLORS, Plot


def curves(rows: list[dict[str, str]]) -> Plot | None:
    """Observed hourly median first response over time against the simulated range."""
    if not rows:
        return None
    when = [dt.datetime.fromtimestamp(float(r["hour_s"]), dt.UTC).replace(tzinfo=None) for r in rows]
    col = {k: np.asarray([float(r[k]) for r in rows]) / 60.0 for k in rows[0] if k.endswith("_s") and k != "hour_s"}
    with plots.figure("backtest_hourly", height=3.4) as (fig, ax):
        ax.fill_between(when, col["simulated_p50_low_s"], col["simulated_p50_high_s"], color=COLORS["demand"],
                        alpha=0.25, lw=0, label="simulated median, range over replications")
        ax.plot(when, col["simulated_p50_s"], color=COLORS["demand"], lw=1.2)
        ax.plot(when, col["observed_p50_s"], color=COLORS["ink"], lw=0.9, label="observed median")
        ax.set_ylabel("first response, minutes")
        ax.legend(frameon=False, fontsize=9, loc="upper left")
        return plots.finish("backtest_hourly", "Median first response per hour: the brand against the model",
                            "Each point: the threads that arrived in that hour (hours with at least 5).", fig, len(rows))


def fit_curve(fit: dict[str, Any]) -> Plot | None:
    """KS distance between simulated and observed first responses by team size."""
    if not fit:
        return None
    a = [c["agents"] for c in fit["curve"]]
    d = [c["ks_distance"] for c in fit["curve"]]
    with plots.figure("backtest_fit", width=plots.HALF, height=3.0) as (fig, ax):
        ax.plot(a, d, "o-", color=COLORS["demand"])
        ax.axvline(fit["agents"], color=COLORS["target"], ls="--")
        ax.set_xlabel("agents")
        ax.set_ylabel("KS distance")
        return plots.finish("backtest_fit", "Which team reproduces the observed responses",
                            f"Kolmogorov-Smirnov distance between simulated and observed first responses; "
                            f"{fit['agents']} agents chosen ({'smallest team that matches' if fit['matched'] else 'closest'}).",
                            fig, len(a))


def build(folder: Path) -> dict[str, Any]:
    """The template context of a backtest folder."""
    doc = load_json(folder / "backtest.json")
    path = folder / "backtest.csv"
    rows: list[dict[str, str]] = []
    if path.is_file() and path.stat().st_size:
        with open(path, encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    cards = [
        Card("agents", "Agents" + (" (implied)" if doc.get("fit") else ""), doc["agents"], str(doc["agents"])),
        Card("observed_p50_s", "Observed median first response", doc["observed_p50_s"], fmt.duration(doc["observed_p50_s"])),
        Card("simulated_p50_s", "Simulated median", doc["simulated_p50_s"], fmt.duration(doc["simulated_p50_s"])),
        Card("share_inside_p50", "Hours inside the simulated range", doc["share_inside_p50"],
             fmt.share(doc["share_inside_p50"]), f"{fmt.share(doc['expected_share_inside'])} if the model were exact"),
    ]
    return {
        "kind": "backtest", "title": f"{doc['brand']}: the model against what happened",
        "subtitle": "Back-test on real arrivals", "period": f"{doc['threads_replayed']:,} answered threads replayed",
        "facts": [f"source {doc['source']}", f"template {doc['template']} (compose {doc['compose']})"],
        "verdict": (f"With {doc['agents']} agents the model's median first response is "
                    f"{fmt.duration(doc['simulated_p50_s'])} against {fmt.duration(doc['observed_p50_s'])} observed."),
        "verdict_state": "neutral", "cards": cards,
        "plots": [p for p in (curves(rows), fit_curve(doc.get("fit") or {})) if p is not None],
        "notes": [], "unknowable": doc.get("cannot_be_known") or [],
    }
