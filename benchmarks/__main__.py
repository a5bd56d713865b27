"""``python -m benchmarks [sim|command|desk|loadgen|memory|overload|calibrate] [options]``: run one benchmark's ``main``.

The first argument names the benchmark module ``benchmarks.bench_<name>`` (default ``sim``); the
rest are passed to its ``main(argv)`` (or put in ``sys.argv`` for a ``main()`` without one). Modules are imported only when chosen, so the simulation
benchmark does not need the desk's web stack and the other way round.
"""

from __future__ import annotations

import importlib
import inspect
import sys

BENCHMARKS = {
    "sim": "simulation engine vs Ciw, minimal SimPy and heapq; replications; peak RSS (default)",
    "command": "the whole `chirpdesk simulate` command, report on, vs Ciw and minimal SimPy; 1M customers: time, RSS",
    "desk": "desk endpoint ingest vs a bare endpoint",
    "loadgen": "load generator throughput",
    "memory": "peak RSS of one simulation run, in this process",
    "overload": "desk under open-loop overload at 1x, 2x, 3x its capacity",
    "calibrate": "calibrate, forecast and backtest on a 2.8M-row twcs.csv: time and peak RSS vs a pyarrow read",
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to ``benchmarks.bench_<name>.main``; returns its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    name = "sim"
    if args and not args[0].startswith("-"):
        name = args.pop(0)
    elif args and args[0] in ("-l", "--list"):
        for key, what in BENCHMARKS.items():
            print(f"{key:<8} {what}")
        return 0
    if name not in BENCHMARKS:
        print(f"python -m benchmarks: unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.bench_{name}")
    if inspect.signature(module.main).parameters:
        return int(module.main(args) or 0)
    # A main() that reads sys.argv itself: show it the arguments as if run directly.
    sys.argv = [f"python -m benchmarks {name}", *args]
    return int(module.main() or 0)


if __name__ == "__main__":
    sys.exit(main())
