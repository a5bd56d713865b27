"""The serving process's own upkeep: its garbage collector stays out of the way of serving."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

import pytest

from deskkit import Desk, DeskServer, delivery, signed, tweet

CONNECTIONS = 200
PER_CONNECTION = 10


def _collections(desk: Desk) -> list[int]:
    """python_gc_collections_total per generation, from the server's /metrics."""
    counts = [0, 0, 0]
    for line in desk.http.get("/metrics").text.splitlines():
        if line.startswith("python_gc_collections_total{"):
            counts[int(line.split('"')[1])] = int(line.split()[-1])
    return counts


async def _deliver_all(port: int) -> list[int]:
    """CONNECTIONS keep-alive connections at once, each posting PER_CONNECTION deliveries in
    turn; the status of every answer."""

    async def one_connection(c: int) -> list[int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        statuses = []
        for i in range(PER_CONNECTION):
            body = delivery([tweet(f"concurrent {c}-{i}")])
            head = "".join(f"{k}: {v}\r\n" for k, v in signed(body).items())
            writer.write(f"POST /webhooks/twitter HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n"
                         f"{head}\r\n".encode() + body)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            statuses.append(status)
        writer.close()
        return statuses

    results = await asyncio.gather(*(one_connection(c) for c in range(CONNECTIONS)))
    return [s for r in results for s in r]


@pytest.mark.skipif(sys.version_info >= (3, 14),
                    reason="Python 3.14's incremental collector counts its generations differently")
def test_hundreds_of_deliveries_in_flight_set_off_no_full_garbage_collection(
    start_server: Callable[..., DeskServer],
) -> None:
    # With Python's default collector settings each of these ~50 container objects per
    # delivery in flight would be seen by a young collection every 700 allocations, promoted,
    # and would set off full collections over the whole heap (about one per 57 deliveries
    # at this concurrency, a fifth of the CPU at 512 connections).
    server = start_server("sqlite", {"CHIRPDESK_MAX_IN_FLIGHT": str(CONNECTIONS)})
    desk = Desk(server)
    before = _collections(desk)
    statuses = asyncio.run(_deliver_all(server.port))
    after = _collections(desk)
    assert statuses == [200] * (CONNECTIONS * PER_CONNECTION)
    young, _, full = (a - b for a, b in zip(after, before, strict=True))
    assert full == 0, (before, after)
    assert young <= 3, (before, after)
    assert len(desk.tweet_ids()) == CONNECTIONS * PER_CONNECTION
