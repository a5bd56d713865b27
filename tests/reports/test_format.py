"""Display formatting: the strings a planner reads for stored values."""

from __future__ import annotations

import math

import pytest

from chirpdesk.reports import format as fmt


@pytest.mark.parametrize("value, text", [(0.811370025019945, "81.1%"), (1.0, "100.0%"), (0.0, "0.0%"),
                                         (None, "–"), (math.nan, "–")])
def test_share(value, text) -> None:
    assert fmt.share(value) == text


@pytest.mark.parametrize("seconds, text", [(20, "20 s"), (247.74, "4.1 min"), (600, "10 min"),
                                           (839.77, "14 min"), (7200, "2 h"), (86400 * 3, "3 d"),
                                           (365 * 86400 * 2, "2 y")])
def test_duration(seconds, text) -> None:
    assert fmt.duration(seconds) == text


def test_money_and_signed_and_clock() -> None:
    assert fmt.money(6.7788161751141445) == "$6.78"
    assert fmt.money(38267.5) == "$38,268"
    assert fmt.money(12.5, "CHF") == "12.50 CHF"
    assert fmt.signed(0.318, "share") == "+31.8 pp"
    assert fmt.signed(-45.0, "s") == "−45 s"
    assert fmt.clock(50400.0) == "14:00" and fmt.clock(86400) == "24:00"


def test_raw_round_trips_floats() -> None:
    v = 0.5967020930748114
    assert float(fmt.raw(v)) == v
    assert fmt.raw(None) == "nan"
