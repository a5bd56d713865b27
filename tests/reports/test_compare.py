"""``chirpdesk compare``: two real runs before/after adding agents, Welch t-tests, overlays."""

from __future__ import annotations

import json
import math
from pathlib import Path

from scipy import stats

from chirpdesk.reports import render_compare
from chirpdesk.sim.cli import main
from reportkit import assert_healthy, cards, open_report, parse


def _rows(html: Path) -> dict[str, dict[str, str]]:
    return {a["data-metric"]: a for tag, a in parse(html).tags if tag == "tr" and "data-metric" in a}


def test_more_agents_significantly_raise_sla(sim_run: Path, sim_run_more_agents: Path, tmp_path: Path) -> None:
    out = render_compare(sim_run, sim_run_more_agents, tmp_path / "cmp.html")
    rows = _rows(out)
    assert rows["sla_attainment"]["data-significant"] == "true"
    assert rows["cost_total"]["data-significant"] == "true"   # 12 agents cost more, deterministically
    # p-values are Welch's t-test on the per-replication values in summary.json.
    a = json.loads((sim_run / "summary.json").read_text())["per_replication"]
    b = json.loads((sim_run_more_agents / "summary.json").read_text())["per_replication"]
    expected = stats.ttest_ind([r["sla_attainment"] for r in a], [r["sla_attainment"] for r in b],
                               equal_var=False).pvalue
    assert math.isclose(float(rows["sla_attainment"]["data-p"]), expected, rel_tol=1e-12)
    assert "agents.shifts.0.count" in " ".join(parse(out).text)


def test_a_run_against_itself_differs_in_nothing(sim_run: Path, tmp_path: Path) -> None:
    out = render_compare(sim_run, sim_run, tmp_path / "same.html")
    rows = _rows(out)
    assert rows and not [k for k, r in rows.items() if r["data-significant"] == "true"]
    assert "identical settings" in " ".join(parse(out).text)


def test_compare_cli_default_out_and_page(browser, sim_run: Path, sim_run_more_agents: Path,
                                          artifacts: Path) -> None:
    assert main(["compare", str(sim_run), str(sim_run_more_agents)]) == 0
    out = sim_run_more_agents / "compare.html"
    b = json.loads((sim_run_more_agents / "summary.json").read_text())["metrics"]
    a = json.loads((sim_run / "summary.json").read_text())["metrics"]
    with open_report(browser, out, artifacts / "compare.png") as (page, problems):
        assert_healthy(page, problems, {"compare_week_shape", "compare_sla_by_interval",
                                        "compare_queue_length", "compare_first_response_cdf"})
        got = cards(page)
        assert float(got["sla_attainment"]["value"]) == b["sla_attainment"]["mean"]
        assert got["sla_attainment"]["text"] == f"{100 * b['sla_attainment']['mean']:.1f}%"
        value_a = page.get_attribute(".card[data-metric=sla_attainment]", "data-value-a")
        assert float(value_a) == a["sla_attainment"]["mean"]
