"""Group commit: many concurrent webhook deliveries, one transaction, one fsync.

Each request validates its delivery, then :meth:`GroupCommitWriter.submit` queues it with a
future and the request awaits that future. A single writer task takes everything queued (up to
``batch_max``), commits it in one transaction on the storage's writer thread, and resolves every
future. While one batch commits, the next one accumulates, so the fsync cost is shared by all
requests that arrived meanwhile and a 200 still means "committed".

The queue is bounded: when ``queue_max`` deliveries are already waiting, :meth:`submit` raises
:class:`Saturated` at once and the route answers 429 with ``Retry-After`` rather than letting the
request time out (X drops webhooks that do not answer within 10 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from desk.metrics import Metrics
from desk.schema import Delivery
from desk.storage_base import Brand, IngestResult, Storage


class Saturated(RuntimeError):
    """The write queue is full; retry after a moment."""


class Stopped(RuntimeError):
    """The writer is shutting down and takes no new deliveries."""


@dataclass
class _Pending:
    delivery: Delivery
    future: asyncio.Future[IngestResult]


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
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue(maxsize=queue_max)
        self._batch_max = batch_max
        self._write_delay = write_delay
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def depth(self) -> int:
        """Deliveries queued and not yet picked up by a commit."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the writer task on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="desk-group-commit")

    def submit(self, delivery: Delivery) -> asyncio.Future[IngestResult]:
        """Queue a delivery; the returned future resolves once it is committed.

        Raises :class:`Saturated` when the queue is full and :class:`Stopped` during shutdown.
        """
        if self._stopping or self._task is None or self._task.done():
            raise Stopped("the desk is shutting down")
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(delivery, future))
        except asyncio.QueueFull:
            raise Saturated("write queue full") from None
        return future

    async def stop(self) -> None:
        """Stop taking deliveries, commit everything already queued, then end the task."""
        self._stopping = True
        if self._task is None:
            return
        await self._queue.put(None)  # FIFO: everything queued before this gets committed first
        await self._task

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stop_after = False
            while len(batch) < self._batch_max:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if item is None:
                    stop_after = True
                    break
                batch.append(item)
            await self._commit(batch)
            if stop_after:
                return

    async def _commit(self, batch: list[_Pending]) -> None:
        if self._write_delay:
            await asyncio.sleep(self._write_delay)
        started = time.perf_counter()
        try:
            results = await self._storage.write(
                self._storage.ingest,
                [p.delivery for p in batch],
                self._brand,
                self._influencer_followers,
                self._clock(),
            )
        except Exception as exc:  # noqa: BLE001 - every waiting request must hear about it
            results = [exc] * len(batch)
        self._metrics.observe_commit(len(batch), time.perf_counter() - started)
        for pending, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                self._metrics.inc("chirpdesk_commit_errors_total")
            else:
                self._metrics.record_ingest(result.stored, result.duplicates)
            if pending.future.done():  # the request gave up (timeout or client went away)
                continue
            if isinstance(result, BaseException):
                pending.future.set_exception(result)
            else:
                pending.future.set_result(result)
