"""``chirpdesk simulate`` end to end: files written, reproducible across process counts."""

import csv
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from chirpdesk.sim.cli import main
from chirpdesk.sim.metrics import METRIC_UNITS
from chirpdesk.sim.model import OUTCOMES
from simkit import ROOT, SCENARIOS

SHORT = ["--set", "scenario.horizon=2d", "--set", "scenario.warmup=6h"]


def run_cli(*args):
    return main([str(a) for a in args])


def strip_timing(doc):
    doc = dict(doc)
    doc.pop("wall_seconds")
    return doc


def test_simulate_writes_the_documented_files(tmp_path):
    assert run_cli("simulate", SCENARIOS / "baseline.toml", *SHORT, "-r", "3", "-j", "1", "--out", tmp_path, "-q", "--no-report") == 0
    doc = json.loads((tmp_path / "summary.json").read_text())
    assert doc["scenario"] == "baseline" and doc["replications"] == 3 and doc["seed"] == 7
    required = {"tweets", "needs_reply", "answered_share", "abandoned_share", "p_wait", "wait_mean_s",
                "first_response_mean_s", "first_response_p50_s", "first_response_p90_s", "first_response_p95_s",
                "sla_attainment", "escalated_share", "resolved_in_public_share", "turns_mean", "occupancy",
                "cost_total", "cost_per_conversation"}
    assert required <= set(doc["metrics"]) and set(doc["metrics"]) == set(METRIC_UNITS)
    for name, m in doc["metrics"].items():
        assert set(m) == {"mean", "ci_low", "ci_high"}, name
    sla = doc["metrics"]["sla_attainment"]
    assert sla["ci_low"] <= sla["mean"] <= sla["ci_high"]
    # Parquet by default, and summary.json names the files.
    assert doc["files"] == {"intervals": "intervals.parquet", "conversations": "conversations.parquet"}
    iv = pq.ParquetFile(tmp_path / "intervals.parquet").read()
    assert iv.num_rows == 48
    assert {"arrivals", "answered", "abandoned", "queue_mean", "agents", "busy_slots", "first_response_p90_s"} <= set(iv.column_names)
    conv = pq.ParquetFile(tmp_path / "conversations.parquet").read()
    assert sum(conv.column("in_window").to_pylist()) == doc["per_replication"][0]["tweets"]
    assert set(conv.column("outcome").to_pylist()) <= set(OUTCOMES)
    assert doc["settings"]["arrivals"]["base_rate_per_hour"] == 45
    assert not (tmp_path / "intervals.csv").exists()


def test_format_csv_writes_the_same_tables_as_csv(tmp_path):
    """--format csv: plain CSV any tool reads, holding exactly the Parquet run's values."""
    a, b = tmp_path / "pq", tmp_path / "csv"
    assert run_cli("simulate", SCENARIOS / "outage-storm.toml", *SHORT, "-r", "2", "-j", "1", "--out", a, "-q", "--no-report") == 0
    assert run_cli("simulate", SCENARIOS / "outage-storm.toml", *SHORT, "-r", "2", "-j", "1", "--out", b, "-q", "--no-report",
                   "--format", "csv") == 0
    assert json.loads((b / "summary.json").read_text())["files"] == {"intervals": "intervals.csv",
                                                                     "conversations": "conversations.csv"}
    for name in ("intervals", "conversations"):
        with open(b / f"{name}.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        table = pq.ParquetFile(a / f"{name}.parquet").read()
        assert len(rows) == table.num_rows > 0 and list(rows[0]) == table.column_names
        for col in table.column_names:
            want = table.column(col).to_pylist()
            got = [r[col] for r in rows]
            if isinstance(next((w for w in want if w is not None), ""), str):
                assert got == want, col
            else:  # numbers read back exactly; a missing value is an empty cell
                assert [None if g == "" else float(g) for g in got] == [None if w is None else float(w) for w in want], col


def test_format_rejects_an_unknown_value(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli("simulate", SCENARIOS / "baseline.toml", "--out", tmp_path, "--format", "xlsx")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--format" in err and "'xlsx'" in err and "parquet" in err and "csv" in err


def test_same_seed_same_numbers_with_one_or_two_processes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("simulate", SCENARIOS / "outage-storm.toml", *SHORT, "-r", "4", "-j", "1", "--out", a, "-q", "--no-report") == 0
    assert run_cli("simulate", SCENARIOS / "outage-storm.toml", *SHORT, "-r", "4", "-j", "2", "--out", b, "-q", "--no-report") == 0
    assert strip_timing(json.loads((a / "summary.json").read_text())) == strip_timing(json.loads((b / "summary.json").read_text()))
    assert (a / "intervals.parquet").read_bytes() == (b / "intervals.parquet").read_bytes()
    assert (a / "conversations.parquet").read_bytes() == (b / "conversations.parquet").read_bytes()


def test_seed_option_changes_the_numbers(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_cli("simulate", SCENARIOS / "two-handles.toml", *SHORT, "-r", "2", "-j", "1", "--out", a, "-q", "--no-report")
    run_cli("simulate", SCENARIOS / "two-handles.toml", *SHORT, "-r", "2", "-j", "1", "--seed", "99", "--out", b, "-q", "--no-report")
    ma = json.loads((a / "summary.json").read_text())
    mb = json.loads((b / "summary.json").read_text())
    assert mb["seed"] == 99
    assert ma["metrics"]["tweets"]["mean"] != mb["metrics"]["tweets"]["mean"]


def test_console_script_and_python_m_print_a_summary():
    proc = subprocess.run([sys.executable, "-m", "chirpdesk.sim", "simulate", str(SCENARIOS / "erlang-check.toml"),
                           "--set", "scenario.horizon=2d", "-r", "2"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "SLA attainment" in proc.stdout and "first response p90" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--set", "arrivals.base_rate=-1"], "arrivals.base_rate: got -1"),
    (["--set", "nonsense"], "expected KEY=VALUE"),
    (["-r", "0"], "--replications: got 0"),
])
def test_bad_options_exit_2_with_a_reason(args, message, capsys):
    assert run_cli("simulate", SCENARIOS / "erlang-check.toml", *args, "-q") == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command, extra", [
    ("simulate", ["-r", "2"]),
    ("sweep", ["--grid", "agents.concurrency=1,2", "-r", "2"]),
])
def test_out_writes_a_report_unless_told_not_to(tmp_path, command, extra):
    on, off = tmp_path / "on", tmp_path / "off"
    assert run_cli(command, SCENARIOS / "erlang-check.toml", *SHORT, *extra, "-j", "1", "-q", "--out", on) == 0
    assert run_cli(command, SCENARIOS / "erlang-check.toml", *SHORT, *extra, "-j", "1", "-q", "--out", off, "--no-report") == 0
    page = (on / "report.html").read_text()
    assert "<html" in page and "erlang-check" in page
    assert not (off / "report.html").exists()
