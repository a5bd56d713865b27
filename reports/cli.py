"""``chirpdesk report DIR`` and ``chirpdesk compare DIR_A DIR_B``: render HTML from run folders.

Registered from ``chirpdesk.sim.cli.COMMANDS``; heavy imports (matplotlib, Jinja2) happen only when a
command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` and ``compare`` subcommands."""
    p = sub.add_parser("report", help="re-render report.html from a run folder's data files",
                       description="Render DIR/report.html from the data files a simulate, staff, "
                                   "sweep or loadtest run wrote into DIR (see docs/outputs.md).")
    p.add_argument("folder", type=Path, metavar="DIR", help="a run folder (written with --out)")
    p.set_defaults(func=run_report)

    c = sub.add_parser("compare", help="compare two simulate runs side by side",
                       description="Compare two simulate runs (e.g. before and after a staffing "
                                   "change): every metric with 95%% CIs, the difference, and a Welch "
                                   "t-test on the per-replication values; overlaid hourly plots.")
    c.add_argument("folder_a", type=Path, metavar="DIR_A", help="run A (e.g. before)")
    c.add_argument("folder_b", type=Path, metavar="DIR_B", help="run B (e.g. after)")
    c.add_argument("--out", "-o", type=Path, metavar="FILE",
                   help="HTML file to write (default: DIR_B/compare.html)")
    c.set_defaults(func=run_compare)


def run_report(args: argparse.Namespace) -> int:
    """Render the report of ``args.folder``; prints the path; returns the exit code."""
    from chirpdesk.reports import render_run_report

    print(render_run_report(args.folder))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Render the comparison of two runs; prints the path; returns the exit code."""
    from chirpdesk.reports import render_compare
    from chirpdesk.reports.data import run_folder

    out = args.out or run_folder(args.folder_b) / "compare.html"
    print(render_compare(args.folder_a, args.folder_b, out))
    return 0
