"""Waiting-time histograms (sim/histogram.py): the grid, pooling, exact SLA counts, quantiles
within a bin of numpy's, and the summary.json form."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chirpdesk.sim.histogram import (
    LAST_EDGE_S,
    LINEAR_PER_WITHIN,
    LINEAR_SPAN,
    TimeHistogram,
    grid_edges,
)
from chirpdesk.sim.loader import load_scenario
from chirpdesk.sim.metrics import pool_histograms, replication_metrics, response_histograms
from chirpdesk.sim.model import simulate_once
from chirpdesk.sim.run import run_scenario
from simkit import SCENARIOS


def test_grid_has_the_sla_time_as_an_edge_and_covers_years():
    for within in (20.0, 600.0, 3600.0):
        edges = grid_edges(within)
        assert within in edges and edges[0] == 0.0
        assert np.all(np.diff(edges) > 0)
        assert edges[-1] >= LAST_EDGE_S
        step = within / LINEAR_PER_WITHIN
        np.testing.assert_allclose(np.diff(edges[: LINEAR_PER_WITHIN * LINEAR_SPAN + 1]), step)
        assert edges.size < 700  # a few hundred bins, whatever the traffic


@pytest.mark.parametrize("bad", [0.0, -5.0, math.inf, math.nan])
def test_grid_refuses_a_meaningless_sla_time(bad):
    with pytest.raises(ValueError, match="within_s"):
        grid_edges(bad)


def test_counts_met_and_over_are_exact():
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.exponential(400.0, 50_000), [600.0, 2e8, math.nan, math.nan]])
    h = TimeHistogram.of(v, total=v.size + 10, within_s=600.0)
    finite = v[np.isfinite(v)]
    assert h.count == finite.size and h.over == 1  # 2e8 s is beyond the grid
    assert h.met == int(np.sum(finite <= 600.0))  # inclusive, as sla_attainment counts
    assert h.total == v.size + 10
    edges = h.edges
    # Each bin holds exactly the values in [edge_i, edge_i+1).
    expected, _ = np.histogram(finite[finite < edges[-1]], bins=edges)
    np.testing.assert_array_equal(h.counts[:-1], expected[:-1])
    # On grid edges the cumulative count is exact.
    for x in (0.0, 10.0, 600.0, 2400.0):
        assert h.cumulative(x) == np.sum(finite < x)


def test_quantiles_are_within_one_bin_of_numpy():
    rng = np.random.default_rng(5)
    v = rng.lognormal(5.0, 1.2, 200_000)
    h = TimeHistogram.of(v, v.size, 600.0)
    edges = h.edges
    for q in (0.1, 0.5, 0.9, 0.99):
        exact = float(np.percentile(v, 100 * q))
        i = int(np.searchsorted(edges, exact, side="right")) - 1
        width = edges[i + 1] - edges[i]
        assert abs(h.quantile(q) - exact) <= width, q
    assert math.isnan(TimeHistogram.of(np.array([]), 0, 600.0).quantile(0.5))


def test_rebin_is_exact_on_grid_edges_and_keeps_the_count():
    rng = np.random.default_rng(8)
    v = rng.exponential(300.0, 10_000)
    h = TimeHistogram.of(v, v.size, 600.0)
    coarse = np.arange(0, 2401, 60.0)  # every sixth grid edge
    got = h.rebin(coarse)
    want, _ = np.histogram(v, bins=coarse)
    np.testing.assert_array_equal(got, want)
    assert h.rebin(np.array([0.0, LAST_EDGE_S * 2])).sum() == h.count - h.over


def test_pooling_adds_bins_and_refuses_other_grids():
    a = TimeHistogram.of(np.array([1.0, 700.0]), 3, 600.0)
    b = TimeHistogram.of(np.array([5.0]), 1, 600.0)
    p = a + b
    assert (p.count, p.total, p.met, p.replications) == (3, 4, 2, 2)
    np.testing.assert_array_equal(p.counts, a.counts + b.counts)
    with pytest.raises(ValueError, match="cannot pool"):
        a + TimeHistogram.of(np.array([1.0]), 1, 20.0)


def test_json_round_trip_is_compact_and_exact():
    rng = np.random.default_rng(1)
    h = TimeHistogram.of(rng.exponential(100.0, 5000), 5100, 600.0)
    doc = json.loads(json.dumps(h.to_json()))
    assert len(doc["counts"]) < h.counts.size and len(doc["edges_s"]) == len(doc["counts"]) + 1
    assert TimeHistogram.from_json(doc) == h
    with pytest.raises(ValueError, match="counts"):
        TimeHistogram.from_json({**doc, "counts": [-1]})


@pytest.mark.parametrize("name", ["baseline.toml", "erlang-check.toml"])
def test_histograms_agree_with_the_replication_metrics(name):
    """The histograms' totals and SLA counts are the very counts the metrics use."""
    sc = load_scenario(SCENARIOS / name, ["scenario.horizon=3d"])
    rec = simulate_once(sc, np.random.SeedSequence(11))
    m = replication_metrics(sc, rec)
    h = response_histograms(sc, rec)
    basis = h["first_response_s"] if sc.sla.basis == "first_response" else h["wait_s"]
    assert h["first_response_s"].total == h["wait_s"].total == m["needs_reply"]
    assert basis.met / basis.total == m["sla_attainment"]
    assert h["first_response_s"].count / h["first_response_s"].total == m["answered_share"]


def test_a_run_pools_every_replication():
    sc = load_scenario(SCENARIOS / "baseline.toml", ["scenario.horizon=2d"])
    res = run_scenario(sc, 3, 5, 1)
    frt = res.histograms["first_response_s"]
    assert frt.replications == 3
    assert frt.total == sum(r.metrics["needs_reply"] for r in res.replications)
    assert frt == pool_histograms([r.histograms for r in res.replications])["first_response_s"]
    np.testing.assert_array_equal(frt.counts, sum(r.histograms["first_response_s"].counts for r in res.replications))
    # Same seed, two processes: the same histograms.
    assert run_scenario(sc, 3, 5, 2).histograms == res.histograms
