"""``chirpdesk staff SCENARIO``: agents needed per interval, least-cost shifts, verified by simulation."""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from chirpdesk.sim.commands.common import (
    add_output_arguments,
    add_scenario_arguments,
    load_from_args,
    progress_bar,
    write_report,
)
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.run import (
    ReplicationResult,
    SimulationResult,
    default_jobs,
    run_replication,
    run_scenario,
)
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.shifts_milp import ShiftPlan, plan_shifts
from chirpdesk.sim.staffing import METHODS, Requirement, Target, staffing_requirement
from chirpdesk.sim.study import with_shifts
from chirpdesk.sim.study_outputs import write_staff_outputs
from chirpdesk.sim.units import cli_duration, cli_duration_help, parse_cli_duration

_TARGET = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(%?)\s*(?:within|in)\s+(.+?)\s*$", re.IGNORECASE)


def parse_target(text: str) -> tuple[float, float]:
    """``"90% within 10m"`` (or ``"0.9 within 10m"``) -> ``(0.9, 600.0)``."""
    m = _TARGET.match(text)
    if not m:
        raise ChirpdeskError(f'--target: got {text!r}, expected e.g. "90% within 10m"')
    share = float(m.group(1)) / (100.0 if m.group(2) else 1.0)
    try:
        within = parse_cli_duration(m.group(3))
    except ValueError as exc:
        raise ChirpdeskError(f"--target: {exc}") from None
    if not math.isfinite(within) or within < 0:
        raise ChirpdeskError(f"--target: got {text!r}, expected a time >= 0 such as 10m")
    if not 0 < share < 1:
        raise ChirpdeskError(f"--target: share must be between 0% and 100% (exclusive), got {text!r}")
    return share, within


def parse_share(text: str, option: str) -> float:
    """``"5%"`` or ``"0.05"`` -> 0.05."""
    t = text.strip()
    try:
        x = float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
    except ValueError:
        raise ChirpdeskError(f"{option}: got {text!r}, expected a share such as 5% or 0.05") from None
    if not 0 < x <= 1:
        raise ChirpdeskError(f"{option}: got {text!r}, expected a share in (0, 100%]")
    return x


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``staff`` subcommand."""
    p = sub.add_parser("staff", help="agents needed per interval and least-cost shifts, verified by simulation",
                       description="Compute the agents needed per 30/60-minute interval of the week (SIPP, "
                                   "MOL or the simulation-based ISA), cover them with least-cost shifts "
                                   "(integer program), and verify the plan by simulation.")
    add_scenario_arguments(p)
    p.add_argument("--target", metavar='"90%% within 10m"',
                   help="service target: a share within a time in "
                        f"{cli_duration_help().replace('%', '%%')} (default: the scenario's [sla])")
    p.add_argument("--max-abandon", metavar="SHARE", help="cap on abandonment per interval, e.g. 5%%")
    p.add_argument("--interval", type=cli_duration(allowed=(1800.0, 3600.0)), metavar="30m|60m",
                   help="planning interval, 30m or 60m (also written 1800, 0.5h, 1h: "
                        f"{cli_duration_help()}; default: [staffing] interval)")
    p.add_argument("--method", choices=METHODS, help="requirement method (default: [staffing] method)")
    p.add_argument("--replications", "-r", type=int, metavar="N",
                   help="replications verifying the plan (default: the scenario's)")
    p.add_argument("--jobs", "-j", type=int, metavar="J", help="worker processes (default: one per CPU)")
    add_output_arguments(p, "staff.json, requirement.csv, shifts.csv")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary table")
    p.set_defaults(func=run)


class _PoolRunner:
    """ISA's simulations on a process pool: replications of one iteration run side by side."""

    def __init__(self, pool: ProcessPoolExecutor | None) -> None:
        self.pool = pool

    def __call__(self, sc: Scenario, seed: int, reps: int) -> list[dict[str, np.ndarray]]:
        if self.pool is None:
            return [run_replication(sc, seed, r).intervals for r in range(reps)]
        return [res.intervals for res in self.pool.map(run_replication, [sc] * reps, [seed] * reps, range(reps))]


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    t0 = time.perf_counter()
    sc = load_from_args(args)
    share, within = parse_target(args.target) if args.target else (sc.sla.share, sc.sla.within)
    max_ab = parse_share(args.max_abandon, "--max-abandon") if args.max_abandon else (
        None if sc.staffing.max_abandon != sc.staffing.max_abandon else sc.staffing.max_abandon)
    target = Target(share, within, max_ab, sc.sla.basis)
    interval = args.interval if args.interval else sc.staffing.interval
    method = args.method or sc.staffing.method
    reps = args.replications or sc.meta.replications
    seed = sc.meta.seed if args.seed is None else args.seed
    jobs = args.jobs or default_jobs(max(reps, sc.staffing.replications))
    pool = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else None
    try:
        if not args.quiet:
            print(f"staffing {sc.meta.name}: {method.upper()} requirement per {interval / 60:.0f} min ...")
        req = staffing_requirement(sc, method, interval, target, seed=seed, runner=_PoolRunner(pool))
        plan = plan_shifts(req.used, sc.staffing, interval, sc.cost.agent_hour)
        planned = with_shifts(sc, plan.shifts())
        # The verification is judged against the requested target, so run it with that [sla].
        planned = dataclasses.replace(planned, sla=dataclasses.replace(planned.sla, share=share, within=within))
        with progress_bar("verifying the plan", reps, quiet=args.quiet) as advance:
            def done(_: ReplicationResult) -> None:
                advance()
            verified = run_scenario(planned, reps, seed, jobs, on_done=done)
    finally:
        if pool is not None:
            pool.shutdown()
    wall = time.perf_counter() - t0
    if not args.quiet:
        _print_summary(sc, target, req, plan, verified)
    if args.out:
        write_staff_outputs(args.out, sc, target, req, plan, verified, wall)
        reported = write_report(args)
        if not args.quiet:
            print(f"wrote {args.out}/staff.json, requirement.csv, shifts.csv" + (", report.html" if reported else ""))
    return 0


def _print_summary(sc: Scenario, target: Target, req: Requirement, plan: ShiftPlan,
                   verified: SimulationResult) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"{sc.meta.name}: staffing for {100 * target.share:.0f}% within {target.within_s / 60:.0f} min "
                    f"({req.method.upper()}, {req.interval_s / 60:.0f}-min intervals)")
    t.add_column("method")
    t.add_column("agent-hours/week", justify="right")
    t.add_column("peak agents", justify="right")
    for m, v in req.required.items():
        t.add_row(m + (" (used)" if m == req.method else ""), f"{v.sum() * req.interval_s / 3600:,.0f}", str(int(v.max())))
    t.add_row("shift plan", f"{plan.hours:,.0f}", str(int(plan.coverage.max())))
    con.print(t)
    s = Table(title="shift plan" + ("" if plan.optimal else " (not proven optimal)"))
    for c in ("shift", "count", "hours/week", "cost/week"):
        s.add_column(c, justify="right" if c != "shift" else "left")
    for sh in plan.shifts():
        h = sh.count * sh.length / 3600 * len(sh.days)
        s.add_row(sh.name, str(sh.count), f"{h:,.0f}", f"{h * sc.cost.agent_hour:,.0f}")
    s.add_row("total", "", f"{plan.hours:,.0f}", f"{plan.cost:,.0f} {sc.cost.currency}")
    con.print(s)
    vt = Table(title=f"plan verified by simulation ({len(verified.replications)} replications, 95% CI)")
    for c in ("metric", "mean", "95% CI"):
        vt.add_column(c, justify="right" if c != "metric" else "left")
    for name, fmt in (("sla_attainment", "{:.1%}"), ("abandoned_share", "{:.1%}"), ("first_response_p90_s", "{:.0f}s"),
                      ("occupancy", "{:.1%}"), ("cost_total", "{:,.0f}")):
        d = verified.summary[name]
        ci = "–" if d["ci_low"] != d["ci_low"] else f"{fmt.format(d['ci_low'])} – {fmt.format(d['ci_high'])}"
        vt.add_row(name, fmt.format(d["mean"]), ci)
    con.print(vt)
    for note in req.notes:
        con.print(f"[dim]note: {note}[/dim]")
