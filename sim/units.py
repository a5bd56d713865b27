"""Durations and clock times as planners write them: ``"90s"``, ``"10m"``, ``"2h"``, ``"7d"``, ``"08:30"``.

Everything past the loader works in seconds (floats); these parsers are the only place units are
read. They raise :class:`ValueError` with a short description of what is allowed; the loader adds
the file and key.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

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


# -- command-line option types ------------------------------------------------------------------

#: Names of the units plain command-line numbers are read in, by seconds per unit.
_UNIT_NAMES: dict[float, tuple[str, str]] = {
    0.001: ("millisecond", "milliseconds"), 1.0: ("second", "seconds"), MINUTE: ("minute", "minutes"),
    HOUR: ("hour", "hours"), DAY: ("day", "days"), WEEK: ("week", "weeks"),
}

#: The accepted duration forms, as the command line's help and errors list them.
CLI_DURATION_FORMS = "30s, 10m, 2h, 1d, 2w"
#: The accepted rate forms, as the command line's help and errors list them.
CLI_RATE_FORMS = "540/h, 9/min, 0.15/s"

_RATE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*/\s*(\S.*?)\s*$")


def _unit_name(unit_seconds: float, plural: bool = True) -> str:
    names = _UNIT_NAMES.get(unit_seconds)
    if names is None:
        return f"units of {seconds_text(unit_seconds)}"
    return names[1] if plural else names[0]


def _plain_number(text: str) -> float | None:
    """``float(text)`` for a plain number (as ``type=float`` read it), else None."""
    try:
        return float(text)
    except ValueError:
        return None


def cli_duration_help(unit_seconds: float = 1.0) -> str:
    """What a duration option accepts, for its ``--help``: ``"seconds, or a duration such as 30s,
    10m, 2h, 1d, 2w"`` (the unit named after ``unit_seconds``)."""
    return f"{_unit_name(unit_seconds)}, or a duration such as {CLI_DURATION_FORMS}"


def parse_cli_duration(text: object, unit_seconds: float = 1.0) -> float:
    """Read a command-line duration: a plain number in the option's unit, or a duration string.

    ``unit_seconds`` is the size in seconds of the unit the option reads plain numbers in (1.0:
    seconds, 60.0: minutes). ``"30"`` is returned as ``30.0`` exactly as ``float`` reads it (so
    plain numbers behave as they did with ``type=float``, range checks included); ``"10m"``,
    ``"2h"``, ``"1h 30m"`` (:func:`parse_duration` forms) are converted to that unit. Returns a
    float in the option's unit; raises ValueError naming what was given and the allowed forms.
    """
    if isinstance(text, str):
        plain = _plain_number(text)
        if plain is not None:
            return plain
        try:
            return parse_duration(text) / unit_seconds
        except ValueError:
            pass
    raise ValueError(f"got {text!r}, expected a number of {_unit_name(unit_seconds)} "
                     f"or a duration such as {CLI_DURATION_FORMS}")


def cli_rate_help(per_seconds: float = HOUR, what: str = "") -> str:
    """What a rate option accepts, for its ``--help``: ``"tweets per hour, or a rate such as
    540/h, 9/min, 0.15/s"`` (``what`` counts per the unit named after ``per_seconds``)."""
    thing = f"{what} " if what else ""
    return f"{thing}per {_unit_name(per_seconds, plural=False)}, or a rate such as {CLI_RATE_FORMS}"


def parse_cli_rate(text: object, per_seconds: float = HOUR) -> float:
    """Read a command-line rate: a plain number in the option's unit, or ``COUNT/PERIOD``.

    ``per_seconds`` is the period in seconds the option reads plain numbers per (3600.0: per
    hour, 1.0: per second). ``"540"`` is returned as ``float`` reads it; ``"540/h"``,
    ``"9/min"``, ``"0.15/s"``, ``"30/10m"`` (a count per a unit or a :func:`parse_duration`
    period) are converted to that unit, so ``parse_cli_rate("0.15/s", 3600.0) == 540.0``. Returns
    a float per the option's period; raises ValueError naming what was given and the allowed forms.
    """
    if isinstance(text, str):
        plain = _plain_number(text)
        if plain is not None:
            return plain
        match = _RATE.match(text)
        if match is not None:
            count, period = float(match.group(1)), match.group(2)
            seconds = UNIT_SECONDS.get(period)
            if seconds is None:
                try:
                    seconds = parse_duration(period)
                except ValueError:
                    seconds = None
            if seconds:
                return count / seconds * per_seconds
    raise ValueError(f"got {text!r}, expected a number per {_unit_name(per_seconds, plural=False)} "
                     f"or a rate such as {CLI_RATE_FORMS}")


def cli_duration(unit_seconds: float = 1.0, allowed: tuple[float, ...] = ()) -> Callable[[str], float]:
    """An argparse ``type=`` for a duration option (see :func:`parse_cli_duration`).

    Plain numbers are read in the option's unit (``unit_seconds`` seconds each, default seconds);
    ``30s``, ``10m``, ``2h``, ``1d``, ``2w`` are converted to it. ``allowed``, when given, lists
    the only values (in the option's unit) accepted. Returns the converter; a bad value makes
    argparse exit 2 with ``argument --NAME: got '...', expected ...``.
    """
    def convert(text: str) -> float:
        try:
            value = parse_cli_duration(text, unit_seconds)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if not allowed:
            return value
        for a in allowed:
            if abs(value - a) <= 1e-9 * max(1.0, abs(a)):
                return a
        forms = " or ".join(format_duration(a * unit_seconds) for a in allowed)
        raise argparse.ArgumentTypeError(f"got {text!r}, expected {forms} (as a number of "
                                         f"{_unit_name(unit_seconds)} or a duration such as "
                                         f"{CLI_DURATION_FORMS})")

    convert.__name__ = "duration"  # argparse's fallback message says "invalid duration value"
    return convert


def cli_rate(per_seconds: float = HOUR) -> Callable[[str], float]:
    """An argparse ``type=`` for a rate option (see :func:`parse_cli_rate`).

    Plain numbers are read per the option's period (``per_seconds``, default per hour);
    ``540/h``, ``9/min``, ``0.15/s`` are converted to it. Returns the converter; a bad value makes
    argparse exit 2 with ``argument --NAME: got '...', expected ...``.
    """
    def convert(text: str) -> float:
        try:
            return parse_cli_rate(text, per_seconds)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = "rate"
    return convert
