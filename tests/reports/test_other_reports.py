"""Staff and sweep reports from real small runs (``chirpdesk staff``, ``chirpdesk sweep`` on a
grid with sensitivity, and a multi-period study); load-test edge cases a real run cannot
produce, from folders written to docs/outputs.md. The real load test's page is checked in
tests/loadtests/test_run.py, next to the run it reuses."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

import reportdata
from chirpdesk.reports import render_run_report
from chirpdesk.sim.cli import main
from reportkit import assert_healthy, cards, open_report, parse


def _state(m: dict[str, float], target: float) -> str:
    """What an SLA-judged card should say, given the mean, CI and target (docs/reports.md)."""
    if m["mean"] < target:
        return "bad"
    return "good" if m["ci_low"] >= target or math.isnan(m["ci_low"]) else "warn"


def _tags(html: Path, attr: str) -> dict[str, dict[str, str]]:
    return {a[attr]: a for _, a in parse(html).tags if attr in a}


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _report(folder: Path) -> Path:
    """``chirpdesk report FOLDER`` (sweep writes data files only) -> the report path."""
    assert main(["report", str(folder)]) == 0
    return folder / "report.html"


# -- staff ----------------------------------------------------------------------------------

def test_staff_run_writes_its_report(staff_run: Path) -> None:
    """``chirpdesk staff --out`` renders report.html itself, next to the data files."""
    for name in ("staff.json", "requirement.csv", "shifts.csv", "report.html"):
        assert (staff_run / name).is_file(), name
    plots = _tags(staff_run / "report.html", "data-plot")
    assert plots and all(int(a["data-points"]) > 0 for a in plots.values())


def test_staff_report(browser, staff_run: Path, artifacts: Path) -> None:
    doc = json.loads((staff_run / "staff.json").read_text())
    req = _csv(staff_run / "requirement.csv")
    shifts = _csv(staff_run / "shifts.csv")
    sim = doc["simulated"]
    with open_report(browser, staff_run / "report.html", artifacts / "staff.png") as (page, problems):
        figs = assert_healthy(page, problems, {"staffing"})
        # Arrival rate + required + scheduled, plus each method's line where it differs from "required".
        extra = sum(sum(1 for r in req if r[c] != "") for c in ("required_sipp", "required_mol", "required_isa")
                    if c in req[0] and any(r[c] != "" for r in req)
                    and [r[c] for r in req] != [r["required"] for r in req])
        assert figs[0]["points"] == 3 * len(req) + extra
        got = cards(page)
        assert float(got["plan_cost"]["value"]) == doc["plan_cost"]
        assert got["plan_cost"]["text"] == f"${doc['plan_cost']:,.0f}"
        for key in ("sla_attainment", "abandoned_share", "first_response_p90_s", "occupancy",
                    "cost_per_conversation"):
            assert float(got[key]["value"]) == sim[key]["mean"], key
        assert got["sla_attainment"]["text"] == f"{100 * sim['sla_attainment']['mean']:.1f}%"
        assert got["sla_attainment"]["state"] == _state(sim["sla_attainment"], doc["target"]["share"])
        assert float(got["peak_scheduled"]["value"]) == max(float(r["scheduled"]) for r in req)
        names = page.eval_on_selector_all("table[data-table=shifts] tbody tr td:first-child",
                                          "tds => tds.map(td => td.textContent.trim())")
        assert len(names) == len(shifts) + 1 and names[-1] == "total"
        assert sorted(names[:-1]) == sorted(r["name"] for r in shifts)
        snippet = page.inner_text("pre[data-snippet]")
        assert snippet.count("[[agents.shifts]]") == len(shifts)
        assert page.inner_text(".verdict").startswith(
            f"Target: {100 * doc['target']['share']:.0f}% of tweets answered within")


# -- sweep ----------------------------------------------------------------------------------

def test_sweep_report(browser, sweep_run: Path, artifacts: Path) -> None:
    html = _report(sweep_run)
    rows = _csv(sweep_run / "sweep.csv")
    sens = _csv(sweep_run / "sensitivity.csv")
    bp = _csv(sweep_run / "breakpoints.csv")
    sens_metrics = {r["metric"] for r in sens}
    with open_report(browser, html, artifacts / "sweep.png") as (page, problems):
        figs = assert_healthy(page, problems, {"sweep_sla_attainment", "sweep_first_response_p90_s",
                                               *(f"tornado_{m}" for m in sens_metrics)})
        points = {f["name"]: f["points"] for f in figs}
        for name, n in points.items():
            if name.startswith("sweep_"):  # one point per grid point and policy
                assert n == sum(1 for r in rows if r["metric"] == name.removeprefix("sweep_")), name
            else:  # low and high per parameter
                assert n == 2 * sum(1 for r in sens if r["metric"] == name.removeprefix("tornado_")), name
        ticks = page.inner_text("figure[data-plot=sweep_sla_attainment]")
        assert "agents.concurrency" in ticks and "1.2" not in ticks  # the grid values, not 1.2, 1.4, ...
        n_sobol = page.eval_on_selector_all("table[data-table=sobol] tbody tr", "rs => rs.length")
        assert n_sobol == len(_csv(sweep_run / "sobol.csv"))
        classes = page.eval_on_selector_all("table[data-table=breakpoints] tbody tr", "rs => rs.map(r => r.className)")
        n_broken = sum(1 for r in bp if r["break_period"])
        assert len(classes) == len(bp) and classes.count("fail") == n_broken
        verdict = page.inner_text(".verdict")
        if n_broken:
            assert verdict.startswith(f"{n_broken} of {len(bp)} configurations miss the SLA target")
        else:
            assert verdict == "Every configuration holds the SLA target in every period."


def test_multi_period_study(browser, study_run: Path, artifacts: Path) -> None:
    html = _report(study_run)
    doc = json.loads((study_run / "sweep.json").read_text())
    rows = _csv(study_run / "sweep.csv")
    bp = _csv(study_run / "breakpoints.csv")
    years = [p["label"] for p in doc["periods"]]
    with open_report(browser, html, artifacts / "sweep-study.png") as (page, problems):
        figs = {f["name"]: f for f in assert_healthy(page, problems, {"sweep_sla_attainment"})}
        assert figs["sweep_sla_attainment"]["points"] == len(years) * len(doc["policies"]) == sum(
            1 for r in rows if r["metric"] == "sla_attainment")
        ticks = page.inner_text("figure[data-plot=sweep_sla_attainment]")
        assert years[0] in ticks and years[-1] in ticks
        assert page.inner_text(".period") == doc["sampling"]
        assert "study over time" in page.inner_text("header").lower()
        cells = page.eval_on_selector_all("table[data-table=breakpoints] tbody tr",
                                          "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))")
        assert len(cells) == len(bp)
        for row, r in zip(cells, bp, strict=True):
            assert row[0] == r["policy"] and row[1] == (r["break_period"] or "never")
        broken = [r for r in bp if r["break_period"]]
        if broken:
            first = min(broken, key=lambda r: float(r["break_start_s"]))
            assert f'policy "{first["policy"]}" in period {first["break_period"]}' in page.inner_text(".verdict")


def test_sweep_without_sensitivity_has_no_tornado_or_sobol(study_run: Path) -> None:
    assert not (study_run / "sensitivity.csv").exists() and not (study_run / "sobol.csv").exists()
    html = _report(study_run)
    plots = _tags(html, "data-plot")
    assert "sweep_sla_attainment" in plots
    assert not [p for p in plots if p.startswith("tornado_")]
    assert "sobol" not in _tags(html, "data-table")


# -- loadtest edge cases (the real run is checked in tests/loadtests/test_run.py) -------------

def test_failed_loadtest_says_which_gate(tmp_path: Path) -> None:
    folder = reportdata.write_loadtest(tmp_path / "slow", passed=False)
    html = render_run_report(folder)
    text = " ".join(parse(html).text)
    assert "FAILED: p95_ingest_ms did not meet its gate." in text
    state = next(a for _, a in parse(html).tags if a.get("data-metric") == "passed")["data-state"]
    assert state == "bad"
    # Two real failure reasons and one provoked 4xx (the provoked 0 is dropped).
    assert _tags(html, "data-plot")["failures"]["data-points"] == "3"
    assert "What went wrong" in text


def test_loadtest_without_failures_has_no_empty_failure_plot(tmp_path: Path) -> None:
    folder = reportdata.write_loadtest(tmp_path / "clean")
    doc = json.loads((folder / "loadtest.json").read_text())
    doc["failures"], doc["expected_4xx"] = {}, {}
    (folder / "loadtest.json").write_text(json.dumps(doc))
    html = render_run_report(folder)
    assert "failures" not in _tags(html, "data-plot")
    assert "No failed requests." in " ".join(parse(html).text)


@pytest.mark.parametrize("fixture", ["staff_run", "sweep_run", "study_run"])
def test_every_plot_has_points_without_a_browser(request: pytest.FixtureRequest, fixture: str) -> None:
    html = _report(request.getfixturevalue(fixture))
    plots = _tags(html, "data-plot")
    assert plots and all(int(a["data-points"]) > 0 for a in plots.values())
