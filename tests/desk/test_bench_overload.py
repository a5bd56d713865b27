"""The overload benchmark's open-loop generator (benchmarks/bench_overload.py): what it does when
the server closes a keep-alive connection under a request, against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks.bench_desk import _Payloads
from benchmarks.bench_overload import _misses, _OpenLoop

_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


async def _serve(close_unanswered: int, partial: bool) -> tuple[asyncio.AbstractServer, int]:
    """A server that answers every request 200, except that it closes the connection of each of
    the first ``close_unanswered`` requests it reads: with nothing written (the keep-alive race),
    or after half an answer's head (``partial``). A body it has closed on before is answered."""
    closed: set[bytes] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                if len(closed) < close_unanswered and body not in closed:
                    closed.add(body)
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


def _run(close_unanswered: int, partial: bool = False) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        server, port = await _serve(close_unanswered, partial)
        async with server:
            gen = _OpenLoop(port, _Payloads(1, 10**12), rate=200, seconds=0.2, pool=4, max_connections=4)
            try:
                return await gen.run()
            finally:
                for conn in gen.idle:
                    if conn.transport is not None:
                        conn.transport.close()

    return asyncio.run(main())


def test_a_request_whose_idle_connection_closes_unanswered_is_sent_again_once() -> None:
    result = _run(close_unanswered=3)
    assert result["offered"] == 40
    assert result["retried"] == 3
    assert result["dropped"] == 0 and result["unanswered"] == 0
    assert result["statuses"] == {200: 40}  # every request answered, the retried ones included


def test_a_connection_closed_after_part_of_an_answer_is_a_drop_not_a_retry() -> None:
    result = _run(close_unanswered=2, partial=True)
    assert result["retried"] == 0
    assert result["dropped"] == 2
    assert result["statuses"] == {200: 38}


def test_more_retries_than_idle_closes_the_desk_counted_miss_the_targets() -> None:
    level = {"p99_ms": 10.0, "over_3s": 0, "unanswered": 0, "dropped": 0, "no_retry_after": 0}
    assert _misses(2, {**level, "retried": 3, "shed_by": {"idle": 3}}) == []
    assert _misses(2, {**level, "retried": 4, "shed_by": {"idle": 3}}) == ["2x: 4 retried but 3 idle closes"]
