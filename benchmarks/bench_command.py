"""The whole ``chirpdesk simulate`` command, report included, against Ciw and minimal SimPy.

Run: ``python -m benchmarks command [--quick] [--repeats N] [--chirpdesk CMD] [--json FILE]``.

What a planner waits for is the command, not the engine: arrivals, model, metrics, the data
files and report.html. Measured in this one run, round-robin, repeat after repeat (one untimed
warm-up round, then medians):

* **start-up**: ``chirpdesk simulate erlang-check`` on one simulated hour (540 customers),
  report on: interpreter, imports, scenario, the report's fixed cost;
* **M/M/10** (``scenarios/erlang-check.toml``, 10,000 simulated minutes, about 90,000
  customers, one replication, one process): the command with the report and with
  ``--no-report``; customers per second with start-up subtracted;
* **Ciw** and **minimal SimPy** on the same queue (:mod:`benchmarks.baselines`, each in its
  own process, engine time only: their start-up is not counted either);
* **1M customers** (erlang-check over 77 days): the command's time, its peak RSS (the child's
  own ``ru_maxrss``, from ``wait4``) and the report's share (report on minus ``--no-report``).

``--chirpdesk CMD`` times another installation's command (e.g. an older checkout's venv
``bin/chirpdesk``) against the same Ciw and SimPy runs: before/after in one run. Nothing here
asserts a timing; the targets are printed with the ratios.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_sim import REPO, Worker

ERLANG = str(REPO / "scenarios" / "erlang-check.toml")
CASES: dict[str, list[str]] = {
    "startup": ["--set", "scenario.horizon=1h", "--set", "scenario.warmup=0s", "--set", "scenario.drain=0s"],
    "mm10": ["--set", "scenario.horizon=10000m", "--set", "scenario.warmup=0s", "--set", "scenario.drain=0s"],
    "million": ["--set", "scenario.horizon=77d", "--set", "scenario.warmup=0s", "--set", "scenario.drain=0s"],
}
#: Targets from the issue: x Ciw, x minimal SimPy, peak RSS (MB) and report seconds at 1M.
TARGETS = {"x_ciw": 3.0, "x_simpy": 1.0, "million_rss_mb": 400.0, "million_report_s": 1.0}


def _spawn(argv: list[str]) -> tuple[float, float]:
    """Run ``argv`` to the end; its wall seconds and its own peak RSS in MB."""
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as quiet:
        fa = [(os.POSIX_SPAWN_DUP2, quiet.fileno(), 1)]
        pid = os.posix_spawnp(argv[0], argv, dict(os.environ), file_actions=fa)
        _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed with exit code {os.waitstatus_to_exitcode(status)}")
    return seconds, usage.ru_maxrss / 1024.0


def run_command(cmd: list[str], case: str, out: Path, report: bool = True) -> dict[str, float]:
    """Run ``CMD simulate erlang-check CASE --out OUT -r 1 -j 1 -q``; wall seconds, peak RSS
    (MB) and the customers simulated (from summary.json)."""
    shutil.rmtree(out, ignore_errors=True)
    argv = [*cmd, "simulate", ERLANG, *CASES[case], "-r", "1", "-j", "1", "-q", "--out", str(out)]
    if not report:
        argv.append("--no-report")
    seconds, rss = _spawn(argv)
    summary = json.loads((out / "summary.json").read_text())
    return {"seconds": seconds, "rss_mb": rss, "customers": float(summary["metrics"]["tweets"]["mean"])}


def run_report(cmd: list[str], folder: Path) -> dict[str, float]:
    """Run ``CMD report FOLDER`` (re-render from the files); wall seconds and peak RSS."""
    seconds, rss = _spawn([*cmd, "report", str(folder)])
    return {"seconds": seconds, "rss_mb": rss}


def report_worker(out: str) -> None:
    """In a fresh process: simulate the 1M case, write its files, then time the report drawn
    from memory (the first import of the report code, matplotlib's included); prints seconds."""
    from chirpdesk.sim.loader import load_scenario
    from chirpdesk.sim.outputs import write_outputs
    from chirpdesk.sim.run import run_scenario

    overrides = [a for a in CASES["million"] if a != "--set"]
    result = run_scenario(load_scenario(ERLANG, overrides), 1, None, 1)
    summary = write_outputs(result, out)
    t0 = time.perf_counter()
    from chirpdesk.reports import render_run_report
    from chirpdesk.reports.data import simulate_data

    render_run_report(out, simulate_data(summary, result.intervals, result.histograms))
    print(time.perf_counter() - t0)


def time_report_from_memory(out: Path) -> float | None:
    """:func:`report_worker` in a fresh interpreter of this tree; None when this tree's
    report cannot take data from memory."""
    import subprocess

    code = f"from benchmarks.bench_command import report_worker; report_worker({str(out)!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    return float(done.stdout.strip()) if done.returncode == 0 else None


def measure(cmd: list[str], repeats: int, million_repeats: int, log: Any) -> dict[str, Any]:
    """Every case, round-robin; medians of the timed rounds."""
    work = Path(tempfile.mkdtemp(prefix="chirpdesk-bench-command-"))
    own_tree = cmd == [sys.executable, "-m", "chirpdesk.sim"]
    peers = {"ciw": Worker("ciw"), "simpy": Worker("simpy")}
    runs: dict[str, list[dict[str, float]]] = {}
    try:
        for rep in range(repeats + 1):
            row = {
                "startup": run_command(cmd, "startup", work / "startup"),
                "startup_no_report": run_command(cmd, "startup", work / "startup", report=False),
                "report_startup": run_report(cmd, work / "startup"),
                "mm10": run_command(cmd, "mm10", work / "mm10"),
                "mm10_no_report": run_command(cmd, "mm10", work / "mm10", report=False),
            }
            for name, w in peers.items():
                n, seconds, _ = w.run(1000 + rep)
                row[name] = {"seconds": seconds, "customers": float(n)}
            if rep and rep <= million_repeats:
                row["million"] = run_command(cmd, "million", work / "million")
                row["million_no_report"] = run_command(cmd, "million", work / "million", report=False)
                row["million_report_dir"] = run_report(cmd, work / "million")
                if own_tree:
                    row["report_from_memory"] = {"seconds": time_report_from_memory(work / "memory") or math.nan}
            if rep:  # round 0 warms the disk cache and the peers' imports: not timed
                for k, v in row.items():
                    runs.setdefault(k, []).append(v)
            log(f"  round {rep}/{repeats} done")
    finally:
        for w in peers.values():
            w.finish()
        shutil.rmtree(work, ignore_errors=True)
    med = {k: {f: statistics.median(r[f] for r in rs) for f in rs[0]} for k, rs in runs.items()}
    start = med["startup"]["seconds"]

    def rate(case: str, start_case: str = "startup") -> float:
        return med[case]["customers"] / max(med[case]["seconds"] - med[start_case]["seconds"], 1e-9)

    res: dict[str, Any] = {"medians": med, "command": shlex.join(cmd), "repeats": repeats}
    res["mm10_rate"] = rate("mm10")
    res["mm10_no_report_rate"] = rate("mm10_no_report", "startup_no_report")
    for name in peers:
        res[f"{name}_rate"] = med[name]["customers"] / med[name]["seconds"]
    res["x_ciw"] = res["mm10_rate"] / res["ciw_rate"]
    res["x_simpy"] = res["mm10_rate"] / res["simpy_rate"]
    if "million" in med:
        res["million_s"] = med["million"]["seconds"] - start
        res["million_rss_mb"] = med["million"]["rss_mb"]
        res["million_report_s"] = med["million"]["seconds"] - med["million_no_report"]["seconds"]
        res["million_customers"] = med["million"]["customers"]
        res["million_report_dir_s"] = med["million_report_dir"]["seconds"] - med["report_startup"]["seconds"]
        if "report_from_memory" in med:
            res["million_report_memory_s"] = med["report_from_memory"]["seconds"]
    return res


def report(res: dict[str, Any]) -> str:
    """The result as a Markdown table and the targets."""
    m = res["medians"]
    load = os.getloadavg()
    lines = [
        f"`chirpdesk simulate` whole-command benchmark: {os.cpu_count()} cores, Python "
        f"{sys.version.split()[0]}, median of {res['repeats']} interleaved rounds after a warm-up; "
        f"load average {load[0]:.1f}; command `{res['command']}`",
        "",
        "| case | seconds | customers | customers/s (start-up subtracted) | peak RSS MB |",
        "|---|---:|---:|---:|---:|",
        f"| start-up (1 simulated hour, report on) | {m['startup']['seconds']:.2f} | {m['startup']['customers']:,.0f} | | "
        f"{m['startup']['rss_mb']:.0f} |",
        f"| start-up, --no-report | {m['startup_no_report']['seconds']:.2f} | | | {m['startup_no_report']['rss_mb']:.0f} |",
        f"| `chirpdesk report` of the start-up run | {m['report_startup']['seconds']:.2f} | | | "
        f"{m['report_startup']['rss_mb']:.0f} |",
        f"| M/M/10, 10,000 min, report on | {m['mm10']['seconds']:.2f} | {m['mm10']['customers']:,.0f} | "
        f"{res['mm10_rate'] / 1e3:,.0f}k | {m['mm10']['rss_mb']:.0f} |",
        f"| M/M/10, 10,000 min, --no-report | {m['mm10_no_report']['seconds']:.2f} | "
        f"{m['mm10_no_report']['customers']:,.0f} | {res['mm10_no_report_rate'] / 1e3:,.0f}k | "
        f"{m['mm10_no_report']['rss_mb']:.0f} |",
        f"| Ciw 3.2, same queue (engine only) | {m['ciw']['seconds']:.2f} | {m['ciw']['customers']:,.0f} | "
        f"{res['ciw_rate'] / 1e3:,.0f}k | |",
        f"| minimal SimPy, same queue (engine only) | {m['simpy']['seconds']:.2f} | {m['simpy']['customers']:,.0f} | "
        f"{res['simpy_rate'] / 1e3:,.0f}k | |",
    ]
    if "million" in m:
        lines.append(f"| 1M customers (77 days), report on | {m['million']['seconds']:.2f} | "
                     f"{m['million']['customers']:,.0f} | {res['million_customers'] / res['million_s'] / 1e3:,.0f}k | "
                     f"{m['million']['rss_mb']:.0f} |")
        lines.append(f"| 1M customers (77 days), --no-report | {m['million_no_report']['seconds']:.2f} | "
                     f"{m['million_no_report']['customers']:,.0f} | | {m['million_no_report']['rss_mb']:.0f} |")
        lines.append(f"| `chirpdesk report` of the 1M run (files read back) | {m['million_report_dir']['seconds']:.2f} | | | "
                     f"{m['million_report_dir']['rss_mb']:.0f} |")
    lines += ["",
              f"- whole command with report vs Ciw: {res['x_ciw']:.2f}x (target >= {TARGETS['x_ciw']:g}); "
              f"vs minimal SimPy: {res['x_simpy']:.2f}x (target >= {TARGETS['x_simpy']:g})"]
    if "million" in m:
        lines.append(f"- 1M customers: {res['million_s']:.2f} s after start-up, peak RSS {res['million_rss_mb']:.0f} MB "
                     f"(target < {TARGETS['million_rss_mb']:g}), report {res['million_report_s']:.2f} s "
                     f"(report on minus --no-report; target < {TARGETS['million_report_s']:g}); `chirpdesk report` "
                     f"of it {res['million_report_dir_s']:+.2f} s against re-rendering the 1-hour run")
        if "million_report_memory_s" in res:
            lines.append(f"- report of the 1M run timed inside the process, from memory, first import of the "
                         f"report code and matplotlib included: {res['million_report_memory_s']:.2f} s "
                         f"(target < {TARGETS['million_report_s']:g})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns 0."""
    p = argparse.ArgumentParser(prog="python -m benchmarks command", description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    p.add_argument("--quick", action="store_true", help="3 rounds, the 1M case once")
    p.add_argument("--million", type=int, default=None, metavar="N",
                   help="rounds that also run the 1M-customer case (default 2; 0 skips it)")
    p.add_argument("--chirpdesk", default=None, metavar="CMD",
                   help="the command to time (default: this interpreter's `python -m chirpdesk.sim`)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the raw results as JSON")
    args = p.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    million = (1 if args.quick else 2) if args.million is None else args.million
    cmd = shlex.split(args.chirpdesk) if args.chirpdesk else [sys.executable, "-m", "chirpdesk.sim"]
    t0 = time.perf_counter()
    res = measure(cmd, repeats, min(million, repeats), lambda s: print(s, file=sys.stderr, flush=True))
    print(report(res))
    print(f"\n(benchmark wall time {time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0
