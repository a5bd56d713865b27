"""Group commit: many concurrent webhook deliveries, one transaction, one fsync.

Each request checks its delivery's signature, then :meth:`GroupCommitWriter.submit` adds the
body, with a future, to a pending list on the event loop, and the request awaits that future.
Batches are formed on the event loop, not per request: a flush is scheduled for the end of the
current loop iteration, so the requests that arrived in that iteration share a batch, except that
a batch is handed over at once whenever ``flush_at`` deliveries (default 16) are pending, so that
the committer starts on it while the loop is still reading the other requests of a busy
iteration.
A :class:`Committer` parses, validates and stores batches in order (:mod:`chirpdesk.desk.ingest`) and
hands each batch's results back to the event loop, which resolves its futures. Up to
``pipeline`` batches (default 64) are in the committer's hands at once, and it commits every
batch that arrived while it was busy in one transaction: it never idles while results travel
back and the loop gets round to them, and the fsync is shared by everything that arrived
meanwhile. So there are two hand-offs per *batch*, never per request, and a 200 still means
"committed".

Why these two numbers (measured, docs/desk.md "Fifth pass"): batches under load hold only ~5-15
deliveries, so with at most 8 of them in flight (the earlier default) part of 64-128 connections
waited for room in the pipeline rather than for a commit, and the HTTP process idled 10-28% of
the time (5-15% with 64). The committer merges whatever has arrived, so more and smaller
batches do not mean more transactions.

Two committers: :class:`chirpdesk.desk.committer.CommitProcess` (the default) does it in a child process,
so parsing, SQL and fsync never hold the GIL that serves HTTP, and talks to it over a socket
pair read by the event loop itself; :class:`ThreadCommitter` does it on a thread of this process
(one ``call_soon_threadsafe`` per batch back to the loop).

The queue is bounded: when ``queue_max`` deliveries are already waiting for (or inside) a commit,
:meth:`submit` raises :class:`Saturated` at once and the route answers 429 with ``Retry-After``
rather than letting the request time out (X drops webhooks that do not answer within 10 s).
A watchdog on the event loop fails, with :class:`TimeoutError`, every request that has waited
longer than ``ack_timeout`` (a stuck disk or lock), at most 0.25 s late: one timer for the
writer instead of one per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from chirpdesk.desk.health import StorageHealth
from chirpdesk.desk.ingest import PROBE, CommitError, Results, Transaction, commit_batches
from chirpdesk.desk.metrics import Metrics
from chirpdesk.desk.schema import InvalidInput
from chirpdesk.desk.storage_base import Brand, IngestResult, Storage

log = logging.getLogger("desk")


class Saturated(RuntimeError):
    """The write queue is full; retry after a moment."""


class Stopped(RuntimeError):
    """The writer is shutting down and takes no new deliveries."""


#: A queued delivery body, the future its request awaits and when it was submitted (loop time, s).
_Pending = tuple[bytes, "asyncio.Future[IngestResult]", float]
_Batch = list[_Pending]
#: Called on the event loop with the results of the oldest batch in flight, and the transaction
#: it belonged to if that committed (``None`` if nothing was committed).
Done = Callable[[Results, Transaction | None], None]
#: Seconds between storage probes while the storage is unhealthy and no traffic tests it.
PROBE_SECONDS = 1.0


class Committer(Protocol):
    """Commits batches in order, each in one transaction, and reports back on the loop."""

    async def start(self, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        """Get ready to commit; ``done(results, transaction)`` is later called on ``loop`` for
        each batch."""

    def commit(self, bodies: list[bytes], now: float) -> None:
        """Start parsing and committing delivery ``bodies`` (received at epoch ``now``, signatures
        already checked) with :func:`chirpdesk.desk.ingest.store_bodies`; never blocks.

        Called on the event loop, possibly while earlier batches are still in flight, and
        possibly from inside :meth:`GroupCommitWriter.submit`, so it must never call ``done``
        itself (schedule it instead). Every call is answered, in order, by exactly one ``done``
        call with one result per delivery, errors included.
        """

    async def close(self) -> None:
        """Release the committer once the last batch has been answered."""

    @property
    def alive(self) -> bool:
        """False when the committer cannot take a batch right now without first restarting
        (its commit process exited); the writer then reports the storage unhealthy."""


class ThreadCommitter:
    """Commits batches on a thread of this process, on that thread's own connection."""

    def __init__(self, storage: Storage, brand: Brand, influencer_followers: int,
                 write_delay: float = 0.0, batch_max: int = 512) -> None:
        self._storage = storage
        self._batch_max = batch_max
        self._brand = brand
        self._influencer_followers = influencer_followers
        self._write_delay = write_delay
        #: Batches for the thread, oldest first, or ``None`` to stop.
        self._queue: queue.SimpleQueue[tuple[list[bytes], float] | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: Done | None = None
        self._finished: asyncio.Future[None] | None = None

    async def start(self, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        """Start the thread."""
        self._loop, self._done = loop, done
        self._finished = loop.create_future()
        threading.Thread(target=self._run, name="desk-group-commit", daemon=True).start()

    def commit(self, bodies: list[bytes], now: float) -> None:
        """Hand a batch to the thread."""
        self._queue.put((bodies, now))

    async def close(self) -> None:
        """Stop the thread and wait for it."""
        if self._finished is None:
            return
        self._queue.put(None)
        await self._finished

    @property
    def alive(self) -> bool:
        """The thread is running."""
        return self._finished is not None and not self._finished.done()

    def _run(self) -> None:
        assert self._done is not None
        stop = False
        try:
            while not stop and (item := self._queue.get()) is not None:
                batches = [item]
                while True:  # the batches handed over meanwhile share a transaction (batch_max)
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batches.append(more)
                for answers in commit_batches(self._storage, batches, self._brand,
                                              self._influencer_followers, self._batch_max,
                                              self._write_delay):
                    for results, transaction in answers:
                        self._post(self._done, results, transaction)
        finally:
            self._post(self._end)

    def _end(self) -> None:
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(None)

    def _post(self, fn: Callable[..., None], *args: object) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody is waiting
            self._loop.call_soon_threadsafe(fn, *args)


class GroupCommitWriter:
    """Collects deliveries from concurrent requests and commits them in batches."""

    def __init__(
        self,
        committer: Committer,
        metrics: Metrics,
        queue_max: int = 2000,
        batch_max: int = 512,
        clock: Callable[[], float] = time.time,
        ack_timeout: float = 8.0,
        pipeline: int = 64,
        flush_at: int = 16,
    ) -> None:
        if pipeline < 1 or flush_at < 1:
            raise ValueError(f"pipeline and flush_at must be >= 1, got {pipeline} and {flush_at}")
        self._committer = committer
        self._pipeline = pipeline
        self._flush_at = flush_at
        self._metrics = metrics
        self._queue_max = queue_max
        self._batch_max = batch_max
        self._clock = clock
        self._ack_timeout = ack_timeout
        # The rest is only touched on the event loop thread.
        #: Deliveries waiting for the next batch, oldest first.
        self._pending: _Batch = []
        #: Batches handed to the committer, oldest first.
        self._committing: deque[_Batch] = deque()
        self._flush_scheduled = False
        #: Deliveries submitted and not yet resolved.
        self._outstanding = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._drained: asyncio.Future[None] | None = None
        self._started = False
        self._stopping = False
        #: Whether commits succeed (``/healthz``); see :mod:`chirpdesk.desk.health`.
        self.health = StorageHealth()
        #: The storage probe in flight, if any.
        self._probe: asyncio.Future[IngestResult] | None = None
        self._probed_at = -float("inf")

    @property
    def depth(self) -> int:
        """Deliveries waiting for a commit or in the committer's hands (not yet acknowledged)."""
        return self._outstanding

    async def start(self) -> None:
        """Start the committer; results come back to the running event loop."""
        self._loop = asyncio.get_running_loop()
        await self._committer.start(self._loop, self._committed)
        self._started = True
        self._watch()

    def submit(self, body: bytes) -> asyncio.Future[IngestResult]:
        """Queue a delivery's body (signature checked); the future resolves once it is committed.

        Raises :class:`Saturated` when the queue is full and :class:`Stopped` during shutdown.
        The future fails with :class:`chirpdesk.desk.schema.InvalidInput` if the body does not parse or
        validate (nothing stored), and with :class:`TimeoutError` if the commit takes longer
        than ``ack_timeout`` (the delivery may still be committed later). Must be called on the
        event loop thread.
        """
        loop = self._loop
        if self._stopping or not self._started or loop is None:
            raise Stopped("the desk is shutting down")
        if self._outstanding >= self._queue_max:
            raise Saturated("write queue full")
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._outstanding += 1
        self._pending.append((body, future, loop.time()))
        if len(self._committing) < self._pipeline:
            if len(self._pending) >= self._flush_at:
                self._hand_over()  # the committer starts now, while the loop reads on
            elif not self._flush_scheduled:
                # Flush after the other requests that are ready in this loop iteration have
                # submitted theirs, so that they share the batch.
                self._flush_scheduled = True
                loop.call_soon(self._flush)
        return future

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop taking deliveries, commit everything already queued (for up to ``timeout``
        seconds: what is not committed by then is answered with an error, a 503), then close
        the committer."""
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if not self._started or self._loop is None:
            return
        self._hand_over()
        if self._committing:
            self._drained = self._loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._drained), timeout)
            except TimeoutError:
                left = self._outstanding
                log.error("shutdown: %d deliveries not committed within %.1f s; answering 503", left, timeout)
                self._abandon(CommitError("the desk shut down before this delivery was committed"))
        self._started = False
        await self._committer.close()

    def _abandon(self, error: BaseException) -> None:
        """Fail every delivery not yet answered (shutdown could not wait for its commit)."""
        for group in (*self._committing, self._pending):
            for _, future, _ in group:
                if not future.done():
                    future.set_exception(error)

    # -- on the event loop ---------------------------------------------------------------------

    def _flush(self) -> None:
        """The end-of-iteration flush scheduled by :meth:`submit`."""
        self._flush_scheduled = False
        self._hand_over()

    def _hand_over(self) -> None:
        """Hand the pending deliveries (``batch_max`` per batch) to the committer while fewer than
        ``pipeline`` batches are in its hands."""
        while self._pending and len(self._committing) < self._pipeline:
            batch = self._pending[: self._batch_max]
            del self._pending[: self._batch_max]
            self._committing.append(batch)
            self._committer.commit([body for body, _, _ in batch], self._clock())

    def _committed(self, results: Results, transaction: Transaction | None) -> None:
        batch = self._committing.popleft()
        if len(results) != len(batch):  # a committer bug: fail the batch, do not guess
            log.error("the committer answered %d results for a batch of %d", len(results), len(batch))
            results = [CommitError("the commit answer did not match the batch")] * len(batch)
        self._hand_over()  # the next commit starts now, before this batch's requests resume
        if not self._committing and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        metrics = self._metrics
        if transaction is not None:
            self.health.committed()
            if transaction[0]:
                metrics.observe_commit(*transaction)
        else:
            fault = next((r for r in results if isinstance(r, BaseException)
                          and not isinstance(r, InvalidInput)), None)
            if fault is not None:
                self.health.failed(f"{type(fault).__name__}: {fault}")
                metrics.inc("chirpdesk_commit_failures_total")
        self._outstanding -= len(batch)
        stored = duplicates = ok = 0
        for (_, future, _), result in zip(batch, results, strict=True):
            if future is self._probe:
                self._probe = None
                if not future.done():
                    future.set_result(IngestResult(0, 0))  # nobody awaits it: its outcome is health
                continue
            if isinstance(result, BaseException):
                if not isinstance(result, InvalidInput):  # a bad body is the sender's problem
                    metrics.inc("chirpdesk_commit_errors_total")
                if not future.done():
                    future.set_exception(result)
                continue
            ok += 1
            stored += result.stored
            duplicates += result.duplicates
            if not future.done():  # done: the request gave up (timeout or client went away)
                future.set_result(result)
        if ok:
            metrics.record_ingest(stored, duplicates, ok)

    def _watch(self) -> None:
        """Fail the requests that have waited longer than ``ack_timeout``, watch the committer
        and probe a failing storage; re-arms itself."""
        assert self._loop is not None
        deadline = self._loop.time() - self._ack_timeout
        for group in (*self._committing, self._pending):
            for _, future, submitted in group:
                if submitted > deadline:
                    break  # each group is oldest first
                if not future.done() and future is not self._probe:
                    future.set_exception(TimeoutError())
        if not self._committer.alive and not self._stopping and self.health.healthy:
            self.health.failed("the commit process is not running", batches=0)
        self._maybe_probe()
        # Checked often enough that a request gives up at most 0.25 s (or an eighth) late.
        self._watchdog = self._loop.call_later(min(0.25, self._ack_timeout / 8), self._watch)

    def _maybe_probe(self) -> None:
        """While the storage is unhealthy and no delivery is testing it, send a probe (one a
        second): a heartbeat written through the same committer and transaction path, so that
        health recovers once the fault is cleared even without traffic."""
        assert self._loop is not None
        now = time.monotonic()  # the health's clock
        if (self.health.healthy or self._stopping or self._probe is not None or self._outstanding
                or now - max(self._probed_at, self.health.last_failure) < PROBE_SECONDS):
            return
        self._probed_at = now
        self._probe = self._loop.create_future()
        self._outstanding += 1
        self._pending.append((PROBE, self._probe, self._loop.time()))
        self._hand_over()
