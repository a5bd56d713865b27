"""``/webhooks/twitter``: X Account Activity CRC challenge and event deliveries.

Order of checks on a delivery, cheapest and most fundamental first: size (413), signature over
the raw bytes (401), write-queue room (429), then, on the group commit's side, JSON (400) and
schema (400, naming the field) before the events are stored. The 200 is sent only after the
events are committed.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope

from chirpdesk.desk.http import (
    RETRY,
    RETRY_AFTER_SECONDS,
    JSONResponse,
    Problem,
    header_bytes,
    log,
    read_body_raw,
)
from chirpdesk.desk.schema import InvalidInput
from chirpdesk.desk.signature import SIGNATURE_HEADER, crc_response, verify
from chirpdesk.desk.state import DeskState
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
_RETRY_HEADERS = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode("ascii"))]
_RETRY = RETRY
_REJECT_REASONS = {400: "invalid", 401: "signature", 413: "too_large"}


async def deliver(app: Any, scope: Scope, receive: Receive) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Verify, validate and durably store one delivery; 200 ``{"stored", "duplicates"}``.

    A raw ASGI handler (see :class:`chirpdesk.desk.http.FastPostApp`): the hot path of the desk. Size and
    signature are checked here; parsing, validation and storage happen on the group commit's
    side (:mod:`chirpdesk.desk.ingest`), and a schema violation comes back from there as a 400.
    """
    state: DeskState = app.state.desk
    metrics = state.metrics
    started = time.perf_counter()
    try:
        body = await read_body_raw(scope, receive, state.config.max_body_bytes)
        signature = header_bytes(scope["headers"], _SIGNATURE_KEY)
        if not verify(state.config.secret, body, signature):
            reason = "missing" if signature is None else "invalid"
            raise Problem(401, f"{reason} webhook signature", SIGNATURE_HEADER)
        try:
            # Fails with TimeoutError after config.ack_timeout (the writer's watchdog).
            result = await state.writer.submit(body)
        except InvalidInput as exc:
            raise Problem(400, exc.problem, exc.field) from None
    except Problem as problem:
        metrics.reject(_REJECT_REASONS.get(problem.status, "other"))
        raise
    except Saturated:
        metrics.reject("overload")
        raise Problem(429, "write queue full, retry later", None, _RETRY) from None
    except Stopped:
        metrics.reject("shutting_down")
        raise Problem(503, "shutting down, retry later", None, _RETRY) from None
    except TimeoutError:
        # Not committed in time: say so (no 200), and X's redelivery will be idempotent.
        metrics.reject("timeout")
        raise Problem(503, "commit did not finish in time, retry later", None, _RETRY) from None
    except Exception as exc:
        # Logged once per failure episode by the writer's health (chirpdesk.desk.health), not
        # once per request: a full disk must not also fill the log.
        log.debug("delivery not committed: %r", exc)
        metrics.reject("storage")
        raise Problem(503, "storage unavailable, retry later", None, _RETRY) from None
    metrics.count_kinds(result.kinds)
    if not result.stored and not result.duplicates:
        # Other activity (follows, likes, typing indicators, revocations) is acknowledged and not
        # stored: X retries any answer but a 200.
        metrics.inc("chirpdesk_ignored_deliveries_total")
        return 200, b'{"stored":0,"duplicates":0}', []
    metrics.ack.observe(time.perf_counter() - started)
    return 200, orjson.dumps({"stored": result.stored, "duplicates": result.duplicates}), []


#: The Starlette routes this module serves (``POST`` is :func:`deliver`, mounted by ``chirpdesk.desk.app``).
routes = [
    Route(WEBHOOK_PATH, crc, methods=["GET"]),
]
