"""A strict reader for TOML tables: every key read once, every error names file and dotted key.

:class:`Table` wraps one TOML table. Typed getters convert and check values; :meth:`Table.done`
rejects keys nobody read, so a typo such as ``base_rte`` is an error, never a silent default.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any

from chirpdesk.sim.distributions import FAMILIES, Distribution
from chirpdesk.sim.errors import ScenarioError
from chirpdesk.sim.units import DURATION_HELP, parse_clock, parse_duration

_MISSING = object()
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_GROUPS = {
    "all": tuple(range(7)),
    "daily": tuple(range(7)),
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
}


def _type_name(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


class Table:
    """One TOML table being read; ``path`` is its dotted key (``""`` for the root)."""

    def __init__(self, data: dict[str, Any], file: str, path: str = "") -> None:
        if not isinstance(data, dict):
            raise ScenarioError(file, path, f"got {_type_name(data)}, expected a table")
        self.data = data
        self.file = file
        self.path = path
        self._read: set[str] = set()

    # -- plumbing ---------------------------------------------------------------------------
    def key(self, name: str) -> str:
        """Return the dotted key of ``name`` inside this table."""
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, problem: str) -> ScenarioError:
        """Build the error for key ``name`` (not raised, so callers can ``raise t.error(...)``)."""
        return ScenarioError(self.file, self.key(name), problem)

    def has(self, name: str) -> bool:
        """True if the key is present (and marks nothing as read)."""
        return name in self.data

    def raw(self, name: str, default: object = _MISSING) -> Any:
        """Return the value as written, marking the key read; missing without default is an error."""
        self._read.add(name)
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            raise self.error(name, "is required")
        return default

    def done(self, allowed: Iterable[str] | None = None, unused: str = "") -> None:
        """Reject keys that were never read, suggesting the closest allowed spelling.

        ``unused`` explains why a known key was not read here (e.g. "the cascade is off: set
        enabled = true"), so such a key is reported as unused rather than as unknown.
        """
        known = sorted(set(allowed) if allowed is not None else self._read)
        for name in self.data:
            if name in known and name not in self._read:
                raise self.error(name, f"is not used here: {unused or 'it does not apply to these settings'}")
            if name not in self._read:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(name, f"unknown key{hint}; allowed keys here: {', '.join(known) or 'none'}")

    def table(self, name: str, required: bool = False) -> Table:
        """Return the sub-table ``name`` (empty when absent and not required)."""
        value = self.raw(name, _MISSING if required else {})
        if not isinstance(value, dict):
            raise self.error(name, f"got {_type_name(value)}, expected a table")
        return Table(value, self.file, self.key(name))

    def tables(self, name: str) -> list[Table]:
        """Return the array of tables ``name`` (``[[name]]``), empty when absent."""
        value = self.raw(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(name, f"got {_type_name(value)}, expected an array of tables ([[{self.key(name)}]])")
        return [Table(v, self.file, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]

    # -- scalars ----------------------------------------------------------------------------
    def string(self, name: str, default: object = _MISSING, choices: Sequence[str] | None = None) -> str:
        """A string, optionally one of ``choices``."""
        value = self.raw(name, default)
        if not isinstance(value, str):
            raise self.error(name, f"got {_type_name(value)} {value!r}, expected a string")
        if choices is not None and value not in choices:
            raise self.error(name, f"got {value!r}, expected one of: {', '.join(choices)}")
        return value

    def boolean(self, name: str, default: object = _MISSING) -> bool:
        """A boolean (``true``/``false``)."""
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"got {_type_name(value)} {value!r}, expected true or false")
        return value

    def number(self, name: str, default: object = _MISSING, low: float | None = None,
               high: float | None = None, what: str = "", low_open: bool = False,
               high_open: bool = False) -> float:
        """A finite number within [low, high] (open ends when asked); ``what`` describes units."""
        value = self.raw(name, default)
        return self.check_number(name, value, low, high, what, low_open, high_open)

    def check_number(self, name: str, value: object, low: float | None = None, high: float | None = None,
                     what: str = "", low_open: bool = False, high_open: bool = False) -> float:
        """Check that ``value`` is a number in range; returns it as float."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(name, f"got {_type_name(value)} {value!r}, expected {_range_text(low, high, what, low_open, high_open)}")
        x = float(value)
        bad = (not math.isfinite(x) or (low is not None and (x < low or (low_open and x == low)))
               or (high is not None and (x > high or (high_open and x == high))))
        if bad:
            raise self.error(name, f"got {value!r}, expected {_range_text(low, high, what, low_open, high_open)}")
        return x

    def share(self, name: str, default: object = _MISSING) -> float:
        """A share between 0 and 1."""
        return self.number(name, default, 0.0, 1.0, "a share between 0 and 1")

    def integer(self, name: str, default: object = _MISSING, low: int | None = None,
                high: int | None = None) -> int:
        """An integer within [low, high]."""
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"got {_type_name(value)} {value!r}, expected {_range_text(low, high, 'an integer')}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.error(name, f"got {value!r}, expected {_range_text(low, high, 'an integer')}")
        return value

    def duration(self, name: str, default: object = _MISSING, positive: bool = False,
                 allow_inf: bool = False) -> float:
        """A duration string in seconds (``"10m"`` -> 600.0); ``"never"`` is inf when allowed."""
        value = self.raw(name, default)
        if isinstance(value, float | int) and not isinstance(value, bool) and name not in self.data:
            return float(value)  # a default given in seconds
        if allow_inf and value == "never":
            return math.inf
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            extra = ' or "never"' if allow_inf else ""
            raise self.error(name, f"{exc}{extra}") from None
        if positive and seconds <= 0:
            raise self.error(name, f"got {value!r}, expected a duration greater than zero")
        return seconds

    def clock(self, name: str, default: object = _MISSING) -> float:
        """A wall-clock time ``"HH:MM"`` in seconds after midnight."""
        value = self.raw(name, default)
        if isinstance(value, float) and name not in self.data:
            return value
        if isinstance(value, dt.time):
            return value.hour * 3600.0 + value.minute * 60.0 + value.second
        try:
            return parse_clock(value)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None

    def days(self, name: str, default: object = _MISSING) -> tuple[int, ...]:
        """Days of the week: ``"all"``, ``"weekdays"``, ``"weekends"`` or a list like ``["mon", "tue"]``."""
        value = self.raw(name, default)
        allowed = f'"all", "weekdays", "weekends" or a list of {", ".join(DAY_NAMES)}'
        if isinstance(value, tuple):
            return value
        if isinstance(value, str):
            if value.lower() in DAY_GROUPS:
                return DAY_GROUPS[value.lower()]
            if value.lower() in DAY_NAMES:
                return (DAY_NAMES.index(value.lower()),)
            raise self.error(name, f"got {value!r}, expected {allowed}")
        if isinstance(value, list) and value and all(isinstance(v, str) and v.lower() in DAY_NAMES for v in value):
            return tuple(sorted({DAY_NAMES.index(v.lower()) for v in value}))
        raise self.error(name, f"got {value!r}, expected {allowed}")

    def profile(self, name: str, length: int, default: object = _MISSING) -> tuple[float, ...]:
        """A relative profile of ``length`` non-negative numbers, returned normalised to mean 1."""
        value = self.raw(name, default)
        if isinstance(value, tuple):
            return value
        if not isinstance(value, list) or len(value) != length:
            got = f"{len(value)} values" if isinstance(value, list) else f"{_type_name(value)}"
            raise self.error(name, f"got {got}, expected an array of exactly {length} non-negative numbers")
        nums = []
        for i, v in enumerate(value):
            nums.append(self.check_number(f"{name}[{i}]", v, 0.0, None, "a non-negative number"))
        total = sum(nums)
        if total <= 0:
            raise self.error(name, "all values are zero; expected at least one positive value")
        return tuple(x * length / total for x in nums)

    def shares(self, name: str, allowed: Sequence[str] | None = None, must_sum_to_one: bool = True,
               default: object = _MISSING) -> dict[str, float]:
        """A table of name -> share (each 0..1; summing to 1 when asked)."""
        sub = self.table(name, required=default is _MISSING) if default is _MISSING or self.has(name) else None
        if sub is None:
            return dict(default)  # type: ignore[call-overload]
        out: dict[str, float] = {}
        for key in sub.data:
            if allowed is not None and key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise sub.error(key, f"unknown name{hint}; allowed: {', '.join(allowed)}")
            out[key] = sub.share(key)
        total = sum(out.values())
        if must_sum_to_one and abs(total - 1.0) > 1e-6:
            raise self.error(name, f"shares sum to {total:g}, expected them to sum to 1")
        if not must_sum_to_one and total > 1.0 + 1e-9:
            raise self.error(name, f"shares sum to {total:g}, expected at most 1")
        return out

    def string_list(self, name: str, allowed: Sequence[str], default: object = _MISSING) -> tuple[str, ...]:
        """A list of names, each one of ``allowed``."""
        value = self.raw(name, default)
        if isinstance(value, tuple):
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, f"got {value!r}, expected an array of names from: {', '.join(allowed)}")
        for v in value:
            if v not in allowed:
                raise self.error(name, f"got {v!r}, expected names from: {', '.join(allowed)}")
        return tuple(value)

    def distribution(self, name: str, default: object = _MISSING, unit: str = "duration",
                     integer: bool = False) -> Distribution:
        """A distribution table such as ``{ dist = "lognormal", mean = "6m", cv = 0.8 }``.

        ``unit`` is ``duration`` (parameters are duration strings) or ``number`` (plain numbers).
        """
        value = self.raw(name, default)
        if isinstance(value, Distribution):
            return value
        if not isinstance(value, dict):
            raise self.error(name, f'got {_type_name(value)} {value!r}, expected a table such as {{ dist = "exponential", mean = {_example(unit)} }}')
        sub = Table(value, self.file, self.key(name))
        family = sub.string("dist", choices=tuple(FAMILIES))
        get = (lambda k, **kw: sub.duration(k, **kw)) if unit == "duration" else (
            lambda k, **kw: sub.number(k, low=0.0, what="a non-negative number"))
        kwargs: dict[str, Any] = {}
        if family in ("exponential", "lognormal", "gamma"):
            kwargs["mean"] = get("mean")
            if kwargs["mean"] <= 0:
                raise sub.error("mean", "expected a mean greater than zero")
            if family != "exponential":
                kwargs["cv"] = sub.number("cv", low=0.0, what="a coefficient of variation >= 0")
        elif family == "constant":
            kwargs["value"] = get("value")
        elif family == "uniform":
            kwargs["low"], kwargs["high"] = get("low"), get("high")
            if kwargs["high"] < kwargs["low"]:
                raise sub.error("high", "expected high >= low")
        elif family == "empirical":
            vals = sub.raw("values")
            if not isinstance(vals, list) or not vals:
                raise sub.error("values", "expected a non-empty array")
            conv = []
            for i, v in enumerate(vals):
                if unit == "duration":
                    try:
                        conv.append(parse_duration(v))
                    except ValueError as exc:
                        raise sub.error(f"values[{i}]", str(exc)) from None
                else:
                    conv.append(sub.check_number(f"values[{i}]", v, 0.0, None, "a non-negative number"))
            kwargs["values"] = tuple(conv)
            if sub.has("weights"):
                w = sub.raw("weights")
                if not isinstance(w, list) or len(w) != len(conv):
                    raise sub.error("weights", f"expected an array of {len(conv)} non-negative numbers, one per value")
                ws = tuple(sub.check_number(f"weights[{i}]", x, 0.0, None, "a non-negative number") for i, x in enumerate(w))
                if sum(ws) <= 0:
                    raise sub.error("weights", "expected at least one positive weight")
                kwargs["weights"] = ws
        sub.done(("dist", *FAMILIES[family]))
        dist = Distribution(family, **kwargs)
        if integer and family not in ("constant", "empirical"):
            raise self.error(name, 'expected an integer-valued distribution: "constant" or "empirical"')
        if integer and any(v != int(v) or v < 1 for v in (dist.values or (dist.value,))):
            raise self.error(name, "expected whole numbers >= 1")
        return dist


def _example(unit: str) -> str:
    return '"4m"' if unit == "duration" else "100"


def _range_text(low: float | None, high: float | None, what: str, low_open: bool = False,
                high_open: bool = False) -> str:
    what = what or "a number"
    if low is not None and high is not None:
        return f"{what} ({'>' if low_open else '>='} {low:g} and {'<' if high_open else '<='} {high:g})"
    if low is not None:
        return f"{what} ({'>' if low_open else '>='} {low:g})"
    if high is not None:
        return f"{what} ({'<' if high_open else '<='} {high:g})"
    return what


__all__ = ["DAY_NAMES", "DURATION_HELP", "Table"]
