"""``/webhooks/twitter``: X Account Activity CRC challenge and event deliveries.

Order of checks on a delivery, cheapest and most fundamental first: size (413), signature over
the raw bytes (401), JSON (400), schema (400, naming the field), write-queue room (429), then the
group commit. The 200 is sent only after the events are committed.
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk.http import JSONResponse, Problem, log, parse_json, read_body
from desk.schema import InvalidInput, parse_delivery
from desk.signature import SIGNATURE_HEADER, crc_response, verify
from desk.state import DeskState
from desk.writer import Saturated, Stopped

#: Seconds a client should wait before retrying after a 429/503.
RETRY_AFTER_SECONDS = 1


async def crc(request: Request) -> Response:
    """Answer X's CRC challenge: ``{"response_token": "sha256=<base64 HMAC>"}``."""
    state: DeskState = request.app.state.desk
    token = request.query_params.get("crc_token")
    if not token:
        raise Problem(400, "crc_token query parameter is required", "crc_token")
    return JSONResponse(crc_response(state.config.secret, token))


async def deliver(request: Request) -> Response:
    """Verify, validate and durably store one delivery; 200 ``{"stored", "duplicates"}``."""
    state: DeskState = request.app.state.desk
    metrics = state.metrics
    started = time.perf_counter()
    try:
        body = await read_body(request, state.config.max_body_bytes)
        if not verify(state.config.secret, body, request.headers.get(SIGNATURE_HEADER)):
            reason = "missing" if SIGNATURE_HEADER not in request.headers else "invalid"
            raise Problem(401, f"{reason} webhook signature", SIGNATURE_HEADER)
        try:
            delivery = parse_delivery(parse_json(body))
        except InvalidInput as exc:
            raise Problem(400, exc.problem, exc.field) from None
    except Problem as problem:
        metrics.reject({400: "invalid", 401: "signature", 413: "too_large"}.get(problem.status, "other"))
        raise
    if delivery.event_count == 0:
        # Other activity (follows, likes, typing indicators) is acknowledged and not stored.
        metrics.inc("chirpdesk_ignored_deliveries_total")
        return JSONResponse({"stored": 0, "duplicates": 0})
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    try:
        future = state.writer.submit(delivery)
    except Saturated:
        metrics.reject("overload")
        raise Problem(429, "write queue full, retry later", None, retry) from None
    except Stopped:
        metrics.reject("shutting_down")
        raise Problem(503, "shutting down, retry later", None, retry) from None
    try:
        result = await asyncio.wait_for(future, state.config.ack_timeout)
    except TimeoutError:
        # Not committed in time: say so (no 200), and X's redelivery will be idempotent.
        metrics.reject("timeout")
        raise Problem(503, "commit did not finish in time, retry later", None, retry) from None
    except Exception:
        log.exception("group commit failed")
        metrics.reject("storage")
        raise Problem(503, "storage unavailable, retry later", None, retry) from None
    metrics.ack.observe(time.perf_counter() - started)
    return JSONResponse({"stored": result.stored, "duplicates": result.duplicates})


#: The routes this module serves.
routes = [
    Route("/webhooks/twitter", crc, methods=["GET"]),
    Route("/webhooks/twitter", deliver, methods=["POST"]),
]
