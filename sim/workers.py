"""Numbered tasks shared between this process and worker processes, results yielded in order.

Used for replications (:func:`chirpdesk.sim.run.iter_replications`). Every process, this one included,
takes the next task number from a shared counter the moment it is free, so no process waits for
another to hand it work, and this one needs no helper thread competing for its GIL (with a
``ProcessPoolExecutor`` the pool's thread here had to take the GIL from our own replication to
pass each result on and submit the next task: 15-20 ms lost per task).

Each worker talks to this process over its own pipe, through its own sender thread, so a result
larger than the pipe's buffer waits there while the worker goes on with its next task. Because
only that worker holds its pipe's write end, a worker that dies (killed, out of memory) shows up
here as end-of-file on its pipe at once, even in the middle of a message, and is reported with
the task it was running instead of leaving this process waiting.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")

#: Seconds a stopped worker gets to exit before it is killed.
GRACE_SECONDS = 5.0
#: Pipe buffer asked for (Linux's default limit for unprivileged processes).
PIPE_BYTES = 1 << 20


class WorkerLost(RuntimeError):
    """A worker process exited (killed, out of memory...) without returning a task it had taken."""


def _widen(conn: Connection) -> None:
    """Give a pipe a buffer of up to 1 MiB where the OS allows (Linux), so that a worker's result
    usually fits at once and its sender thread does not wait, and wake, a chunk at a time while
    this process is busy with its own task (each wake takes the GIL from the worker's task)."""
    size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if size is None:
        return
    with contextlib.suppress(OSError):  # above the system's limit: keep the default
        fcntl.fcntl(conn.fileno(), size, PIPE_BYTES)


def _claim(counter: Any, count: int) -> int | None:
    """Take the next unclaimed task number from the shared ``counter``; None when all are taken."""
    with counter.get_lock():
        i = int(counter.value)
        if i >= count:
            return None
        counter.value = i + 1
        return i


def _portable(exc: BaseException) -> BaseException:
    """``exc`` when it is an Exception (or KeyboardInterrupt) that survives pickling both ways;
    otherwise a RuntimeError naming it (a worker's ``SystemExit`` must not end the caller)."""
    if isinstance(exc, Exception | KeyboardInterrupt):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # noqa: BLE001 - any failure to round-trip means "send a stand-in"
            pass
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def _worker(task: Callable[[int], Any], count: int, counter: Any, conn: Connection) -> None:
    """A worker process: run tasks claimed from ``counter`` until none is left, reporting
    ``("start", i)``, ``("result", i, value)`` or ``("error", i, (exception, traceback))``, then
    ``("done",)``."""
    # A SIGTERM handler inherited from the caller's program must not keep it alive when stopped.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def send_all() -> None:
        while (data := outbox.get()) is not None:
            conn.send_bytes(data)

    sender = threading.Thread(target=send_all, name="chirpdesk-worker-sender", daemon=True)
    sender.start()
    try:
        while (i := _claim(counter, count)) is not None:
            outbox.put(pickle.dumps(("start", i)))
            try:
                message = pickle.dumps(("result", i, task(i)))  # an unpicklable result fails here too
            except BaseException as exc:  # noqa: BLE001 - reported to the caller, which re-raises it
                detail = "".join(traceback.format_exception(exc))
                outbox.put(pickle.dumps(("error", i, (_portable(exc), detail))))
                return
            outbox.put(message)
        outbox.put(pickle.dumps(("done",)))
    finally:
        outbox.put(None)
        sender.join()
        conn.close()


def run_numbered(mine: Callable[[int], T], theirs: Callable[[int], T], count: int, jobs: int,
                 label: str = "task") -> Iterator[T]:
    """Yield the results of tasks ``0 .. count-1`` in order, computed by ``jobs`` processes.

    This process runs ``mine(i)``, starting with task 0; ``jobs - 1`` worker processes run
    ``theirs(i)`` (picklable, for the spawn and forkserver start methods). A worker's exception
    is re-raised here as itself, with the worker's traceback as a note; a worker that dies
    raises :class:`WorkerLost`. Stopping early (``close()``, an error) stops the workers.
    """
    if jobs <= 1 or count <= 1:
        for i in range(count):
            yield mine(i)
        return
    ctx = mp.get_context()
    counter = ctx.Value("q", 0)
    first = _claim(counter, count)  # task 0, here, before any worker can take it
    workers: list[BaseProcess] = []
    pipes: dict[Connection, BaseProcess] = {}
    running: dict[BaseProcess, int | None] = {}
    finished: set[BaseProcess] = set()
    results: dict[int, T] = {}

    def receive(timeout: float | None) -> bool:
        # Handle one message from each worker that has one (waiting up to ``timeout`` s for the
        # first); False when none came.
        ready = cast("list[Connection]", wait(list(pipes), timeout))
        for conn in ready:
            worker = pipes[conn]
            try:
                message = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError):  # it exited: after "done", or lost (mid-message: OSError)
                del pipes[conn]
                conn.close()
                if worker in finished:
                    continue
                # Only "done" (or an error, raised above) ends a worker normally: anything else
                # is a crash, even if the task it had just claimed was not announced yet.
                worker.join(GRACE_SECONDS)
                held = running.get(worker)
                raise WorkerLost(
                    f"a worker process (pid {worker.pid}) exited with code {worker.exitcode} "
                    + (f"while running {label} {held}; its result is lost" if held is not None
                       else f"between two {label}s")) from None
            kind = message[0]
            if kind == "start":
                running[worker] = message[1]
            elif kind == "result":
                results[message[1]] = message[2]
                running[worker] = None
            elif kind == "error":
                exc, detail = message[2]
                exc.add_note(f"(in {label} {message[1]}, worker process {worker.pid}):\n{detail.rstrip()}")
                raise exc
            else:
                finished.add(worker)
        return bool(ready)

    try:
        for n in range(min(jobs, count) - 1):
            reader, writer = ctx.Pipe(duplex=False)
            _widen(writer)
            proc = ctx.Process(target=_worker, args=(theirs, count, counter, writer), daemon=True,
                               name=f"chirpdesk-worker-{n + 1}")
            proc.start()
            writer.close()  # the worker's copy is the only one: its exit is end-of-file here
            workers.append(proc)
            pipes[reader] = proc
        done = 0
        task = first
        while task is not None:
            results[task] = mine(task)
            while pipes and receive(0):  # what the workers finished meanwhile, without waiting
                pass
            while done in results:  # yield what is finished, in order, as it comes
                yield results.pop(done)
                done += 1
            task = _claim(counter, count)
        while done < count:
            while done not in results:
                if not pipes:
                    raise WorkerLost(f"{label} {done} was taken by a worker process that exited "
                                     f"(codes {[w.exitcode for w in workers]}) without returning it")
                receive(None)
            yield results.pop(done)
            done += 1
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        for worker in workers:
            worker.join(GRACE_SECONDS)
            if worker.is_alive():
                worker.kill()
                worker.join()
        for conn in pipes:
            conn.close()
