"""A 200 means committed: kill -9 the server mid-burst, restart, and every acked tweet is there."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from deskkit import Desk, DeskServer, delivery, signed, tweet


async def _burst(url: str, seconds: float, senders: int, kill: Callable[[], None]) -> tuple[list[str], int]:
    """Send signed 1- and 3-tweet deliveries from ``senders`` loops; kill -9 the server midway.

    Returns the tweet ids whose delivery got a 200, and how many requests were attempted.
    """
    acked: list[str] = []
    attempted = 0
    stop_at = time.monotonic() + seconds

    async def sender(n: int, ac: httpx.AsyncClient) -> None:
        nonlocal attempted
        i = 0
        while time.monotonic() < stop_at:
            tweets = [tweet(f"burst {n}/{i} is it down?", user_id=str(40_000 + n)) for _ in range(1 + i % 3)]
            body = delivery(tweets)
            attempted += 1
            i += 1
            try:
                r = await ac.post("/webhooks/twitter", content=body, headers=signed(body))
            except httpx.HTTPError:
                await asyncio.sleep(0.01)  # server gone: keep trying until the window closes
                continue
            if r.status_code == 200:
                acked.extend(t["id_str"] for t in tweets)

    async def killer() -> None:
        await asyncio.sleep(seconds / 2)
        kill()

    async with httpx.AsyncClient(base_url=url, timeout=5) as ac:
        await asyncio.gather(killer(), *(sender(n, ac) for n in range(senders)))
    return acked, attempted


def test_kill_dash_nine_loses_no_acknowledged_tweet(
    backend: str, start_server: Callable[..., DeskServer], make_db: Callable[[str], str]
) -> None:
    db = make_db(backend)
    server = start_server(backend, db=db)
    acked, attempted = asyncio.run(_burst(server.url, 2.0, 16, server.kill))
    assert server.proc is not None and server.proc.returncode == -9
    assert len(acked) > 50, "the burst should have been acknowledged many times before the kill"
    assert attempted > len(set(acked)) // 3  # some requests were in flight or refused at the kill

    restarted = start_server(backend, db=db)
    client = Desk(restarted)
    stored = client.tweet_ids()
    client.close()
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged tweets lost, e.g. {sorted(missing)[:3]}"
    assert len(stored) == len(set(stored)), "a tweet id is stored twice"
    assert len(acked) == len(set(acked))
