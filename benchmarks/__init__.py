"""chirpdesk benchmarks: speed and memory reported as ratios against peers measured in the same run.

``python -m benchmarks`` runs :mod:`benchmarks.bench_sim` (the simulation engine against Ciw, a
minimal SimPy model and a hand-written ``heapq`` loop, replications 1 vs 2 processes, peak RSS of
a one-year run). ``python -m benchmarks desk`` and ``python -m benchmarks loadgen`` run the desk
endpoint and load-generator benchmarks. Benchmarks print figures; they never assert timings.
"""
