"""HTTP plumbing shared by the routes: JSON responses, problem errors and bounded body reading.

Every client error is a :class:`Problem` rendered as ``{"error": ..., "field": ...}`` with the
right status, so a bad request never surfaces as a 500.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger("desk")


class JSONResponse(Response):
    """``application/json`` response serialised with orjson (fast, and strict about NaN)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serialise ``content`` to JSON bytes."""
        return orjson.dumps(content)


class Problem(Exception):
    """A request the desk refuses: HTTP ``status``, a message and the offending field if any."""

    def __init__(
        self, status: int, error: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.field = field
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The JSON error response for this problem."""
        body: dict[str, Any] = {"error": self.error}
        if self.field is not None:
            body["field"] = self.field
        return JSONResponse(body, status_code=self.status, headers=self.headers)


async def read_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing (413) as soon as it exceeds ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before reading anything, and a
    chunked body is counted as it streams, so an oversized upload never sits in memory.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise Problem(400, "Content-Length is not a number", "content-length") from None
        if size > limit:
            raise Problem(413, f"body larger than {limit} bytes", "body")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise Problem(413, f"body larger than {limit} bytes", "body")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """Decode a JSON body; malformed JSON is a 400 on field ``body``."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, f"malformed JSON: {exc}", "body") from None


async def problem_handler(request: Request, exc: Exception) -> Response:
    """Render a :class:`Problem`."""
    assert isinstance(exc, Problem)
    return exc.response()


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Render Starlette's own HTTP errors (404 route, 405 method) in the same JSON shape."""
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def server_error_handler(request: Request, exc: Exception) -> Response:
    """Last resort: log the bug and answer a JSON 500 (tests assert this never happens)."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal error"}, status_code=500)
