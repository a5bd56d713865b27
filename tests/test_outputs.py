"""Run tables (sim/outputs.py, sim/columns.py): Parquet and CSV through Arrow, exact numbers,
text kept as text, missing values kept, no pandas on the way, clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from chirpdesk.reports.data import load_table
from chirpdesk.sim.columns import arrow_column, label_column, numpy_column, text_column
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.outputs import read_table, table_path, write_table

AWKWARD = np.array([0.1, 1 / 3, 3600.0, 1e-5, 1e20, np.nan, np.inf, -0.0, 123456789.123456789, 2.5e-300, -7.0])


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_floats_read_back_bit_for_bit_with_nan_missing(tmp_path, suffix):
    path = tmp_path / f"t{suffix}"
    write_table(path, {"x": AWKWARD, "n": np.arange(AWKWARD.size), "flag": AWKWARD > 1})
    back = read_table(path)
    assert list(back) == ["x", "n", "flag"]
    np.testing.assert_array_equal(back["x"], AWKWARD)  # NaN == NaN here
    assert np.signbit(back["x"][7])  # -0.0 stays negative zero
    np.testing.assert_array_equal(back["n"], np.arange(AWKWARD.size, dtype=float))
    np.testing.assert_array_equal(back["flag"], (AWKWARD > 1).astype(float))


def test_missing_values_are_empty_csv_cells_and_parquet_nulls(tmp_path):
    write_table(tmp_path / "t.csv", {"a": np.array([1.5, np.nan]), "b": np.array([np.nan, 2.0])})
    assert (tmp_path / "t.csv").read_text().splitlines()[1:] == ["1.5,", ",2"]
    write_table(tmp_path / "t.parquet", {"a": np.array([1.5, np.nan])})
    assert pq.ParquetFile(tmp_path / "t.parquet").read().column("a").null_count == 1


def test_text_columns_stay_text_even_when_they_look_like_times(tmp_path):
    """requirement.csv and shifts.csv hold "09:00", "mon-fri", "Mon 09:00": Arrow would guess a
    time type; the reader keeps them as the strings that were written."""
    cols = {"start": np.array(["09:00", "17:30"], dtype=object), "days": np.array(["mon-fri", "sat,sun"], dtype=object),
            "count": np.array([3, 4])}
    for suffix in (".csv", ".parquet"):
        write_table(tmp_path / f"s{suffix}", cols)
        back = read_table(tmp_path / f"s{suffix}")
        assert back["start"].tolist() == ["09:00", "17:30"] and back["days"].tolist() == ["mon-fri", "sat,sun"]
        assert back["count"].tolist() == [3.0, 4.0]


def test_one_column_with_a_missing_last_value(tmp_path):
    write_table(tmp_path / "t.csv", {"arrival_s": np.array([1.0, np.nan])})
    back = read_table(tmp_path / "t.csv")["arrival_s"]
    assert back.size == 2 and back[0] == 1.0 and np.isnan(back[1])


def test_reading_only_some_columns(tmp_path):
    for suffix in (".csv", ".parquet"):
        write_table(tmp_path / f"t{suffix}", {"a": np.arange(3.0), "b": np.arange(3.0), "c": np.arange(3.0)})
        assert list(read_table(tmp_path / f"t{suffix}", ["c", "a", "zz"])) == ["a", "c"]


def test_empty_tables_keep_their_columns(tmp_path):
    for suffix in (".csv", ".parquet"):
        write_table(tmp_path / f"e{suffix}", {"a": np.array([], float), "b": np.array([], np.int64)})
        back = read_table(tmp_path / f"e{suffix}")
        assert list(back) == ["a", "b"] and back["a"].size == 0


def test_columns_round_trip_without_copies_of_strings():
    codes = np.array([2, 0, 1, 2], dtype=np.int8)
    col = label_column(codes, ["question", "complaint", "praise"])
    assert numpy_column(col).tolist() == ["praise", "question", "complaint", "praise"]
    assert numpy_column(text_column(["a", None, "é"])).tolist() == ["a", None, "é"]
    arr = arrow_column(np.array([1.0, np.nan, 3.0]))
    assert arr.null_count == 1 and np.isnan(numpy_column(arr)[1])
    assert numpy_column(arrow_column(np.array([True, False]))).tolist() == [1.0, 0.0]
    with pytest.raises(TypeError, match="numeric"):
        arrow_column(np.array(["x"]))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_writing_and_reading_does_not_import_pandas_or_pyarrow_early(tmp_path, suffix):
    """pyarrow.array, pyarrow.scalar and pyarrow.parquet.read_table import pandas (45 MB); a
    run never needs it. And importing chirpdesk.sim does not load pyarrow (~40 MB) at all."""
    code = ("import sys, numpy as np\n"
            "import chirpdesk.sim as s, chirpdesk.sim.cli\n"
            "[getattr(s, name) for name in s.__all__]  # the package loads its names on first use\n"
            "early = 'pyarrow' in sys.modules\n"
            "from chirpdesk.sim.outputs import read_table, write_table\n"
            f"p = {str(tmp_path / ('x' + suffix))!r}\n"
            "write_table(p, {'a': np.array([1.0, np.nan]), 'k': np.array(['x', ''], dtype=object)})\n"
            "back = read_table(p)\n"
            "assert back['k'].tolist() == ['x', ''] and np.isnan(back['a'][1])\n"
            "print(early, 'pandas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_table_path_prefers_what_the_summary_names(tmp_path):
    (tmp_path / "intervals.csv").write_text("start\n0\n")
    (tmp_path / "intervals.parquet").write_bytes(b"")
    assert table_path(tmp_path, "intervals", {"files": {"intervals": "intervals.csv"}}).name == "intervals.csv"
    assert table_path(tmp_path, "intervals").name == "intervals.parquet"
    assert table_path(tmp_path, "conversations") is None


def test_a_broken_parquet_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "intervals.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(ChirpdeskError, match=r"intervals.parquet: not a readable Parquet table"):
        load_table(bad)
