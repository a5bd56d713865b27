"""Desk overload benchmark: open-loop webhook traffic at 1x, 2x and 3x the desk's measured capacity.

Run: ``python -m benchmarks overload [--seconds 5] [--levels 1,2,3] [--pool 512]
[--max-client-connections 512] [--repeat 3] [--no-pin]`` (about 70 s per repeat, four minutes
with the defaults; every phase is bounded in time and request count, 127.0.0.1 only).

Open loop: every request is scheduled when it "happens" (as X sends a delivery when the tweet
is written) and written on an idle keep-alive connection of a pool opened beforehand
(``--pool``); when all are busy a new connection is opened, up to ``--max-client-connections``,
and beyond that the request waits in the generator, its wait counted. With the pool only (the
default) the desk sees at most ``--pool`` requests at once; with more connections allowed,
what the desk cannot take shows up at the desk as open connections and a late event loop. Its
admission control (:mod:`chirpdesk.desk.connections`: deliveries in flight, the CPU-driven
admission cap, event-loop lag, the connection cap, and the write queue's 429) must answer it
either way. docs/desk.md has the figures.

First the desk's capacity is measured in the same run: the closed-loop 1-tweet rate at 64
connections (the median of ``--rounds``), as in :mod:`benchmarks.bench_desk`. Then each level
offers ``level x capacity`` deliveries/s for ``--seconds``, and reports, with latency counted
from each request's scheduled send time:

- goodput (200s/s, until the last answer) as a share of capacity (target at 2x: >= 0.90, goodput does not collapse);
- p99 of the answered requests (target < 1 s) and how many waited over 3 s (target 0);
- requests without an answer when the phase ended, plus a 10 s grace (target 0), requests whose
  connection closed under them other than in the keep-alive race below (``dropped``, target 0),
  and 429/503 answers (every one must carry ``Retry-After``; counted separately if not).

The desk closes keep-alive connections idle for ``idle_timeout`` (5 s), and a request written
just as it does meets a closed connection with nothing of an answer: the keep-alive race of
RFC 9112, 9.3.1. The generator sends such a request again, once, on another connection, as a
webhook sender does (``retried``; its latency counts from its first scheduled time), but only
when the connection had been idle for at least the idle timeout less :data:`RACE_MARGIN` when
it was written and nothing of an answer came back. Any other close under a request is a drop.

``--repeat N`` measures capacity and runs the levels N times on the same desk: on a shared
machine capacity itself moves by 8-29% between the rounds of one repeat, and by up to 47%
between repeats, so the 2x target is judged on the median of the repeats' ratios (each
printed); the other targets hold in every level of every repeat.

Per level, ``cpu`` is the share of one CPU the desk's HTTP process used while the level ran:
near 1 (or the admission cap's 0.93), the core is what limits the 200s; well below, something
else does. ``commit`` is the same for the commit process, and the 429s are split by the reason
the desk counted (``/metrics``): ``in_flight`` (``max_in_flight`` full: commits are what the
served deliveries wait for), ``cpu`` (the admission cap) or ``lag``. Last, what an answer costs
the HTTP process (user + system CPU, closed loop at 64 connections): a served delivery ``v`` on
the same desk, a shed one ``s`` on a second desk that sheds nearly everything
(``CHIRPDESK_MAX_IN_FLIGHT=1``). Answering ``k`` times capacity leaves about
``(1 - k*s/v) / (1 - s/v)`` of it for 200s when the HTTP process is what runs out (``cpu``
near 1). Since deliveries read whole skip uvicorn's request cycle it usually is not: with
``cpu`` well below 1 and every 429 ``in_flight``, the commit process's share of the machine is
what bounds the 200s, and that figure does not apply (docs/desk.md, "Deliveries read whole").
``load`` is the load generator's own share of a CPU: on a 2-core machine, what it and the HTTP
process's refusals take at 2x is taken from the commit process. ``idle`` is the share of the
whole machine no process used (``/proc/stat``), and ``eff`` the commit efficiency: deliveries
committed per CPU-second of the commit process, against the capacity loop's (whose commit
share and idle share the capacity line prints). With ``eff`` at or above 1 and goodput below
it, the desk did not commit less for each second of CPU under overload: it was given fewer
seconds, and ``idle`` tells whether the machine had them to give.

The desk runs pinned to CPU 0 and the load generator to CPU 1 (the desk's commit process may
use either), so the two do not fight over one core; on this 2-core machine the load generator
itself tops out somewhere above 30k requests/s, which bounds the 3x level (the achieved
offered rate is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.bench_desk import (
    CLIENT_CPU,
    MAX_REQUESTS,
    SERVER_CPU,
    _children,
    _cpu_seconds,
    _free_port,
    _measure,
    _Payloads,
    _pin,
    _start,
    _stop,
)
from chirpdesk.desk.config import config_from_env

#: Seconds after a phase's last scheduled request during which answers are still awaited.
GRACE_SECONDS = 10.0
#: Latency from which a request counts as "waited too long" (X's patience is a few seconds).
LONG_WAIT = 3.0
#: Seconds short of the desk's idle timeout from which a connection closed under a request
#: counts as the keep-alive race (the desk's and the generator's loops may each run late).
RACE_MARGIN = 1.0


class _Conn(asyncio.Protocol):
    """One client connection: at most one request outstanding, its answer parsed in full."""

    def __init__(self, gen: _OpenLoop) -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.scheduled = 0.0  # of the outstanding request; 0 when idle
        self.request = b""  # the outstanding request
        self.retry = False  # it is a retry already
        self.heard = False  # some of its answer has arrived
        self.idle_since = time.perf_counter()  # when its last answer came (or it was opened)
        self.may_race = False  # it was written on a connection idle long enough to be closed as idle
        self.pending: bytes | None = None  # a request waiting for the connection to open
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.pending is not None:
            transport.write(self.pending)  # type: ignore[attr-defined]
            self.pending = None

    def send(self, request: bytes, scheduled: float, retry: bool = False) -> None:
        self.scheduled, self.request, self.retry, self.heard = scheduled, request, retry, False
        self.may_race = self.transport is not None and time.perf_counter() - self.idle_since >= self.gen.race_after
        if self.transport is None:
            self.pending = request
        else:
            self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.heard = True
        buffer = self.buffer + data if self.buffer else data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
            if len(buffer) < end + 4 + length:
                break
            buffer = buffer[end + 4 + length:]
            self.gen.answered(self, int(head[9:12]), b"retry-after:" in head, b"connection: close" in head)
        self.buffer = buffer

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.gen.lost(self)


class _OpenLoop:
    """Requests at ``rate``/s, each sent at its time on an idle connection or a new one."""

    def __init__(self, port: int, payloads: _Payloads, rate: float, seconds: float, pool: int,
                 max_connections: int, race_after: float = 0.0) -> None:
        self.port, self.payloads, self.rate, self.seconds = port, payloads, rate, seconds
        #: Seconds a connection must have been idle for its close under a request to be the
        #: keep-alive race (the desk's idle timeout, less a margin for the loops' lateness).
        self.race_after = race_after
        self.pool, self.max_connections = pool, max(pool, max_connections)
        self.idle: list[_Conn] = []
        self.open = 0
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.no_retry_after = 0
        self.dropped = 0  # connection closed with a request outstanding and no answer
        #: Requests sent again because the desk closed their idle keep-alive connection as they
        #: were written (idle ``race_after`` or longer, nothing of an answer came back), as an
        #: HTTP client retries them.
        self.retried = 0
        self.waiting: collections.deque[tuple[bytes, float, bool]] = collections.deque()  # all connections busy
        self.outstanding = 0
        self.done: asyncio.Future[None] | None = None

    def answered(self, conn: _Conn, status: int, retry_after: bool, close: bool) -> None:
        self.last = time.perf_counter()
        self.latencies.append(self.last - conn.scheduled)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status in (429, 503) and not retry_after:
            self.no_retry_after += 1
        conn.scheduled, conn.idle_since = 0.0, self.last
        self.outstanding -= 1
        if not close and not conn.closed:
            if self.waiting:
                self.outstanding += 1
                conn.send(*self.waiting.popleft())
            else:
                self.idle.append(conn)
        self._maybe_done()

    def lost(self, conn: _Conn) -> None:
        self.open -= 1
        if conn in self.idle:
            self.idle.remove(conn)
        if not conn.scheduled:
            return
        scheduled, conn.scheduled = conn.scheduled, 0.0
        self.outstanding -= 1
        if conn.heard or conn.retry or not conn.may_race:
            self.dropped += 1
            self._maybe_done()
            return
        # The keep-alive race (RFC 9112, 9.3.1): the request went out on a connection idle for
        # about the desk's idle timeout, the desk closed it as idle as it arrived, and nothing
        # of an answer came back. A webhook sender sends it again, once, on another connection
        # (a delivery is idempotent by its ids); its latency counts from its first scheduled
        # time. Any other close under a request (a new or a busy connection, part of an
        # answer, a second time) is a drop.
        self.retried += 1
        self._dispatch(conn.request, scheduled, retry=True)

    def _dispatch(self, request: bytes, at: float, retry: bool = False) -> None:
        """Send ``request`` (scheduled at ``at``) on an idle connection, else a new one while
        allowed, else queue it in the client."""
        while self.idle and self.idle[-1].closed:
            self.idle.pop()
        if self.idle:
            conn = self.idle.pop()
        elif self.open < self.max_connections:
            conn = _Conn(self)
            self.open += 1
            asyncio.get_running_loop().create_task(self._connect(conn))
        else:
            self.waiting.append((request, at, retry))  # the client's own queue: its wait counts
            return
        self.outstanding += 1
        conn.send(request, at, retry)

    def _maybe_done(self) -> None:
        if self.finished_sending and self.outstanding == 0 and not self.waiting and self.done is not None and not self.done.done():
            self.done.set_result(None)

    async def run(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        self.done = loop.create_future()
        self.finished_sending = False
        total = min(int(self.rate * self.seconds), MAX_REQUESTS)
        for _ in range(self.pool):  # a pool opened beforehand, as a webhook sender keeps one
            conn = _Conn(self)
            self.open += 1
            await loop.create_connection(lambda c=conn: c, "127.0.0.1", self.port)  # type: ignore[misc]
            self.idle.append(conn)
        t0 = self.last = time.perf_counter()
        cpu0 = time.process_time()
        for i in range(total):
            at = t0 + i / self.rate
            delay = at - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            self._dispatch(self.payloads.request(self.port), at)
        sent_for = time.perf_counter() - t0
        self.finished_sending = True
        while self.waiting and self.idle:  # cannot happen, but never strand a request
            self.outstanding += 1
            self.idle.pop().send(*self.waiting.popleft())
        self._maybe_done()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.done), GRACE_SECONDS)
        load_busy = (time.process_time() - cpu0) / max(self.last - t0, 1e-9)  # the other columns' window
        return {
            "load_busy": load_busy,
            "offered": total, "offered_rate": total / max(sent_for, 1e-9),
            "seconds": max(self.last - t0, 1e-9),  # until the last answer
            "window": (t0, self.last),  # perf_counter: CLOCK_MONOTONIC, the same in every process
            "latencies": self.latencies, "statuses": self.statuses, "no_retry_after": self.no_retry_after,
            "dropped": self.dropped, "retried": self.retried, "unanswered": self.outstanding + len(self.waiting),
        }

    async def _connect(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: conn, "127.0.0.1", self.port)
        except OSError:
            conn.closed = True
            self.lost(conn)


def _generate(args: dict[str, Any], out: Any) -> None:
    _pin(0, args["cpu"])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args["connections"] + 512)), hard))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    payloads = _Payloads(1, args["seed"])
    payloads.pregenerate(args["port"], int(min(MAX_REQUESTS, args["rate"] * args["seconds"] * 1.02 + 10)))
    gen = _OpenLoop(args["port"], payloads, args["rate"], args["seconds"], args["pool"], args["connections"],
                    race_after=max(0.0, args["idle_timeout"] - RACE_MARGIN))
    result = asyncio.run(gen.run())
    result["latencies"] = sorted(result["latencies"])
    out.put(result)


class _Sampler:
    """Samples a running total (CPU seconds, say) every 0.1 s in a thread, to tell its rate
    over a window measured elsewhere (on the same monotonic clock)."""

    def __init__(self, read: Callable[[], float]) -> None:
        self._read = read
        self.samples = [(time.perf_counter(), read())]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.samples.append((time.perf_counter(), self._read()))

    def rate(self, start: float, end: float) -> float:
        """Stop sampling; the total's growth per second between ``start`` and ``end`` (the
        samples nearest inside the window)."""
        self._stop.set()
        self._thread.join()
        inside = [s for s in self.samples if start <= s[0] <= end] or self.samples
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else float("nan")


def _busy(pid: int) -> _Sampler:
    """A sampler of process ``pid``'s CPU seconds (its own threads): its rate is the share of one
    CPU the process used."""
    return _Sampler(lambda: _cpu_seconds(pid, children=False))


def _commit_busy(commits: list[_Sampler], window: tuple[float, float]) -> float:
    """The desk's commit processes' share of a CPU over ``window`` (their samplers, :func:`_busy`),
    together; ``nan`` when it has none."""
    return sum(c.rate(*window) for c in commits) if commits else float("nan")


def idle_seconds() -> float:
    """Seconds the machine's CPUs have spent idle (or waiting for I/O) since boot, divided by
    the number of CPUs (``/proc/stat``): its rate over a window is the share of the machine
    left unused; ``nan`` where there is no ``/proc/stat``."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()  # cpu user nice system idle iowait ...
    except OSError:
        return float("nan")
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK") / (os.cpu_count() or 1)


def commit_efficiency(served_per_s: float, commit_busy: float, capacity_per_core: float) -> float:
    """Deliveries committed per CPU-second of the commit process (``served_per_s`` 200s/s over
    ``commit_busy`` of a core), as a share of the capacity loop's ``capacity_per_core``: at or
    above 1 the desk commits as much for each second of CPU it is given as when it is not
    overloaded, so a lower goodput is CPU it was not given."""
    if not commit_busy > 0 or not capacity_per_core > 0:
        return float("nan")
    return served_per_s / commit_busy / capacity_per_core


def _refusals(port: int) -> dict[str, int]:
    """The desk's refusal counts so far, by reason (``/metrics``)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    prefix = 'chirpdesk_connections_refused_total{reason="'
    return {line[len(prefix):].split('"', 1)[0]: int(float(line.rsplit(" ", 1)[1]))
            for line in text.splitlines() if line.startswith(prefix)}


def _phase(port: int, rate: float, seconds: float, pool: int, connections: int, seed: int,
           cpu: int | None, desk_pid: int | None = None) -> dict[str, Any]:
    sampler = _busy(desk_pid) if desk_pid is not None else None
    commits = [_busy(kid) for kid in _children(desk_pid)] if desk_pid is not None else []
    idle = _Sampler(idle_seconds)
    refused = _refusals(port) if desk_pid is not None else {}
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_generate, args=({"port": port, "rate": rate, "seconds": seconds, "pool": pool,
                                                "connections": connections, "seed": seed, "cpu": cpu,
                                                "idle_timeout": config_from_env(os.environ).idle_timeout}, out))
    proc.start()
    try:
        result: dict[str, Any] = out.get(timeout=seconds * 3 + GRACE_SECONDS + 60)
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    result["idle"] = idle.rate(*result["window"])
    if sampler is not None:
        result["http_busy"] = sampler.rate(*result["window"])
        result["commit_busy"] = _commit_busy(commits, result["window"])
        after = _refusals(port)
        result["shed_by"] = {k: v - refused.get(k, 0) for k, v in sorted(after.items()) if v > refused.get(k, 0)}
    lat = result["latencies"]
    ok = result["statuses"].get(200, 0)
    result.update(
        ok_per_s=ok / result["seconds"],
        p50_ms=1000 * lat[len(lat) // 2] if lat else float("nan"),
        p99_ms=1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
        max_ms=1000 * lat[-1] if lat else float("nan"),
        over_3s=sum(1 for x in lat if x > LONG_WAIT),
    )
    del result["latencies"]
    return result


def _capacity_round(desk: subprocess.Popen[bytes], port: int, seed: int, cpu: int | None) -> dict[str, float]:
    """One closed-loop capacity round (3 s, 64 connections): 200s/s, and over the same window
    the commit process's share of a CPU and the machine's idle share."""
    commits = [_busy(kid) for kid in _children(desk.pid)]
    idle = _Sampler(idle_seconds)
    result = _measure(desk, port, 1, 3.0, 64, seed=seed, cpu=cpu)
    window = result["window"]
    return {"ok_per_s": result["ok_req_s"], "commit_busy": _commit_busy(commits, window), "idle": idle.rate(*window)}


def _answer_cost(desk: subprocess.Popen[bytes], port: int, seed: int, cpu: int | None) -> tuple[float, float]:
    """HTTP-process CPU seconds per answer and the share of answers that were 200, over a 3 s
    closed loop at 64 connections."""
    result = _measure(desk, port, 1, 3.0, 64, seed=seed, cpu=cpu, children=False)  # the HTTP process alone
    answers = sum(result["statuses"].values())
    return result["cpu_us"] / 1e6, result["statuses"].get(200, 0) / max(answers, 1)


def _misses(level: float, r: dict[str, Any]) -> list[str]:
    """The per-run targets one level of one repeat missed."""
    misses = []
    if r["p99_ms"] >= 1000:
        misses.append(f"{level:g}x p99 {r['p99_ms']:.0f} ms")
    if r["over_3s"] or r["unanswered"] or r["dropped"] or r["no_retry_after"]:
        misses.append(f"{level:g}x: {r['over_3s']} over 3 s, {r['unanswered']} unanswered, "
                      f"{r['dropped']} dropped, {r['no_retry_after']} refusals without Retry-After")
    return misses


def main(argv: list[str] | None = None) -> int:
    """Measure capacity, run each overload level, print the table and the targets; returns 0."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks overload", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per overload level (1-20)")
    parser.add_argument("--levels", default="1,2,3", help="multiples of capacity to offer, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="closed-loop capacity rounds (median kept, 1-7)")
    parser.add_argument("--pool", type=int, default=512,
                        help="keep-alive connections the load generator opens beforehand (default 512)")
    parser.add_argument("--max-client-connections", type=int, default=512,
                        help="connections it may have open at most, opening more when all are busy; "
                             "beyond, requests wait in the client (default 512: the pool only)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="measure capacity and run the levels this many times on the same desk; "
                             "the 2x target is judged on the median (1-4)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the desk to CPU 0 and the load to CPU 1")
    args = parser.parse_args(argv)
    seconds = max(1.0, min(args.seconds, 20.0))
    try:
        levels = [float(x) for x in args.levels.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--levels: expected numbers such as 1,2,3, got {args.levels!r}")
    if not levels or not all(0 < x <= 5 for x in levels) or len(set(levels)) != len(levels) or len(levels) > 10:
        parser.error(f"--levels: at most 10 different numbers, each in (0, 5], got {args.levels!r}")
    if not 1 <= args.pool <= 5000 or not 1 <= args.max_client_connections <= 20_000:
        parser.error("--pool: expected 1-5000; --max-client-connections: expected 1-20000")
    if not 1 <= args.rounds <= 7:
        parser.error(f"--rounds: expected 1-7, got {args.rounds}")
    if not 1 <= args.repeat <= 4:
        parser.error(f"--repeat: expected 1-4, got {args.repeat}")
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
    server_cpu, client_cpu = (SERVER_CPU, CLIENT_CPU) if pin else (None, None)
    # Per repeat: the capacity rounds, then (level, result) per level.
    repeats: list[tuple[list[dict[str, float]], list[tuple[float, dict[str, Any]]]]] = []
    seed = 7 * 10**12
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        desk = _start("desk", port, str(Path(tmp) / "overload.sqlite3"), server_cpu)
        try:
            for k in range(args.repeat):
                base = seed + 20 * k * 10**9  # tweet ids of each phase stay apart (<= 7 rounds, <= 10 levels)
                runs = [_capacity_round(desk, port, base + r * 10**9, client_cpu) for r in range(args.rounds)]
                capacity = statistics.median(r["ok_per_s"] for r in runs)
                rows = []
                for i, level in enumerate(levels):
                    rows.append((level, _phase(port, level * capacity, seconds, args.pool, args.max_client_connections,
                                               base + (i + 10) * 10**9, client_cpu, desk.pid)))
                    time.sleep(2)  # let the desk's write queue and connections settle between levels
                repeats.append((runs, rows))
            served, _ = _answer_cost(desk, port, seed + 190 * 10**9, client_cpu)
        finally:
            _stop(desk)
        port = _free_port()
        shedding = _start("desk", port, str(Path(tmp) / "shed.sqlite3"), server_cpu, {"CHIRPDESK_MAX_IN_FLIGHT": "1"})
        try:
            per_answer, ok_share = _answer_cost(shedding, port, seed + 191 * 10**9, client_cpu)
        finally:
            _stop(shedding)
    # The shedding desk still serves a few (one in flight at a time): take their cost out.
    shed_cost = max(0.0, (per_answer - ok_share * served) / max(1 - ok_share, 1e-9))
    ratio = shed_cost / served

    print(f"chirpdesk desk overload benchmark: {os.cpu_count()} cores, SQLite WAL synchronous=FULL, "
          f"{'desk on CPU 0, load on CPU 1' if pin else 'not pinned'}")
    failures: list[str] = []
    twice: list[float] = []  # 2x goodput of each repeat
    # Per repeat at 2x: commit efficiency, the commit process's share of a CPU at 2x and in the
    # capacity loop, and the machine's idle share at 2x.
    twice_cpu: list[tuple[float, float, float, float]] = []
    for k, (runs, rows) in enumerate(repeats):
        capacity = statistics.median(r["ok_per_s"] for r in runs)
        cap_commit = statistics.median(r["commit_busy"] for r in runs)
        per_core = statistics.median(r["ok_per_s"] / r["commit_busy"] if r["commit_busy"] > 0 else float("nan")
                                     for r in runs)
        print(f"{f'repeat {k + 1}: ' if args.repeat > 1 else ''}capacity (closed loop, 64 connections, "
              f"median of {len(runs)}) {capacity:.0f} deliveries/s {[round(r['ok_per_s']) for r in runs]}; "
              f"commit {cap_commit:.2f}, idle {statistics.median(r['idle'] for r in runs):.2f}")
        print(f"{'level':>5} {'offered/s':>9} {'200/s':>7} {'goodput':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
              f"{'>3s':>5} {'unans.':>6} {'dropped':>7} {'retried':>7} {'cpu':>5} {'commit':>6} {'load':>5} "
              f"{'idle':>5} {'eff':>5}  statuses; 429s by reason")
        for level, r in rows:
            goodput = r["ok_per_s"] / capacity
            eff = commit_efficiency(r["ok_per_s"], r["commit_busy"], per_core)
            if level == 2:
                twice.append(goodput)
                twice_cpu.append((eff, r["commit_busy"], cap_commit, r["idle"]))
            print(f"{level:5.1f} {r['offered_rate']:9.0f} {r['ok_per_s']:7.0f} {goodput:7.2f} {r['p50_ms']:7.1f} "
                  f"{r['p99_ms']:7.1f} {r['max_ms']:7.1f} {r['over_3s']:5d} {r['unanswered']:6d} {r['dropped']:7d} "
                  f"{r['retried']:7d} {r['http_busy']:5.2f} {r['commit_busy']:6.2f} {r['load_busy']:5.2f} "
                  f"{r['idle']:5.2f} {eff:5.2f}  {r['statuses']}; {r['shed_by']}"
                  + (f" ({r['no_retry_after']} without Retry-After)" if r["no_retry_after"] else ""))
            failures += _misses(level, r)
    if twice:
        median = statistics.median(twice)
        spread = f" (median of {len(twice)}: {', '.join(f'{v:.2f}' for v in twice)})" if len(twice) > 1 else ""
        print(f"2x goodput {median:.2f} of capacity{spread}")
        if median < 0.9:
            failures.append(f"2x goodput {median:.2f} of capacity")
        effs = [e for e, *_ in twice_cpu]
        print(f"2x commit efficiency {statistics.median(effs):.2f} ({', '.join(f'{e:.2f}' for e in effs)}): "
              f"deliveries committed per CPU-second of the commit process, against the capacity loop; the commit "
              f"process had {'/'.join(f'{c:.2f}' for _, c, _, _ in twice_cpu)} of a core at 2x against "
              f"{'/'.join(f'{c:.2f}' for _, _, c, _ in twice_cpu)} in the capacity loop, with "
              f"{'/'.join(f'{i:.2f}' for *_, i in twice_cpu)} of the machine idle")
    print(f"answer cost in the HTTP process (closed loop, 64 connections): served {1e6 * served:.1f} us, "
          f"shed {1e6 * shed_cost:.1f} us (s/v {ratio:.2f}); cpu, commit, load: share of one CPU the HTTP process, "
          f"the commit process and the load generator used during the level; idle: share of the machine unused; "
          f"eff: commit efficiency")
    print("targets (p99 < 1 s, nothing over 3 s, every request answered, Retry-After on refusals, "
          "2x goodput >= 0.90): " + ("met" if not failures else "NOT met: " + "; ".join(failures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
