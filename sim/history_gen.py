"""Synthetic tweet histories in the "Customer Support on Twitter" (twcs.csv) format, with known
parameters: for trying ``chirpdesk calibrate`` without the corpus, and for testing that it
recovers what was put in.

Each brand gets threads at ``rate`` per hour shaped by an hour-of-week profile; the brand answers
a customer tweet with probability ``answer_share`` after a lognormal delay; a reply asks for a
DM with probability ``dm_share`` (and the thread ends there); otherwise the customer writes
again with probability ``follow_up_share``. ``messy=True`` adds what real copies contain: an
unnamed index column in front, ids written as floats, empty fields, a bad date, replies whose
parent is missing, repeated rows.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chirpdesk.sim.history import TWCS_COLUMNS


@dataclass(frozen=True)
class BrandTruth:
    """What a synthetic brand does (times in seconds, rates per hour)."""

    name: str
    rate: float = 20.0
    profile: tuple[float, ...] = field(default_factory=lambda: tuple(
        (0.3 if h < 7 else 1.6 if 9 <= h < 18 else 0.9) * (0.6 if d >= 5 else 1.0)
        for d in range(7) for h in range(24)))
    answer_share: float = 0.85
    response_median_s: float = 420.0
    response_sigma: float = 0.9
    dm_share: float = 0.3
    follow_up_share: float = 0.5
    #: Growth of the rate per week, as a fraction of the starting rate (0.05: +5% a week, linear).
    growth_per_week: float = 0.0


def _twcs_time(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%a %b %d %H:%M:%S +0000 %Y")


def generate_twcs(path: str | Path, brands: list[BrandTruth], weeks: float = 4.0, seed: int = 1,
                  start: dt.datetime = dt.datetime(2017, 10, 2, tzinfo=dt.UTC), messy: bool = False,
                  max_rows: int = 10_000_000) -> int:
    """Write a twcs.csv of ``brands`` over ``weeks`` from ``start`` (a Monday, UTC); returns
    the number of data rows written (at most ``max_rows``)."""
    rng = np.random.default_rng(seed)
    t0 = start.timestamp()
    hours = int(weeks * 168)
    rows: list[list[str]] = []
    next_id = 1
    customer = 10_000_000
    for b in brands:
        profile = np.asarray(b.profile, dtype=float)
        profile = profile / profile.mean()
        hour = np.arange(hours)
        counts = rng.poisson(b.rate * profile[hour % 168] * (1.0 + b.growth_per_week * hour / 168.0))
        roots = t0 + 3600.0 * (np.repeat(np.arange(hours), counts) + rng.random(int(counts.sum())))
        for t in roots.tolist():
            customer += 1
            author = str(customer)
            thread: list[list[object]] = []
            parent_row: list[object] | None = None
            text = f"@{b.name} my order has not arrived, can you help?"
            at = t
            while True:
                row: list[object] = [next_id, author, "True", at, text, [], parent_row[0] if parent_row else ""]
                next_id += 1
                if parent_row is not None:
                    parent_row[5].append(row[0])  # type: ignore[attr-defined]
                thread.append(row)
                if rng.random() >= b.answer_share:
                    break
                at += float(rng.lognormal(np.log(b.response_median_s), b.response_sigma))
                dm = rng.random() < b.dm_share
                reply_text = (f"@{author} Sorry about that! Please DM us your order number." if dm
                              else f"@{author} Sorry about that, here is what to do next.")
                reply: list[object] = [next_id, b.name, "False", at, reply_text, [], row[0]]
                next_id += 1
                row[5].append(reply[0])  # type: ignore[attr-defined]
                thread.append(reply)
                if dm or rng.random() >= b.follow_up_share:
                    break
                at += float(rng.exponential(1800.0))
                parent_row, text = reply, f"@{b.name} thanks, but it still does not work"
            for r in thread:
                rows.append([str(r[0]), str(r[1]), str(r[2]), _twcs_time(float(r[3])), str(r[4]),  # type: ignore[arg-type]
                             ",".join(str(x) for x in r[5]), str(r[6])])  # type: ignore[attr-defined]
            if len(rows) >= max_rows:
                break
    rows.sort(key=lambda r: int(r[0]))
    rows = rows[:max_rows]
    header = list(TWCS_COLUMNS)
    if messy:
        rows = _mess_up(rows, rng)
        header = ["", *header]
        rows = [[str(i), *r] for i, r in enumerate(rows)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return len(rows)


def _mess_up(rows: list[list[str]], rng: np.random.Generator) -> list[list[str]]:
    """What real exports contain (see the module docstring); one of each kind at least."""
    n = len(rows)
    out = [list(r) for r in rows]
    for i in rng.choice(n, max(1, n // 50), replace=False):
        out[i][0] = f"{out[i][0]}.0"  # ids as floats
        if out[i][6]:
            out[i][6] = f"{out[i][6]}.0"
    extra = [
        ["", "123", "True", _twcs_time(1.5e9), "an empty id", "", ""],
        [str(10**12), "", "True", _twcs_time(1.5e9), "no author", "", ""],
        [str(10**12 + 1), "55", "True", "yesterday", "a bad date", "", ""],
        [str(10**12 + 2), "56", "maybe", _twcs_time(1.5e9), "inbound neither", "", ""],
        [str(10**12 + 3), "57", "True", _twcs_time(1.5e9), "a reply to a tweet not in the file", "", str(10**13)],
        list(out[0]),  # a repeated row
    ]
    return out + extra


def twcs_from_records(path: str | Path, conversations: dict[str, np.ndarray], start: dt.datetime,
                      brand: str = "AcmeHelp") -> int:
    """A twcs.csv of a simulation's conversations (``RunRecords.conversations``): each tweet that
    needed a reply as a customer tweet at its arrival, and the brand's first reply at its first
    response; ``start`` is the scenario start. Returns the rows written. For back-tests of the
    model against itself (a history whose staffing is known)."""
    t0 = start.timestamp()
    rows = []
    next_id = 1
    for i in np.flatnonzero(conversations["needs_reply"]):
        at = t0 + float(conversations["arrival"][i])
        rows.append([str(next_id), str(20_000_000 + int(i)), "True", _twcs_time(at), f"@{brand} help please", "", ""])
        frt = float(conversations["first_response"][i])
        if frt == frt:
            rows[-1][5] = str(next_id + 1)
            rows.append([str(next_id + 1), brand, "False", _twcs_time(t0 + frt), "@c here to help", "", str(next_id)])
        next_id += 2
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(TWCS_COLUMNS)
        w.writerows(rows)
    return len(rows)
