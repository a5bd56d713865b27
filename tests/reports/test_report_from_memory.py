"""The simulate report is drawn from what the run holds (summary, interval table, waiting-time
histograms), never from its conversations: the same page from memory as from the folder, in
either table format, and folders written before the histograms still render."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from chirpdesk.reports import render_compare, render_run_report
from chirpdesk.reports.data import load_simulate, simulate_data
from chirpdesk.sim.cli import main
from chirpdesk.sim.loader import load_scenario
from chirpdesk.sim.outputs import write_outputs
from chirpdesk.sim.run import run_scenario
from reportkit import parse
from reportruns import ROOT, simulate


def _plots(report: Path) -> dict[str, dict[str, str]]:
    return {a["data-plot"]: a for _, a in parse(report).tags if a.get("data-plot")}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_report_from_memory_equals_report_from_the_folder(tmp_path: Path, fmt: str) -> None:
    run = simulate(tmp_path / fmt, "--format", fmt)
    from_memory = (run / "report.html").read_bytes()
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").read_bytes() == from_memory


def test_the_report_needs_no_conversation_table(tmp_path: Path) -> None:
    sc = load_scenario(ROOT / "scenarios/erlang-check.toml", ["scenario.horizon=2d"])
    result = run_scenario(sc, 2, None, 1)
    summary = write_outputs(result, tmp_path)
    for name in ("conversations.parquet", "intervals.parquet"):
        (tmp_path / name).unlink()  # whatever is on disk, the command draws from memory
    render_run_report(tmp_path, simulate_data(summary, result.intervals, result.histograms))
    plots = _plots(tmp_path / "report.html")
    assert {"first_response_histogram", "first_response_cdf", "week_shape"} <= set(plots)
    assert int(plots["first_response_cdf"]["data-points"]) == result.histograms["first_response_s"].total
    # The summary's histograms are a few hundred bins whatever the number of conversations.
    assert len(summary["histograms"]["first_response_s"]["counts"]) <= 600


def test_a_folder_without_histograms_rebuilds_them_from_its_conversations(tmp_path: Path) -> None:
    """Folders written before summary.json carried histograms (CSV, no "histograms" key)."""
    run = simulate(tmp_path / "old", "--format", "csv", "--no-report")
    doc = json.loads((run / "summary.json").read_text())
    pooled = doc.pop("histograms")
    doc.pop("files")
    (run / "summary.json").write_text(json.dumps(doc))
    data = load_simulate(run)
    frt = data["histograms"]["first_response_s"]
    assert frt.replications == 1 and frt.total == doc["per_replication"][0]["needs_reply"]
    assert frt.total < pooled["first_response_s"]["total"]  # one replication of two
    render_run_report(run)
    text = " ".join(parse(run / "report.html").text)
    assert "replication 1" in text
    assert int(_plots(run / "report.html")["first_response_cdf"]["data-points"]) == frt.total
    # Neither histograms nor conversations: the page says what is missing.
    (run / "conversations.csv").unlink()
    render_run_report(run)
    assert "first-response distribution is not shown" in " ".join(parse(run / "report.html").text)
    assert "first_response_cdf" not in _plots(run / "report.html")


def test_compare_reads_a_parquet_run_against_a_csv_run(sim_run: Path, tmp_path: Path) -> None:
    csv_run = simulate(tmp_path / "csv", "--format", "csv", "--set", "agents.shifts.0.count=12", "--no-report")
    out = render_compare(sim_run, csv_run, tmp_path / "cmp.html")
    plots = _plots(out)
    assert "compare_first_response_cdf" in plots
    pooled = sum(json.loads((r / "summary.json").read_text())["histograms"]["first_response_s"]["total"]
                 for r in (sim_run, csv_run))
    assert int(plots["compare_first_response_cdf"]["data-points"]) == pooled


def test_a_corrupt_histogram_is_named(sim_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "bad"
    shutil.copytree(sim_run, run)
    doc = json.loads((run / "summary.json").read_text())
    doc["histograms"]["first_response_s"]["counts"] = [-3]
    (run / "summary.json").write_text(json.dumps(doc))
    from chirpdesk.sim.errors import ChirpdeskError

    with pytest.raises(ChirpdeskError, match=re.escape("summary.json: histograms:")):
        render_run_report(run)
