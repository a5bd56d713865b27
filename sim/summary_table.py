"""The terminal summary: a table a planner reads in ten seconds."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from chirpdesk.sim.run import SimulationResult
from chirpdesk.sim.units import format_duration


def _fmt(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit == "s":
        return f"{value:.0f}s" if value < 120 else f"{value / 60:.1f}m"
    if unit == "money":
        return f"{value:,.2f}"
    return f"{value:,.1f}"


ROWS: tuple[tuple[str, str, str], ...] = (
    ("tweets", "tweets in window", "n"),
    ("tweets_per_hour", "tweets per hour", "n"),
    ("answered_share", "answered (response rate)", "share"),
    ("sla_attainment", "SLA attainment", "share"),
    ("first_response_p50_s", "first response p50", "s"),
    ("first_response_p90_s", "first response p90", "s"),
    ("wait_mean_s", "mean queue wait", "s"),
    ("abandoned_share", "abandoned", "share"),
    ("escalated_share", "escalated off Twitter", "share"),
    ("resolved_in_public_share", "resolved in public", "share"),
    ("turns_mean", "agent replies per conversation", "n"),
    ("occupancy", "occupancy", "share"),
    ("cost_total", "cost", "money"),
    ("cost_per_conversation", "cost per conversation", "money"),
)


def print_summary(result: SimulationResult, console: Console | None = None) -> None:
    """Print the headline metrics with 95% confidence intervals."""
    console = console or Console()
    sc = result.scenario
    title = (f"{sc.meta.name}: {len(result.replications)} replications, seed {result.seed}, "
             f"window {format_duration(sc.meta.horizon - sc.meta.warmup)} after {format_duration(sc.meta.warmup)} warm-up")
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    for key, label, unit in ROWS:
        m = result.summary[key]
        if key == "sla_attainment":
            label = f"{label} ({100 * sc.sla.share:.0f}% within {format_duration(sc.sla.within)}, {sc.sla.basis})"
        ci = "" if m["ci_low"] != m["ci_low"] else f"{_fmt(m['ci_low'], unit)} – {_fmt(m['ci_high'], unit)}"
        style = ""
        if key == "sla_attainment" and m["mean"] == m["mean"]:
            style = "green" if m["mean"] >= sc.sla.share else "red"
        table.add_row(label, f"[{style}]{_fmt(m['mean'], unit)}[/]" if style else _fmt(m["mean"], unit), ci)
    console.print(table)
    console.print(f"[dim]{result.wall_seconds:.1f}s wall time[/]")
