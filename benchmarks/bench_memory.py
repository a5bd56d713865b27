"""Peak memory of one simulation run: a year of a 2,000-tweets/day desk, every feature on.

Run: ``python -m benchmarks memory [--set KEY=VALUE ...] [--json]``. By default it simulates
``scenarios/baseline.toml`` with ``scenario.horizon=365d`` and ``arrivals.base_rate=83.3``
(2,000 tweets a day), one replication in this process through :func:`chirpdesk.sim.run.run_scenario` —
what ``chirpdesk simulate`` does before writing files, records of replication 0 kept — and
reports the process's peak resident set size (``VmHWM``, or ``ru_maxrss`` off Linux), which includes the interpreter
and the imported libraries. :func:`measure` runs it in a fresh subprocess so the figure is not
inflated by whatever the calling process already holds.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "scenarios" / "baseline.toml"
#: One year at 2,000 tweets a day (83.3 an hour on average).
YEAR_2000_PER_DAY = ("scenario.horizon=365d", "arrivals.base_rate=83.3")


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    On Linux it reads ``VmHWM`` from ``/proc/self/status``: ``ru_maxrss`` survives ``exec``, so a
    child started by a big parent would report the parent's peak instead of its own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def run(scenario_path: Path = SCENARIO, overrides: tuple[str, ...] = YEAR_2000_PER_DAY) -> dict[str, float]:
    """Simulate once in this process; returns tweets, seconds, RSS after imports and peak RSS (MB)."""
    from chirpdesk.sim.loader import load_scenario
    from chirpdesk.sim.run import run_scenario

    sc = load_scenario(scenario_path, list(overrides))
    imported = peak_rss_mb()
    t0 = time.perf_counter()
    result = run_scenario(sc, replications=1, jobs=1)
    seconds = time.perf_counter() - t0
    assert result.records is not None
    tweets = int(result.records.conversations["arrival"].size)
    return {"tweets": tweets, "seconds": seconds, "rss_after_imports_mb": imported, "peak_rss_mb": peak_rss_mb()}


def measure(overrides: tuple[str, ...] = YEAR_2000_PER_DAY, scenario_path: Path = SCENARIO) -> dict[str, float]:
    """Run :func:`run` in a fresh Python process and return its figures."""
    cmd = [sys.executable, "-m", "benchmarks.bench_memory", "--json", "--scenario", str(scenario_path)]
    for item in overrides:
        cmd += ["--set", item]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    """Command line: run in this process and print the figures (``--json``: one JSON line)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks memory", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    parser.add_argument("--set", action="append", dest="overrides", metavar="KEY=VALUE",
                        help="scenario overrides (default: a year at 2,000 tweets a day)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    overrides = tuple(args.overrides) if args.overrides else YEAR_2000_PER_DAY
    figures = run(args.scenario, overrides)
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{args.scenario.name} {' '.join(overrides)}: {figures['tweets']:,} tweets in "
              f"{figures['seconds']:.1f} s; RSS after imports {figures['rss_after_imports_mb']:.0f} MB, "
              f"peak {figures['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
