"""From signed delivery bodies to stored events: parse, validate, store, one transaction per call.

The webhook route checks a delivery's size and signature and hands its raw body to the group
commit; parsing, schema validation and storage happen here, on the committer's side (the commit
process by default), so that the HTTP process spends its time on HTTP. Both committers call
:func:`store_bodies`; :func:`encode_results` and :func:`decode_results` carry its answer between
processes as plain JSON (no pickled exceptions).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import orjson

from chirpdesk.desk.schema import Delivery, InvalidInput, parse_delivery
from chirpdesk.desk.storage_base import Brand, IngestResult, Storage

#: What became of one delivery: stored (an :class:`IngestResult`, all zeros when it held no
#: tweet or DM), rejected (:class:`InvalidInput`: a 400 naming the field), or failed.
Result = IngestResult | BaseException
#: One result per delivery of a batch, in order.
Results = list[Result]
#: A committed transaction: how many deliveries it held and how long it took (s).
Transaction = tuple[int, float]
_B = TypeVar("_B", bound=tuple[Sequence[Any], float])


class CommitError(RuntimeError):
    """A delivery's commit failed (the message says why); its request gets a 503."""


def parse_body(body: bytes | memoryview) -> Delivery:
    """Decode and validate one delivery body; raises :class:`InvalidInput` naming the field."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("body", f"malformed JSON: {exc}") from None
    return parse_delivery(payload)


def store_bodies(
    storage: Storage, batches: Sequence[tuple[Sequence[bytes | memoryview], float]], brand: Brand,
    influencer_followers: int,
) -> list[Results]:
    """Parse every body, then store all the valid deliveries of all ``batches`` (each
    ``(bodies, received at epoch s)``) in one transaction on the calling thread's connection.

    Returns, per batch, one :data:`Result` per body. Invalid bodies and deliveries without
    tweets or DMs (follows, likes...) touch nothing.
    """
    parsed: list[list[Delivery | InvalidInput]] = []
    for bodies, _ in batches:
        row: list[Delivery | InvalidInput] = []
        for body in bodies:
            try:
                row.append(parse_body(body))
            except InvalidInput as exc:
                row.append(exc)
        parsed.append(row)
    work = [
        ([d for d in row if isinstance(d, Delivery) and d.event_count], now)
        for row, (_, now) in zip(parsed, batches, strict=True)
    ]
    stored: list[Results]
    if any(deliveries for deliveries, _ in work):
        try:
            stored = storage.write_sync(storage.ingest_batches, work, brand, influencer_followers)
        except Exception as exc:  # noqa: BLE001 - every waiting request must hear about it
            stored = [[exc] * len(deliveries) for deliveries, _ in work]
    else:
        stored = [[] for _ in work]
    answers: list[Results] = []
    for row, results in zip(parsed, stored, strict=True):
        taken = iter(results)
        answers.append([
            item if isinstance(item, InvalidInput)
            else next(taken) if item.event_count
            else IngestResult(0, 0)
            for item in row
        ])
    return answers


def encode_results(results: Results, transaction: Transaction | None = None) -> bytes:
    """JSON for :func:`decode_results`: ``[stored, duplicates]``, ``["invalid", field, problem]``
    or ``["error", message]`` per delivery, and the transaction if this batch ended one."""
    out: list[Any] = []
    for r in results:
        if isinstance(r, IngestResult):
            out.append((r.stored, r.duplicates))
        elif isinstance(r, InvalidInput):
            out.append(("invalid", r.field, r.problem))
        else:
            out.append(("error", f"{type(r).__name__}: {r}"))
    return orjson.dumps((out, transaction))


def decode_results(data: bytes) -> tuple[Results, Transaction | None]:
    """The inverse of :func:`encode_results` (errors come back as :class:`CommitError`)."""
    items, transaction = orjson.loads(data)
    results: Results = []
    for item in items:
        kind = item[0]
        if kind == "invalid":
            results.append(InvalidInput(item[1], item[2]))
        elif kind == "error":
            results.append(CommitError(item[1]))
        else:
            results.append(IngestResult(kind, item[1]))
    return results, (transaction[0], transaction[1]) if transaction else None


def commit_batches(
    storage: Storage, batches: Sequence[tuple[Sequence[bytes | memoryview], float]], brand: Brand,
    influencer_followers: int, batch_max: int, write_delay: float = 0.0,
) -> Iterator[list[tuple[Results, Transaction | None]]]:
    """What both committers do with the batches that arrived while they were busy: group them
    into transactions of at most ``batch_max`` deliveries and yield, as each commits, its
    batches' answers (:func:`store_timed`). ``write_delay`` seconds are slept before each
    transaction (capacity drills: a slow disk, on purpose)."""
    for group in merge_batches(batches, batch_max):
        if write_delay:
            time.sleep(write_delay)
        yield store_timed(storage, group, brand, influencer_followers)


def merge_batches(batches: Sequence[_B], most: int) -> Iterator[list[_B]]:
    """Group consecutive ``(bodies, now)`` batches into transactions of at most ``most``
    deliveries (a larger batch goes alone), in order."""
    group: list[_B] = []
    size = 0
    for batch in batches:
        if group and size + len(batch[0]) > most:
            yield group
            group, size = [], 0
        group.append(batch)
        size += len(batch[0])
    if group:
        yield group


def store_timed(
    storage: Storage, batches: Sequence[tuple[Sequence[bytes | memoryview], float]], brand: Brand,
    influencer_followers: int,
) -> list[tuple[Results, Transaction | None]]:
    """:func:`store_bodies`, never raising, with the transaction attached to the last batch."""
    started = time.perf_counter()
    answers: list[Results]
    try:
        answers = store_bodies(storage, batches, brand, influencer_followers)
    except Exception as exc:  # noqa: BLE001 - every waiting request must hear about it
        answers = [[exc] * len(bodies) for bodies, _ in batches]
    transaction = (sum(len(bodies) for bodies, _ in batches), time.perf_counter() - started)
    return [(results, transaction if i == len(answers) - 1 else None) for i, results in enumerate(answers)]
