"""Turn raw numbers from the data files into the short strings a planner reads.

Every function takes the raw value exactly as stored (seconds, 0..1 shares, money) and returns
display text; ``None`` and NaN become an en dash. Nothing here rounds the stored data itself.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

#: Shown for missing values (JSON ``null``, empty CSV cells, NaN).
MISSING = "–"

#: Currency symbols placed before the amount; other currencies are written after it.
CURRENCY_SYMBOLS: dict[str, str] = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}

#: Weekday abbreviations, Monday first (locale-independent).
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def is_missing(value: Any) -> bool:
    """True for ``None``, NaN and empty strings."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def share(value: Any, digits: int = 1) -> str:
    """A 0..1 share as a percentage: ``0.8113700`` -> ``"81.1%"``."""
    return MISSING if is_missing(value) else f"{100 * float(value):.{digits}f}%"


def duration(seconds: Any) -> str:
    """Seconds as a readable duration: ``42.3`` -> ``"42 s"``, ``247.7`` -> ``"4.1 min"``, ``7200`` -> ``"2 h"``."""
    if is_missing(seconds):
        return MISSING
    s = float(seconds)
    if abs(s) < 90:
        return f"{s:.0f} s"
    if abs(s) < 90 * 60:
        return f"{_one_decimal(s / 60)} min"
    if abs(s) < 48 * 3600:
        return f"{_one_decimal(s / 3600)} h"
    if abs(s) < 365 * 86400:
        return f"{_one_decimal(s / 86400)} d"
    return f"{_one_decimal(s / (365 * 86400))} y"


def _one_decimal(v: float) -> str:
    """One decimal, dropped when it is zero: ``10.0`` -> ``"10"``, ``4.13`` -> ``"4.1"``."""
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def money(value: Any, currency: str = "USD") -> str:
    """An amount with its currency: ``6.7788`` -> ``"$6.78"``, ``38267.5`` -> ``"$38,268"``
    (cents only below 100)."""
    if is_missing(value):
        return MISSING
    v = float(value)
    text = f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def number(value: Any, digits: int = 1) -> str:
    """A plain number with thousands separators; integers lose their decimals."""
    if is_missing(value):
        return MISSING
    v = float(value)
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:,.{digits}f}"


def by_unit(value: Any, unit: str, currency: str = "USD") -> str:
    """Format a metric by its unit from ``chirpdesk.sim.metrics.METRIC_UNITS`` (share, s, money, h, ...)."""
    if unit == "share":
        return share(value)
    if unit == "s":
        return duration(value)
    if unit == "money":
        return money(value, currency)
    if unit == "h":
        return MISSING if is_missing(value) else f"{number(value)} h"
    if unit == "tweets/h":
        return MISSING if is_missing(value) else f"{number(value)}/h"
    return number(value)


def signed(value: Any, unit: str, currency: str = "USD") -> str:
    """A difference with an explicit sign; shares as percentage points (``"+3.2 pp"``)."""
    if is_missing(value):
        return MISSING
    v = float(value)
    sign = "+" if v > 0 else ("−" if v < 0 else "±")
    if unit == "share":
        return f"{sign}{abs(v) * 100:.1f} pp"
    return sign + by_unit(abs(v), unit, currency)


def clock(seconds_after_midnight: Any) -> str:
    """Seconds after midnight as ``"HH:MM"`` (``86400`` -> ``"24:00"``)."""
    if is_missing(seconds_after_midnight):
        return MISSING
    minutes = int(round(float(seconds_after_midnight) / 60))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def moment(start: dt.datetime, offset_s: float) -> str:
    """The wall-clock label of ``offset_s`` seconds after ``start``: ``"Mon 04 Mar 09:00"``."""
    t = start + dt.timedelta(seconds=float(offset_s))
    return f"{WEEKDAYS[t.weekday()]} {t:%d %b %H:%M}"


def raw(value: Any) -> str:
    """The exact stored value for ``data-value`` attributes (``repr`` of the float, ``nan`` if missing)."""
    return "nan" if is_missing(value) else repr(float(value))
