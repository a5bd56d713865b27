"""The scenario as run, as a nested tree the template renders as nested tables.

Input is ``settings`` from summary.json (every key, defaults filled in) and ``raw`` (the
TOML as written). Each leaf says whether the scenario file set it or it is a default, and
values get readable units where the key says what they are (durations, clock times, days).
"""

from __future__ import annotations

from typing import Any

from chirpdesk.reports import format as fmt
from chirpdesk.sim.units import format_duration

#: Keys whose numbers are durations in seconds.
DURATION_KEYS = frozenset({
    "horizon", "warmup", "interval", "drain", "within", "decay", "period", "duration", "offset",
    "spike_at", "spike_duration", "step_every", "reroute_delay",
})

#: Keys whose numbers are seconds after midnight (when inside a shift or tweeting hours).
CLOCK_KEYS = frozenset({"start", "end"})

#: summary.json ``settings`` section names that are spelled differently in the TOML file.
RAW_ALIASES = {"meta": "scenario", "base_rate_per_hour": "base_rate"}


def _days(value: list[Any]) -> str:
    if all(isinstance(d, int) and 0 <= d < 7 for d in value):
        if sorted(value) == list(range(7)):
            return "every day"
        return ", ".join(fmt.WEEKDAYS[d] for d in value)
    return ", ".join(map(str, value))


def _leaf_text(key: str, value: Any, path: tuple[str, ...]) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "days" and isinstance(value, list):
        return _days(value)
    if isinstance(value, int | float):
        if key in CLOCK_KEYS and any(p in ("shifts", "tweeting_hours") for p in path):
            return fmt.clock(value)
        if key in DURATION_KEYS:
            return f"{format_duration(float(value))} ({value:,.0f} s)" if value >= 60 else f"{value:g} s"
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + "]" if value else "none"
    return str(value)


def _raw_child(raw: Any, key: str | int) -> Any:
    if isinstance(raw, dict):
        for k in (key, RAW_ALIASES.get(key, key)) if isinstance(key, str) else (key,):
            if k in raw:
                return raw[k]
        return _MISSING
    if isinstance(raw, list) and isinstance(key, int):
        return raw[key] if key < len(raw) else _MISSING
    return _MISSING


_MISSING = object()


def settings_tree(settings: dict[str, Any], raw: dict[str, Any] | None = None,
                  path: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Nested nodes ``{"key", "text"|"children"|"table", "default"}`` for every setting.

    ``default`` is True when the key does not appear in ``raw`` (the TOML as written). Lists of
    tables (e.g. shifts) become ``{"table": {"headers", "rows"}}``.
    """
    raw = raw if raw is not None else {}
    nodes = []
    for key, value in settings.items():
        sub_raw = _raw_child(raw, key)
        default = sub_raw is _MISSING
        node: dict[str, Any] = {"key": key, "default": default}
        if isinstance(value, dict) and value and not _is_distribution(value):
            node["children"] = settings_tree(value, {} if default else sub_raw, (*path, key))
        elif isinstance(value, dict) and _is_distribution(value):
            node["text"] = _distribution_text(value)
        elif isinstance(value, dict):
            node["text"] = "none"
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            headers = list(dict.fromkeys(k for v in value for k in v))
            rows = [[_cell(h, v.get(h), (*path, key)) for h in headers] for v in value]
            node["table"] = {"headers": headers, "rows": rows}
        else:
            node["text"] = _leaf_text(key, value, path)
        nodes.append(node)
    return nodes


def _cell(key: str, value: Any, path: tuple[str, ...]) -> str:
    if isinstance(value, dict):
        return _distribution_text(value) if _is_distribution(value) else \
            "; ".join(f"{k} = {_cell(k, v, path)}" for k, v in value.items())
    return _leaf_text(key, value, path)


def _is_distribution(value: dict[str, Any]) -> bool:
    return "dist" in value


def _distribution_text(value: dict[str, Any]) -> str:
    """``{"dist": "lognormal", "mean": "3m", "cv": 0.8}`` -> ``"lognormal (mean 3m, cv 0.8)"``."""
    params = ", ".join(f"{k} {_leaf_text(k, v, ())}" for k, v in value.items() if k != "dist")
    return f"{value['dist']} ({params})" if params else str(value["dist"])
