"""Pieces shared by the subcommands: scenario arguments and a progress bar."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator

from sim.loader import load_scenario
from sim.scenario import Scenario


def add_scenario_arguments(p: argparse.ArgumentParser) -> None:
    """Add SCENARIO, --seed and --set to a subcommand parser."""
    p.add_argument("scenario", metavar="SCENARIO", help="scenario TOML file (see docs/scenarios.md)")
    p.add_argument("--seed", type=int, metavar="S", help="master seed (default: the scenario's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario key, e.g. --set arrivals.base_rate=240 (repeatable)")


def load_from_args(args: argparse.Namespace) -> Scenario:
    """Load the scenario named on the command line with its --set overrides."""
    return load_scenario(args.scenario, args.overrides)


@contextlib.contextmanager
def progress_bar(label: str, total: int, quiet: bool = False) -> Iterator[Callable[[], None]]:
    """A rich progress bar that appears only if the work takes longer than a second.

    Yields ``advance()``; prints to stderr so stdout stays clean for pipes.
    """
    if quiet or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    start = time.perf_counter()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        transient=True)
    task = progress.add_task(label, total=total)
    started = False

    def advance() -> None:
        nonlocal started
        if not started and time.perf_counter() - start > 1.0:
            progress.start()
            started = True
        progress.advance(task)

    try:
        progress.start()
        started = True
        yield advance
    finally:
        if started:
            progress.stop()
