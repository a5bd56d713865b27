"""Durations and clock times as planners write them: ``"90s"``, ``"10m"``, ``"2h"``, ``"7d"``, ``"08:30"``.

Everything past the loader works in seconds (floats); these parsers are the only place units are
read. They raise :class:`ValueError` with a short description of what is allowed; the loader adds
the file and key.
"""

from __future__ import annotations

import re

#: Seconds per unit suffix accepted in duration strings.
UNIT_SECONDS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 365.0 * 86400.0,
}

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
YEAR = 365.0 * DAY

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min|m|h|d|w|y)\s*$")
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")

DURATION_HELP = 'a duration string such as "90s", "10m", "2h", "7d" (units: ms, s, m, h, d, w, y)'


def parse_duration(text: object) -> float:
    """Parse a duration string (``"90s"``, ``"1.5h"``, ``"7d"``) into seconds.

    Compound forms are written as sums (``"1h 30m"``). Raises ValueError for anything else,
    including bare numbers, whose unit would be a guess.
    """
    if not isinstance(text, str):
        raise ValueError(f"got {text!r}, expected {DURATION_HELP}")
    parts = text.split()
    if not parts:
        raise ValueError(f"got an empty string, expected {DURATION_HELP}")
    total = 0.0
    for part in parts:
        match = _DURATION.match(part)
        if match is None:
            raise ValueError(f"got {text!r}, expected {DURATION_HELP}")
        total += float(match.group(1)) * UNIT_SECONDS[match.group(2)]
    return total


def parse_clock(text: object) -> float:
    """Parse a wall-clock time ``"HH:MM"`` into seconds after midnight (``"24:00"`` allowed)."""
    if not isinstance(text, str):
        raise ValueError(f'got {text!r}, expected a clock time "HH:MM" such as "08:30"')
    match = _CLOCK.match(text)
    if match is None:
        raise ValueError(f'got {text!r}, expected a clock time "HH:MM" such as "08:30"')
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f'got {text!r}, expected a clock time between "00:00" and "24:00"')
    return hours * HOUR + minutes * MINUTE


def format_duration(seconds: float) -> str:
    """Render seconds as the shortest exact duration string (``600.0`` -> ``"10m"``)."""
    if seconds != seconds:  # NaN
        return "nan"
    for unit in ("w", "d", "h", "m", "s"):
        size = UNIT_SECONDS[unit]
        if seconds >= size and abs(seconds / size - round(seconds / size)) < 1e-9:
            return f"{round(seconds / size)}{unit}"
    return seconds_text(seconds)


def seconds_text(seconds: float) -> str:
    """Seconds as a duration string the parser reads back exactly to the millisecond
    (``1296000.0`` -> ``"1296000s"``; never exponent notation)."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
