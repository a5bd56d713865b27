"""Matplotlib charts rendered to inline SVG strings (Agg backend, no files, no network).

Each chart function returns a :class:`Plot`: the SVG markup plus how many data points it
drew, which the page writes as ``<figure data-plot=NAME data-points=N>``. Colours come from
:data:`COLORS` so the same quantity looks the same on every page.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MultipleLocator, PercentFormatter  # noqa: E402

from chirpdesk.reports.format import WEEKDAYS  # noqa: E402

if TYPE_CHECKING:
    from chirpdesk.sim.histogram import TimeHistogram

#: One colour per quantity, used by every chart and by the page's CSS.
COLORS: dict[str, str] = {
    "demand": "#2563eb",      # arrivals, load, intended rate
    "demand_light": "#93c5fd",
    "staff": "#059669",       # agents, scheduled, capacity
    "queue": "#d97706",       # queue length, waiting
    "target": "#dc2626",      # SLA line, targets, failures
    "good": "#16a34a",
    "bad": "#dc2626",
    "muted": "#64748b",       # warm-up, secondary lines, "A" in comparisons
    "ink": "#1e293b",
    "grid": "#e2e8f0",
}

#: Occupancy colours: pale to blue up to 85% (healthy), orange to red above (no slack).
OCCUPANCY_CMAP = LinearSegmentedColormap.from_list("occupancy", [
    (0.0, "#f8fafc"), (0.5, "#93c5fd"), (0.849, "#1d4ed8"), (0.85, "#f59e0b"), (1.0, "#b91c1c")])

#: Colours for lines that are not a fixed quantity (policies, endpoints, methods), in order.
SERIES: tuple[str, ...] = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2",
                           "#65a30d", "#9a3412")

#: Figure widths in inches: full-width charts, and charts shown two to a row.
WIDE, HALF = 11.0, 5.4

STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.edgecolor": "#94a3b8",
    "axes.labelcolor": COLORS["ink"],
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": COLORS["grid"],
    "grid.linewidth": 0.8,
    "xtick.color": "#475569",
    "ytick.color": "#475569",
    "legend.frameon": False,
    "legend.fontsize": 9,
    "svg.fonttype": "none",   # text stays text: small, sharp, searchable
    "figure.dpi": 100,
}


@dataclass(frozen=True)
class Plot:
    """A rendered chart: ``name`` (stable id, used as ``data-plot``), ``svg`` markup, ``points``
    (data points drawn, summed over series), ``title`` and a plain-language ``caption``."""

    name: str
    title: str
    caption: str
    svg: str
    points: int
    wide: bool = True


@contextmanager
def figure(name: str, width: float = WIDE, height: float = 3.2, nrows: int = 1,
           ncols: int = 1, **kw: object) -> Iterator[tuple[Figure, object]]:
    """Open a styled figure (inches) whose SVG ids are salted with ``name``; always closed."""
    with plt.rc_context({**STYLE, "svg.hashsalt": f"chirpdesk-{name}"}):
        kw.setdefault("squeeze", True)
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kw)
        try:
            yield fig, axes
        finally:
            plt.close(fig)


def to_svg(fig: Figure, pad_inches: float = 0.08) -> str:
    """The figure as a standalone ``<svg>`` element, cropped to its content plus ``pad_inches``,
    that scales to its container's width.

    What ``savefig(format="svg", bbox_inches="tight")`` gives, drawn once instead of twice:
    savefig lays the whole figure out in a first pass only to measure it, which is a third of a
    report's time. Here the figure is drawn to SVG once, measured with the same renderer (its
    text extents are cached), and cropped by setting the viewBox: vector output, so cropping
    is exact.
    """
    from matplotlib.backends.backend_mixed import MixedModeRenderer
    from matplotlib.backends.backend_svg import RendererSVG

    buf = io.StringIO()
    dpi = fig.dpi
    width, height = fig.get_size_inches()
    fig.dpi = 72  # SVG user units are points, as savefig's SVG backend does
    try:
        svg = RendererSVG(width * 72, height * 72, buf, image_dpi=dpi,
                          metadata={"Date": None, "Creator": None})
        renderer = MixedModeRenderer(fig, width, height, dpi, svg)
        fig.draw(renderer)
        renderer.finalize()
        box = fig.get_tightbbox(renderer)  # inches, origin bottom left
    finally:
        fig.dpi = dpi
    x0, x1 = (box.x0 - pad_inches) * 72, (box.x1 + pad_inches) * 72
    top, bottom = (height - box.y1 - pad_inches) * 72, (height - box.y0 + pad_inches) * 72
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r'viewBox="[^"]*"', f'viewBox="{x0:.2f} {top:.2f} {x1 - x0:.2f} {bottom - top:.2f}"',
                  text, count=1)
    # Keep the viewBox, drop the fixed size: CSS sizes the chart.
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1', text, count=1)
    return text.replace("<svg", '<svg role="img" preserveAspectRatio="xMidYMid meet"', 1)


def finish(name: str, title: str, caption: str, fig: Figure, points: int) -> Plot:
    """Render ``fig`` and wrap it as a :class:`Plot` (narrow figures sit two to a row)."""
    return Plot(name=name, title=title, caption=caption, svg=to_svg(fig), points=int(points),
                wide=fig.get_figwidth() >= 6)


# -- time axes ------------------------------------------------------------------------------

def to_dates(start: dt.datetime, seconds: np.ndarray) -> np.ndarray:
    """Matplotlib date numbers for ``seconds`` after ``start``."""
    return mdates.date2num(start) + np.asarray(seconds, dtype=float) / 86400.0


def time_axis(ax: object, span_s: float) -> None:
    """Label a date x axis with weekdays and hours suited to a span of ``span_s`` seconds."""
    days = span_s / 86400.0
    if days <= 3.5:
        ax.xaxis.set_major_locator(mdates.HourLocator(byhour=[0, 6, 12, 18]))
        ax.xaxis.set_major_formatter(FuncFormatter(_weekday_hour))
    elif days <= 22:
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_minor_locator(mdates.HourLocator(byhour=[6, 12, 18]))
        ax.xaxis.set_major_formatter(FuncFormatter(_weekday_date))
    else:
        loc = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _weekday_hour(x: float, _pos: object = None) -> str:
    t = mdates.num2date(x)
    return f"{WEEKDAYS[t.weekday()]} {t:%H:%M}"


def _weekday_date(x: float, _pos: object = None) -> str:
    t = mdates.num2date(x)
    return f"{WEEKDAYS[t.weekday()]}\n{t:%d %b}"


def shade_warmup(ax: object, start: dt.datetime, warmup_s: float, label: bool = True) -> None:
    """Grey out the warm-up period (simulated but not counted in the headline numbers);
    with ``label`` it gets a legend entry."""
    if warmup_s <= 0:
        return
    x0, x1 = to_dates(start, np.array([0.0, warmup_s]))
    ax.axvspan(x0, x1, color="#e2e8f0", alpha=0.6, zorder=0, lw=0,
               label="warm-up (not counted)" if label else None)


def percent_axis(ax: object, which: str = "y") -> None:
    """Format an axis holding 0..1 shares as percentages."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(PercentFormatter(1.0, decimals=0))


#: Tick steps (seconds) for axes of waiting times, smallest first.
NICE_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600,
                12 * 3600, 86400)


def minutes_axis(ax: object, span_s: float, which: str = "x") -> str:
    """Tick an axis holding seconds at round steps and label it in s, min or h.

    Returns the unit word used (``"seconds"``, ``"minutes"`` or ``"hours"``) for the axis label.
    """
    axis = ax.xaxis if which == "x" else ax.yaxis
    step = next((s for s in NICE_STEPS_S if span_s / s <= 8), NICE_STEPS_S[-1])
    axis.set_major_locator(MultipleLocator(step))
    unit, size = (("seconds", 1.0) if span_s < 180 else ("minutes", 60.0) if span_s < 3 * 3600
                  else ("hours", 3600.0))
    axis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v / size:g}"))
    return unit


# -- distributions --------------------------------------------------------------------------

def sla_cdf_axes(ax: object, within_s: float, target_share: float, cap_s: float) -> None:
    """Dress a first-response CDF: the SLA time (red dashed) and target share (red dotted),
    0..cap seconds on x in readable units, percentages on y, labels and legend."""
    ax.axvline(within_s, color=COLORS["target"], lw=1.5, ls="--")
    ax.axhline(target_share, color=COLORS["target"], lw=1, ls=":")
    ax.set_xlim(0, cap_s)
    ax.set_ylim(0, 1.02)
    percent_axis(ax)
    ax.set_xlabel(f"{minutes_axis(ax, cap_s)} to first response")
    ax.set_ylabel("share of tweets needing a reply")
    ax.legend(loc="lower right")


def ecdf_points(values: np.ndarray, total: int | None = None, max_points: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """Empirical CDF of the finite ``values`` as share of ``total`` (default: their count).

    NaN values count in ``total`` but never reach the curve (e.g. tweets never answered).
    Thinned to at most ``max_points`` vertices for drawing; returns ``(x, y)``.
    """
    v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    n_total = total if total is not None else v.size
    if v.size == 0 or n_total == 0:
        return np.array([]), np.array([])
    y = np.arange(1, v.size + 1) / n_total
    if v.size > max_points:
        idx = np.unique(np.linspace(0, v.size - 1, max_points).round().astype(int))
        v, y = v[idx], y[idx]
    return np.concatenate([[0.0], v]), np.concatenate([[0.0], y])


def histogram_cdf_points(hist: TimeHistogram, cap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The share of ``hist.total`` at or below each grid edge up to ``cap_s`` (and at
    ``cap_s``), as ``(x, y)`` for a line: exact at the edges, straight between them."""
    edges = hist.edges
    x = np.append(edges[edges < cap_s], cap_s)
    if hist.total == 0:
        return np.array([]), np.array([])
    return x, hist.cumulative(x) / hist.total


def step_series(ax: object, x: np.ndarray, y: np.ndarray, width: float, **kw: object) -> None:
    """Draw interval values as steps spanning ``[x, x + width)`` (the last step included)."""
    xs = np.append(x, x[-1] + width) if len(x) else x
    ys = np.append(y, y[-1]) if len(y) else y
    ax.step(xs, ys, where="post", **kw)


def top_legend(fig: Figure, ax: object, ncols: int = 6, anchor: object = None) -> None:
    """Put ``ax``'s legend in one row just above the top edge of ``anchor`` (default ``ax``),
    where it cannot hide data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        (anchor or ax).legend(handles, labels, loc="lower right", ncols=min(ncols, len(handles)),
                  bbox_to_anchor=(1.0, 1.0), fontsize=9, borderaxespad=0.2)


def bar_labels(ax: object, bars: object, texts: Sequence[str],
               at: Sequence[float] | None = None) -> None:
    """Write ``texts`` right of horizontal ``bars`` (or at x positions ``at``, e.g. CI ends)."""
    for i, (bar, text) in enumerate(zip(bars, texts, strict=True)):
        x = bar.get_width() if at is None else at[i]
        ax.text(x, bar.get_y() + bar.get_height() / 2, f"  {text}", va="center", ha="left",
                fontsize=9, color=COLORS["ink"])
