"""``chirpdesk simulate SCENARIO``: run replications, write data files, print a summary."""

from __future__ import annotations

import argparse

from chirpdesk.sim.commands.common import (
    add_output_arguments,
    add_scenario_arguments,
    load_from_args,
    progress_bar,
    write_report,
)
from chirpdesk.sim.outputs import DEFAULT_FORMAT, FORMATS, write_outputs
from chirpdesk.sim.run import ReplicationResult, default_jobs, run_scenario
from chirpdesk.sim.summary_table import print_summary


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    p = sub.add_parser("simulate", help="simulate a scenario and report service levels and cost",
                       description="Simulate a scenario with replications; print a summary and "
                                   "write summary.json and the interval and conversation tables "
                                   "(Parquet, or CSV with --format csv) to --out.")
    add_scenario_arguments(p)
    p.add_argument("--replications", "-r", type=int, metavar="N", help="replications (default: the scenario's)")
    p.add_argument("--jobs", "-j", type=int, metavar="J", help="worker processes (default: one per CPU)")
    add_output_arguments(p, "summary.json, intervals.parquet, conversations.parquet")
    p.add_argument("--format", choices=FORMATS, default=DEFAULT_FORMAT,
                   help="format of the interval and conversation tables (default: parquet; "
                        "csv writes intervals.csv and conversations.csv); see docs/outputs.md")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    scenario = load_from_args(args)
    reps = scenario.meta.replications if args.replications is None else args.replications
    if reps < 1:
        from chirpdesk.sim.errors import ChirpdeskError

        raise ChirpdeskError(f"--replications: got {reps}, expected an integer >= 1")
    jobs = args.jobs or default_jobs(reps)
    with progress_bar(f"simulating {scenario.meta.name}", reps, quiet=args.quiet) as advance:
        def done(_: ReplicationResult) -> None:
            advance()
        result = run_scenario(scenario, reps, args.seed, jobs, on_done=done)
    if not args.quiet:
        print_summary(result)
    if args.out:
        from chirpdesk.reports.data import simulate_data

        summary = write_outputs(result, args.out, args.format)
        # The report is drawn from what this process holds (summary, intervals, histograms),
        # never by reading back the tables it just wrote.
        reported = write_report(args, simulate_data(summary, result.intervals))
        if not args.quiet:
            print(f"wrote {args.out}/summary.json, " + ", ".join(summary["files"].values())
                  + (", report.html" if reported else ""))
    return 0
