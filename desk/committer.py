"""The commit process: webhook writes in their own process, beside the one serving HTTP.

With the SQL in a thread of the HTTP process, every statement and every commit runs under the
GIL that also parses HTTP, verifies signatures and answers requests: the two serialise, and
each hand-over of the GIL costs a context switch. A :class:`CommitProcess` moves
:meth:`chirpdesk.desk.storage_base.Storage.ingest` into a child process (``python -m chirpdesk.desk.committer``),
as a database server would, together with parsing and validation (:mod:`chirpdesk.desk.ingest`): the
event loop writes each batch of signed raw bodies to a socket pair and reads the child's
answer, one result per delivery, when it arrives (an asyncio transport, so no thread of the HTTP
process waits or wakes for it). The child commits every batch that arrived while it was busy in
one transaction, and answers each batch in order.
The child opens its own connection to the same database, so transactions, idempotency and
durability are exactly those of the in-process writer; a 200 still means "committed".

Lifetime: the child ignores SIGINT and SIGTERM (the desk's graceful shutdown drains the queue
through it, then closes the socket) and exits when the socket reaches end-of-file: when the desk
closes it, and also when the desk is killed outright (``kill -9``), after finishing the batch in
hand. If the child dies, the batches it held fail (their requests get 503 and X redelivers,
idempotently) and the next batch starts a new child (at most one start per second).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from chirpdesk.desk.config import ENV_VARS, DeskConfig, config_from_env, config_to_env
from chirpdesk.desk.ingest import (
    Results,
    Transaction,
    commit_batches,
    decode_results,
    encode_results,
)
from chirpdesk.desk.storage_base import Brand

if TYPE_CHECKING:
    from chirpdesk.desk.writer import Done

log = logging.getLogger("desk")

#: Frame header: payload length in bytes.
_HEADER = struct.Struct("!Q")
#: A batch frame starts with when it was received (epoch s) and how many bodies follow, each
#: after its length.
_BATCH = struct.Struct("!dI")
_BODY = struct.Struct("!I")
#: The child's first frame once its database connection is open.
_READY = b"ready"
#: Seconds :meth:`CommitProcess.close` waits for the child to finish before killing it (part of
#: the desk's shutdown bound, :data:`chirpdesk.desk.server.SHUTDOWN_SECONDS`).
CLOSE_TIMEOUT = 5.0
#: Least seconds between two starts of a child (a child that dies at once is not restarted in a
#: tight loop).
RESPAWN_SECONDS = 1.0


class CommitProcessLost(RuntimeError):
    """The commit process exited (or never started) before answering a batch."""


def _frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


def _take_frames(buffer: bytearray) -> list[bytes]:
    """Remove every complete frame from the front of ``buffer``; return their payloads."""
    frames, start = [], 0
    while len(buffer) - start >= _HEADER.size:
        (size,) = _HEADER.unpack_from(buffer, start)
        end = start + _HEADER.size + size
        if len(buffer) < end:
            break
        frames.append(bytes(buffer[start + _HEADER.size:end]))
        start = end
    del buffer[:start]
    return frames


class _FrameReader:
    """The child's end of the socket: reads length-prefixed frames."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def read(self) -> list[bytes] | None:
        """Wait for at least one complete frame, then return every complete frame received so far
        (batches the desk sent while the last commit ran); ``None`` at end-of-file."""
        frames = _take_frames(self._buffer)
        while not frames:
            data = self._sock.recv(1 << 20)
            if not data:
                if self._buffer:
                    raise EOFError("the commit socket closed in the middle of a frame")
                return None
            self._buffer += data
            frames = _take_frames(self._buffer)
        while True:  # and whatever else is already there, without waiting
            try:
                data = self._sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if not data:
                break  # end-of-file: the next read() reports it
            self._buffer += data
        frames += _take_frames(self._buffer)
        return frames


class CommitProcess:
    """Commits batches in a child process (``python -m chirpdesk.desk.committer``); see the module doc.

    The event loop writes each batch to the child's socket and reads the answer itself (an
    asyncio transport): no thread of this process touches the database. The database's schema
    must already exist (the desk creates it at start-up).
    """

    def __init__(self, config: DeskConfig, ready_timeout: float = 60.0) -> None:
        self._config = config
        self._ready_timeout = ready_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: Done | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: _Channel | None = None
        #: Sizes of the batches handed over and not answered, oldest first (sent, or waiting in
        #: the outbox): if the child dies, each of their deliveries gets an error.
        self._in_flight: deque[int] = deque()
        #: Frames waiting for a child being started, oldest first.
        self._outbox: list[bytes] = []
        self._spawning: asyncio.Task[None] | None = None
        self._spawned_at = -math.inf
        self._reaping: set[asyncio.Future[Any]] = set()
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The child's process id, ``None`` when none is running."""
        return self._proc.pid if self._proc is not None and self._channel is not None else None

    @property
    def alive(self) -> bool:
        """A child is connected (or being started for batches that are waiting)."""
        return not self._closed and (self._channel is not None or self._spawning is not None)

    async def start(self, loop: asyncio.AbstractEventLoop, done: Done) -> None:
        """Start the child and wait until its database connection is open."""
        self._loop, self._done = loop, done
        try:
            channel = await self._spawn()
            await asyncio.wait_for(asyncio.shield(channel.ready), self._ready_timeout)
        except Exception as exc:
            await self.close()
            raise CommitProcessLost(f"the commit process did not start: {exc or type(exc).__name__}") from exc

    def commit(self, bodies: list[bytes], now: float) -> None:
        """Send a batch of delivery bodies to the child (starting one if the last one died)."""
        loop = self._loop
        assert loop is not None
        if self._closed:
            refused: Results = [CommitProcessLost("the desk is shutting down")] * len(bodies)
            loop.call_soon(self._answer, refused)
            return
        self._in_flight.append(len(bodies))
        frame = _frame(encode_batch(bodies, now))
        if self._channel is not None and self._spawning is None:
            self._channel.write(frame)
            return
        # Behind the frames already waiting, so the child answers in the order we expect.
        self._outbox.append(frame)
        if self._spawning is None:
            self._spawning = loop.create_task(self._respawn())

    async def close(self) -> None:
        """End-of-file for the child, then wait for it to exit (killed after a while); whatever
        is still unanswered fails."""
        self._closed = True
        if self._spawning is not None:
            self._spawning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._spawning
        self._outbox.clear()
        channel, proc = self._channel, self._proc
        if channel is not None:
            channel.write_eof()  # after the frames already buffered
        if proc is not None and self._loop is not None:
            await self._reap(proc)
        if channel is not None:
            channel.close()
        self._channel = None
        self._fail(CommitProcessLost("the commit process was closed"))
        if self._reaping:
            await asyncio.gather(*self._reaping, return_exceptions=True)

    # -- inside -------------------------------------------------------------------------------

    async def _spawn(self) -> _Channel:
        """Start a child and connect to it; it becomes the current channel."""
        loop = self._loop
        assert loop is not None
        # A child that dies at once (a broken database, say) is not restarted in a tight loop.
        await asyncio.sleep(max(0.0, self._spawned_at + RESPAWN_SECONDS - time.monotonic()))
        self._spawned_at = time.monotonic()
        parent, child = socket.socketpair()
        try:
            env = _child_environment(self._config, child.fileno())
            proc = self._proc = subprocess.Popen(
                [sys.executable, "-m", "chirpdesk.desk.committer"], env=env, stdin=subprocess.DEVNULL,
                pass_fds=(child.fileno(),),
            )
            child.close()
            channel = _Channel(self, proc, loop)
            await loop.connect_accepted_socket(lambda: channel, sock=parent)
        except BaseException:
            child.close()
            parent.close()  # end-of-file for a child already started: it exits
            raise
        self._channel = channel
        if channel.lost:  # it died before we were connected
            self._lost(channel, proc)
        return channel

    async def _respawn(self) -> None:
        """Start a child for the frames in the outbox, then send them, oldest first."""
        try:
            while self._outbox and not self._closed:
                try:
                    channel = await self._spawn()
                except Exception as exc:  # noqa: BLE001 - reported to every waiting request
                    log.error("could not start a commit process: %r", exc)
                    self._outbox.clear()
                    self._fail(CommitProcessLost(f"could not start a commit process: {exc}"))
                    continue  # new batches may have come in meanwhile: they get the next try
                if self._channel is channel:
                    frames, self._outbox = self._outbox, []
                    for frame in frames:
                        channel.write(frame)
        finally:
            self._spawning = None

    def _answered(self, results: Results, transaction: Transaction | None) -> None:
        if not self._in_flight:
            raise ValueError("an answer for no batch")
        self._in_flight.popleft()
        self._answer(results, transaction)

    def _answer(self, results: Results, transaction: Transaction | None = None) -> None:
        assert self._done is not None
        self._done(results, transaction)

    def _lost(self, channel: _Channel, proc: subprocess.Popen[bytes]) -> None:
        """The child's socket closed: the child exited, or is about to."""
        if channel is not self._channel:
            return
        self._channel = None
        self._reaping.add(fut := asyncio.ensure_future(self._reap(proc)))
        fut.add_done_callback(self._reaping.discard)
        self._outbox.clear()  # their batches are failed just below
        if self._in_flight:
            log.error("the commit process (pid %d) exited with %d deliveries in hand", proc.pid,
                      sum(self._in_flight))
            self._fail(CommitProcessLost(f"the commit process (pid {proc.pid}) exited before answering"))

    def _fail(self, error: BaseException) -> None:
        """Answer every batch handed over so far with ``error``, oldest first. Batches handed
        over by the answers themselves (the writer's next flush) are not touched."""
        failed, self._in_flight = self._in_flight, deque()
        for count in failed:
            self._answer([error] * count)

    async def _reap(self, proc: subprocess.Popen[bytes]) -> None:
        assert self._loop is not None
        try:
            await self._loop.run_in_executor(None, proc.wait, CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.error("the commit process (pid %d) did not exit; killing it", proc.pid)
            proc.kill()
            await self._loop.run_in_executor(None, proc.wait)


def _child_environment(config: DeskConfig, fd: int) -> dict[str, str]:
    """The child's environment: exactly ``config`` (no stale ``CHIRPDESK_*`` from ours), minus
    the secrets it has no use for. The child runs this interpreter (``sys.executable``), so it
    imports the same installed ``chirpdesk`` package."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS.values()}
    env.update(config_to_env(replace(config, secret="", agents={}, admin_token=None)))
    env["CHIRPDESK_COMMIT_FD"] = str(fd)
    return env


class _Channel(asyncio.Protocol):
    """The event loop's end of one child's socket: frames out, answers in."""

    def __init__(self, owner: CommitProcess, proc: subprocess.Popen[bytes],
                 loop: asyncio.AbstractEventLoop) -> None:
        self._owner = owner
        self._proc = proc
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        #: Resolved by the child's first frame (its database connection is open).
        self.ready: asyncio.Future[None] = loop.create_future()
        #: The socket has closed.
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for payload in _take_frames(self._buffer):
            if not self.ready.done():
                self.ready.set_result(None)  # the first frame says "connected"
                continue
            try:
                self._owner._answered(*decode_results(payload))
            except Exception:
                # Nothing after this frame can be trusted to match its batch: drop the child,
                # which fails what it still holds (503s; X redelivers) and starts a new one.
                log.exception("a malformed answer from the commit process (pid %d)", self._proc.pid)
                if self._transport is not None:
                    self._transport.abort()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.ready.done():
            self.ready.set_exception(CommitProcessLost(f"exited with code {self._proc.poll()}"))
            self.ready.exception()  # retrieved: start() reports it, or nobody was waiting
        self._owner._lost(self, self._proc)

    def write(self, frame: bytes) -> None:
        assert self._transport is not None
        self._transport.write(frame)

    def write_eof(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write_eof()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


# -- the child -----------------------------------------------------------------------------------

def encode_batch(bodies: list[bytes], now: float) -> bytes:
    """A batch frame's payload: ``now``, the count, then each body after its length."""
    parts = [_BATCH.pack(now, len(bodies))]
    for body in bodies:
        parts.append(_BODY.pack(len(body)))
        parts.append(body)
    return b"".join(parts)


def decode_batch(payload: bytes) -> tuple[list[memoryview], float]:
    """The inverse of :func:`encode_batch` (bodies as views into ``payload``, not copies)."""
    now, count = _BATCH.unpack_from(payload)
    view = memoryview(payload)
    bodies, at = [], _BATCH.size
    for _ in range(count):
        (size,) = _BODY.unpack_from(payload, at)
        at += _BODY.size
        bodies.append(view[at:at + size])
        at += size
    if at != len(payload):
        raise ValueError(f"batch frame of {len(payload)} bytes holds {at}")
    return bodies, now


def serve_batches(sock: socket.socket, config: DeskConfig) -> None:
    """The child's loop until end-of-file: commit every batch that has arrived, in one
    transaction, and answer each batch in order. Blocks."""
    from chirpdesk.desk.storage import open_storage

    storage = open_storage(config)
    brand = Brand(config.brand_user_id, config.brand_screen_name)
    followers = config.influencer_followers
    reader = _FrameReader(sock)
    try:
        storage.write_sync(lambda conn: None)  # connect now, before the first batch is waiting
        sock.sendall(_frame(_READY))
        while (frames := reader.read()) is not None:
            batches = [decode_batch(frame) for frame in frames]
            for answers in commit_batches(storage, batches, brand, followers, config.batch_max,
                                          config.write_delay):
                sock.sendall(b"".join(_frame(encode_results(*answer)) for answer in answers))
    finally:
        storage.close()


def main(environ: dict[str, Any] | None = None) -> int:
    """Entry point of ``python -m chirpdesk.desk.committer`` (started by :class:`CommitProcess`)."""
    env = os.environ if environ is None else environ
    # The desk drains its queue through us on shutdown and then closes the socket: a Ctrl-C or
    # SIGTERM sent to the whole process group must not cut that short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=int(env["CHIRPDESK_COMMIT_FD"]))
    try:
        serve_batches(sock, config_from_env(env))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the desk went away while we answered: nobody is waiting for this batch
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
