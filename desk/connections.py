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
- **load shedding**: while ``max_in_flight`` deliveries are already being served by this
  process, or its CPU is what runs out (:class:`Admission`), or the event loop runs more than
  ``lag_budget`` seconds late, a new webhook delivery is answered 429 with ``Retry-After``
  before any work is spent on it (no signature check, no write queue). When the HTTP process, not the database, is what saturates, requests would
  otherwise wait in line behind each other for seconds, X would time out and retry, and the
  burst would become a retry storm. The in-flight count is what a pooled sender shows: its
  connections all busy while the loop itself never runs late. Other routes (agents, health,
  metrics) are never shed.

**Deliveries read whole.** X sends a delivery at once, so it usually arrives in one read. Such
a request is recognised from its bytes, without the HTTP parser, when the parser would read it
exactly as written: ``POST`` to the webhook path (with an optional query of printable
characters), HTTP/1.1, well-formed header lines (a token, a colon, a value without control
characters) of which the only framing one (``Content-Length``, ``Transfer-Encoding``,
``Connection``, ``Proxy-Connection``, ``Expect``, ``Upgrade``) is a single ``Content-Length``
of at most ten digits, exactly that many body bytes, and nothing pending on the connection.
Shed, it is answered 429 from here. Served, it goes straight to the desk
(:func:`chirpdesk.desk.routes_webhook.deliver_whole`: signature, then the group commit) and is
answered from here once committed, with the same status, body and headers as through the ASGI
app, but without uvicorn's request cycle, task, coroutines and per-response keep-alive timer:
what a delivery holds while it waits for its commit is its bytes and a future. A served
delivery costs the HTTP process less than half as much (docs/desk.md, "Deliveries read
whole"). Anything else (a split, chunked or pipelined request, a bad signature, a body over the
limit) goes through the parser and the ASGI app as usual, and so does every delivery when the
server has an access log or a root path, or when the desk's app sits inside middleware other
than uvicorn's own (which serving from here would bypass); a shed one is still answered from
its bytes (never access-logged), or once its body has been read past. Whatever arrives on a
connection while its delivery read whole waits for its commit is held (one read; reading is
paused) and handled after the answer, in order. Such deliveries are not uvicorn tasks, so
uvicorn's ``limit_concurrency`` (which the desk does not set) does not count them;
``max_in_flight`` does.

Refusals are counted per process in :data:`chirpdesk.desk.metrics.CONNECTION_REFUSALS`
(``/metrics``: ``chirpdesk_connections_refused_total{reason=...}``).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.middleware.message_logger import MessageLoggerMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from chirpdesk.desk.config import DeskConfig
from chirpdesk.desk.http import RETRY_AFTER_SECONDS, FastPostApp
from chirpdesk.desk.metrics import CONNECTION_REFUSALS as REFUSED
from chirpdesk.desk.routes_webhook import WEBHOOK_PATH, Answer, deliver, deliver_whole
from chirpdesk.desk.signature import SIGNATURE_HEADER

#: The ASGI wrappers uvicorn puts around an app (each keeps it as ``.app``).
_UVICORN_WRAPPERS = (ProxyHeadersMiddleware, MessageLoggerMiddleware)

#: The webhook's path, whose ``POST`` is shed and read whole.
_WEBHOOK = WEBHOOK_PATH.encode("ascii")

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
    #: Webhook deliveries read whole and not yet answered (this process) from which new ones are shed.
    max_in_flight: int = 256
    #: Path whose ``POST`` is shed under overload (the webhook).
    shed_path: bytes = _WEBHOOK

    @classmethod
    def of(cls, config: DeskConfig) -> ConnectionLimits:
        """The limits a desk ``config`` sets."""
        return cls(config.max_connections, config.idle_timeout, config.read_timeout,
                   config.max_header_bytes, config.lag_budget, config.max_in_flight)


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
#: Head fields that decide where a request ends or whether the connection stays open; a
#: request is read whole only when the single one among them is ``Content-Length`` (anything
#: else goes through the parser).
_FRAMING = re.compile(rb"\r\n(content-length|transfer-encoding|connection|proxy-connection|expect|upgrade)"
                      rb":[ \t]*([^\r\n]*)", re.IGNORECASE)
#: A header line as llhttp accepts it: a token, a colon at once, a value without control characters.
_HEADER_LINE = rb"\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\x00-\x08\x0a-\x1f\x7f]*"
#: Most digits a ``Content-Length`` read whole may have (a delivery is at most a few MiB).
_LENGTH_DIGITS = 10


@functools.lru_cache(maxsize=4)
def _plain_head(path: bytes) -> re.Pattern[bytes]:
    """A request head (without its final blank line) that the HTTP parser would read exactly as
    written: ``POST <path>[?query] HTTP/1.1`` and well-formed header lines, nothing it would
    have to decide (a bare CR or LF, a folded line, a space in the target, a control character)."""
    return re.compile(rb"POST " + re.escape(path) + rb"(?:\?[\x21-\x7e]*)? HTTP/1\.1(?:" + _HEADER_LINE + rb")*")


_SIGNATURE = re.compile(rb"\r\n" + SIGNATURE_HEADER.encode("ascii") + rb":([^\r\n]*)", re.IGNORECASE)
_JSON_HEAD = b"content-type: application/json\r\n"
_SHED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", b"%d" % len(_SHED_BODY)),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode("ascii")),
]


class HeadWithBody:
    """The transport a request cycle writes its response to: the response head is held back
    until the first body write and both leave in one ``send``.

    uvicorn writes a response's head and body separately, and the event loop sends each at
    once: two system calls and two TCP segments per answer, and on loopback the second also
    runs the client's receive path in this process. A ``100 Continue`` goes out at once; a
    ``HEAD`` response (head only) is never wrapped; a close sends what is held first. A
    response that starts and then waits before its first body chunk (a stream) would hold its
    head that long; the desk has none.
    """

    __slots__ = ("transport", "head", "started")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.head: bytes | None = None  # the response head, until the body's first write
        self.started = False  # the response head has been written (held or sent)

    def write(self, data: bytes) -> None:
        """Hold the response head; send anything else (with the head, if held)."""
        if self.head is not None:
            head, self.head = self.head, None
            self.transport.writelines((head, data))  # one send, no copy of the body (uvloop)
            return
        if not self.started and not data.startswith(b"HTTP/1.1 100 "):
            self.started, self.head = True, data
            return
        self.transport.write(data)

    def close(self) -> None:
        """Send what is held, then close the connection."""
        if self.head is not None:
            self.transport.write(self.head)
            self.head = None
        self.transport.close()

    def is_closing(self) -> bool:
        """Whether the connection is closing (the transport's answer)."""
        return self.transport.is_closing()


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


class Admission:
    """Which webhook deliveries one HTTP process lets in, per event loop.

    ``serving`` counts deliveries read whole and not answered yet: the work the process has
    taken on (a delivery whose body is still arriving does not count, so a slow client costs
    a connection, not a place in line); ``max_in_flight`` caps it.

    ``budget`` caps how many deliveries are let in per :data:`ADMIT_PERIOD` while the CPU is
    what runs out. A shed costs a read and a write too (a sixth to a third of a served delivery), so
    a sender that keeps every connection busy, as a pooled webhook sender does, can make the
    process spend all its time answering and still answer fewer requests than arrive; the
    sender's queue, and its waits, would then grow without end, and nothing at the desk shows
    it but a CPU that is never idle. So once deliveries are being shed and the process has been
    busy :data:`BUSY_HIGH` of the time, admissions are capped, and each period the cap moves
    towards keeping the process busy :data:`BUSY_TARGET` of the time (never more than a step
    of :data:`BUDGET_DECREASE` or :data:`BUDGET_INCREASE`); it is lifted once it no longer
    binds. A closed loop (each client waiting for its answer) never triggers it: it is never
    shed below ``max_in_flight`` connections.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        #: Deliveries read whole and not answered yet.
        self.serving = 0
        #: Deliveries let in and shed in the current period.
        self.admitted = 0
        self.shed = 0
        #: Most deliveries let in per period while the CPU is the limit; None: no cap.
        self.budget: int | None = None
        #: CPU share of the last periods, smoothed; None before the first decision.
        self.busy: float | None = None
        self._cpu, self._wall = time.process_time(), loop.time()
        self._handle: asyncio.TimerHandle | None = loop.call_later(ADMIT_PERIOD, self._decide)

    def _decide(self) -> None:
        cpu, wall = time.process_time(), self.loop.time()
        self.decide((cpu - self._cpu) / max(wall - self._wall, 1e-6))
        self._cpu, self._wall = cpu, wall
        self._handle = self.loop.call_later(ADMIT_PERIOD, self._decide)

    def decide(self, busy: float) -> None:
        """Set the next period's ``budget`` from this period's share of one CPU ``busy``
        (0..1), smoothed over about two periods, and its counts; then start a new period."""
        admitted, shed = self.admitted, self.shed
        self.admitted = self.shed = 0
        self.busy = busy if self.busy is None else (self.busy + busy) / 2  # smoothed over ~2 periods
        if self.budget is None:
            if shed and self.busy >= BUSY_HIGH:
                self.budget = max(MIN_BUDGET, int(admitted * BUDGET_DECREASE))
            return
        # Towards BUSY_TARGET: cut while busier, widen while calmer, a bounded step a period.
        step = min(BUDGET_INCREASE, max(BUDGET_DECREASE, (BUSY_TARGET / max(self.busy, 0.05)) ** 2))
        self.budget = max(MIN_BUDGET, int(self.budget * step))
        if self.budget > 2 * admitted + MIN_BUDGET:  # no longer what limits admissions
            self.budget = None

    def stop(self) -> None:
        """Stop deciding (the cap stays as it is)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


#: Seconds between two admission decisions (:class:`Admission`).
ADMIT_PERIOD = 0.1
#: Share of one CPU (smoothed) from which admissions are capped while deliveries are shed.
BUSY_HIGH = 0.97
#: Share of one CPU the cap steers the process to while it binds (room to read every request).
BUSY_TARGET = 0.93
#: Smallest factor the cap changes by in a period (also the first cap, on that period's admissions).
BUDGET_DECREASE = 0.8
#: Largest factor the cap grows by in a period.
BUDGET_INCREASE = 1.25
#: Deliveries let in per period however busy the process is (it never stops serving).
MIN_BUDGET = 10

_LOADS: dict[asyncio.AbstractEventLoop, tuple[LoopLag, Admission]] = {}


def loop_load(loop: asyncio.AbstractEventLoop) -> tuple[LoopLag, Admission]:
    """The :class:`LoopLag` and :class:`Admission` of ``loop``, started on first use."""
    load = _LOADS.get(loop)
    if load is None:
        load = _LOADS[loop] = (LoopLag(loop), Admission(loop))
    return load


def _desk_of(app: Any) -> Any:
    """The desk's running state (``app.state.desk``) if ``app`` is the desk's ASGI app, possibly
    inside the wrappers uvicorn itself adds (proxy headers, trace logging); else None: any
    other app, or the desk inside someone's middleware, is served the usual way only, so that
    middleware is never bypassed."""
    while isinstance(app, _UVICORN_WRAPPERS):
        app = app.app
    if isinstance(app, FastPostApp) and app.fast_handler is deliver:
        return getattr(app.state, "desk", None)
    return None


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`ConnectionLimits` (see the module docstring).

    Built by uvicorn once per connection; pass it as ``http=functools.partial(GuardedHttpTools,
    limits=...)``.
    """

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.lag, self.admission = loop_load(self.loop)
        self._timer: asyncio.TimerHandle | None = None
        self._idle_from = 0.0  # loop time the idle clock started; the idle timer checks it
        self._idle_armed = False  # the pending timer is the idle timer
        self._in_head = True  # no complete request head since the last one (or ever)
        self._head_bytes = 0
        self._refusal: tuple[bytes, str] | None = None
        self._skipping = False  # a shed request's body is being read past
        self._at_boundary = True  # the parser holds no part of a request
        self._shed_prefix = b"POST " + limits.shed_path
        self._plain = _plain_head(limits.shed_path)
        self._admitted = False  # the request being read is a webhook delivery let through
        self._counted: set[Any] = set()  # request cycles of this connection counted as serving
        self._desk: Any = None  # the desk's DeskState, for deliveries taken whole (connection_made)
        self._waiting = False  # a delivery taken whole is waiting for its commit
        self._held = b""  # what arrived on this connection meanwhile (reading is paused)
        self._close_after = False  # the server shuts down: close once the waiting one is answered

    # -- connection -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(_TOO_MANY, "connections")
            return
        if not self.access_log and not self.root_path and self.limits.shed_path == _WEBHOOK:
            self._desk = _desk_of(self.app)  # else served the request cycle's way only
        self._restart_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.admission.serving -= len(self._counted) + self._waiting  # these will not be answered
        self._counted.clear()
        self._waiting = False
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._waiting:
            # Pipelined behind a delivery taken whole: answered in order, after it.
            self._held += data
            self.transport.pause_reading()
            return
        if self._at_boundary and data.startswith(self._shed_prefix) and self._take_whole(data):
            return
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

    def shutdown(self) -> None:
        if self._waiting:  # answer the delivery being committed first, then close
            self._close_after = True
            return
        super().shutdown()

    # -- parser callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._at_boundary = False
        super().on_message_begin()
        self._arm(self.limits.read_timeout, self._read_timed_out)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._refusal = (_TOO_LARGE, "header_too_large")
            raise ValueError("request head too large")  # the parser stops; see send_400_response
        webhook = self.parser.get_method() == b"POST" and self.url.partition(b"?")[0] == self.limits.shed_path
        reason = self._overloaded() if webhook else None
        if reason is None:
            self._admitted = webhook
            self.admission.admitted += webhook
            before = self.cycle
            super().on_headers_complete()
            if self.cycle is not before and self.scope["method"] != "HEAD":  # a new request cycle
                # The cycle only writes, closes and asks is_closing of its transport.
                self.cycle.transport = HeadWithBody(self.transport)  # type: ignore[assignment]
            return
        self._count_shed(reason)
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
        self._at_boundary = True
        self._in_head = True  # what comes next on this connection is a new request's head
        if not self._skipping:
            if self._admitted:
                self._admitted = False
                self._count_until_answered(self.cycle)
            super().on_message_complete()
            return
        self._skipping = False
        if self.parser.should_keep_alive():
            self.transport.write(_SHED)
            self._restart_idle()
        else:
            self.transport.write(_SHED_CLOSE)
            self.transport.close()

    # -- limits -----------------------------------------------------------------------------
    def _count_until_answered(self, cycle: Any) -> None:
        """Count a delivery read whole as serving (:class:`Admission`) until its response is
        complete (or the connection is lost)."""
        if cycle is None or cycle.response_complete:
            return
        admission, counted, then = self.admission, self._counted, cycle.on_response
        admission.serving += 1
        counted.add(cycle)

        def answered() -> None:
            if cycle in counted:
                counted.discard(cycle)
                admission.serving -= 1
            then()

        cycle.on_response = answered

    def _overloaded(self) -> str | None:
        """Why a new delivery is shed now (the refusal reason), or None."""
        admission = self.admission
        if admission.serving >= self.limits.max_in_flight:
            return "in_flight"
        if admission.budget is not None and admission.admitted >= admission.budget:
            return "cpu"
        return "lag" if self.lag.current() > self.limits.lag_budget else None

    def _count_shed(self, reason: str) -> None:
        REFUSED[reason] += 1
        self.admission.shed += 1

    def _take_whole(self, data: bytes) -> bool:
        """Answer ``data`` here if it is exactly one whole, plainly framed webhook delivery and
        nothing is pending on this connection: shed it (429) if the desk is overloaded, else
        hand it to the desk (:func:`chirpdesk.desk.routes_webhook.deliver_whole`) and answer
        once it is committed. True if taken; else the caller parses ``data`` as usual (a split,
        chunked or pipelined request, a bad signature, a body over the limit)."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete or self.pipeline:
            return False
        reason = self._overloaded()
        if reason is None and self._desk is None:
            return False
        end = data.find(b"\r\n\r\n")
        if end < 0 or end + 4 > self.limits.max_header_bytes or not self._plain.fullmatch(data, 0, end):
            return False
        framing = _FRAMING.findall(data, 0, end + 2)
        if len(framing) != 1 or framing[0][0].lower() != b"content-length":
            return False
        length = framing[0][1]
        if not length.isdigit() or len(length) > _LENGTH_DIGITS or len(data) != end + 4 + int(length):
            return False
        if reason is not None:
            self._unset_keepalive_if_required()
            self._count_shed(reason)
            self.transport.write(_SHED)
            self._restart_idle()
            return True
        signature = _SIGNATURE.search(data, 0, end + 2)
        admission = self.admission
        self._waiting = True
        admission.serving += 1
        if not deliver_whole(self._desk, data[end + 4:], None if signature is None else signature[1], self._answer):
            self._waiting = False
            admission.serving -= 1
            return False
        admission.admitted += 1
        self._unset_keepalive_if_required()
        return True

    def _answer(self, answer: Answer) -> None:
        """Write the answer to the delivery taken whole, then read on."""
        if not self._waiting:  # the connection was lost meanwhile (and uncounted)
            return
        self._waiting = False
        self.admission.serving -= 1
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        status, body, headers = answer
        close = self._close_after
        head = [STATUS_LINE[status], *(b"%s: %s\r\n" % pair for pair in self.server_state.default_headers),
                b"content-length: %d\r\n" % len(body), _JSON_HEAD,
                *(b"%s: %s\r\n" % pair for pair in headers), b"connection: close\r\n\r\n" if close else b"\r\n"]
        self.transport.writelines((b"".join(head), body))
        if close:
            self.transport.close()
            return
        self._restart_idle()
        if self._held:
            data, self._held = self._held, b""
            self.transport.resume_reading()
            self.data_received(data)

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        self._idle_armed = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _restart_idle(self) -> None:
        """Start the idle clock again. A pending idle timer is kept and looks at the clock when
        it fires (a connection shed many times a second would otherwise make and cancel a
        timer per request)."""
        self._idle_from = self.loop.time()
        if not self._idle_armed:
            self._arm(self.limits.idle_timeout, self._idle)
            self._idle_armed = True

    def _idle(self) -> None:
        self._timer, self._idle_armed = None, False
        left = self._idle_from + self.limits.idle_timeout - self.loop.time()
        if self._waiting:  # not idle: a delivery on it is being committed
            left = self.limits.idle_timeout
        if left > 0.001:  # the clock was restarted since this timer was set
            self._timer, self._idle_armed = self.loop.call_later(left, self._idle), True
            return
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
                cycle.transport.close()  # through the cycle's writer: a held head goes out first
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

