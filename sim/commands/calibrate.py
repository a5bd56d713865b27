"""``chirpdesk calibrate``: a brand's tweet history to what its desk does today and a scenario
that starts there (see docs/calibration.md)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
import tomllib
from pathlib import Path

import numpy as np

from chirpdesk.sim.calibrate import (
    BRAND_COLUMNS,
    Calibration,
    brand_table,
    calibrate,
    scenario_comments,
    scenario_document,
)
from chirpdesk.sim.commands.common import add_output_arguments, write_report
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.history import FORMATS, History, read_history
from chirpdesk.sim.outputs import json_safe
from chirpdesk.sim.shipped import resolve_scenario


def _date(text: str) -> float:
    """An ISO date or date-time (UTC unless it says otherwise) as epoch seconds."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a date such as 2017-10-01 or "
                                         "2017-10-01T08:00:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def add_history_arguments(p: argparse.ArgumentParser) -> None:
    """HISTORY, --format and --brand: how calibrate, forecast and backtest name their input."""
    p.add_argument("history", metavar="HISTORY", help="twcs.csv, tweets.jsonl, or a desk database (path or URL)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="history format (default: from the name: .jsonl is x-v2, a database is desk, else twcs)")
    p.add_argument("--brand", default=None, help="the brand's author_id/handle (default: the one with most tweets)")


def read_args_history(args: argparse.Namespace) -> History:
    """The history ``args`` name, read with a progress bar on long reads."""
    with _progress() as advance:
        return read_history(args.history, args.format, advance)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` subcommand."""
    p = sub.add_parser(
        "calibrate", help="measure a brand's tweet history and write a scenario that starts from it",
        description="Read a history (twcs.csv, an X API v2 JSON-lines export, or the desk's own database), "
                    "measure the brand's threads, reply pairs, response times, turns and DM share with 95%% "
                    "intervals, and write calibration.json, volume.csv, scenario.toml and report.html.")
    add_history_arguments(p)
    p.add_argument("--since", type=_date, default=None, metavar="DATE", help="only threads started from DATE (UTC)")
    p.add_argument("--until", type=_date, default=None, metavar="DATE", help="only threads started before DATE")
    p.add_argument("--template", default="baseline", metavar="SCENARIO",
                   help="scenario whose other settings the written scenario keeps (default: baseline)")
    add_output_arguments(p, "calibration.json, volume.csv, scenario.toml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read, calibrate, write; prints the headline figures. Returns 0."""
    if args.out is None:
        raise ChirpdeskError("calibrate: --out DIR is required (where calibration.json and scenario.toml go)")
    template_path = resolve_scenario(args.template)
    history = read_args_history(args)
    cal = calibrate(history, args.brand, args.since, args.until)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_calibration(cal, out, template_path)
    if args.brand is None:  # the per-handle benchmark of every brand in the history
        write_brands(brand_table(history), out / "brands.csv")
    write_report(args)
    s = cal.summary
    print(f"{s['brand']}: {s['threads']:,} threads, {s['reply_pairs']:,} reply pairs from {s['rows_read']:,} rows "
          f"({sum(s['rows_rejected'].values()):,} rejected or flagged); response rate {s['response_rate']:.1%}, "
          f"first response p50 {s['first_response_p50_s'] / 60:.1f} min, p90 {s['first_response_p90_s'] / 60:.1f} min, "
          f"{s['answered_within_10m_share']:.1%} answered within 10 min; wrote {out}/scenario.toml")
    return 0


def write_brands(rows: list[dict[str, object]], path: Path) -> None:
    """brands.csv: one row per brand (:data:`chirpdesk.sim.calibrate.BRAND_COLUMNS`), most threads first."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(BRAND_COLUMNS)
        for r in rows:
            w.writerow(["" if isinstance(r[c], float) and r[c] != r[c] else
                        repr(r[c]) if isinstance(r[c], float) else r[c] for c in BRAND_COLUMNS])


def write_calibration(cal: Calibration, out: Path, template: Path) -> None:
    """calibration.json, volume.csv, first_responses.csv and scenario.toml into ``out``."""
    import tomli_w

    with open(out / "calibration.json", "w", encoding="utf-8") as f:
        json.dump(json_safe(cal.summary), f, indent=2)
    with open(out / "volume.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["hour_of_week", "weekday", "hour", "threads_per_hour"])
        for i, v in enumerate(cal.volume):
            w.writerow([i, i // 24, i % 24, repr(float(v))])
    with open(out / "first_responses.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["first_response_s"])
        w.writerows([repr(float(v))] for v in cal.first_response_s)
    with open(out / "think_times.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["think_s"])
        w.writerows([repr(float(v))] for v in cal.think_s)
    with open(out / "turns.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["brand_replies", "threads"])
        values, counts = np.unique(np.clip(cal.brand_replies, 1, 10), return_counts=True)
        w.writerows([int(v), int(c)] for v, c in zip(values, counts, strict=True))
    with open(template, "rb") as f:
        base = tomllib.load(f)
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{cal.summary['brand']}-calibrated")
    doc = scenario_document(cal, base, name)
    (out / "scenario.toml").write_text(scenario_comments(cal, template.name) + tomli_w.dumps(doc), encoding="utf-8")


class _progress:
    """A byte-count progress bar on stderr for long reads (silent when not a terminal)."""

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.bar = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(TextColumn("reading history"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                                transient=True, console=Console(stderr=True))
            self.task = self.bar.add_task("read", total=None)
            self.bar.start()

        def advance(done: int, total: int) -> None:
            if self.bar is not None:
                self.bar.update(self.task, completed=done, total=total)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
