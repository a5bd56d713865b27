"""``chirpdesk report`` / ``compare`` from the command line, and the errors users can cause."""

from __future__ import annotations

from pathlib import Path

import pytest

import reportdata
from chirpdesk.reports import render_compare, render_run_report
from chirpdesk.reports.data import detect_kind
from chirpdesk.sim.cli import main
from chirpdesk.sim.errors import ChirpdeskError


def test_report_rerenders_from_data_files(sim_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = sim_run / "report.html"
    report.unlink()
    assert main(["report", str(sim_run)]) == 0
    assert report.is_file() and report.stat().st_size > 10_000
    assert str(report) in capsys.readouterr().out


@pytest.mark.parametrize("fixture, kind", [("staff_run", "staff"), ("sweep_run", "sweep"), ("study_run", "sweep")])
def test_kind_is_detected_from_the_marker_file(request: pytest.FixtureRequest, fixture: str, kind: str) -> None:
    assert detect_kind(request.getfixturevalue(fixture)) == kind


def test_loadtest_kind_is_detected_from_the_marker_file(tmp_path: Path) -> None:
    assert detect_kind(reportdata.write_loadtest(tmp_path / "loadtest")) == "loadtest"


def test_missing_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-run"
    with pytest.raises(ChirpdeskError, match="no-such-run: no such folder"):
        render_run_report(missing)
    assert main(["report", str(missing)]) == 2
    assert "no-such-run: no such folder" in capsys.readouterr().err


def test_folder_without_data_files_names_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(ChirpdeskError, match=r"no data files found \(expected one of summary.json, "
                                             r"staff.json, sweep.json, loadtest.json"):
        render_run_report(tmp_path)


def test_compare_refuses_non_simulate_runs(sim_run: Path, staff_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ChirpdeskError, match="holds a staff run; compare needs two simulate runs"):
        render_compare(sim_run, staff_run, tmp_path / "x.html")


def test_missing_intervals_file_is_named(sim_run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text((sim_run / "summary.json").read_text())
    with pytest.raises(ChirpdeskError, match=r"intervals.csv: file not found"):
        render_run_report(broken)


def test_malformed_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "staff.json").write_text("{not json")
    with pytest.raises(ChirpdeskError, match=r"staff.json: not valid JSON"):
        render_run_report(tmp_path)
