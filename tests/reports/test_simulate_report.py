"""The simulate report from a real small run: written by ``simulate --out``, healthy in
Chromium, cards equal to summary.json, every setting shown, no external assets."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from chirpdesk.sim.outputs import read_table
from reportkit import assert_healthy, cards, open_report, parse
from reportruns import simulate

SIMULATE_PLOTS = {"week_shape", "queue_length", "sla_by_interval", "first_response_histogram",
                  "first_response_cdf", "occupancy_by_hour", "escalation"}
HEADLINE = ("sla_attainment", "first_response_p50_s", "first_response_p90_s", "answered_share",
            "abandoned_share", "escalated_share", "cost_per_conversation")


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_simulate_with_out_writes_a_self_contained_report(sim_run: Path) -> None:
    html = (sim_run / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "<style>" in html
    # Nothing to fetch: no external scripts, stylesheets, images or fonts.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@import" not in html and "url(http" not in html
    assert "erlang-check" in html


def test_cards_carry_the_exact_summary_values(sim_run: Path) -> None:
    metrics = _summary(sim_run)["metrics"]
    found = {a["data-metric"]: a for tag, a in parse(sim_run / "report.html").tags if "data-metric" in a}
    assert set(HEADLINE) <= set(found)
    for key in HEADLINE:
        assert float(found[key]["data-value"]) == metrics[key]["mean"], key


def test_sla_card_is_red_when_the_target_is_missed(sim_run: Path) -> None:
    s = _summary(sim_run)
    sla, target = s["metrics"]["sla_attainment"], s["sla"]["share"]
    assert sla["ci_high"] < target  # 10 agents at 9 Erlangs cannot pick up 80% within 20 s
    card = next(a for _, a in parse(sim_run / "report.html").tags if a.get("data-metric") == "sla_attainment")
    assert card["data-state"] == "bad"


def test_every_setting_is_shown(sim_run: Path) -> None:
    settings = _summary(sim_run)["settings"]
    text = " ".join(parse(sim_run / "report.html").text)
    keys: set[str] = set()

    def walk(d: object) -> None:
        if isinstance(d, dict):
            for k, v in d.items():
                keys.add(k)
                walk(v)
        elif isinstance(d, list):
            for v in d:
                walk(v)
    walk(settings)
    # Distributions are written "exponential (mean 1m)": their "dist" key is the leading word.
    assert "exponential (mean 1m)" in text
    missing = sorted(k for k in keys - {"dist"} if k not in text)
    assert not missing, missing
    assert "base_rate_per_hour" in text and "540" in text


def test_no_report_flag_skips_rendering(tmp_path: Path) -> None:
    out = simulate(tmp_path / "quiet", "--no-report")
    assert (out / "summary.json").is_file()
    assert not (out / "report.html").exists()


def test_page_in_chromium(browser, sim_run: Path, artifacts: Path) -> None:
    s = _summary(sim_run)
    with open_report(browser, sim_run / "report.html", artifacts / "simulate.png") as (page, problems):
        figs = assert_healthy(page, problems, SIMULATE_PLOTS)
        got = cards(page)
        for key in HEADLINE:
            assert float(got[key]["value"]) == s["metrics"][key]["mean"], key
        # Shares are shown as the summary value in percent with one decimal.
        for key in ("sla_attainment", "answered_share", "abandoned_share", "escalated_share"):
            assert got[key]["text"] == f"{100 * s['metrics'][key]['mean']:.1f}%", key
        assert got["cost_per_conversation"]["text"] == f"${s['metrics']['cost_per_conversation']['mean']:,.2f}"
        # The CDF counts every in-window tweet needing a reply, all replications pooled.
        cdf = next(f for f in figs if f["name"] == "first_response_cdf")
        assert cdf["points"] == sum(r["needs_reply"] for r in s["per_replication"])
        title = page.inner_text("h1")
        assert title == s["scenario"]
        assert "2024" in page.inner_text(".period")
        assert page.inner_text(".verdict").startswith("Target: 80% of tweets picked up within 20 s")
    assert (artifacts / "simulate.png").stat().st_size > 50_000


def test_week_shape_has_one_point_per_interval_and_series(sim_run: Path) -> None:
    n_intervals = len(read_table(sim_run / "intervals.parquet")["start"])
    fig = next(a for tag, a in parse(sim_run / "report.html").tags if a.get("data-plot") == "week_shape")
    assert int(fig["data-points"]) == 3 * n_intervals  # arrivals, needing reply, agents
    assert not math.isnan(float(fig["data-points"]))


def test_results_by_group_are_in_summary_and_report(sim_run: Path) -> None:
    s = _summary(sim_run)
    groups = s["groups"]
    assert set(groups) == {"class", "kind", "handle"}
    question = groups["kind"]["question"]
    for metric in ("needs_reply", "wait_mean_s", "first_response_p90_s", "sla_attainment", "abandoned_share"):
        v = question[metric]
        assert v["ci_low"] <= v["mean"] <= v["ci_high"], metric
    # erlang-check has one kind and one handle: each group is the whole, so it equals the totals.
    assert question["sla_attainment"]["mean"] == s["metrics"]["sla_attainment"]["mean"]
    assert question["needs_reply"]["mean"] == s["metrics"]["needs_reply"]["mean"]
    html = (sim_run / "report.html").read_text(encoding="utf-8")
    table = html[html.index('data-table="groups"'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr") == 1 + sum(len(v) for v in groups.values())  # header + one row per group
    assert "question" in table and "service" in table
