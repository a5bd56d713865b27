"""HTTP plumbing shared by the routes: JSON responses, problem errors and bounded body reading.

Every client error is a :class:`Problem` rendered as ``{"error": ..., "field": ...}`` with the
right status, so a bad request never surfaces as a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger("desk")

#: Seconds a client is told to wait (``Retry-After``) after a 429 or 503.
RETRY_AFTER_SECONDS = 1
#: The ``Retry-After`` header of every 429 and 503.
RETRY = {"Retry-After": str(RETRY_AFTER_SECONDS)}


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

    def content(self) -> dict[str, Any]:
        """The JSON body: ``{"error": ..., "field": ...}`` (``field`` only when known)."""
        body: dict[str, Any] = {"error": self.error}
        if self.field is not None:
            body["field"] = self.field
        return body

    def answer(self) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """This problem as a raw answer: status, JSON body bytes, extra headers (lower-case)."""
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        return self.status, orjson.dumps(self.content()), headers

    def response(self) -> JSONResponse:
        """The JSON error response for this problem."""
        return JSONResponse(self.content(), status_code=self.status, headers=self.headers)


async def read_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing (413) as soon as it exceeds ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before reading anything, and a
    chunked body is counted as it streams, so an oversized upload never sits in memory.
    """
    check_declared_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise Problem(413, f"body larger than {limit} bytes", "body")
        chunks.append(chunk)
    return b"".join(chunks)


def check_declared_length(declared: str | None, limit: int) -> None:
    """Refuse a declared ``Content-Length`` that is not a number (400) or over ``limit`` bytes
    (413) before reading any of the body."""
    if declared is None:
        return
    try:
        size = int(declared)
    except ValueError:
        raise Problem(400, "Content-Length is not a number", "content-length") from None
    if size > limit:
        raise Problem(413, f"body larger than {limit} bytes", "body")


class ClientGone(Exception):
    """The client disconnected before its request body arrived; nothing is answered."""


def header_bytes(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first raw value of header ``name`` (lower-case bytes) in ASGI ``headers``, or ``None``."""
    for key, value in headers:
        if key == name:
            return value
    return None


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    """:func:`header_bytes` decoded as text (latin-1, as HTTP defines it)."""
    value = header_bytes(headers, name)
    return None if value is None else value.decode("latin-1")


async def read_body_raw(scope: Scope, receive: Receive, limit: int) -> bytes:
    """:func:`read_body` for raw ASGI: same checks, same errors, no Request object."""
    check_declared_length(header(scope["headers"], b"content-length"), limit)
    message = await receive()
    if message["type"] != "http.request":
        raise ClientGone
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):  # the usual case: the whole body in one message
        if len(body) > limit:
            raise Problem(413, f"body larger than {limit} bytes", "body")
        return body
    chunks = [body]
    received = len(body)
    while True:
        if received > limit:
            raise Problem(413, f"body larger than {limit} bytes", "body")
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        chunk = message.get("body", b"")
        received += len(chunk)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if received > limit:
        raise Problem(413, f"body larger than {limit} bytes", "body")
    return b"".join(chunks)


#: A raw ``POST`` handler: ``(app, scope, receive) -> (status, JSON body bytes, extra headers)``.
#: It reads the body itself (:func:`read_body_raw`) and may raise :class:`Problem`.
FastHandler = Callable[[Any, Scope, Receive], Awaitable[tuple[int, bytes, list[tuple[bytes, bytes]]]]]

_JSON_TYPE = (b"content-type", b"application/json")


class FastPostApp(Starlette):
    """A Starlette app that serves one hot ``POST`` path as plain ASGI, ahead of its router.

    The webhook is the only endpoint under sustained load, and Starlette's per-request machinery
    (middleware stack, routing, ``Request``/``Response`` objects, exception wrappers) costs more
    CPU than the desk's own work for a 1-tweet delivery. Every other request, and other methods
    on the same path, go through Starlette as usual. Errors keep the same JSON shape.
    """

    def __init__(self, *args: Any, fast_path: str, fast_handler: FastHandler, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast_path = fast_path
        self.fast_handler = fast_handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            if path == self.fast_path:
                scope["app"] = self
                await self._serve_fast(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _serve_fast(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, body, headers = await self.fast_handler(self, scope, receive)
        except Problem as problem:
            status, body, headers = problem.answer()
        except ClientGone:
            return
        except Exception:
            log.exception("unhandled error on POST %s", scope["path"])
            status, body, headers = 500, b'{"error":"internal error"}', []
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", b"%d" % len(body)), _JSON_TYPE, *headers],
        })
        await send({"type": "http.response.body", "body": body})


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
    """Last resort: a storage fault (the database down, the disk full) is a 503 with
    ``Retry-After``; anything else is a bug, logged and answered with a JSON 500 (tests assert
    this never happens)."""
    from chirpdesk.desk.storage_base import is_storage_fault  # http is imported by storage users

    if is_storage_fault(exc):
        log.warning("storage unavailable on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"error": f"storage unavailable, retry later ({type(exc).__name__})"},
                            status_code=503, headers=RETRY)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal error"}, status_code=500)
