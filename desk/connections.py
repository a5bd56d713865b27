"""What one client may cost the desk: connection count, time and bytes to send a request, and
load shedding when the HTTP process falls behind.

uvicorn bounds a request body (the app reads it in chunks, 413 past ``max_body_bytes``) and idle
keep-alive connections, but not the time or the memory a client may take to send a request's
head, nor how many connections it may hold open. A client that trickles one header line a second
would keep its connection (and its partial header in memory) for ever, and a few hundred such
clients exhaust file descriptors and RAM. :class:`GuardedHttpTools` is uvicorn's httptools
protocol with those limits (:class:`ConnectionLimits`), one instance per connection:

- at most ``max_connections`` open connections: beyond that a new one is answered 503 with
  ``Retry-After`` and closed at once;
- a connection that has sent nothing is closed after ``idle_timeout`` seconds (uvicorn's
  keep-alive timeout covers only the time after a response);
- a request's head and body must arrive within ``read_timeout`` seconds of its first byte, else
  408 and the connection is closed (X sends a whole delivery at once and gives up after 10 s);
- a request head (request line and headers) over ``max_header_bytes`` is answered 431 and the
  connection closed, counted as it streams in, so a slow, huge header never sits in memory;
- **load shedding**: while the event loop runs more than ``lag_budget`` seconds late, a new
  webhook delivery is answered 429 with ``Retry-After`` before any work is spent on it (no signature check, no write queue). When the
  HTTP process, not the database, is what saturates, requests would otherwise wait in line
  behind each other for seconds, X would time out and retry, and the burst would become a retry
  storm. Other routes (agents, health, metrics) are never shed.

Refusals are counted per process in :data:`chirpdesk.desk.metrics.CONNECTION_REFUSALS`
(``/metrics``: ``chirpdesk_connections_refused_total{reason=...}``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from chirpdesk.desk.config import DeskConfig
from chirpdesk.desk.http import RETRY_AFTER_SECONDS
from chirpdesk.desk.metrics import CONNECTION_REFUSALS as REFUSED

#: Seconds between two event-loop lag measurements.
LAG_PERIOD = 0.02


@dataclass(frozen=True)
class ConnectionLimits:
    """Per-connection limits and the load-shedding budget (see the module docstring); the
    defaults and their environment variables are :class:`chirpdesk.desk.config.DeskConfig`'s."""

    #: Most open connections; a new one beyond this is answered 503 and closed.
    max_connections: int
    #: Seconds a connection may stay open without starting a request.
    idle_timeout: float
    #: Seconds from a request's first byte until its head and body have all arrived (408 after).
    read_timeout: float
    #: Largest request head (request line plus headers), bytes (431 beyond).
    max_header_bytes: int
    #: Event-loop lateness, seconds, from which new webhook deliveries are shed (429).
    lag_budget: float
    #: Path whose ``POST`` is shed under overload (the webhook).
    shed_path: bytes = b"/webhooks/twitter"

    @classmethod
    def of(cls, config: DeskConfig) -> ConnectionLimits:
        """The limits a desk ``config`` sets."""
        return cls(config.max_connections, config.idle_timeout, config.read_timeout,
                   config.max_header_bytes, config.lag_budget)


def _response(status: int, reason: str, error: str, *, retry: bool, close: bool) -> bytes:
    body = b'{"error":"' + error.encode("ascii") + b'"}'
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
    ]
    if retry:
        lines.append(f"retry-after: {RETRY_AFTER_SECONDS}")
    if close:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


_TOO_MANY = _response(503, "Service Unavailable", "too many open connections, retry later", retry=True, close=True)
_TIMEOUT = _response(408, "Request Timeout", "request not received in time", retry=False, close=True)
_TOO_LARGE = _response(431, "Request Header Fields Too Large", "request header too large", retry=False,
                       close=True)
_SHED = _response(429, "Too Many Requests", "overloaded, retry later", retry=True, close=False)
_SHED_CLOSE = _response(429, "Too Many Requests", "overloaded, retry later", retry=True, close=True)
_SHED_BODY = b'{"error":"overloaded, retry later"}'
_SHED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", b"%d" % len(_SHED_BODY)),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode("ascii")),
]


async def shed(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI app a shed delivery gets instead of the desk's: 429 + ``Retry-After``, at once
    (the connection stays open, its body is skipped)."""
    await send({"type": "http.response.start", "status": 429, "headers": _SHED_HEADERS})
    await send({"type": "http.response.body", "body": _SHED_BODY})


class LoopLag:
    """How late the event loop runs: a timer every :data:`LAG_PERIOD` seconds measures by how
    much it fired late. ``late`` is the latest measurement, seconds (0 when the loop keeps up)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.late = 0.0
        self._due = loop.time() + LAG_PERIOD
        self._handle: asyncio.TimerHandle | None = loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        self.late = max(0.0, now - self._due)
        self._due = now + LAG_PERIOD
        self._handle = self.loop.call_at(self._due, self._tick)

    def current(self) -> float:
        """Seconds the loop is late now: the last measurement, or the time since the pending
        tick was due if that is longer (a loop stuck on one long callback)."""
        return max(self.late, self.loop.time() - self._due)

    def stop(self) -> None:
        """Stop measuring."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


_LAGS: dict[asyncio.AbstractEventLoop, LoopLag] = {}


def loop_lag(loop: asyncio.AbstractEventLoop) -> LoopLag:
    """The :class:`LoopLag` of ``loop``, started on first use."""
    lag = _LAGS.get(loop)
    if lag is None:
        lag = _LAGS[loop] = LoopLag(loop)
    return lag


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`ConnectionLimits` (see the module docstring).

    Built by uvicorn once per connection; pass it as ``http=functools.partial(GuardedHttpTools,
    limits=...)``.
    """

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.lag = loop_lag(self.loop)
        self._timer: asyncio.TimerHandle | None = None
        self._in_head = True  # no complete request head since the last one (or ever)
        self._head_bytes = 0
        self._refusal: tuple[bytes, str] | None = None
        self._skipping = False  # a shed request's body is being read past

    # -- connection -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(_TOO_MANY, "connections")
            return
        self._arm(self.limits.idle_timeout, self._idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Bytes are counted only while a head is incomplete; a chunk that also completes it
        # is measured exactly in on_headers_complete.
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.limits.max_header_bytes and self._refusal is None:
            # The head is still incomplete and already too large: refuse before buffering more.
            self._refuse(_TOO_LARGE, "header_too_large")

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers any parser error with a 400; a limit raised from a parser callback
        # gets its own status instead.
        if self._refusal is not None:
            self._refuse(*self._refusal)
            return
        super().send_400_response(msg)

    # -- parser callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.limits.read_timeout, self._read_timed_out)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._refusal = (_TOO_LARGE, "header_too_large")
            raise ValueError("request head too large")  # the parser stops; see send_400_response
        reason = self._shed_reason()
        if reason is None:
            super().on_headers_complete()
            return
        REFUSED[reason] += 1
        if self.cycle is None or self.cycle.response_complete:
            # Nothing ahead of it on this connection: answer without a request cycle or a task
            # (a fraction of a served request's cost), once its body has been read past.
            self._skipping = True
            return
        app, self.app = self.app, shed  # pipelined behind another request: answer in order
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_body(self, body: bytes) -> None:
        if not self._skipping:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True  # what comes next on this connection is a new request's head
        if not self._skipping:
            super().on_message_complete()
            return
        self._skipping = False
        if self.parser.should_keep_alive():
            self.transport.write(_SHED)
            self._arm(self.limits.idle_timeout, self._idle)
        else:
            self.transport.write(_SHED_CLOSE)
            self.transport.close()

    # -- limits -----------------------------------------------------------------------------
    def _shed_reason(self) -> str | None:
        if self.parser.get_method() != b"POST" or self.url.partition(b"?")[0] != self.limits.shed_path:
            return None
        return "shed" if self.lag.current() > self.limits.lag_budget else None

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _idle(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            REFUSED["idle"] += 1
            self.transport.close()

    def _read_timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not self._in_head:
            # The app is waiting for this body: it hears a disconnect, and answers nothing.
            if cycle.response_started:
                REFUSED["read_timeout"] += 1
                self.transport.close()
                return
            cycle.disconnected = True
            cycle.message_event.set()
        self._refuse(_TIMEOUT, "read_timeout")

    def _refuse(self, response: bytes, reason: str) -> None:
        """Write a canned response, close the connection and count why."""
        self._disarm()
        REFUSED[reason] += 1
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()

