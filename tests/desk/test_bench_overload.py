"""The overload benchmark's open-loop generator (benchmarks/bench_overload.py): what it does when
the server closes a keep-alive connection under a request, against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from benchmarks.bench_desk import _Payloads
from benchmarks.bench_overload import (
    _busy,
    _misses,
    _OpenLoop,
    _Sampler,
    commit_efficiency,
    idle_seconds,
)

_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


async def _serve(closes: int = 0, times: int = 1, partial: bool = False, delay: float = 0.0,
                 first_connection_only: bool = False) -> tuple[asyncio.AbstractServer, int]:
    """A server that answers every request 200, except that it closes the connection under each
    of the first ``closes`` different bodies it reads, ``times`` times each: after ``delay``
    seconds, with nothing written (as in the keep-alive race) or half an answer's head
    (``partial``). With ``first_connection_only``, it answers only on the first connection it
    accepted and closes every other one under its first request."""
    closed: dict[bytes, int] = {}
    accepted = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        first = accepted == 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                seen = closed.get(body, 0)
                if (first_connection_only and not first) or (
                        not first_connection_only and seen < times and (seen or len(closed) < closes)):
                    closed[body] = seen + 1
                    await asyncio.sleep(delay)
                    if partial:
                        writer.write(b"HTTP/1.1 2")
                        await writer.drain()
                    writer.close()
                    return
                writer.write(_OK)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _run(race_after: float = 0.0, rate: float = 200, seconds: float = 0.2, pool: int = 4,
         **server: Any) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        listening, port = await _serve(**server)
        async with listening:
            gen = _OpenLoop(port, _Payloads(1, 10**12), rate=rate, seconds=seconds, pool=pool, max_connections=4,
                            race_after=race_after)
            try:
                return await gen.run()
            finally:
                for conn in gen.idle:
                    if conn.transport is not None:
                        conn.transport.close()

    return asyncio.run(main())


def test_a_request_whose_idle_connection_closes_unanswered_is_sent_again_once() -> None:
    result = _run(closes=3)
    assert result["offered"] == 40
    assert result["retried"] == 3
    assert result["dropped"] == 0 and result["unanswered"] == 0
    assert result["statuses"] == {200: 40}  # every request answered, the retried ones included


def test_a_retry_closed_again_is_a_drop() -> None:
    result = _run(closes=1, times=2)
    assert (result["retried"], result["dropped"]) == (1, 1)
    assert result["statuses"] == {200: 39}


def test_a_retried_request_keeps_its_first_scheduled_time() -> None:
    result = _run(closes=1, delay=0.15)
    assert result["retried"] == 1
    assert max(result["latencies"]) >= 0.15  # the wait before the close counts


def test_a_close_on_a_connection_not_idle_long_enough_is_a_drop() -> None:
    # Every connection is reused within milliseconds: a close under a request cannot be the
    # desk's idle timeout, so it is not retried.
    result = _run(race_after=5.0, closes=3)
    assert (result["retried"], result["dropped"]) == (0, 3)
    assert result["statuses"] == {200: 37}


def test_a_close_on_a_new_connection_is_a_drop() -> None:
    # One pooled connection; the rest are opened as requests need them and closed under their
    # first request, which was never written on an idle connection.
    result = _run(rate=2000, seconds=0.02, pool=1, first_connection_only=True)
    assert result["retried"] == 0
    assert result["dropped"] >= 1
    assert result["dropped"] + result["statuses"].get(200, 0) == result["offered"] == 40


def test_a_connection_closed_after_part_of_an_answer_is_a_drop_not_a_retry() -> None:
    result = _run(closes=2, partial=True)
    assert (result["retried"], result["dropped"]) == (0, 2)
    assert result["statuses"] == {200: 38}


def test_a_level_with_a_drop_misses_its_targets() -> None:
    level = {"p99_ms": 10.0, "over_3s": 0, "unanswered": 0, "dropped": 0, "no_retry_after": 0, "retried": 3}
    assert _misses(2, level) == []
    assert _misses(2, {**level, "dropped": 1}) == [
        "2x: 0 over 3 s, 0 unanswered, 1 dropped, 0 refusals without Retry-After"]
    assert _misses(3, {**level, "p99_ms": 1200.0}) == ["3x p99 1200 ms"]


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="the machine's idle time comes from /proc/stat")
def test_the_samplers_read_a_spinning_process_as_one_cpu_and_the_machine_as_that_much_less_idle() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 3: pass"])
    try:
        time.sleep(0.3)
        busy, idle = _busy(spinner.pid), _Sampler(idle_seconds)
        start = time.perf_counter()
        time.sleep(1.0)
        window = (start, time.perf_counter())
        spinning, unused = busy.rate(*window), idle.rate(*window)
    finally:
        spinner.kill()
        spinner.wait()
    cpus = os.cpu_count() or 1
    # A share of one CPU, not CPU seconds or clock ticks (a neighbour on its core may halve it).
    assert 0.3 < spinning < 1.1
    assert 0 <= unused <= (cpus - 1) / cpus + 0.1  # a share of the whole machine
    # In seconds per CPU: the kernel's own idle count (/proc/uptime, all CPUs, without the
    # I/O waits idle_seconds adds) at least, and never more than the time since boot.
    with open("/proc/uptime") as f:
        since_boot, idle_all = map(float, f.read().split())
    assert idle_all / cpus - 1 <= idle_seconds() <= since_boot + 1


def test_commit_efficiency_is_deliveries_per_commit_cpu_second_against_the_capacity_loop() -> None:
    per_core = 10_000 / 0.7  # the capacity loop: 10,000/s on 0.7 of a core
    assert commit_efficiency(8_000, 0.56, per_core) == pytest.approx(1.0)  # less CPU, as efficient
    assert commit_efficiency(8_000, 0.7, per_core) == pytest.approx(0.8)
    assert math.isnan(commit_efficiency(8_000, 0.0, per_core))
