"""Read a run folder's data files (docs/outputs.md) and tell which command wrote them.

Reports are rendered from these files only, never from live objects, so a folder copied to
another machine renders the same page. Errors the user can fix (no folder, no data files, a
file that is not what the contract says) raise :class:`chirpdesk.sim.errors.ChirpdeskError` naming the
folder or file and what was expected.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.histogram import TimeHistogram
from chirpdesk.sim.outputs import CONVERSATIONS, INTERVALS, read_summary, read_table, table_path

#: The file that marks each kind of run folder, in detection order.
KIND_FILES: dict[str, str] = {
    "simulate": "summary.json",
    "staff": "staff.json",
    "sweep": "sweep.json",
    "loadtest": "loadtest.json",
    "calibrate": "calibration.json",
    "forecast": "forecast.json",
    "backtest": "backtest.json",
}

Table = dict[str, np.ndarray]


def run_folder(folder: str | Path) -> Path:
    """Return ``folder`` as a Path after checking that it is an existing directory."""
    path = Path(folder)
    if not path.exists():
        raise ChirpdeskError(f"{path}: no such folder (expected a run folder written by "
                             "`chirpdesk simulate|staff|sweep|loadtest --out DIR`)")
    if not path.is_dir():
        raise ChirpdeskError(f"{path}: not a folder (expected a run folder containing "
                             + ", ".join(KIND_FILES.values()) + ")")
    return path


def detect_kind(folder: str | Path) -> str:
    """Which command wrote ``folder``: ``simulate``, ``staff``, ``sweep`` or ``loadtest``.

    Decided by which marker file exists (summary.json, staff.json, sweep.json, loadtest.json);
    raises ChirpdeskError when none does.
    """
    path = run_folder(folder)
    for kind, name in KIND_FILES.items():
        if (path / name).is_file():
            return kind
    raise ChirpdeskError(f"{path}: no data files found (expected one of "
                         + ", ".join(KIND_FILES.values()) + "; see docs/outputs.md)")


def load_json(path: Path) -> dict[str, Any]:
    """Load a JSON document, raising ChirpdeskError when it is missing or malformed."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise ChirpdeskError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ChirpdeskError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise ChirpdeskError(f"{path}: expected a JSON object at the top level")
    return doc


def load_table(path: Path, required: tuple[str, ...] = (), columns: tuple[str, ...] | None = None) -> Table:
    """Load a CSV or Parquet table into numpy columns (numbers where they parse), checking
    ``required`` columns; ``columns`` reads only those."""
    if not path.is_file():
        raise ChirpdeskError(f"{path}: file not found")
    import pyarrow as pa

    try:
        table = read_table(path, columns)
    except (StopIteration, ValueError, OSError, pa.ArrowException) as exc:
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        raise ChirpdeskError(f"{path}: not a readable {kind} table ({exc or 'empty file'})") from None
    missing = [c for c in required if c not in table]
    if missing:
        raise ChirpdeskError(f"{path}: missing column(s) {', '.join(missing)} (see docs/outputs.md)")
    return table


def optional_table(path: Path, required: tuple[str, ...] = ()) -> Table | None:
    """Like :func:`load_table` but returns ``None`` when the file does not exist."""
    return load_table(path, required) if path.is_file() else None


def rows(table: Table) -> list[dict[str, Any]]:
    """A column table as a list of row dicts (NaN kept as float NaN)."""
    names = list(table)
    n = len(table[names[0]]) if names else 0
    return [{k: _py(table[k][i]) for k in names} for i in range(n)]


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def text_column(table: Table, name: str) -> np.ndarray:
    """A column as strings (numbers that parsed back to text; NaN as empty string)."""
    col = table.get(name)
    if col is None:
        return np.array([], dtype=object)
    if col.dtype == object:
        return col
    return np.array(["" if math.isnan(v) else (f"{v:g}") for v in col], dtype=object)


# -- simulate -------------------------------------------------------------------------------

SIM_INTERVAL_COLUMNS = ("start", "arrivals", "agents", "queue_mean", "busy_slots", "staffed_slots")
#: The conversation columns a report needs when it has to rebuild the histograms itself.
SIM_CONVERSATION_COLUMNS = ("first_response_s", "wait_s", "needs_reply", "in_window", "outcome")


def simulate_data(summary: dict[str, Any], intervals: Table,
                  histograms: dict[str, TimeHistogram] | None = None) -> dict[str, Any]:
    """A simulate run's report data: the summary document, the interval table and the
    waiting-time histograms (read from the summary's ``histograms`` when not given)."""
    if histograms is None:
        histograms = {name: TimeHistogram.from_json(doc)
                      for name, doc in (summary.get("histograms") or {}).items()}
    return {"summary": summary, "intervals": intervals, "histograms": histograms}


def histograms_from_conversations(conv: Table, summary: dict[str, Any]) -> dict[str, TimeHistogram]:
    """The waiting-time histograms of a conversation table (first replication only), for run
    folders written before summary.json carried them."""
    mask = (conv["in_window"] == 1) & (conv["needs_reply"] == 1)
    outcome = text_column(conv, "outcome") if "outcome" in conv else np.array([""] * mask.size, dtype=object)
    mask &= outcome != "deflected"
    n, within = int(mask.sum()), float(summary["sla"]["within_s"])
    served = mask & np.isfinite(conv["wait_s"]) & (outcome != "abandoned") if "wait_s" in conv else None
    out = {"first_response_s": TimeHistogram.of(conv["first_response_s"][mask], n, within)}
    if served is not None:
        out["wait_s"] = TimeHistogram.of(conv["wait_s"][served], n, within)
    return out


def load_simulate(folder: Path) -> dict[str, Any]:
    """summary.json and the interval table of a simulate run (Parquet or CSV), with its
    waiting-time histograms: from summary.json, or for older folders rebuilt from the
    conversation table's columns (empty when there is none)."""
    path = folder / "summary.json"
    try:
        summary = read_summary(folder)
    except json.JSONDecodeError as exc:
        raise ChirpdeskError(f"{path}: not valid JSON ({exc.msg})") from None
    for key in ("scenario", "metrics", "window", "sla"):
        if key not in summary:
            raise ChirpdeskError(f"{path}: missing key {key!r} (see docs/outputs.md)")
    iv_path = table_path(folder, INTERVALS, summary)
    if iv_path is None:
        raise ChirpdeskError(f"{folder}: no interval table (intervals.parquet or intervals.csv: "
                             "file not found; see docs/outputs.md)")
    intervals = load_table(iv_path, SIM_INTERVAL_COLUMNS)
    if summary.get("histograms"):
        try:
            return simulate_data(summary, intervals)
        except (KeyError, TypeError, ValueError) as exc:
            raise ChirpdeskError(f"{path}: histograms: {exc} (see docs/outputs.md)") from None
    conv_path = table_path(folder, CONVERSATIONS, summary)
    hists: dict[str, TimeHistogram] = {}
    if conv_path is not None:
        conv = load_table(conv_path, ("first_response_s", "needs_reply", "in_window"), SIM_CONVERSATION_COLUMNS)
        hists = histograms_from_conversations(conv, summary)
    return simulate_data(summary, intervals, hists)


# -- staff ----------------------------------------------------------------------------------

def load_staff(folder: Path) -> dict[str, Any]:
    """staff.json, requirement.csv and shifts.csv of a staff run."""
    return {
        "staff": load_json(folder / "staff.json"),
        "requirement": load_table(folder / "requirement.csv", ("start", "required", "scheduled")),
        "shifts": load_table(folder / "shifts.csv", ("name", "days", "start", "end", "count")),
    }


# -- sweep ----------------------------------------------------------------------------------

def load_sweep(folder: Path) -> dict[str, Any]:
    """sweep.json, sweep.csv and the optional breakpoints/sensitivity/sobol tables of a sweep."""
    return {
        "sweep": load_json(folder / "sweep.json"),
        "table": load_table(folder / "sweep.csv", ("policy", "metric", "mean", "ci_low", "ci_high")),
        "breakpoints": optional_table(folder / "breakpoints.csv", ("policy", "break_period")),
        "sensitivity": optional_table(folder / "sensitivity.csv",
                                      ("parameter", "metric", "low", "high", "base")),
        "sobol": optional_table(folder / "sobol.csv", ("parameter", "metric", "S1", "ST")),
    }


# -- loadtest -------------------------------------------------------------------------------

def load_loadtest(folder: Path) -> dict[str, Any]:
    """loadtest.json, timeline.csv and first_responses.csv of a load test."""
    return {
        "loadtest": load_json(folder / "loadtest.json"),
        "timeline": load_table(folder / "timeline.csv", ("t_s", "intended_rate", "achieved_rate")),
        "first_responses": optional_table(folder / "first_responses.csv", ("source", "first_response_s")),
    }


#: Loader per kind.
LOADERS = {"simulate": load_simulate, "staff": load_staff, "sweep": load_sweep, "loadtest": load_loadtest}
