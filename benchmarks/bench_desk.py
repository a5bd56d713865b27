"""Desk ingest benchmark: signed webhook deliveries/s and latency vs a bare "return 200" endpoint.

Run: ``python -m benchmarks.bench_desk [--seconds 4] [--connections 32]``.

Both servers run the same stack (uvicorn + Starlette, one process) on 127.0.0.1; the load
generator is a separate process speaking raw HTTP/1.1 keep-alive over asyncio streams (cheaper
than an HTTP client library, so it steals less of the 2 cores from the server). Phases:

1. bare endpoint, 1-tweet-sized bodies, closed loop (max requests/s);
2. desk ingest, 1 tweet per delivery, SQLite WAL + ``synchronous=FULL``, closed loop;
3. desk ingest, 10 tweets per delivery, closed loop;
4. desk ingest, 1 tweet per delivery, open loop at 80% of phase 2's rate, to check X's
   acknowledgement deadline (p99 measured from each request's *scheduled* send time, so queueing
   delay counts).

Every phase is bounded in time and request count, and only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

REPO = Path(__file__).resolve().parents[1]
SECRET = "bench-secret"
#: Hard cap on requests per phase, whatever the duration.
MAX_REQUESTS = 200_000


async def _bare(request: Request) -> Response:
    await request.body()  # read the body like the desk does, then do nothing with it
    return Response(b'{"stored":0,"duplicates":0}', media_type="application/json")


#: The baseline: same server stack, no signature check, no parsing, no storage.
bare_app = Starlette(routes=[Route("/webhooks/twitter", _bare, methods=["POST"])])


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


def _start(kind: str, port: int, db: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if kind == "bare":
        cmd = [sys.executable, "-m", "uvicorn", "benchmarks.bench_desk:bare_app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]
    else:
        cmd = [sys.executable, "-m", "desk", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--db", db, "--secret", SECRET, "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_healthy(port, "/healthz" if kind == "desk" else "/", proc)
    return proc


# -- load generator (runs in its own process) ---------------------------------------------------

class _Payloads:
    """Signed deliveries with unique tweet ids, built on the fly from a JSON template."""

    def __init__(self, tweets_per_delivery: int, seed: int) -> None:
        from desk.signature import sign

        self._sign = sign
        self._n = tweets_per_delivery
        self._ids = itertools.count(seed)
        now = time.time()
        self._template = json.dumps({
            "id_str": "{id}", "text": "@AcmeHelp my order still has not arrived, where is it?",
            "created_at": time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime(now)),
            "timestamp_ms": str(int(now * 1000)),
            "user": {"id_str": "{uid}", "screen_name": "customer", "followers_count": 120},
            "in_reply_to_status_id_str": None,
        })

    def request(self, port: int) -> bytes:
        """One complete HTTP/1.1 request with a fresh, signed body."""
        events = []
        for _ in range(self._n):
            i = next(self._ids)
            events.append(self._template.replace("{id}", str(i)).replace("{uid}", str(i % 5000 + 1)))
        body = ('{"for_user_id":"9000","tweet_create_events":[' + ",".join(events) + "]}").encode()
        head = (
            f"POST /webhooks/twitter HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"x-twitter-webhooks-signature: {self._sign(SECRET, body)}\r\n\r\n"
        )
        return head.encode() + body


async def _roundtrip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _closed_loop(port: int, payloads: _Payloads, connections: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    warmup_end = time.perf_counter() + min(0.5, seconds / 4)
    end = warmup_end + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                request = payloads.request(port)
                start = time.perf_counter()
                if start >= end or len(latencies) >= MAX_REQUESTS:
                    return
                status = await _roundtrip(reader, writer, request)
                if start >= warmup_end:
                    latencies.append(time.perf_counter() - start)
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return {"requests": len(latencies), "seconds": seconds, "statuses": statuses, "latencies": latencies}


async def _open_loop(port: int, payloads: _Payloads, rate: float, seconds: float) -> dict[str, Any]:
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    total = min(int(rate * seconds), MAX_REQUESTS)
    t0 = time.perf_counter()

    async def one(scheduled: float) -> None:
        request = payloads.request(port)
        conn = await pool.get()
        try:
            status = await _roundtrip(*conn, request)
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1

    tasks = []
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait()[1].close()
    return {"requests": len(latencies), "seconds": seconds, "statuses": statuses, "latencies": latencies}


def _loadgen(args: dict[str, Any], out: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    payloads = _Payloads(args["tweets"], args["seed"])
    if args["rate"]:
        result = asyncio.run(_open_loop(args["port"], payloads, args["rate"], args["seconds"]))
    else:
        result = asyncio.run(_closed_loop(args["port"], payloads, args["connections"], args["seconds"]))
    out.put(result)


def _measure(port: int, tweets: int, seconds: float, connections: int, rate: float = 0, seed: int = 1) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_loadgen, args=({"port": port, "tweets": tweets, "seconds": seconds,
                                               "connections": connections, "rate": rate, "seed": seed}, out))
    proc.start()
    result = out.get(timeout=seconds * 4 + 60)
    proc.join(30)
    lat = sorted(result["latencies"])
    ok = result["statuses"].get(200, 0)
    return {
        "req_s": result["requests"] / result["seconds"],
        "ok_req_s": ok / result["seconds"],
        "statuses": result["statuses"],
        "p50_ms": 1000 * lat[len(lat) // 2] if lat else float("nan"),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
        "max_ms": 1000 * lat[-1] if lat else float("nan"),
    }


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def main(argv: list[str] | None = None) -> int:
    """Run all phases and print a table plus the ingest/bare ratio; returns 0."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_desk", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per phase")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections (closed loop)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved bare/desk rounds (best kept)")
    args = parser.parse_args(argv)
    seconds = max(1.0, min(args.seconds, 30.0))
    def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
        # Best of N: other work on a shared 2-core machine only ever slows a run down.
        return max(runs, key=lambda r: r["ok_req_s"])

    with tempfile.TemporaryDirectory() as tmp:
        bare_port, desk_port = _free_port(), _free_port()
        bare_proc = _start("bare", bare_port, "")
        desk_proc = _start("desk", desk_port, str(Path(tmp) / "bench.sqlite3"))
        try:
            bare_runs, one_runs = [], []
            for rep in range(args.repeats):  # interleaved, so both see the same machine state
                bare_runs.append(_measure(bare_port, 1, seconds, args.connections))
                one_runs.append(_measure(desk_port, 1, seconds, args.connections, seed=(rep + 1) * 10**12))
            bare, one = best(bare_runs), best(one_runs)
            ten = _measure(desk_port, 10, seconds, args.connections, seed=9 * 10**12)
            rate = 0.8 * one["ok_req_s"]
            paced = _measure(desk_port, 1, seconds, args.connections, rate=rate, seed=11 * 10**12)
        finally:
            _stop(bare_proc)
            _stop(desk_proc)
    rows = [
        ("bare 200 endpoint", bare),
        ("desk ingest, 1 tweet/delivery", one),
        ("desk ingest, 10 tweets/delivery", ten),
        (f"desk ingest, 1 tweet, open loop @ {rate:.0f}/s (80%)", paced),
    ]

    print(f"chirpdesk desk ingest benchmark: {os.cpu_count()} cores, {args.connections} connections, "
          f"{seconds:g} s per phase, SQLite WAL synchronous=FULL, group commit")
    print(f"{'phase':<48} {'req/s':>9} {'tweets/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses")
    for (name, r), tweets in zip(rows, (1, 1, 10, 1), strict=True):
        print(f"{name:<48} {r['ok_req_s']:9.0f} {r['ok_req_s'] * tweets:9.0f} {r['p50_ms']:8.1f} "
              f"{r['p99_ms']:8.1f} {r['max_ms']:8.1f}  {r['statuses']}")
    ratio1 = one["ok_req_s"] / bare["ok_req_s"]
    ratio10 = ten["ok_req_s"] / bare["ok_req_s"]
    print(f"ratio ingest/bare: 1 tweet {ratio1:.2f}, 10 tweets {ratio10:.2f} (target >= 0.50 for 1 tweet: "
          f"{'met' if ratio1 >= 0.5 else 'NOT met'})")
    print(f"p99 at 80% capacity: {paced['p99_ms']:.1f} ms (target < 1000 ms: "
          f"{'met' if paced['p99_ms'] < 1000 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
