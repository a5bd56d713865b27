"""``/webhooks/twitter``: X Account Activity CRC challenge and event deliveries.

Order of checks on a delivery, cheapest and most fundamental first: size (413), signature over
the raw bytes (401), write-queue room (429), then, on the group commit's side, JSON (400) and
schema (400, naming the field) before the events are stored. The 200 is sent only after the
events are committed.

Two ways in, one answer: :func:`deliver` is the raw ASGI handler, :func:`deliver_whole` takes a
delivery that arrived whole straight from the connection (the usual case under load), and both
answer through :func:`settle`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope

from chirpdesk.desk.http import (
    RETRY,
    JSONResponse,
    Problem,
    header_bytes,
    log,
    read_body_raw,
)
from chirpdesk.desk.metrics import READ_WHOLE, Metrics
from chirpdesk.desk.schema import InvalidInput
from chirpdesk.desk.signature import SIGNATURE_HEADER, crc_response, verify
from chirpdesk.desk.state import DeskState
from chirpdesk.desk.storage_base import IngestResult
from chirpdesk.desk.writer import Saturated, Stopped


async def crc(request: Request) -> Response:
    """Answer X's CRC challenge: ``{"response_token": "sha256=<base64 HMAC>"}``."""
    state: DeskState = request.app.state.desk
    token = request.query_params.get("crc_token")
    if not token:
        raise Problem(400, "crc_token query parameter is required", "crc_token")
    return JSONResponse(crc_response(state.config.secret, token))


#: Path of the webhook; ``POST`` is served by :func:`deliver` ahead of Starlette's router.
WEBHOOK_PATH = "/webhooks/twitter"

_SIGNATURE_KEY = SIGNATURE_HEADER.encode("ascii")
_REJECT_REASONS = {400: "invalid", 401: "signature", 413: "too_large"}


#: A delivery's answer: HTTP status, JSON body bytes, extra headers.
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


async def deliver(app: Any, scope: Scope, receive: Receive) -> Answer:
    """Verify, validate and durably store one delivery; 200 ``{"stored", "duplicates"}``.

    A raw ASGI handler (see :class:`chirpdesk.desk.http.FastPostApp`). Size and signature are
    checked here; parsing, validation and storage happen on the group commit's side
    (:mod:`chirpdesk.desk.ingest`), and a schema violation comes back from there as a 400. A
    delivery that arrives whole in one read skips this and the ASGI request cycle altogether
    (:func:`deliver_whole`); both answer alike.
    """
    state: DeskState = app.state.desk
    started = time.perf_counter()
    try:
        body = await read_body_raw(scope, receive, state.config.max_body_bytes)
        signature = header_bytes(scope["headers"], _SIGNATURE_KEY)
        if not verify(state.config.secret, body, signature):
            reason = "missing" if signature is None else "invalid"
            raise Problem(401, f"{reason} webhook signature", SIGNATURE_HEADER)
    except Problem as problem:
        state.metrics.reject(_REJECT_REASONS.get(problem.status, "other"))
        raise
    try:
        # Fails with TimeoutError after config.ack_timeout (the writer's watchdog).
        result: IngestResult | BaseException = await state.writer.submit(body)
    except Exception as exc:
        result = exc
    return settle(state.metrics, started, result)


def deliver_whole(state: DeskState, body: bytes, signature: bytes | None,
                  answer: Callable[[Answer], None]) -> bool:
    """Take a delivery read whole straight off its connection, without an ASGI request cycle:
    if its body fits ``max_body_bytes`` and its ``signature`` (the raw header value) is valid,
    queue it for the group commit and return True; ``answer`` is called exactly once, on the
    event loop, with what :func:`deliver` would have answered: once the commit is done, or
    before this returns if the write queue refuses it at once (full, or shutting down), so the
    caller sets up its state before calling. Otherwise return False and call nothing: the
    caller serves the request the usual way, which answers the 413 or 401.

    :class:`chirpdesk.desk.connections.GuardedHttpTools` calls this for a plainly framed
    delivery that arrived in one read, as X sends one. Per delivery in flight that leaves a
    future and its callback instead of a request cycle, a task, two coroutines and an event:
    less than half the HTTP process's CPU per answer at 64 connections (docs/desk.md,
    "Deliveries read whole").
    """
    if len(body) > state.config.max_body_bytes or not verify(state.config.secret, body, signature):
        return False
    metrics, started = state.metrics, time.perf_counter()
    metrics.counters[READ_WHOLE] += 1
    try:
        future = state.writer.submit(body)
    except Exception as exc:
        answer(settle(metrics, started, exc))
        return True

    def committed(future: asyncio.Future[IngestResult]) -> None:
        try:
            result = (Stopped("the delivery was cancelled") if future.cancelled()
                      else future.exception() or future.result())
            reply = settle(metrics, started, result)
        except Exception:  # a bug: answer 500 as the ASGI path would, never leave it waiting
            log.exception("unhandled error answering a webhook delivery")
            reply = 500, b'{"error":"internal error"}', []
        answer(reply)

    future.add_done_callback(committed)
    return True


def settle(metrics: Metrics, started: float, result: IngestResult | BaseException) -> Answer:
    """The answer to a delivery whose commit came back with ``result`` (what it stored, or why
    it was not stored), counted in ``metrics``; ``started``: ``time.perf_counter()`` when its
    request was read."""
    if isinstance(result, BaseException):
        problem, reason = _refusal(result)
        metrics.reject(reason)
        return problem.answer()
    metrics.count_kinds(result.kinds)
    if not result.stored and not result.duplicates:
        # Other activity (follows, likes, typing indicators, revocations) is acknowledged and not
        # stored: X retries any answer but a 200.
        metrics.inc("chirpdesk_ignored_deliveries_total")
        return 200, _NOTHING_STORED, []
    metrics.ack.observe(time.perf_counter() - started)
    return 200, orjson.dumps({"stored": result.stored, "duplicates": result.duplicates}), []


_NOTHING_STORED = b'{"stored":0,"duplicates":0}'


def _refusal(error: BaseException) -> tuple[Problem, str]:
    """The HTTP refusal for a delivery the group commit did not store because of ``error``, and
    the reason it is counted under (``chirpdesk_rejected_total``)."""
    if isinstance(error, InvalidInput):
        return Problem(400, error.problem, error.field), "invalid"
    if isinstance(error, Saturated):
        return Problem(429, "write queue full, retry later", None, RETRY), "overload"
    if isinstance(error, Stopped):
        return Problem(503, "shutting down, retry later", None, RETRY), "shutting_down"
    if isinstance(error, TimeoutError):
        # Not committed in time: say so (no 200), and X's redelivery will be idempotent.
        return Problem(503, "commit did not finish in time, retry later", None, RETRY), "timeout"
    # Logged once per failure episode by the writer's health (chirpdesk.desk.health), not once
    # per request: a full disk must not also fill the log.
    log.debug("delivery not committed: %r", error)
    return Problem(503, "storage unavailable, retry later", None, RETRY), "storage"


#: The Starlette routes this module serves (``POST`` is :func:`deliver`, mounted by ``chirpdesk.desk.app``).
routes = [
    Route(WEBHOOK_PATH, crc, methods=["GET"]),
]
