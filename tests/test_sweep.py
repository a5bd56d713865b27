"""Sweeps: identical results on 1 process, 2 processes and a Dask cluster; outputs; sensitivity."""

from __future__ import annotations

import csv
import json
import math

import pytest

from chirpdesk.sim.loader import scenario_from_toml
from chirpdesk.sim.metrics import METRIC_UNITS
from chirpdesk.sim.sensitivity import parse_ranges, sobol, tornado
from chirpdesk.sim.study_outputs import write_sweep_outputs
from chirpdesk.sim.sweep import (
    DaskExecutor,
    LocalExecutor,
    breakpoints,
    grid_points,
    parse_grid,
    run_sweep,
)


@pytest.fixture
def tiny(minimal_toml):
    return scenario_from_toml(minimal_toml, "tiny.toml")


def _key(rows):
    return [tuple((k, "nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in sorted(r.items()))
            for r in rows]


def test_parse_grid_and_points():
    grid = parse_grid(["arrivals.base_rate=30,45.5", "handling.priority=fifo,influencer_fail"])
    assert grid == {"arrivals.base_rate": [30, 45.5], "handling.priority": ["fifo", "influencer_fail"]}
    points = grid_points(grid)
    assert len(points) == 4 and points[1] == {"arrivals.base_rate": 30, "handling.priority": "influencer_fail"}


@pytest.mark.slow
def test_sweep_is_identical_on_one_two_processes_and_dask(tiny, tmp_path):
    grid = parse_grid(["arrivals.base_rate=40,80", "agents.concurrency=1,2"])
    one = run_sweep(tiny, grid, replications=2, executor=LocalExecutor(1))
    pool = LocalExecutor(2)
    try:
        two = run_sweep(tiny, grid, replications=2, executor=pool)
    finally:
        pool.close()
    from distributed import Client, LocalCluster

    with LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dask = run_sweep(tiny, grid, replications=2, executor=DaskExecutor(client))
    assert len(one.rows) == 4 * len(METRIC_UNITS)
    assert _key(one.rows) == _key(two.rows) == _key(dask.rows)
    # Different points really differ (the comparison above can fail).
    sla = {(r["arrivals.base_rate"], r["agents.concurrency"]): r["mean"] for r in one.rows
           if r["metric"] == "sla_attainment"}
    assert len(set(sla.values())) == 4
    files = write_sweep_outputs(tmp_path, one, breakpoints(one))
    assert files == ["sweep.json", "sweep.csv", "sweep.parquet", "breakpoints.csv"]
    doc = json.loads((tmp_path / "sweep.json").read_text())
    assert doc["kind"] == "sweep" and doc["replications"] == 2 and doc["sampling"]
    with (tmp_path / "sweep.csv").open() as f:
        header = next(csv.reader(f))
    assert header == ["arrivals.base_rate", "agents.concurrency", "policy", "period", "period_start_s",
                      "metric", "mean", "ci_low", "ci_high", "replications"]
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "sweep.parquet")
    assert table.num_rows == len(one.rows) and table.column_names == header


def test_breakpoints_without_periods(tiny):
    # One agent for 60 tweets an hour of 2-minute work cannot hold 90% within 10 minutes.
    res = run_sweep(tiny, parse_grid(["arrivals.base_rate=5,200"]), replications=2)
    by_rate = {b["arrivals.base_rate"]: b for b in breakpoints(res)}
    assert by_rate[5]["break_period"] == "" and math.isnan(by_rate[5]["break_start_s"])
    assert by_rate[200]["break_period"] == "horizon"


def test_tornado_and_sobol(tiny, tmp_path):
    ranges = parse_ranges(["arrivals.base_rate=10,80", "agents.shifts.0.count=1,4"])
    rows = tornado(tiny, ranges, replications=2)
    sla = {r.parameter: r for r in rows if r.metric == "sla_attainment"}
    assert sla["arrivals.base_rate"].low > sla["arrivals.base_rate"].high
    assert sla["agents.shifts.0.count"].high > sla["agents.shifts.0.count"].low
    s_rows = sobol(tiny, ranges, samples=8, replications=1, metrics=("sla_attainment",))
    assert {r.parameter for r in s_rows} == set(ranges)
    assert all(math.isfinite(r.ST) for r in s_rows)
    res = run_sweep(tiny, {}, replications=2)
    files = write_sweep_outputs(tmp_path, res, breakpoints(res), rows, s_rows)
    assert "sensitivity.csv" in files and "sobol.csv" in files
    with (tmp_path / "sobol.csv").open() as f:
        assert next(csv.reader(f)) == ["parameter", "metric", "S1", "S1_conf", "ST", "ST_conf"]
