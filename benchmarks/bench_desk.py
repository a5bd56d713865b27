"""Desk ingest benchmark: signed webhook deliveries/s and latency vs a bare "return 200" endpoint.

Run: ``python -m benchmarks.bench_desk [--seconds 3] [--rounds 3] [--connections 32,64,128] [--no-pin]
[--recurring-customers N]``
(about 3.5 minutes with the defaults; every phase is bounded in time and request count, 127.0.0.1
only).

Fairness: the bare endpoint is the *same stack* as the desk's webhook — uvicorn started through
:func:`chirpdesk.desk.server.run_app` (same settings: uvloop, httptools, one process), the same
:class:`chirpdesk.desk.http.FastPostApp` dispatch ahead of Starlette's router, the same body reading
(:func:`chirpdesk.desk.http.read_body_raw`, with the same size limit) and the same response writing — it
just skips the signature check, parsing and the durable commit. Both get the same signed bodies
(1- or 10-tweet sized) from the same load generator with the same number of keep-alive
connections. The load generator is a separate process speaking raw HTTP/1.1 through bare asyncio
protocols (one write and one read callback per request), with pre-built requests.

By default the HTTP server processes are pinned to CPU 0 and the load generator to CPU 1
(``os.sched_setaffinity``), so the two never fight over one core. The desk's commit process
(:mod:`chirpdesk.desk.committer`: parsing, SQL and fsync, as a database server would do them) may run on
either CPU, as it would in a deployment: it is the desk's use of the machine's second core, which
the bare endpoint, a single process with nothing to hand off, has no use for. Its CPU time is
counted in the desk's CPU per request.

Traffic: unique tweet ids; by default each customer writes three tweets, a thousand tweets
apart, and is not heard from again (:func:`customer_of`), so conversations keep starting and
none grows without end, as in support traffic. ``--recurring-customers 5000`` replays the load of
earlier versions instead (5000 customers, each with one conversation that grows by a tweet every
5000): every insert then lands inside a long conversation, spread over the whole
``tweets_conversation`` index, and the desk slows down as the database grows (docs/desk.md,
fifth pass).

Phases, run as interleaved rounds so that both servers see the same machine state (other work
on a shared machine), reporting the **median** of the rounds:

1. bare endpoint, 1-tweet bodies, and desk ingest, 1 tweet per delivery (SQLite WAL,
   ``synchronous=FULL``), closed loop, at each concurrency level (default 32, 64 and 128
   connections): group commit needs requests in flight to fill its batches, so the desk's rate
   grows with concurrency while the bare endpoint's does not (it gets a little slower);
2. the same with 10-tweet bodies / deliveries, at the first level;
3. desk ingest, 1 tweet, open loop at 80% of its capacity (the best closed-loop median over the
   levels), over as many connections as the level that reached it, p99 measured from each
   request's *scheduled* send time (so waiting for a free connection counts): X's
   acknowledgement deadline.

The target (desk ingest at >= 50% of the bare endpoint's requests/s) is judged capacity against
capacity: each server at its best level, since that is how many deliveries/s each can take. The
ratio at each level is printed too: at 32 connections the desk is latency-bound rather than
CPU-bound (every request waits for an fsync'd commit, and 32 clients cannot keep both of its
processes busy), so its ratio there is lower.

Server CPU per request (from ``/proc/<pid>/stat``) is reported too: it is the cost the ratio
comes from, and it is far less noisy than requests/s on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope

from chirpdesk.desk.config import DeskConfig
from chirpdesk.desk.http import FastPostApp, read_body_raw
from chirpdesk.desk.routes_webhook import WEBHOOK_PATH

REPO = Path(__file__).resolve().parents[1]
SECRET = "bench-secret"
#: Hard cap on requests per phase, whatever the duration.
MAX_REQUESTS = 200_000
#: The desk's default body limit, applied by the bare endpoint too.
MAX_BODY = DeskConfig().max_body_bytes
SERVER_CPU, CLIENT_CPU = 0, 1


async def _bare(app: object, scope: Scope, receive: Receive) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    await read_body_raw(scope, receive, MAX_BODY)  # read the body like the desk does, then nothing
    return 200, b'{"stored":1,"duplicates":0}', []


#: The baseline: same server stack and dispatch, no signature check, no parsing, no storage.
bare_app = FastPostApp(fast_path=WEBHOOK_PATH, fast_handler=_bare, routes=[])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _serve_bare(port: int) -> None:
    from chirpdesk.desk.server import run_app

    run_app(bare_app, host="127.0.0.1", port=port, log_level="warning")


def _pin(pid: int, cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(pid, {cpu})


def _start(kind: str, port: int, db: str, cpu: int | None,
           settings: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **(settings or {}), "PYTHONPATH": str(REPO)}
    if kind == "bare":
        cmd = [sys.executable, "-c", f"from benchmarks.bench_desk import _serve_bare; _serve_bare({port})"]
    else:
        # Same single uvicorn process as the bare endpoint (desk.server.run_app).
        cmd = [sys.executable, "-m", "chirpdesk.desk", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--db", db, "--secret", SECRET, "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=(lambda: _pin(0, cpu)) if cpu is not None else None)
    _wait_healthy(port, "/healthz" if kind == "desk" else "/", proc)
    if cpu is not None:
        for child in _children(proc.pid):  # the commit process inherited CPU 0: free it
            os.sched_setaffinity(child, set(range(os.cpu_count() or 1)))
    return proc


def _children(pid: int) -> list[int]:
    """Process ids of ``pid``'s children (the desk's commit process)."""
    kids: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids += [int(k) for k in f.read().split()]
    return kids


def _cpu_seconds(pid: int, children: bool = True) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), and of its children
    unless ``children`` is False, so far."""
    total = 0.0
    for p in [pid, *(_children(pid) if children else [])]:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# -- load generator (runs in its own process) ---------------------------------------------------

#: Tweets from other customers between two tweets of one customer (default traffic shape).
FOLLOW_UP_GAP = 1000
#: User id of the first of ``--recurring-customers``.
RECURRING_BASE = 10**6


def customer_of(tweet_number: int, recurring_customers: int = 0) -> int:
    """The customer (user id) who writes tweet number ``tweet_number`` of the load.

    By default every customer writes three tweets, :data:`FOLLOW_UP_GAP` tweets apart, and is
    not heard from again (issues resolved "within three tweets and an email"): new conversations
    keep starting and none grows without end, as in real support traffic. With
    ``recurring_customers = N`` the tweets cycle through N customers instead, so N conversations
    stay open and grow by one tweet every N (the load of earlier versions of this benchmark):
    every insert then lands inside a long conversation, and the desk slows down as they grow.
    """
    if recurring_customers:  # far from the brand's own id (the deliveries' for_user_id, 9000)
        return RECURRING_BASE + tweet_number % recurring_customers
    block, within = divmod(tweet_number, 3 * FOLLOW_UP_GAP)
    return block * FOLLOW_UP_GAP + within % FOLLOW_UP_GAP + 1


class _Payloads:
    """Signed deliveries with unique tweet ids, built on the fly from a JSON template."""

    def __init__(self, tweets_per_delivery: int, seed: int, recurring_customers: int = 0) -> None:
        from chirpdesk.desk.signature import sign

        self._sign = sign
        self._n = tweets_per_delivery
        self._recurring = recurring_customers
        self._ids = itertools.count(seed)
        now = time.time()
        # Every text differs, as real tweets do: the desk caches triage per text, and one text
        # repeated hid the triage's cost (about half the commit process's CPU per delivery).
        self._template = json.dumps({
            "id_str": "{id}", "text": "@AcmeHelp my order {id} still has not arrived, where is it?",
            "created_at": time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime(now)),
            "timestamp_ms": str(int(now * 1000)),
            "user": {"id_str": "{uid}", "screen_name": "customer", "followers_count": 120},
            "in_reply_to_status_id_str": None,
        })

    def pregenerate(self, port: int, count: int) -> None:
        """Build ``count`` requests now, so that the timed phase spends less client CPU."""
        self._ready = [self._build(port) for _ in range(count)]
        self._ready.reverse()

    def request(self, port: int) -> bytes:
        """One complete HTTP/1.1 request with a fresh, signed body (pre-built when available)."""
        ready = getattr(self, "_ready", None)
        return ready.pop() if ready else self._build(port)

    def _build(self, port: int) -> bytes:
        events = []
        for _ in range(self._n):
            i = next(self._ids)
            uid = customer_of(i, self._recurring)
            events.append(self._template.replace("{id}", str(i)).replace("{uid}", str(uid)))
        body = ('{"for_user_id":"9000","tweet_create_events":[' + ",".join(events) + "]}").encode()
        head = (
            f"POST /webhooks/twitter HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"x-twitter-webhooks-signature: {self._sign(SECRET, body)}\r\n\r\n"
        )
        return head.encode() + body


class _Connection(asyncio.Protocol):
    """One keep-alive connection of the load generator: a request out, its response in.

    A bare protocol rather than asyncio streams: each request costs one ``write`` and one
    ``data_received``, so the load generator spends as little CPU as it can and measures the
    server rather than itself.
    """

    def __init__(self, on_response: Any) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._on_response = on_response
        self.sent_at = 0.0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, request: bytes, at: float) -> None:
        assert self.transport is not None
        self.sent_at = at
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            self._buffer = buffer
            return
        head = buffer[:end]
        at = head.lower().find(b"content-length:")
        length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
        if len(buffer) < end + 4 + length:
            self._buffer = buffer
            return
        self._buffer = buffer[end + 4 + length:]
        self._on_response(self, int(head[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def _connect(port: int, on_response: Any) -> _Connection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: _Connection(on_response), "127.0.0.1", port)
    return conn


async def _closed_loop(port: int, payloads: _Payloads, connections: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    warmup_end = time.perf_counter() + min(0.5, seconds / 4)
    end = warmup_end + seconds
    done = asyncio.get_running_loop().create_future()
    active = connections

    def on_response(conn: _Connection, status: int) -> None:
        nonlocal active
        now = time.perf_counter()
        if conn.sent_at >= warmup_end:
            latencies.append(now - conn.sent_at)
            statuses[status] = statuses.get(status, 0) + 1
        if now < end and len(latencies) < MAX_REQUESTS:
            conn.send(payloads.request(port), now)
            return
        active -= 1
        if not active and not done.done():
            done.set_result(None)

    conns = [await _connect(port, on_response) for _ in range(connections)]
    for conn in conns:
        conn.send(payloads.request(port), time.perf_counter())
    await done
    finished = time.perf_counter()
    for conn in conns:
        assert conn.transport is not None
        conn.transport.close()
    # window: from the end of the warm-up to the last answer (perf_counter, the same clock in
    # every process), for CPU shares measured elsewhere over the same time.
    return {"requests": len(latencies), "seconds": seconds, "statuses": statuses, "latencies": latencies,
            "window": (warmup_end, finished)}


async def _open_loop(port: int, payloads: _Payloads, rate: float, seconds: float,
                     connections: int) -> dict[str, Any]:
    """Requests scheduled at ``rate``/s over up to ``connections``; latency counts from each
    request's scheduled time, so waiting for a free connection (queueing) counts too."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    total = min(int(rate * seconds), MAX_REQUESTS)
    due: collections.deque[float] = collections.deque()  # scheduled times not yet sent
    idle: list[_Connection] = []
    scheduled: dict[_Connection, float] = {}
    done = loop.create_future()

    def dispatch() -> None:
        while due and idle:
            conn = idle.pop()
            scheduled[conn] = due.popleft()
            conn.send(payloads.request(port), time.perf_counter())

    def on_response(conn: _Connection, status: int) -> None:
        latencies.append(time.perf_counter() - scheduled.pop(conn))
        statuses[status] = statuses.get(status, 0) + 1
        idle.append(conn)
        dispatch()
        if len(latencies) >= total and not done.done():
            done.set_result(None)

    idle.extend([await _connect(port, on_response) for _ in range(connections)])
    conns = list(idle)
    t0 = time.perf_counter()
    for i in range(total):
        at = t0 + i / rate
        delay = at - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        due.append(at)
        dispatch()
    if total:
        await done
    for conn in conns:
        assert conn.transport is not None
        conn.transport.close()
    return {"requests": len(latencies), "seconds": seconds, "statuses": statuses, "latencies": latencies}


def _loadgen(args: dict[str, Any], out: Any) -> None:
    _pin(0, args["cpu"])
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    payloads = _Payloads(args["tweets"], args["seed"], args["recurring_customers"])
    # Enough pre-built requests for ~20k deliveries/s (1 tweet) or ~6k/s (10 tweets): the load
    # generator then mostly just writes and reads sockets, and measures the server, not itself.
    per_second = args["rate"] * 1.05 if args["rate"] else (20_000 if args["tweets"] == 1 else 6_000)
    payloads.pregenerate(args["port"], int(min(MAX_REQUESTS, per_second * (args["seconds"] + 0.5))))
    if args["rate"]:
        result = asyncio.run(_open_loop(args["port"], payloads, args["rate"], args["seconds"],
                                        args["connections"]))
    else:
        result = asyncio.run(_closed_loop(args["port"], payloads, args["connections"], args["seconds"]))
    out.put(result)


def _measure(
    server: subprocess.Popen[bytes], port: int, tweets: int, seconds: float, connections: int,
    rate: float = 0, seed: int = 1, cpu: int | None = None, recurring_customers: int = 0,
    children: bool = True,
) -> dict[str, Any]:
    """One load phase against ``server``; ``cpu_us`` is its CPU per request, of its children
    (the commit process) too unless ``children`` is False."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_loadgen, args=({"port": port, "tweets": tweets, "seconds": seconds,
                                               "connections": connections, "rate": rate, "seed": seed,
                                               "cpu": cpu, "recurring_customers": recurring_customers},
                                              out))
    cpu_before = _cpu_seconds(server.pid, children)
    proc.start()
    try:
        result = out.get(timeout=seconds * 3 + 30)
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    server_cpu = _cpu_seconds(server.pid, children) - cpu_before  # includes warm-up and connection set-up
    lat = sorted(result["latencies"])
    ok = result["statuses"].get(200, 0)
    total = result["requests"] * (1 + min(0.5, seconds / 4) / seconds) if not rate else result["requests"]
    return {
        "req_s": result["requests"] / result["seconds"],
        "ok_req_s": ok / result["seconds"],
        "statuses": result["statuses"],
        "p50_ms": 1000 * lat[len(lat) // 2] if lat else float("nan"),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
        "max_ms": 1000 * lat[-1] if lat else float("nan"),
        "cpu_us": 1e6 * server_cpu / total if total else float("nan"),
        "window": result.get("window"),  # closed loop only
    }


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-figure median over rounds (statuses summed)."""
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs)
                           for k in ("req_s", "ok_req_s", "p50_ms", "p99_ms", "max_ms", "cpu_us")}
    statuses: dict[int, int] = {}
    for r in runs:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    out["statuses"] = statuses
    out["rounds"] = [round(r["ok_req_s"]) for r in runs]
    return out


def main(argv: list[str] | None = None) -> int:
    """Run all phases and print a table plus the ingest/bare ratios; returns 0."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_desk", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per phase (1-10)")
    parser.add_argument("--connections", default="32,64,128",
                        help="keep-alive connections of the closed-loop 1-tweet phases, comma-separated; "
                             "the first level also runs the 10-tweet phases (default 32,64,128)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved bare/desk rounds (median kept, 1-7)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers to CPU 0 and load to CPU 1")
    parser.add_argument("--recurring-customers", type=int, default=0, metavar="N",
                        help="cycle the tweets through N customers whose conversations never end "
                             "(the earlier load); default 0: each customer writes three tweets")
    args = parser.parse_args(argv)
    seconds = max(1.0, min(args.seconds, 10.0))
    rounds = max(1, min(args.rounds, 7))
    try:
        levels = list(dict.fromkeys(int(x) for x in str(args.connections).split(",") if x.strip()))
    except ValueError:
        parser.error(f"--connections: expected comma-separated integers such as 32,128, got {args.connections!r}")
    if not levels or not all(1 <= c <= 512 for c in levels):
        parser.error(f"--connections: each level must be 1-512, got {args.connections!r}")
    if args.recurring_customers < 0:
        parser.error(f"--recurring-customers: expected 0 or more, got {args.recurring_customers}")
    recurring = args.recurring_customers
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
    server_cpu, client_cpu = (SERVER_CPU, CLIENT_CPU) if pin else (None, None)
    phases = [(kind, 1, c) for c in levels for kind in ("bare", "desk")]
    phases += [(kind, 10, levels[0]) for kind in ("bare", "desk")]
    runs: dict[tuple[str, int, int], list[dict[str, Any]]] = {p: [] for p in phases}
    paced: list[dict[str, Any]] = []
    # Tweet numbers of a phase start at a multiple of 3 * FOLLOW_UP_GAP: no customer is cut short.
    seeds = itertools.count(3 * 10**12, 3 * 10**12)

    with tempfile.TemporaryDirectory() as tmp:
        ports = {"bare": _free_port(), "desk": _free_port()}
        procs = {"bare": _start("bare", ports["bare"], "", server_cpu),
                 "desk": _start("desk", ports["desk"], str(Path(tmp) / "bench.sqlite3"), server_cpu)}
        try:
            for _ in range(rounds):  # interleaved, so both see the same machine state
                for kind, tweets, conns in phases:
                    runs[kind, tweets, conns].append(_measure(procs[kind], ports[kind], tweets, seconds, conns,
                                                              seed=next(seeds), cpu=client_cpu,
                                                              recurring_customers=recurring))
            res = {p: _median(v) for p, v in runs.items()}
            # "Capacity": the best closed-loop rate over the concurrency levels.
            capacity, bare_capacity = (max(res[kind, 1, c]["ok_req_s"] for c in levels) for kind in ("desk", "bare"))
            best_level = max(levels, key=lambda c: res["desk", 1, c]["ok_req_s"])
            rate = 0.8 * capacity
            for _ in range(rounds):
                paced.append(_measure(procs["desk"], ports["desk"], 1, seconds, best_level, rate=rate,
                                      seed=next(seeds), cpu=client_cpu, recurring_customers=recurring))
        finally:
            _stop(procs["bare"])
            _stop(procs["desk"])
    paced_median = _median(paced)
    names = {"bare": "bare 200 endpoint", "desk": "desk ingest"}
    rows = [(f"{names[kind]}, {tweets} tweet{'s' if tweets > 1 else ''}, {conns} conn", res[kind, tweets, conns], tweets)
            for kind, tweets, conns in phases]
    rows.append((f"desk ingest, 1 tweet, open loop @ {rate:.0f}/s (80%), {best_level} conn", paced_median, 1))

    print(f"chirpdesk desk ingest benchmark: {os.cpu_count()} cores, {seconds:g} s x {rounds} interleaved "
          f"rounds per phase (medians), SQLite WAL synchronous=FULL, group commit, "
          f"{'HTTP servers on CPU 0, load on CPU 1, desk commit process on either' if pin else 'not pinned'}; "
          + (f"tweets cycle through {recurring} customers with never-ending conversations" if recurring
             else f"each customer writes three tweets, {FOLLOW_UP_GAP} tweets apart"))
    print(f"{'phase':<56} {'req/s':>7} {'tweets/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'srv us/req':>10}  rounds req/s; statuses")
    for name, r, tweets in rows:
        print(f"{name:<56} {r['ok_req_s']:7.0f} {r['ok_req_s'] * tweets:8.0f} {r['p50_ms']:7.1f} "
              f"{r['p99_ms']:7.1f} {r['max_ms']:7.1f} {r['cpu_us']:10.0f}  {r['rounds']}; {r['statuses']}")
    ratios = {c: res["desk", 1, c]["ok_req_s"] / res["bare", 1, c]["ok_req_s"] for c in levels}
    first = levels[0]
    ratio10 = res["desk", 10, first]["ok_req_s"] / res["bare", 10, first]["ok_req_s"]
    met = capacity / bare_capacity >= 0.5
    print(f"ratio ingest/bare, 1 tweet: capacity vs capacity (best level of each) {capacity / bare_capacity:.3f} "
          f"(target >= 0.50: {'met' if met else 'NOT met'}); at equal concurrency "
          + ", ".join(f"{c} connections {ratios[c]:.3f}" for c in levels)
          + f"; 10 tweets at {first} connections {ratio10:.3f}")
    worst = max(r["p99_ms"] for r in paced)
    print(f"p99 at 80% capacity: median {paced_median['p99_ms']:.1f} ms, worst round {worst:.1f} ms "
          f"(target < 1000 ms: {'met' if worst < 1000 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
