"""``chirpdesk forecast``: the next weeks of a brand's inbound volume from its history, scored on
a held-out tail against a seasonal-naive baseline, and a scenario that plans them
(``chirpdesk staff DIR/scenario.toml``). See docs/forecast.md."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.sim.calibrate import Calibration, calibrate, scenario_document
from chirpdesk.sim.commands.calibrate import _date, add_history_arguments, read_args_history
from chirpdesk.sim.commands.common import add_output_arguments, write_report
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.forecast import (
    WEEK,
    check_length,
    forecast_counts,
    history_grid,
    interval_counts,
    mase,
    seasonal_naive,
    wape,
)
from chirpdesk.sim.outputs import json_safe
from chirpdesk.sim.shipped import resolve_scenario
from chirpdesk.sim.units import cli_duration, cli_duration_help


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``forecast`` subcommand."""
    p = sub.add_parser(
        "forecast", help="forecast a brand's inbound volume and write a scenario that plans it",
        description="Forecast threads per interval for --horizon from a history (twcs.csv, X v2 JSON lines or "
                    "the desk's database), with 95%% prediction intervals and a seasonal-naive baseline; with "
                    "--holdout, score both on the held-out tail (WAPE, MASE). Writes forecast.json, "
                    "forecast.csv, scenario.toml (arrivals following the forecast) and report.html.")
    add_history_arguments(p)
    p.add_argument("--horizon", type=cli_duration(), default=14 * 86400.0, metavar="D",
                   help=f"how far ahead to forecast ({cli_duration_help()}; default 2w)")
    p.add_argument("--holdout", type=cli_duration(), default=0.0, metavar="D",
                   help=f"keep the last D of history out, forecast it and score it ({cli_duration_help()}; default 0)")
    p.add_argument("--interval", type=cli_duration(allowed=(1800.0, 3600.0)), default=3600.0, metavar="D",
                   help="forecast interval: 30m or 1h (default 1h)")
    p.add_argument("--since", type=_date, default=None, metavar="DATE", help="only history from DATE (UTC)")
    p.add_argument("--template", default="baseline", metavar="SCENARIO",
                   help="scenario whose other settings the written scenario keeps (default: baseline)")
    add_output_arguments(p, "forecast.json, forecast.csv, scenario.toml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read, forecast, score, write; prints the headline. Returns 0."""
    if args.out is None:
        raise ChirpdeskError("forecast: --out DIR is required (where forecast.json and scenario.toml go)")
    if args.horizon <= 0:
        raise ChirpdeskError(f"--horizon: got {args.horizon:g} s, expected a duration > 0 such as 2w")
    template = resolve_scenario(args.template)
    cal = calibrate(read_args_history(args), args.brand, args.since)
    doc, rows, scenario = forecast_document(cal, args.interval, args.horizon, args.holdout, template)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "forecast.json").write_text(json.dumps(json_safe(doc), indent=2), encoding="utf-8")
    with open(out / "forecast.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["interval_start", "interval_start_s", "part", "forecast", "low", "high",
                                          "observed", "baseline"])
        w.writeheader()
        w.writerows(rows)
    import tomli_w

    (out / "scenario.toml").write_text(_comments(doc, template.name) + tomli_w.dumps(scenario), encoding="utf-8")
    write_report(args)
    h = f"; holdout WAPE {doc['wape']:.3f} vs seasonal-naive {doc['baseline_wape']:.3f}" if doc["holdout_intervals"] else ""
    print(f"{doc['brand']}: {doc['intervals']} intervals forecast from {doc['horizon_start']} to {doc['horizon_end']}, "
          f"{doc['forecast_total']:,.0f} threads expected{h}; wrote {out}/scenario.toml", file=sys.stdout)
    return 0


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def forecast_document(cal: Calibration, width: float, horizon: float, holdout: float,
                      template: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """forecast.json's document, forecast.csv's rows and the scenario table."""
    period = int(round(WEEK / width))
    steps = int(math.ceil(horizon / width))
    held = int(math.ceil(holdout / width))
    first, n = history_grid(cal.starts, width)
    check_length(n, period, held, width)
    counts = interval_counts(cal.starts, first, n, width)
    rows: list[dict[str, Any]] = [
        {"interval_start": _iso(first + i * width), "interval_start_s": first + i * width, "part": "history",
         "forecast": "", "low": "", "high": "", "observed": float(counts[i]), "baseline": ""}
        for i in range(n - held)]
    doc: dict[str, Any] = {"kind": "forecast", "brand": cal.summary["brand"], "source": cal.summary["source"],
                           "interval_s": width, "level": 0.95, "history_start": _iso(first),
                           "history_intervals": n, "holdout_intervals": held,
                           "model": "ETS(A,Ad,N) on the Anscombe scale after classical weekly decomposition "
                                    "(statsmodels); outliers over 5 sigma replaced by their hour-of-week median",
                           "baseline": "seasonal naive (same interval one week earlier)"}
    if held:
        train, actual = counts[:-held], counts[-held:]
        fc = forecast_counts(train, period, held)
        naive = seasonal_naive(train, period, held)
        doc.update(wape=wape(actual, fc.mean), mase=mase(actual, fc.mean, train, period),
                   baseline_wape=wape(actual, naive), baseline_mase=mase(actual, naive, train, period),
                   holdout_coverage=float(np.mean((actual >= np.floor(fc.low)) & (actual <= np.ceil(fc.high)))),
                   holdout_start=_iso(first + (n - held) * width), holdout_end=_iso(first + n * width))
        for i in range(held):
            t = first + (n - held + i) * width
            rows.append({"interval_start": _iso(t), "interval_start_s": t, "part": "holdout",
                         "forecast": float(fc.mean[i]), "low": float(fc.low[i]), "high": float(fc.high[i]),
                         "observed": float(actual[i]), "baseline": float(naive[i])})
    else:
        doc.update(wape=None, mase=None, baseline_wape=None, baseline_mase=None)
    full = forecast_counts(counts, period, max(steps, period))
    naive = seasonal_naive(counts, period, steps)
    start = first + n * width
    for i in range(steps):
        t = start + i * width
        rows.append({"interval_start": _iso(t), "interval_start_s": t, "part": "forecast",
                     "forecast": float(full.mean[i]), "low": float(full.low[i]), "high": float(full.high[i]),
                     "observed": "", "baseline": float(naive[i])})
    flagged = np.flatnonzero(full.outliers)
    doc.update(
        intervals=steps, horizon_start=_iso(start), horizon_end=_iso(start + steps * width),
        horizon_start_s=start, forecast_total=float(full.mean[:steps].sum()),
        outliers=[{"interval_start": _iso(first + i * width), "threads": float(counts[i])} for i in flagged],
    )
    # The scenario: the forecast's level, its hour-of-week shape and its trend over the horizon.
    with open(template, "rb") as f:
        base = tomllib.load(f)
    scenario = scenario_document(cal, base, f"{cal.summary['brand']}-forecast")
    per_hour = full.mean * (3600.0 / width)
    week = per_hour[:period]
    hours = (np.floor((start + np.arange(period) * width) / 3600.0).astype(np.int64) + 72) % 168  # epoch: Thursday
    profile = np.bincount(hours, weights=week, minlength=168) / np.maximum(np.bincount(hours, minlength=168), 1)
    first_week = float(per_hour[:period].mean())
    last_week = float(per_hour[max(steps - period, 0):max(steps, period)].mean())
    arrivals = scenario["arrivals"]
    arrivals["base_rate"] = round(first_week, 4)
    arrivals["hour_of_week"] = [round(float(x), 4) for x in profile / profile.mean()]
    growth = last_week / first_week if first_week > 0 else 1.0
    if steps > period and abs(growth - 1.0) > 1e-3:
        # Linear from the first week's level to the last week's over the horizon.
        # Penetration shares are at most 1: the ratio end / start is what scales the rate.
        start_share, end_share = (1.0 / growth, 1.0) if growth > 1 else (1.0, growth)
        arrivals["adoption"] = {"model": "linear", "start_share": round(start_share, 6), "end_share": round(end_share, 6)}
    else:
        arrivals.pop("adoption", None)
    meta = scenario["scenario"]
    meta["start"] = dt.datetime.fromtimestamp(start, dt.UTC).replace(tzinfo=None)
    meta["horizon"] = f"{steps * width:.0f}s"
    meta["warmup"] = f"{min(86400.0, steps * width / 4):.0f}s"
    meta["description"] = (f"Forecast of {cal.summary['brand']}'s threads for {steps * width / 86400:g} days from "
                           f"{doc['horizon_start']} (chirpdesk forecast); mix, turns, think time and DM share "
                           "calibrated from the same history, the rest from the template.")
    doc["scenario"] = {"base_rate_per_hour": first_week, "growth_over_horizon": growth}
    return doc, rows, scenario


def _comments(doc: dict[str, Any], template: str) -> str:
    lines = [
        f"Written by `chirpdesk forecast` from {doc['source']}, brand {doc['brand']}: arrivals follow the forecast",
        f"of {doc['intervals']} intervals of {doc['interval_s'] / 60:g} min from {doc['horizon_start']} "
        f"({doc['forecast_total']:,.0f} threads expected). Template: {template}.",
        f"  arrivals.base_rate     mean forecast threads per hour over the first week: "
        f"{doc['scenario']['base_rate_per_hour']:.3f}",
        "  arrivals.hour_of_week  the first forecast week's shape, mean 1",
        f"  arrivals.adoption      linear growth to {doc['scenario']['growth_over_horizon']:.3f}x by the horizon's last week "
        "(when the horizon is longer than a week)",
        "  mix, turns, think time, DM share: calibrated from the same history (see chirpdesk calibrate).",
        "Plan it: chirpdesk staff <this file>.",
    ]
    return "".join(f"# {line}\n" for line in lines)
