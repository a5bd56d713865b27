"""Write and read a run's data files: summary.json and the interval and conversation tables
(Parquet by default, CSV on request), through Arrow's writers and readers.

The files are the contract between the simulation and everything downstream (reports,
comparisons, notebooks): flat, documented, and readable without chirpdesk.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from chirpdesk.sim.metrics import METRIC_UNITS
from chirpdesk.sim.model import OUTCOMES
from chirpdesk.sim.run import SimulationResult
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.units import format_duration
from chirpdesk.sim.vocabulary import HANDLES

if TYPE_CHECKING:  # pyarrow loads when a table is written or read: ~40 MB and 0.1 s
    import pyarrow as pa

SUMMARY = "summary.json"
#: Formats of the two large tables (``--format``); Parquet is the default.
FORMATS: tuple[str, ...] = ("parquet", "csv")
DEFAULT_FORMAT = "parquet"
#: The two large tables, by stem (the file is ``STEM.parquet`` or ``STEM.csv``).
INTERVALS = "intervals"
CONVERSATIONS = "conversations"
#: Rows per batch when writing conversations: bounds the memory the writer adds (~15 MB).
BATCH_ROWS = 1 << 16


def json_safe(value: Any) -> Any:
    """Make ``value`` JSON-safe, recursively: NaN and inf become ``None`` (null), numpy scalars
    become Python numbers, dict keys become strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def scenario_as_run(scenario: Scenario) -> dict[str, Any]:
    """Every setting of the scenario with defaults filled in, in readable units."""
    import dataclasses
    import datetime as dt

    from chirpdesk.sim.distributions import Distribution

    def conv(obj: Any, key: str = "") -> Any:
        if isinstance(obj, Distribution):
            d = obj.describe()
            return {k: (format_duration(v) if isinstance(v, float) and key not in ("followers", "turns") and k != "cv" else v)
                    for k, v in d.items()}
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: conv(getattr(obj, f.name), f.name) for f in dataclasses.fields(obj)
                    if f.name not in ("raw", "source")}
        if isinstance(obj, dict):
            return {k: conv(v, k) for k, v in obj.items()}
        if isinstance(obj, tuple | list):
            return [conv(v, key) for v in obj]
        if isinstance(obj, dt.datetime):
            return obj.isoformat()
        return obj

    data = conv(scenario)
    data["arrivals"]["base_rate_per_hour"] = scenario.arrivals.base_rate * 3600.0
    del data["arrivals"]["base_rate"]
    return data


def summary_document(result: SimulationResult, files: dict[str, str] | None = None) -> dict[str, Any]:
    """The summary.json document: scenario, replications, seed, metrics (mean, ci_low, ci_high),
    results by group, waiting-time histograms pooled over replications, and ``files`` (table
    stem -> file name) when the tables were written."""
    sc = result.scenario
    return json_safe({
        "scenario": sc.meta.name,
        "source": sc.source,
        "replications": len(result.replications),
        "seed": result.seed,
        "window": {"start_s": sc.meta.warmup, "end_s": sc.meta.horizon,
                   "start": sc.meta.start.isoformat()},
        "sla": {"share": sc.sla.share, "within_s": sc.sla.within, "basis": sc.sla.basis},
        "units": METRIC_UNITS,
        "metrics": result.summary,
        "groups": result.groups,
        "histograms": {name: h.to_json() for name, h in result.histograms.items()},
        "files": files or {},
        "per_replication": result.per_replication,
        "wall_seconds": result.wall_seconds,
        "settings": scenario_as_run(sc),
        "raw": sc.raw,
        **result.extra,
    })


def check_format(fmt: str) -> str:
    """Return ``fmt`` when it is one of :data:`FORMATS`, else raise ChirpdeskError naming them."""
    if fmt not in FORMATS:
        from chirpdesk.sim.errors import ChirpdeskError

        raise ChirpdeskError(f"--format: got {fmt!r}, expected one of {', '.join(FORMATS)}")
    return fmt


def write_outputs(result: SimulationResult, out: str | Path, fmt: str = DEFAULT_FORMAT) -> dict[str, Any]:
    """Write summary.json, the interval table and (when records were kept) the conversation
    table into ``out``, the tables as ``fmt`` (``parquet`` or ``csv``).

    Returns the summary document as written, so a report can be drawn from it without
    reading the files back.
    """
    ext = check_format(fmt)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {INTERVALS: f"{INTERVALS}.{ext}"}
    write_table(out / files[INTERVALS], result.intervals)
    if result.records is not None:
        files[CONVERSATIONS] = f"{CONVERSATIONS}.{ext}"
        write_batches(out / files[CONVERSATIONS], conversation_batches(result))
    doc = summary_document(result, files)
    # summary.json last: a folder with a summary has its tables.
    with open(out / SUMMARY, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, default=str)
    return doc


def conversation_batches(result: SimulationResult, rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """The first replication's conversations as readable columns (times in seconds from
    start), ``rows`` at a time; see docs/outputs.md for the columns."""
    import pyarrow as pa

    from chirpdesk.sim.columns import arrow_column, label_column

    assert result.records is not None
    c, kinds = result.records.conversations, result.records.kinds
    w0, w1 = result.scenario.meta.warmup, result.scenario.meta.horizon
    n = c["arrival"].size
    for a in range(0, max(n, 1), rows):
        s = slice(a, min(a + rows, n))
        arrival = c["arrival"][s]
        yield pa.RecordBatch.from_pydict({
            "id": arrow_column(np.arange(s.start, s.stop, dtype=np.int64)),
            "arrival_s": arrow_column(arrival),
            "kind": label_column(c["kind"][s], kinds),
            "fail": arrow_column(c["fail"][s].astype(np.int64)),
            "followers": arrow_column(c["followers"][s].astype(np.int64)),
            "handle": label_column(c["marketing"][s].astype(np.int8), HANDLES),
            "needs_reply": arrow_column(c["needs_reply"][s].astype(np.int64)),
            "in_window": arrow_column(((arrival >= w0) & (arrival < w1)).astype(np.int64)),
            "wait_s": arrow_column(c["pickup"][s] - arrival),
            "first_response_s": arrow_column(c["first_response"][s] - arrival),
            "turns": arrow_column(c["turns"][s].astype(np.int64)),
            "outcome": label_column(c["outcome"][s], OUTCOMES),
            "resolution_s": arrow_column(c["end"][s] - arrival),
            "agent_work_s": arrow_column(c["busy"][s]),
            "auto_replied": arrow_column(c["auto_replied"][s].astype(np.int64)),
        })


def arrow_table(columns: dict[str, np.ndarray]) -> pa.Table:
    """Numpy columns as an Arrow table: floats with NaN as missing, numbers as they are,
    anything else as text."""
    import pyarrow as pa

    from chirpdesk.sim.columns import arrow_column, text_column

    arrays = {}
    for name, col in columns.items():
        col = np.asarray(col)
        arrays[name] = arrow_column(col) if col.dtype.kind in "iufb" else text_column(col.tolist())
    return pa.table(arrays)


def write_table(path: str | Path, columns: dict[str, np.ndarray]) -> None:
    """Write numpy columns to ``path``: Parquet for ``.parquet``, else CSV (NaN as empty cells,
    floats in the shortest form that reads back to the same number)."""
    import pyarrow as pa

    table = arrow_table(columns)
    batches = table.to_batches(max_chunksize=BATCH_ROWS) or [
        pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in table.schema], schema=table.schema)]
    write_batches(path, iter(batches))


def write_batches(path: str | Path, batches: Iterator[pa.RecordBatch]) -> None:
    """Stream record batches to ``path`` (Parquet for ``.parquet``, else CSV), one batch in
    memory at a time. Text columns are dictionary-encoded in Parquet and plain text in CSV."""
    import pyarrow as pa

    path = Path(path)
    first = next(batches)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(path, first.schema, compression="zstd") as w:
            w.write_batch(first)
            for b in batches:
                w.write_batch(b)
    else:
        import pyarrow.csv as pcsv

        def plain(b: pa.RecordBatch) -> pa.RecordBatch:
            cols = [col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col for col in b.columns]
            return pa.RecordBatch.from_arrays(cols, names=b.schema.names)

        first = plain(first)
        with pcsv.CSVWriter(path, first.schema, write_options=pcsv.WriteOptions(quoting_style="needed")) as w:
            w.write_batch(first)
            for b in batches:
                w.write_batch(plain(b))
    # Arrow's allocator keeps freed pages for reuse; hand them back so the report that
    # follows does not stack on top of them (~70 MB for a million conversations).
    pa.default_memory_pool().release_unused()


def read_table(path: str | Path, columns: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Read a table written by :func:`write_table` (Parquet or CSV, by the suffix) into numpy
    columns: numbers as float64 with missing values as NaN, text as object arrays.

    ``columns`` reads only those (all when None); a column the file lacks is left out. A CSV
    column is a number column when every non-empty cell parses as a number.
    """
    import pyarrow as pa

    from chirpdesk.sim.columns import numpy_column

    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        # ParquetFile.read, not pq.read_table: the latter imports pandas for its metadata.
        file = pq.ParquetFile(path)
        names = file.schema_arrow.names
        table = file.read(columns=[c for c in names if columns is None or c in columns])
        return {name: numpy_column(table.column(name)) for name in table.column_names}
    import pyarrow.csv as pcsv

    names = _csv_header(path)
    wanted = [c for c in names if columns is None or c in columns]
    if not names:
        raise ValueError("empty file")
    # A one-column row whose value is missing is an empty line: it must count as a row.
    table = pcsv.read_csv(path, parse_options=pcsv.ParseOptions(ignore_empty_lines=len(names) > 1),
                          convert_options=pcsv.ConvertOptions(
        column_types={c: pa.string() for c in names}, include_columns=wanted,
        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False))
    return {name: _from_text(table.column(name)) for name in wanted}


def _csv_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        line = f.readline()
    if not line.strip():
        return []
    return next(csv.reader([line]))


def _from_text(col: pa.ChunkedArray) -> np.ndarray:
    """A CSV text column (empty cells null) as float64 with empty cells NaN when every other
    cell is a number, else as text with empty cells ``""``."""
    import pyarrow as pa

    from chirpdesk.sim.columns import numpy_column

    if col.length() == 0:
        return np.array([], dtype=float)
    try:
        return numpy_column(col.cast(pa.float64()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values = ["" if v is None else v for v in col.to_pylist()]
    try:  # what Python's float() reads and Arrow does not (" 2", "1_0")
        return np.array([float(v) if v != "" else math.nan for v in values])
    except ValueError:
        return np.array(values, dtype=object)


def table_path(folder: str | Path, stem: str, summary: dict[str, Any] | None = None) -> Path | None:
    """The file holding table ``stem`` (``intervals``, ``conversations``) in a run folder: the
    one summary.json names, else ``STEM.parquet`` or ``STEM.csv``, whichever exists; None when
    neither does."""
    folder = Path(folder)
    named = ((summary or {}).get("files") or {}).get(stem)
    candidates = ([named] if named else []) + [f"{stem}.{ext}" for ext in FORMATS]
    for name in candidates:
        if (folder / name).is_file():
            return folder / name
    return None


def read_summary(folder: str | Path) -> dict[str, Any]:
    """Load a run's summary.json."""
    with open(Path(folder) / SUMMARY, encoding="utf-8") as f:
        return json.load(f)
