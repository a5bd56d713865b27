"""The building blocks a report page is made of: headline cards and plain tables.

Views (``chirpdesk.reports.simulate``, ``chirpdesk.reports.staff``, ...) fill these from the data files; the
templates only lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chirpdesk.reports import format as fmt

#: Card states and what they mean; the CSS colours them green, red, amber and grey.
STATES = ("good", "bad", "warn", "neutral")


@dataclass(frozen=True)
class Card:
    """One headline number.

    ``metric`` is the summary key (``data-metric``), ``value`` the raw stored float
    (``data-value``), ``text`` the formatted value, ``detail`` a second line (CI, target),
    ``state`` one of :data:`STATES`.
    """

    metric: str
    label: str
    value: Any
    text: str
    detail: str = ""
    state: str = "neutral"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def raw(self) -> str:
        """The value for the ``data-value`` attribute (``repr`` of the float, ``nan`` if missing)."""
        return fmt.raw(self.value)


@dataclass(frozen=True)
class TableView:
    """A plain table: ``headers``, ``rows`` of display strings, and optional per-row CSS
    classes (``row_classes``, e.g. ``"pass"``/``"fail"``) and per-column alignment
    (``numeric``: True for right-aligned columns)."""

    name: str
    headers: list[str]
    rows: list[list[str]]
    row_classes: list[str] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)
    caption: str = ""


def target_state(value: Any, target: float, ci_low: Any = None, ci_high: Any = None,
                 higher_is_better: bool = True) -> str:
    """``good`` when ``value`` meets ``target``, ``bad`` when it misses.

    With a confidence interval, a mean on the good side whose interval still crosses the
    target is ``warn`` (too close to call).
    """
    if fmt.is_missing(value):
        return "neutral"
    v = float(value)
    ok = v >= target if higher_is_better else v <= target
    if not ok:
        return "bad"
    far = ci_low if higher_is_better else ci_high
    if not fmt.is_missing(far) and ((float(far) < target) if higher_is_better else (float(far) > target)):
        return "warn"
    return "good"


def ci_text(metric: dict[str, Any], unit: str, currency: str = "USD") -> str:
    """``"95% CI 77.3% – 85.0%"`` for a ``{"mean","ci_low","ci_high"}`` dict, or ``""``."""
    lo, hi = metric.get("ci_low"), metric.get("ci_high")
    if fmt.is_missing(lo) or fmt.is_missing(hi):
        return ""
    return f"95% CI {fmt.by_unit(lo, unit, currency)} – {fmt.by_unit(hi, unit, currency)}"
