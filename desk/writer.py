"""Group commit: many concurrent webhook deliveries, one transaction, one fsync.

Each request validates its delivery, then :meth:`GroupCommitWriter.submit` adds it, with a
future, to a pending list on the event loop, and the request awaits that future. Batches are
formed on the event loop, not per request: when the writer thread is idle, a flush is scheduled
for the end of the current loop iteration, so every request that arrived in that iteration goes
in one batch; while a commit is running, new deliveries pile up and become the next batch the
moment the results come back. A dedicated writer thread commits each batch in one transaction on
its own connection and hands the results back with a single ``call_soon_threadsafe``, which
resolves every future and hands over the next batch. So there are two thread hand-offs per
*batch*, never per request (on a busy core each one costs a context switch and a GIL
hand-over, more than the desk's own work for a 1-tweet delivery), the fsync is shared by all
requests that arrived meanwhile, and a 200 still means "committed".

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
from collections.abc import Callable

from desk.metrics import Metrics
from desk.schema import Delivery
from desk.storage_base import Brand, IngestResult, Storage

log = logging.getLogger("desk")


class Saturated(RuntimeError):
    """The write queue is full; retry after a moment."""


class Stopped(RuntimeError):
    """The writer is shutting down and takes no new deliveries."""


#: A queued delivery, the future its request awaits and when it was submitted (loop time, s).
_Pending = tuple[Delivery, "asyncio.Future[IngestResult]", float]
#: What the writer thread takes: a batch to commit, or ``None`` to stop.
_Batch = list[_Pending]


class GroupCommitWriter:
    """Collects deliveries from concurrent requests and commits them in batches."""

    def __init__(
        self,
        storage: Storage,
        brand: Brand,
        influencer_followers: int,
        metrics: Metrics,
        queue_max: int = 2000,
        batch_max: int = 512,
        write_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
        ack_timeout: float = 8.0,
    ) -> None:
        self._storage = storage
        self._brand = brand
        self._influencer_followers = influencer_followers
        self._metrics = metrics
        #: Batches handed to the writer thread (at most one at a time, plus the stop mark).
        self._queue: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._queue_max = queue_max
        self._batch_max = batch_max
        self._write_delay = write_delay
        self._clock = clock
        self._ack_timeout = ack_timeout
        # The rest is only touched on the event loop thread.
        #: Deliveries waiting for the next batch, oldest first.
        self._pending: _Batch = []
        #: The batch inside the writer thread (``None`` when it is idle).
        self._committing: _Batch | None = None
        self._flush_scheduled = False
        #: Deliveries submitted and not yet resolved.
        self._outstanding = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._stopping = False

    @property
    def depth(self) -> int:
        """Deliveries waiting for a commit or inside the one running (not yet acknowledged)."""
        return self._outstanding

    def start(self) -> None:
        """Start the writer thread; results come back to the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._stopped = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name="desk-group-commit", daemon=True)
        self._thread.start()
        self._watch()

    def submit(self, delivery: Delivery) -> asyncio.Future[IngestResult]:
        """Queue a delivery; the returned future resolves once it is committed.

        Raises :class:`Saturated` when the queue is full and :class:`Stopped` during shutdown.
        The future fails with :class:`TimeoutError` if the commit takes longer than
        ``ack_timeout`` (the delivery may still be committed later). Must be called on the
        event loop thread.
        """
        loop = self._loop
        if self._stopping or loop is None or self._stopped is None or self._stopped.done():
            raise Stopped("the desk is shutting down")
        if self._outstanding >= self._queue_max:
            raise Saturated("write queue full")
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._outstanding += 1
        self._pending.append((delivery, future, loop.time()))
        if self._committing is None and not self._flush_scheduled:
            # Flush after the other requests that are ready in this loop iteration have
            # submitted theirs, so that they share the batch.
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    async def stop(self) -> None:
        """Stop taking deliveries, commit everything already queued, then end the thread."""
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._thread is None or self._stopped is None:
            return
        self._stop_when_idle()
        await self._stopped

    # -- on the event loop ---------------------------------------------------------------------

    def _flush(self) -> None:
        """Hand the pending deliveries (up to ``batch_max``) to the writer thread if it is idle."""
        self._flush_scheduled = False
        if self._committing is not None or not self._pending:
            return
        batch = self._pending[: self._batch_max]
        del self._pending[: self._batch_max]
        self._committing = batch
        self._queue.put(batch)

    def _stop_when_idle(self) -> None:
        # Everything pending is committed first: the stop mark goes in once nothing is left.
        if self._committing is not None or self._pending:
            self._flush()
        else:
            self._queue.put(None)

    def _resolve(
        self, batch: _Batch, results: list[IngestResult | BaseException], seconds: float
    ) -> None:
        self._committing = None
        if self._pending:
            self._flush()  # the next commit starts now, before this batch's requests resume
        elif self._stopping:
            self._stop_when_idle()
        metrics = self._metrics
        metrics.observe_commit(len(batch), seconds)
        self._outstanding -= len(batch)
        stored = duplicates = ok = 0
        for (_, future, _), result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
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
        """Fail the requests that have waited longer than ``ack_timeout``; re-arms itself."""
        assert self._loop is not None
        deadline = self._loop.time() - self._ack_timeout
        for group in (self._committing or [], self._pending):
            for _, future, submitted in group:
                if submitted > deadline:
                    break  # each group is oldest first
                if not future.done():
                    future.set_exception(TimeoutError())
        # Checked often enough that a request gives up at most 0.25 s (or an eighth) late.
        self._watchdog = self._loop.call_later(min(0.25, self._ack_timeout / 8), self._watch)

    def _finish(self) -> None:
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while (batch := self._queue.get()) is not None:
                self._commit(batch)
        finally:
            self._post(self._finish)

    def _commit(self, batch: _Batch) -> None:
        if self._write_delay:
            time.sleep(self._write_delay)
        started = time.perf_counter()
        results: list[IngestResult | BaseException]
        try:
            results = self._storage.write_sync(
                self._storage.ingest,
                [delivery for delivery, _, _ in batch],
                self._brand,
                self._influencer_followers,
                self._clock(),
            )
        except BaseException as exc:  # noqa: BLE001 - every waiting request must hear about it,
            results = [exc] * len(batch)  # and the thread must live on for the next batch
        self._post(self._resolve, batch, results, time.perf_counter() - started)

    def _post(self, fn: Callable[..., None], *args: object) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody is waiting
            self._loop.call_soon_threadsafe(fn, *args)
