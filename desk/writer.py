"""Group commit: many concurrent webhook deliveries, one transaction, one fsync.

Each request validates its delivery, then :meth:`GroupCommitWriter.submit` queues it with a
future and the request awaits that future. A dedicated writer thread takes everything queued (up
to ``batch_max``), commits it in one transaction on its own connection, and hands the results
back to the event loop with a single ``call_soon_threadsafe`` per batch, which resolves every
future. The thread starts the next commit as soon as the previous one is durable — it never
waits for the event loop to pick up the results — so the fsync cost is shared by all requests
that arrived meanwhile and a 200 still means "committed".

The queue is bounded: when ``queue_max`` deliveries are already waiting for (or inside) a commit,
:meth:`submit` raises :class:`Saturated` at once and the route answers 429 with ``Retry-After``
rather than letting the request time out (X drops webhooks that do not answer within 10 s).
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


#: A queued delivery and the future its request awaits.
_Pending = tuple[Delivery, "asyncio.Future[IngestResult]"]


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
    ) -> None:
        self._storage = storage
        self._brand = brand
        self._influencer_followers = influencer_followers
        self._metrics = metrics
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._queue_max = queue_max
        self._batch_max = batch_max
        self._write_delay = write_delay
        self._clock = clock
        #: Deliveries submitted and not yet resolved (only touched on the event loop thread).
        self._outstanding = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
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

    def submit(self, delivery: Delivery) -> asyncio.Future[IngestResult]:
        """Queue a delivery; the returned future resolves once it is committed.

        Raises :class:`Saturated` when the queue is full and :class:`Stopped` during shutdown.
        Must be called on the event loop thread.
        """
        if self._stopping or self._loop is None or self._stopped is None or self._stopped.done():
            raise Stopped("the desk is shutting down")
        if self._outstanding >= self._queue_max:
            raise Saturated("write queue full")
        future: asyncio.Future[IngestResult] = self._loop.create_future()
        self._outstanding += 1
        self._queue.put((delivery, future))
        return future

    async def stop(self) -> None:
        """Stop taking deliveries, commit everything already queued, then end the thread."""
        self._stopping = True
        if self._thread is None or self._stopped is None:
            return
        self._queue.put(None)  # FIFO: everything queued before this gets committed first
        await self._stopped

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop_after = False
                while len(batch) < self._batch_max:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop_after = True
                        break
                    batch.append(item)
                self._commit(batch)
                if stop_after:
                    return
        finally:
            self._post(self._finish)

    def _commit(self, batch: list[_Pending]) -> None:
        if self._write_delay:
            time.sleep(self._write_delay)
        started = time.perf_counter()
        results: list[IngestResult | BaseException]
        try:
            results = self._storage.write_sync(
                self._storage.ingest,
                [delivery for delivery, _ in batch],
                self._brand,
                self._influencer_followers,
                self._clock(),
            )
        except Exception as exc:  # noqa: BLE001 - every waiting request must hear about it
            results = [exc] * len(batch)
        self._post(self._resolve, batch, results, time.perf_counter() - started)

    def _post(self, fn: Callable[..., None], *args: object) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody is waiting
            self._loop.call_soon_threadsafe(fn, *args)

    # -- back on the event loop ----------------------------------------------------------------

    def _resolve(
        self, batch: list[_Pending], results: list[IngestResult | BaseException], seconds: float
    ) -> None:
        metrics = self._metrics
        metrics.observe_commit(len(batch), seconds)
        self._outstanding -= len(batch)
        stored = duplicates = ok = 0
        for (_, future), result in zip(batch, results, strict=True):
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

    def _finish(self) -> None:
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)
