"""``chirpdesk calibrate``, ``forecast`` and ``backtest`` on a twcs.csv the size of the real corpus (2.8M rows).

Run: ``python -m benchmarks calibrate [--rows 2800000] [--file PATH]``. Generates the file once
(:func:`chirpdesk.sim.history_gen.generate_twcs`, 20 brands, messy rows included; kept in the
temp folder for the next run), then times, in turn, as whole commands in fresh processes:

1. the baseline: pyarrow reading the same file into a table (``pyarrow.csv.read_csv``), the
   least any columnar reader pays;
2. ``chirpdesk calibrate FILE --brand Brand01 --out DIR``, report included;
3. ``chirpdesk forecast FILE --brand Brand01 --horizon 2w --holdout 1w --out DIR``;
4. ``chirpdesk backtest FILE --brand Brand01 --agents 25 --replications 3 --out DIR``.

It prints wall seconds and peak RSS (``VmHWM`` of the child) of each, the ratio calibrate /
baseline, and the targets: under 60 s and under 1 GB peak RSS on this 2-core machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
wall = time.perf_counter() - t
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, proc.returncode)
"""


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``cmd`` run alone in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True)
    wall, rss, rc = out.stdout.split()
    if int(rc) != 0:
        raise RuntimeError(f"{cmd} failed with {rc}")
    return float(wall), float(rss)


def make_file(path: Path, rows: int) -> None:
    """A messy twcs.csv of about ``rows`` rows (20 brands, 8 weeks)."""
    from chirpdesk.sim.history_gen import BrandTruth, generate_twcs

    threads_per_hour = rows / 2.3 / (8 * 168) / 20  # about 2.3 rows per thread
    generate_twcs(path, [BrandTruth(f"Brand{i:02d}", rate=threads_per_hour * (1.5 if i == 1 else 1.0))
                         for i in range(1, 21)], weeks=8, seed=11, messy=True, max_rows=rows)


def main(argv: list[str] | None = None) -> int:
    """Generate (once), time baseline and calibrate, print the table; returns 0."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_800_000, help="rows of the generated file (default 2.8M)")
    parser.add_argument("--file", type=Path, default=None, help="use this twcs.csv instead of generating one")
    args = parser.parse_args(argv)
    path = args.file or Path(tempfile.gettempdir()) / f"chirpdesk-bench-twcs-{args.rows}.csv"
    if not path.exists():
        t = time.perf_counter()
        make_file(path, args.rows)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s")
    with tempfile.TemporaryDirectory() as out:
        base_wall, base_rss = measure([sys.executable, "-c", f"import pyarrow.csv as c; c.read_csv({str(path)!r})"])
        wall, rss = measure([sys.executable, "-m", "chirpdesk.sim", "calibrate", str(path), "--brand", "Brand01",
                             "--out", out])
        fc_wall, fc_rss = measure([sys.executable, "-m", "chirpdesk.sim", "forecast", str(path), "--brand", "Brand01",
                                   "--horizon", "2w", "--holdout", "1w", "--out", out + "/fc"])
        bt_wall, bt_rss = measure([sys.executable, "-m", "chirpdesk.sim", "backtest", str(path), "--brand", "Brand01",
                                   "--agents", "25", "--replications", "3", "--out", out + "/bt"])
    with open(path, "rb") as f:
        lines = sum(1 for _ in f) - 1
    print(f"chirpdesk calibrate benchmark: {path} ({lines:,} lines)")
    print(f"{'command':<44} {'wall s':>7} {'peak RSS MB':>12}")
    print(f"{'baseline: pyarrow.csv.read_csv (whole file)':<44} {base_wall:7.1f} {base_rss:12.0f}")
    print(f"{'chirpdesk calibrate --brand Brand01 --out':<44} {wall:7.1f} {rss:12.0f}")
    print(f"{'chirpdesk forecast --horizon 2w --holdout 1w':<44} {fc_wall:7.1f} {fc_rss:12.0f}")
    print(f"{'chirpdesk backtest --agents 25 --replications 3':<44} {bt_wall:7.1f} {bt_rss:12.0f}")
    print(f"ratio calibrate / baseline: time {wall / base_wall:.2f}, peak RSS {rss / base_rss:.2f}")
    print(f"targets: < 60 s ({'met' if wall < 60 else 'NOT met'}), < 1024 MB peak RSS "
          f"({'met' if rss < 1024 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
