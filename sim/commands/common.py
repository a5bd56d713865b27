"""Pieces shared by the subcommands: scenario arguments and a progress bar."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chirpdesk.sim.loader import load_scenario
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.shipped import resolve_scenario


def add_scenario_arguments(p: argparse.ArgumentParser) -> None:
    """Add SCENARIO, --seed and --set to a subcommand parser."""
    p.add_argument("scenario", metavar="SCENARIO",
                   help="scenario TOML file, or the name of a shipped one (`chirpdesk scenarios` "
                        "lists them); see docs/scenarios.md")
    p.add_argument("--seed", type=int, metavar="S", help="master seed (default: the scenario's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario key, e.g. --set arrivals.base_rate=240 (repeatable)")


def add_output_arguments(p: argparse.ArgumentParser, files: str) -> None:
    """Add --out DIR and --report/--no-report (a report is written by default with --out)."""
    p.add_argument("--out", "-o", type=Path, metavar="DIR", help=f"folder for {files} and report.html")
    p.add_argument("--report", action=argparse.BooleanOptionalAction, default=None,
                   help="write report.html next to the data files (default: on when --out is given)")


def write_report(args: argparse.Namespace, data: dict[str, Any] | None = None) -> bool:
    """Render ``report.html`` into ``args.out`` unless ``--no-report``; True when written.

    ``data`` is what the command already holds, in the form the report's loader returns
    (:func:`chirpdesk.reports.data.simulate_data`); without it the report reads the folder.

    A rendering failure is reported as a warning: it must never lose the data files already
    written, and ``chirpdesk report DIR`` can render them again later.
    """
    if not args.out or args.report is False:
        return False
    from chirpdesk.reports import render_run_report

    try:
        render_run_report(args.out, data)
    except Exception as exc:  # noqa: BLE001 - keep the run's data; say what went wrong
        print(f"chirpdesk: warning: report.html not rendered: {exc}", file=sys.stderr)
        return False
    return True


def load_from_args(args: argparse.Namespace) -> Scenario:
    """Load the scenario named on the command line (a file or a shipped name) with its --set
    overrides."""
    return load_scenario(resolve_scenario(args.scenario), args.overrides)


@contextlib.contextmanager
def progress_bar(label: str, total: int, quiet: bool = False) -> Iterator[Callable[[], None]]:
    """A rich progress bar (on stderr, when it is a terminal) that appears only if the work is
    still running after one second, so quick runs stay quiet.

    Yields ``advance()``, to be called once per finished unit of work.
    """
    if quiet or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        transient=True, console=Console(stderr=True))
    task = progress.add_task(label, total=total)
    timer = threading.Timer(1.0, progress.start)
    timer.daemon = True
    timer.start()
    try:
        yield lambda: progress.advance(task)
    finally:
        timer.cancel()
        progress.stop()
