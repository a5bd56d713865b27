import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chirpdesk.sim.units import format_duration, parse_clock, parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90.0), ("10m", 600.0), ("2h", 7200.0), ("7d", 604800.0), ("1.5h", 5400.0),
    ("1h 30m", 5400.0), ("250ms", 0.25), ("1w", 604800.0), (".5m", 30.0),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["10", "10 minutes", "", "-5m", "m", 10, None, "5x"])
def test_parse_duration_rejects_what_would_be_a_guess(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize("text, seconds", [("00:00", 0.0), ("08:30", 30600.0), ("24:00", 86400.0)])
def test_parse_clock(text, seconds):
    assert parse_clock(text) == seconds


@pytest.mark.parametrize("bad", ["25:00", "8", "08:60", "24:30", 8])
def test_parse_clock_rejects(bad):
    with pytest.raises(ValueError):
        parse_clock(bad)


@given(st.integers(min_value=1, max_value=10**6))
def test_format_duration_round_trips(seconds):
    assert parse_duration(format_duration(float(seconds))) == seconds


def test_format_duration_nan():
    assert format_duration(math.nan) == "nan"
