"""``chirpdesk sweep SCENARIO``: grids, staffing-policy studies by sample weeks, sensitivity."""

from __future__ import annotations

import argparse
import math
import time

from chirpdesk.sim.commands.common import (
    add_output_arguments,
    add_scenario_arguments,
    load_from_args,
    write_report,
)
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.policies import POLICY_NAMES
from chirpdesk.sim.sensitivity import parse_ranges, sobol, tornado
from chirpdesk.sim.study import PERIOD_SECONDS
from chirpdesk.sim.study_outputs import write_sweep_outputs
from chirpdesk.sim.sweep import (
    SweepResult,
    breakpoints,
    make_executor,
    metric_table,
    parse_grid,
    run_sweep,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    p = sub.add_parser("sweep", help="parameter grids, multi-year policy studies and sensitivity, in parallel",
                       description="Run the Cartesian product of --grid values (x --policy x --period "
                                   "sample weeks) with replications on local processes or a Dask "
                                   "cluster; write sweep.csv/.parquet, breakpoints.csv and, when asked, "
                                   "sensitivity.csv and sobol.csv.")
    add_scenario_arguments(p)
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="scenario key and values to sweep, e.g. agents.concurrency=1,2,3 (repeatable)")
    p.add_argument("--policy", metavar="P1,P2", help=f"staffing policies to compare: {', '.join(POLICY_NAMES)} "
                                                     "(default: [study] policies with --period, else fixed)")
    p.add_argument("--period", choices=(*PERIOD_SECONDS, "none"),
                   help="simulate one sample week per period (default: [study] period when --policy "
                        "is given or the scenario grows by adoption, else none)")
    p.add_argument("--replications", "-r", type=int, metavar="R", help="replications per case (default: the scenario's)")
    p.add_argument("--jobs", "-j", type=int, metavar="J", help="local worker processes (default: one per CPU)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786", help="run on this Dask distributed scheduler instead")
    p.add_argument("--tornado", action="append", default=[], metavar="KEY=LOW,HIGH",
                   help="one-at-a-time sensitivity of KEY between LOW and HIGH (repeatable)")
    p.add_argument("--sobol", action="append", default=[], metavar="KEY=LOW,HIGH",
                   help="Sobol indices over these ranges (repeatable, at least two keys)")
    p.add_argument("--sobol-samples", type=int, default=16, metavar="N",
                   help="Sobol base samples, a power of two (N x (keys + 2) simulations; default 16)")
    add_output_arguments(p, "sweep.csv, sweep.parquet, breakpoints.csv")
    p.add_argument("--quiet", "-q", action="store_true", help="no terminal tables")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    t0 = time.perf_counter()
    sc = load_from_args(args)
    grid = parse_grid(args.grid)
    reps = args.replications or sc.meta.replications
    if reps < 1:
        raise ChirpdeskError(f"--replications: got {reps}, expected an integer >= 1")
    policies = [p.strip() for p in args.policy.split(",")] if args.policy else None
    for p in policies or []:
        if p not in POLICY_NAMES:
            raise ChirpdeskError(f"--policy: got {p!r}, expected names from {', '.join(POLICY_NAMES)}")
    grows = sc.arrivals.adoption.model != "none"
    if args.period:
        period = None if args.period == "none" else args.period
    else:
        period = sc.study.period if (policies or grows or "policy.name" in grid) else None
    if period and policies is None and "policy.name" not in grid:
        policies = list(sc.study.policies)
    tornado_ranges = parse_ranges(args.tornado, "--tornado")
    sobol_ranges = parse_ranges(args.sobol, "--sobol")
    if sobol_ranges and len(sobol_ranges) < 2:
        raise ChirpdeskError("--sobol: give at least two parameters (KEY=LOW,HIGH each)")
    executor = make_executor(args.jobs, args.scheduler)

    def phase(name: str, n: int) -> None:
        if not args.quiet:
            print(f"{name}: {n} tasks")

    try:
        result = run_sweep(sc, grid, policies, period, reps, args.seed, executor, on_phase=phase)
        t_rows = tornado(sc, tornado_ranges, reps, args.seed, executor) if tornado_ranges else None
        s_rows = (sobol(sc, sobol_ranges, args.sobol_samples, reps, args.seed, executor)
                  if sobol_ranges else None)
    finally:
        executor.close()
    result.wall_seconds = time.perf_counter() - t0
    breaks = breakpoints(result)
    if not args.quiet:
        _print_summary(result, breaks)
    if args.out:
        files = write_sweep_outputs(args.out, result, breaks, t_rows, s_rows)
        if write_report(args):
            files = [*files, "report.html"]
        if not args.quiet:
            print(f"wrote {args.out}/" + ", ".join(files))
    return 0


def _fmt(x: float, share: bool = True) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{100 * x:.1f}%" if share else f"{x:,.0f}"


def _print_summary(result: SweepResult, breaks: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    keys = list(result.grid)
    sla = metric_table(result, "sla_attainment")
    cost = {(tuple(repr(r.get(k)) for k in keys), r["policy"], r["period"]): r for r in metric_table(result, "cost_total")}
    t = Table(title=f"{result.scenario.meta.name}: SLA attainment (target {100 * result.scenario.sla.share:.0f}%), "
                    f"{result.replications} replications, 95% CI")
    for k in keys:
        t.add_column(k)
    for c in ("policy", "period", "SLA", "95% CI", "cost"):
        t.add_column(c, justify="right" if c in ("SLA", "95% CI", "cost") else "left")
    for r in sla:
        cost_row = cost.get((tuple(repr(r.get(k)) for k in keys), r["policy"], r["period"]))
        t.add_row(*[str(r.get(k)) for k in keys], r["policy"], r["period"] or "–", _fmt(r["mean"]),
                  f"{_fmt(r['ci_low'])} – {_fmt(r['ci_high'])}", _fmt(cost_row["mean"], False) if cost_row else "–")
    con.print(t)
    b = Table(title="break points (first period below target)")
    for k in keys:
        b.add_column(k)
    b.add_column("policy")
    b.add_column("breaks in")
    for row in breaks:
        b.add_row(*[str(row.get(k)) for k in keys], row["policy"], row["break_period"] or "never")
    con.print(b)
    con.print(f"sampling: {result.sampling}")
    con.print(f"wall time: {result.wall_seconds:.1f} s")
