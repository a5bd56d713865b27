"""Numpy columns to Arrow arrays and back, without pandas.

``pyarrow.array`` imports pandas the first time it is called when pandas is installed (to
check for pandas objects): some 45 MB of resident memory and a quarter of a second that a
simulate run never otherwise needs. Building arrays from their buffers skips that, and shares
the numpy memory instead of copying it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def arrow_column(values: np.ndarray, nan_as_null: bool = True) -> pa.Array:
    """A numeric or boolean numpy array as an Arrow array over the same memory (booleans as
    0/1 ``int8``); with ``nan_as_null`` a float NaN becomes a missing value."""
    values = np.ascontiguousarray(values)
    if values.dtype.kind == "b":
        values = values.view(np.int8)
    if values.dtype.kind not in "iuf":
        raise TypeError(f"expected a numeric array, got dtype {values.dtype}")
    validity, nulls = None, 0
    if nan_as_null and values.dtype.kind == "f":
        present = ~np.isnan(values)
        nulls = int(values.size - np.count_nonzero(present))
        if nulls:
            validity = pa.py_buffer(np.packbits(present, bitorder="little"))
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), values.size,
                                 [validity, pa.py_buffer(values)], null_count=nulls)


def text_column(strings: Sequence[str | None]) -> pa.Array:
    """Python strings (None for missing) as an Arrow ``string`` array."""
    encoded = [b"" if s is None else str(s).encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    missing = np.array([s is None for s in strings], dtype=bool)
    nulls = int(missing.sum())
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(pa.string(), len(encoded),
                                 [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
                                 null_count=nulls)


def label_column(codes: np.ndarray, names: Sequence[str]) -> pa.DictionaryArray:
    """Integer codes into ``names`` as a dictionary-encoded text column (one copy of each
    name, not one Python string per row)."""
    return pa.DictionaryArray.from_arrays(arrow_column(np.asarray(codes).astype(np.int32, copy=False)),
                                          text_column(list(names)))


def numpy_column(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow column as numpy: numbers (and booleans) as float64 with missing values NaN,
    anything else as an object array of strings (missing as None)."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        parts = [_float_chunk(c.cast(pa.float64())) for c in chunks]
        return np.concatenate(parts) if parts else np.array([], dtype=np.float64)
    parts = []
    for c in chunks:
        if pa.types.is_dictionary(c.type):
            names = np.array(c.dictionary.to_pylist() + [None], dtype=object)
            codes = _float_chunk(c.indices.cast(pa.float64()))
            parts.append(names[np.where(np.isnan(codes), -1, codes).astype(np.int64)])
        else:
            parts.append(np.array(c.to_pylist(), dtype=object))
    return np.concatenate(parts) if parts else np.array([], dtype=object)


def _float_chunk(chunk: pa.Array) -> np.ndarray:
    """A float64 Arrow array as a numpy copy, missing values NaN (read from the buffers:
    ``to_numpy`` would import pandas)."""
    n, off = len(chunk), chunk.offset
    validity, data = chunk.buffers()[:2]
    if n == 0 or data is None:
        return np.full(n, np.nan)
    out = np.frombuffer(data, dtype=np.float64, count=off + n)[off:].copy()
    if chunk.null_count and validity is not None:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little", count=off + n)[off:]
        out[bits == 0] = np.nan
    return out
