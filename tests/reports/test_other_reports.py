"""Staff, sweep and load-test reports rendered from folders that follow docs/outputs.md."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import reportdata
from reportkit import assert_healthy, cards, open_report, parse

from reports import render_run_report


def _tags(html: Path, attr: str) -> dict[str, dict[str, str]]:
    return {a[attr]: a for _, a in parse(html).tags if attr in a}


# -- staff ----------------------------------------------------------------------------------

def test_staff_report(browser, staff_run: Path, artifacts: Path) -> None:
    html = render_run_report(staff_run)
    assert html == staff_run / "report.html"
    doc = json.loads((staff_run / "staff.json").read_text())
    with open_report(browser, html, artifacts / "staff.png") as (page, problems):
        figs = assert_healthy(page, problems, {"staffing"})
        n_rows = len((staff_run / "requirement.csv").read_text().splitlines()) - 1
        # rate + required + scheduled + the MOL line (SIPP equals "required"; ISA is empty).
        assert figs[0]["points"] == 4 * n_rows
        got = cards(page)
        assert float(got["plan_cost"]["value"]) == doc["plan_cost"]
        assert got["plan_cost"]["text"] == f"${doc['plan_cost']:,.0f}"
        assert float(got["sla_attainment"]["value"]) == doc["simulated"]["sla_attainment"]["mean"]
        assert got["sla_attainment"]["state"] == "good"
        shift_rows = page.eval_on_selector_all("table[data-table=shifts] tbody tr", "rs => rs.length")
        assert shift_rows == len((staff_run / "shifts.csv").read_text().splitlines()) - 1 + 1  # + total
        assert "[[agents.shifts]]" in page.inner_text("pre")


# -- sweep ----------------------------------------------------------------------------------

def test_sweep_report(browser, sweep_run: Path, artifacts: Path) -> None:
    html = render_run_report(sweep_run)
    with open_report(browser, html, artifacts / "sweep.png") as (page, problems):
        figs = assert_healthy(page, problems, {"sweep_sla_attainment", "sweep_first_response_p90_s",
                                               "sweep_cost_per_conversation", "tornado_sla_attainment"})
        per_metric = {f["name"]: f["points"] for f in figs}
        assert per_metric["sweep_sla_attainment"] == 10  # 5 grid values x 2 policies
        assert per_metric["tornado_sla_attainment"] == 8  # 4 parameters x low/high
        assert page.eval_on_selector_all("table[data-table=sobol] tbody tr", "rs => rs.length") == 4
        bp = page.eval_on_selector_all("table[data-table=breakpoints] tbody tr", "rs => rs.map(r => r.className)")
        assert len(bp) == 10 and bp.count("fail") == 3
        assert page.inner_text(".verdict").startswith("3 of 10 configurations miss the SLA target")


def test_sweep_without_sensitivity_has_no_tornado_or_sobol(tmp_path: Path) -> None:
    folder = reportdata.write_sweep(tmp_path / "plain", sensitivity=False)
    html = render_run_report(folder)
    plots = _tags(html, "data-plot")
    assert "sweep_sla_attainment" in plots
    assert not [p for p in plots if p.startswith("tornado_")]
    assert "sobol" not in _tags(html, "data-table")


def test_multi_period_study(browser, tmp_path: Path, artifacts: Path) -> None:
    folder = reportdata.write_study(tmp_path / "study")
    html = render_run_report(folder)
    with open_report(browser, html, artifacts / "sweep-study.png") as (page, problems):
        figs = assert_healthy(page, problems, {"sweep_sla_attainment"})
        assert figs[0]["points"] == 12  # 6 years x 2 team sizes
        ticks = page.inner_text("figure[data-plot=sweep_sla_attainment]")
        assert "2011" in ticks and "2016" in ticks
        assert "one sample week per year" in page.inner_text(".period")


# -- loadtest -------------------------------------------------------------------------------

def test_loadtest_report(browser, loadtest_run: Path, artifacts: Path) -> None:
    html = render_run_report(loadtest_run)
    doc = json.loads((loadtest_run / "loadtest.json").read_text())
    with open_report(browser, html, artifacts / "loadtest.png") as (page, problems):
        figs = {f["name"]: f for f in assert_healthy(page, problems, {"arrival_rate", "latency", "failures",
                                                                       "first_response_cdf"})}
        with open(loadtest_run / "first_responses.csv", newline="") as f:
            assert figs["first_response_cdf"]["points"] == sum(1 for _ in csv.DictReader(f))
        assert figs["failures"]["points"] == 3  # two failure reasons + one provoked 4xx (the 0 is dropped)
        got = cards(page)
        assert got["passed"]["state"] == "good"
        assert float(got["achieved_rate_ratio"]["value"]) == doc["achieved_rate_ratio"]
        assert float(got["failures"]["value"]) == 3
        gates = page.eval_on_selector_all("table[data-table=gates] tbody tr", "rs => rs.map(r => r.className)")
        assert gates == ["pass", "pass", "pass"]
        assert page.inner_text(".verdict").startswith("PASSED")


def test_failed_loadtest_says_which_gate(tmp_path: Path) -> None:
    folder = reportdata.write_loadtest(tmp_path / "slow", passed=False)
    html = render_run_report(folder)
    text = " ".join(parse(html).text)
    assert "FAILED: p95_ingest_ms did not meet its gate." in text
    state = next(a for _, a in parse(html).tags if a.get("data-metric") == "passed")["data-state"]
    assert state == "bad"


def test_loadtest_without_failures_has_no_empty_failure_plot(tmp_path: Path) -> None:
    folder = reportdata.write_loadtest(tmp_path / "clean")
    doc = json.loads((folder / "loadtest.json").read_text())
    doc["failures"], doc["expected_4xx"] = {}, {}
    (folder / "loadtest.json").write_text(json.dumps(doc))
    html = render_run_report(folder)
    assert "failures" not in _tags(html, "data-plot")
    assert "No failed requests." in " ".join(parse(html).text)


@pytest.mark.parametrize("kind, builder", [("staff", reportdata.write_staff), ("sweep", reportdata.write_sweep),
                                           ("loadtest", reportdata.write_loadtest)])
def test_every_plot_has_points_without_a_browser(tmp_path: Path, kind: str, builder) -> None:
    html = render_run_report(builder(tmp_path / kind))
    plots = _tags(html, "data-plot")
    assert plots and all(int(a["data-points"]) > 0 for a in plots.values())
