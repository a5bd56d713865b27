"""When the write path is saturated the desk says 429 + Retry-After at once, never times out."""

from __future__ import annotations

import asyncio
import json
import time
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
    accepted = {json.loads(b)["tweet_create_events"][0]["id_str"] for b, r in zip(bodies, responses, strict=True)
                if r.status_code == 200}
    assert accepted <= stored
    assert 'chirpdesk_rejected_total{reason="overload"}' in client.http.get("/metrics").text
    client.close()


def test_a_commit_slower_than_ack_timeout_answers_503_and_redelivery_is_stored_once(
    backend: str, start_server: Callable[..., DeskServer]
) -> None:
    # Each group commit takes 1.5 s against a 0.5 s acknowledgement deadline: the writer's
    # watchdog must answer 503 + Retry-After (never a 200 for an uncommitted tweet, never a
    # hang until X's 10 s limit), and X's redelivery afterwards must be idempotent.
    server = start_server(backend, {"CHIRPDESK_WRITE_DELAY": "1.5", "CHIRPDESK_ACK_TIMEOUT": "0.5"})
    client = Desk(server)
    body = delivery([tweet("slow disk")])
    first = client.deliver(body)
    assert first.status_code == 503, first.text
    assert int(first.headers["retry-after"]) >= 1
    assert first.elapsed.total_seconds() < 1.2  # the deadline plus at most a watchdog period
    assert first.json()["error"].startswith("commit did not finish in time")
    again = client.deliver(body)  # X retries: waits for the first commit, then its own
    assert again.status_code == 503
    tweet_id = json.loads(body)["tweet_create_events"][0]["id_str"]
    deadline = time.monotonic() + 10
    while tweet_id not in client.tweet_ids() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.tweet_ids().count(tweet_id) == 1
    assert 'chirpdesk_rejected_total{reason="timeout"}' in client.http.get("/metrics").text
    client.close()
