"""End to end: ``chirpdesk loadtest`` against the embedded endpoint (real server, real Locust).

The storm run takes ~35 s (30 s of arrivals); the two-process run ~15 s.
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from pathlib import Path

import pytest

from loadkit import run_cli

pytestmark = pytest.mark.slow


def test_storm_passes_its_gates(storm_run) -> None:
    proc, out, result = storm_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert result["kind"] == "loadtest" and result["passed"] is True
    assert {g["metric"] for g in result["gates"]} == {"p95_ingest_ms", "error_share", "achieved_rate_ratio"}
    assert all(g["passed"] for g in result["gates"])
    assert "PASSED" in proc.stdout
    for name in ("loadtest.json", "timeline.csv", "first_responses.csv", "locust_stats.csv",
                 "locust_failures.csv", "locust_stats_history.csv", "locust.html"):
        assert (out / name).exists(), name


def test_storm_achieves_the_intended_arrival_rate(storm_run) -> None:
    _, out, r = storm_run
    assert r["intended_rate"] == pytest.approx(r["tweets_scheduled"] / 30.0)
    assert r["tweets_scheduled"] > 500  # the 8x outage: ~27 tweets/s
    assert r["achieved_rate_ratio"] >= 0.95
    assert r["tweets_sent"] == r["tweets_scheduled"]
    assert r["generator_saturated"] is False
    assert r["schedule_lag_s"]["p95"] < 0.25
    # Bad bodies were answered 4xx as expected and are not failures.
    assert set(r["expected_4xx"]) <= {"malformed_json", "schema", "bad_signature", "oversized"}
    assert sum(r["expected_4xx"].values()) > 0 and r["failures"] == {}
    header = (out / "timeline.csv").read_text().splitlines()[0].split(",")
    assert {"t_s", "intended_rate", "achieved_rate", "p50_ms", "p95_ms", "p99_ms", "schedule_lag_s",
            "webhook_p95_ms", "claim_p95_ms"} <= set(header)


def test_every_acknowledged_tweet_is_stored_exactly_once(storm_run) -> None:
    _, out, r = storm_run
    acked = (out / "loadgen" / "acknowledged.txt").read_text().split()
    assert len(acked) == r["tweets_acknowledged"] == r["tweets_scheduled"]
    db = sqlite3.connect(Path(r["endpoint_db"]))
    try:
        db.execute("CREATE TEMP TABLE acked (id_str TEXT)")
        db.executemany("INSERT INTO acked VALUES (?)", [(a,) for a in acked])
        counts = db.execute("SELECT a.id_str, COUNT(t.id_str) FROM acked a LEFT JOIN tweets t"
                            " ON t.id_str = a.id_str GROUP BY a.id_str").fetchall()
        prefix = str(r["run_id"])
        first_tweets = db.execute("SELECT COUNT(*) FROM tweets WHERE id_str LIKE ? AND substr(id_str, 16) = '00'",
                                  (prefix + "%",)).fetchone()[0]
        followups = db.execute("SELECT COUNT(*) FROM tweets WHERE in_reply_to_status_id_str IS NOT NULL"
                               " AND is_brand = 0").fetchone()[0]
    finally:
        db.close()
    assert all(n == 1 for _, n in counts), [c for c in counts if c[1] != 1][:5]
    assert first_tweets == len(acked)  # redeliveries were acknowledged but not stored twice
    assert r["expected_4xx"] and followups > 0  # multi-turn conversations came back as replies


def test_predicted_and_measured_sla_agree_within_the_derived_tolerance(storm_run) -> None:
    _, out, r = storm_run
    cmp = r["predicted_vs_measured"]
    n = cmp["predicted"]["n"]
    assert n == cmp["measured"]["n"] > 500
    p = cmp["predicted"]["sla_attainment"]
    tol = cmp["tolerance"]
    # The tolerance is 3 sigma from sampling error alone, no allowance (docs/loadtests.md):
    # sigma^2 = max(binomial SE, replication SD)^2 + replication SD^2 / R.
    sd, reps = tol["sd_replications"], tol["replications"]
    binom = math.sqrt(p * (1 - p) / n)
    assert tol["sigma"] == pytest.approx(math.sqrt(max(binom, sd) ** 2 + sd**2 / reps))
    assert tol["sla_attainment"] == pytest.approx(3 * tol["sigma"]) and "allowance" not in tol
    assert tol["sla_attainment"] < 0.06
    assert r["queue_order"] == {"priority_rule": "influencer_fail", "followups_first": True, "configured": True}
    assert abs(cmp["difference"]["sla_attainment"]) <= tol["sla_attainment"]
    assert cmp["agree"] is True
    assert cmp["measured"]["answered"] > 100
    sources = {line.split(",")[0] for line in (out / "first_responses.csv").read_text().splitlines()[1:]}
    assert sources == {"predicted", "measured"}
    assert "predicted vs measured" in storm_run[0].stdout


def test_two_processes(tmp_path: Path) -> None:
    proc = run_cli("loadtest", "scenarios/outage-storm.toml", "--duration", "8", "--processes", "2",
                   "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads((tmp_path / "loadtest.json").read_text())
    metas = [json.loads(p.read_text()) for p in (tmp_path / "loadgen").glob("meta-*.json")]
    senders = sorted((m["index"], m["count"]) for m in metas if m["dispatcher"])
    assert senders == [(0, 2), (1, 2)]
    assert len({m["t0"] for m in metas}) == 1 and len({m["run_id"] for m in metas}) == 1
    assert r["processes"] == 2 and r["tweets_sent"] == r["tweets_scheduled"] > 100
    assert r["tweets_acknowledged"] == r["tweets_scheduled"]
    assert r["achieved_rate_ratio"] >= 0.95 and r["failures"] == {}


def test_refuses_a_remote_host_without_allow_remote(tmp_path: Path) -> None:
    proc = run_cli("loadtest", "scenarios/outage-storm.toml", "--host", "http://192.0.2.10:8080",
                   "--secret", "s", "--out", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert "--allow-remote" in proc.stderr
    assert not (tmp_path / "loadtest.json").exists()


# -- the run's report.html in headless Chromium (the same checks as tests/reports) -------------

@pytest.fixture(scope="module")
def browser():
    """Chromium via tests/reports/reportkit.py: skips with a reason when Chromium or Playwright is
    missing, fails under CHIRPDESK_CI=1. Imported here so this file runs on its own too."""
    reports_tests = str(Path(__file__).resolve().parents[1] / "reports")
    if reports_tests not in sys.path:
        sys.path.append(reports_tests)
    from reportkit import launch_browser

    with launch_browser() as b:
        yield b


def test_storm_report_in_chromium(storm_run, browser) -> None:
    from reportkit import ARTIFACTS, assert_healthy, cards, open_report

    proc, out, r = storm_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = out / "report.html"
    assert html.is_file(), "chirpdesk loadtest --out did not render report.html"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    expected = {"arrival_rate", "latency", "first_response_cdf"} | (
        {"failures"} if r["failures"] or any(r["expected_4xx"].values()) else set())
    with open_report(browser, html, ARTIFACTS / "loadtest-real.png") as (page, problems):
        figs = {f["name"]: f for f in assert_healthy(page, problems, expected)}
        n_responses = len((out / "first_responses.csv").read_text().splitlines()) - 1
        assert figs["first_response_cdf"]["points"] == n_responses
        gates = page.eval_on_selector_all(
            "table[data-table=gates] tbody tr",
            "rs => rs.map(r => ({cls: r.className, gate: r.cells[0].textContent.trim()}))")
        assert [g["gate"] for g in gates] == [g["metric"] for g in r["gates"]]
        assert [g["cls"] for g in gates] == ["pass" if g["passed"] else "fail" for g in r["gates"]]
        got = cards(page)
        assert got["passed"]["text"] == f"{sum(g['passed'] for g in r['gates'])} of {len(r['gates'])}"
        assert got["passed"]["state"] == ("good" if r["passed"] else "bad")
        assert float(got["requests"]["value"]) == r["requests"]
        assert float(got["achieved_rate_ratio"]["value"]) == r["achieved_rate_ratio"]
        assert float(got["failures"]["value"]) == sum(r["failures"].values())
        measured = r["predicted_vs_measured"]["measured"]["sla_attainment"]
        assert float(got["measured_sla_attainment"]["value"]) == measured
        assert got["measured_sla_attainment"]["text"] == f"{100 * measured:.1f}%"
        assert page.inner_text(".verdict").startswith("PASSED" if r["passed"] else "FAILED")
        n_endpoints = page.eval_on_selector_all("table[data-table=latency] tbody tr", "rs => rs.length")
        assert n_endpoints == len(r["latency_ms"])
    assert (ARTIFACTS / "loadtest-real.png").stat().st_size > 50_000


def test_calibrating_from_the_desk_the_load_test_fed_recovers_its_rate(storm_run, tmp_path: Path) -> None:
    # serve -> loadtest -> calibrate closes the loop: the desk's own database is a history.
    from chirpdesk.sim.calibrate import calibrate
    from chirpdesk.sim.history import read_history

    _, _, r = storm_run
    h = read_history(str(r["endpoint_db"]), "desk")
    s = calibrate(h).summary
    db = sqlite3.connect(Path(r["endpoint_db"]))
    try:
        first = db.execute("SELECT COUNT(*) FROM tweets WHERE is_brand = 0 AND in_reply_to_status_id_str IS NULL"
                           ).fetchone()[0]
    finally:
        db.close()
    assert s["threads"] == first >= r["tweets_scheduled"] * 0.95
    rate = s["fitted"]["arrivals.base_rate_per_hour"]
    sent_per_hour = r["tweets_scheduled"] / 30.0 * 3600.0  # 30 s of arrivals, tweets dated when sent
    assert rate["value"] == pytest.approx(sent_per_hour, rel=0.1)
    assert rate["ci_low"] < rate["value"] < rate["ci_high"]
    assert s["reply_pairs"] > 0 and s["first_response_p50_s"] > 0
