"""When the write path is saturated the desk says 429 + Retry-After at once, never times out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from deskkit import Desk, DeskServer, delivery, signed, tweet


def test_saturated_write_queue_answers_429_with_retry_after(
    backend: str, start_server: Callable[..., DeskServer]
) -> None:
    # A tiny queue and a slow "disk" (0.3 s per group commit) make saturation certain.
    server = start_server(
        backend, {"CHIRPDESK_QUEUE_MAX": "2", "CHIRPDESK_BATCH_MAX": "1", "CHIRPDESK_WRITE_DELAY": "0.3"}
    )
    bodies = [delivery([tweet(f"overload {i}")]) for i in range(30)]

    async def flood() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=30)
        async with httpx.AsyncClient(base_url=server.url, timeout=15, limits=limits) as ac:
            return await asyncio.gather(
                *(ac.post("/webhooks/twitter", content=b, headers=signed(b)) for b in bodies)
            )

    responses = asyncio.run(flood())
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 429}, codes
    assert codes.count(429) >= 10 and codes.count(200) >= 1
    for r in responses:
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1
            assert r.elapsed.total_seconds() < 5  # refused promptly, not after a timeout
    client = Desk(server)
    stored = set(client.tweet_ids())
    import json

    accepted = {json.loads(b)["tweet_create_events"][0]["id_str"] for b, r in zip(bodies, responses, strict=True)
                if r.status_code == 200}
    assert accepted <= stored
    assert 'chirpdesk_rejected_total{reason="overload"}' in client.http.get("/metrics").text
    client.close()
