"""The forecast report: history, held-out tail and forecast with its 95% band, and the scores
of the model and the seasonal-naive baseline (forecast.json, forecast.csv)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.reports import format as fmt
from chirpdesk.reports import plots
from chirpdesk.reports.data import load_json
from chirpdesk.reports.page import Card, TableView
from chirpdesk.reports.plots import COLORS, Plot


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "forecast.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _col(rows: list[dict[str, str]], part: str, key: str) -> np.ndarray:
    return np.asarray([float(r[key]) if r[key] != "" else np.nan for r in rows if r["part"] == part])


def forecast_plot(rows: list[dict[str, str]], doc: dict[str, Any]) -> Plot:
    """Observed threads per interval, the holdout's forecast and the horizon's, with bands."""
    when = {p: np.asarray([dt.datetime.fromtimestamp(float(r["interval_start_s"]), dt.UTC).replace(tzinfo=None)
                           for r in rows if r["part"] == p]) for p in ("history", "holdout", "forecast")}
    with plots.figure("forecast", height=3.6) as (fig, ax):
        hist = _col(rows, "history", "observed")
        keep = slice(max(0, hist.size - 21 * 24 * 3600 // int(doc["interval_s"])), None)  # the last three weeks
        ax.plot(when["history"][keep], hist[keep], color=COLORS["ink"], lw=0.8, label="observed")
        for part, label, colour in (("holdout", "held-out forecast", COLORS["queue"]),
                                    ("forecast", "forecast", COLORS["demand"])):
            if when[part].size:
                ax.fill_between(when[part], _col(rows, part, "low"), _col(rows, part, "high"), color=colour,
                                alpha=0.2, step="post", lw=0)
                ax.plot(when[part], _col(rows, part, "forecast"), color=colour, lw=1.4, label=label)
        if when["holdout"].size:
            ax.plot(when["holdout"], _col(rows, "holdout", "observed"), color=COLORS["ink"], lw=0.8)
        ax.set_ylabel(f"threads per {fmt.duration(doc['interval_s'])}")
        ax.legend(frameon=False, fontsize=9, ncols=3, loc="upper left")
        return plots.finish("forecast", "Threads per interval: what came, and what is forecast",
                            "Shaded: 95% prediction intervals. The held-out tail (if any) was forecast from the "
                            "history before it, and is scored below against the seasonal-naive baseline.",
                            fig, len(rows))


def build(folder: Path) -> dict[str, Any]:
    """The template context of a forecast folder."""
    doc = load_json(folder / "forecast.json")
    rows = _rows(folder)

    def card(key: str, label: str, better: str | None = None) -> Card:
        v = doc.get(key)
        state = "neutral"
        if better is not None and v is not None and doc.get(better) is not None:
            state = "good" if v < doc[better] else "bad"
        return Card(key, label, v, fmt.number(v, 3) if v is not None else "—",
                    f"seasonal naive {fmt.number(doc.get(better), 3)}" if better and doc.get(better) is not None else "",
                    state)

    scores = TableView(name="scores", headers=["", "WAPE", "MASE"], numeric=[False, True, True], rows=[
        ["model", fmt.number(doc.get("wape"), 3), fmt.number(doc.get("mase"), 3)],
        ["seasonal naive", fmt.number(doc.get("baseline_wape"), 3), fmt.number(doc.get("baseline_mase"), 3)],
    ], caption=(f"On the {doc['holdout_intervals']} held-out intervals ({doc.get('holdout_start')} – "
                f"{doc.get('holdout_end')}); 95% intervals covered {fmt.share(doc.get('holdout_coverage'))} of them."
                if doc.get("holdout_intervals") else "No holdout: run with --holdout 1w to score the model."))
    outliers = TableView(name="outliers", headers=["interval", "threads"], numeric=[False, True],
                         rows=[[o["interval_start"], fmt.number(o["threads"], 0)] for o in doc.get("outliers", [])],
                         caption="Intervals over 5 standard deviations from their hour of the week: reported, "
                                 "and replaced by that hour's median before fitting (not learned as seasonality).")
    return {
        "kind": "forecast",
        "title": f"{doc['brand']}: the next {fmt.duration(doc['intervals'] * doc['interval_s'])}",
        "subtitle": "Forecast of inbound threads",
        "period": f"{doc['horizon_start']} – {doc['horizon_end']}",
        "facts": [f"source {doc['source']}", doc["model"], f"baseline: {doc['baseline']}"],
        "verdict": f"{doc['forecast_total']:,.0f} threads expected over the horizon.",
        "verdict_state": "neutral",
        "cards": [card("wape", "WAPE on the holdout", "baseline_wape"), card("mase", "MASE on the holdout", "baseline_mase"),
                  Card("forecast_total", "Threads expected", doc["forecast_total"], f"{doc['forecast_total']:,.0f}")],
        "plots": [forecast_plot(rows, doc)],
        "notes": [],
        "scores": scores,
        "outliers": outliers,
    }
