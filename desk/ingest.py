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
#: A committed transaction: how many deliveries it held and how long it took (s). The batches of
#: a transaction but its last carry ``(0, 0.0)``; a batch that nothing committed carries ``None``.
Transaction = tuple[int, float]
_B = TypeVar("_B", bound=tuple[Sequence[Any], float])


class CommitError(RuntimeError):
    """A delivery's commit failed (the message says why); its request gets a 503."""


#: The body of the group-commit writer's storage probe: not JSON, so never a delivery. It writes
#: a heartbeat row (:meth:`chirpdesk.desk.storage_base.Storage.heartbeat`) in its transaction and
#: is answered ``IngestResult(0, 0)`` once that has committed.
PROBE = b"\x00chirpdesk-probe"


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
    return _store(storage, batches, brand, influencer_followers)[0]


def _store(
    storage: Storage, batches: Sequence[tuple[Sequence[bytes | memoryview], float]], brand: Brand,
    influencer_followers: int,
) -> tuple[list[Results], bool]:
    """:func:`store_bodies`, and whether a write transaction committed."""
    parsed: list[list[Delivery | InvalidInput | None]] = []  # None: a probe
    for bodies, _ in batches:
        row: list[Delivery | InvalidInput | None] = []
        for body in bodies:
            if body == PROBE:
                row.append(None)
                continue
            try:
                row.append(parse_body(body))
            except InvalidInput as exc:
                row.append(exc)
        parsed.append(row)
    work = [
        ([d for d in row if isinstance(d, Delivery) and d.event_count], now)
        for row, (_, now) in zip(parsed, batches, strict=True)
    ]
    probe = next((now for row, (_, now) in zip(parsed, batches, strict=True) if None in row), None)
    stored: list[Results]
    failed: BaseException | None = None
    wrote = probe is not None or any(deliveries for deliveries, _ in work)
    if wrote:
        try:
            stored = storage.write_sync(storage.ingest_batches, work, brand, influencer_followers, probe)
        except Exception as exc:  # noqa: BLE001 - every waiting request must hear about it
            failed, wrote = exc, False
            stored = [[exc] * len(deliveries) for deliveries, _ in work]
    else:
        stored = [[] for _ in work]
    answers: list[Results] = []
    for row, results in zip(parsed, stored, strict=True):
        taken = iter(results)
        answers.append([
            (failed or IngestResult(0, 0)) if item is None
            else item if isinstance(item, InvalidInput)
            else next(taken) if item.event_count
            else IngestResult(0, 0, item.kinds)
            for item in row
        ])
    return answers, wrote


def encode_results(results: Results, transaction: Transaction | None = None) -> bytes:
    """JSON for :func:`decode_results`: ``[stored, duplicates, kinds]``, ``["invalid", field, problem]``
    or ``["error", message]`` per delivery, and the transaction if this batch ended one."""
    out: list[Any] = []
    for r in results:
        if isinstance(r, IngestResult):
            out.append((r.stored, r.duplicates, r.kinds))
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
            results.append(IngestResult(kind, item[1], item[2]))
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
    """:func:`store_bodies`, never raising, with the transaction attached to the last batch
    (``(0, 0.0)`` to the others) when it committed, ``None`` throughout when nothing was."""
    started = time.perf_counter()
    answers: list[Results]
    try:
        answers, committed = _store(storage, batches, brand, influencer_followers)
    except Exception as exc:  # noqa: BLE001 - every waiting request must hear about it
        answers, committed = [[exc] * len(bodies) for bodies, _ in batches], False
    if not committed:
        return [(results, None) for results in answers]
    # The transaction goes with its last batch; the others get (0, 0.0), "committed, counted later".
    transaction = (sum(map(len, answers)), time.perf_counter() - started)
    return [(results, transaction if i == len(answers) - 1 else (0, 0.0)) for i, results in enumerate(answers)]
