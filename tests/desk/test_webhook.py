"""Webhook ingestion against a real server: CRC, signatures, idempotency, threading, bad input."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from chirpdesk.desk.config import WRITERS
from chirpdesk.desk.signature import sign
from deskkit import (
    BRAND_ID,
    BRAND_NAME,
    SECRET,
    Desk,
    DeskServer,
    delivery,
    dm,
    next_id,
    signed,
    tweet,
)


@pytest.fixture(scope="module", params=WRITERS)
def client(backend: str, request: pytest.FixtureRequest, start_server: Callable[..., DeskServer]) -> Iterator[Desk]:
    """A server per backend and per writer: parsing and commits in the commit process (the
    default) or on a thread of the HTTP process; both must behave the same."""
    env = {"CHIRPDESK_MAX_BODY_BYTES": "65536", "CHIRPDESK_WRITER": request.param}
    client = Desk(start_server(backend, env))
    yield client
    client.close()


def test_crc_challenge_answers_hmac_of_token(client: Desk) -> None:
    r = client.http.get("/webhooks/twitter", params={"crc_token": "challenge-123"})
    assert r.status_code == 200
    assert r.json() == {"response_token": sign(SECRET, "challenge-123")}
    assert r.json()["response_token"].startswith("sha256=")
    missing = client.http.get("/webhooks/twitter")
    assert missing.status_code == 400 and missing.json()["field"] == "crc_token"


def test_signature_is_required_and_checked(client: Desk) -> None:
    good = tweet("signed one")
    body = delivery([good])
    assert client.deliver(body).json() == {"stored": 1, "duplicates": 0}

    forged = tweet("forged")
    forged_body = delivery([forged])
    cases = {
        "missing": {"content-type": "application/json"},
        "wrong secret": signed(forged_body, secret="not-the-secret"),
        "other body": {"x-twitter-webhooks-signature": sign(SECRET, body)},
        "garbage": {"x-twitter-webhooks-signature": "sha256=\u00e9t\u00e9"},
    }
    for name, headers in cases.items():
        r = client.http.post(
            "/webhooks/twitter", content=forged_body,
            headers={k: v.encode("utf-8") for k, v in headers.items()},
        )
        assert r.status_code == 401, name
        assert r.json()["field"] == "x-twitter-webhooks-signature"
    ids = set(client.tweet_ids())
    assert good["id_str"] in ids and forged["id_str"] not in ids


def test_twenty_concurrent_redeliveries_store_once(client: Desk) -> None:
    t = tweet("why is my bill double?", user_id="5551")
    body = delivery([t])

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=client.server.url, timeout=15) as ac:
            return await asyncio.gather(
                *(ac.post("/webhooks/twitter", content=body, headers=signed(body)) for _ in range(20))
            )

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 20
    assert sum(r.json()["stored"] for r in responses) == 1
    assert sum(r.json()["duplicates"] for r in responses) == 19
    assert client.tweet_ids().count(t["id_str"]) == 1
    # ...and one conversation, not twenty.
    agent = client.create_agent(f"idem-{next_id()}")
    conv = client.conversation_of(t["id_str"], agent)
    assert [x["id_str"] for x in conv["tweets"]] == [t["id_str"]]


def test_threading_triage_and_brand_reply_close_the_wait(client: Desk) -> None:
    agent = client.create_agent(f"thread-{next_id()}")
    start = time.time() - 300
    first = tweet("my router is down #fail", user_id="7001", followers=50, created=start)
    follow = tweet("still nothing", user_id="7001", reply_to=first["id_str"], created=start + 10)
    other = tweet("love the new app", user_id="7002", created=start + 20)
    assert client.deliver(delivery([first, follow, other])).json()["stored"] == 3

    conv = client.conversation_of(first["id_str"], agent)
    assert [t["id_str"] for t in conv["tweets"]] == [first["id_str"], follow["id_str"]]
    assert (conv["kind"], conv["priority"], conv["status"]) == ("outage_report", "fail", "waiting")
    praise = client.conversation_of(other["id_str"], agent)
    assert praise["id"] != conv["id"] and praise["kind"] == "praise"

    # The brand answers natively on X: the webhook delivers its own tweet (author = for_user_id).
    answer = tweet("@cust sorry, checking", user_id=BRAND_ID, screen_name=BRAND_NAME,
                   reply_to=follow["id_str"], created=start + 95.5)
    assert client.deliver(delivery([answer])).json()["stored"] == 1
    after = client.http.get(f"/agent/conversations/{conv['id']}", headers=client.auth(agent)).json()
    assert after["status"] == "answered"
    assert after["first_response_seconds"] == pytest.approx(95.5, abs=0.01)
    assert after["first_response_by"] == f"brand:@{BRAND_NAME}"
    firsts = client.http.get("/stats/first_responses").json()
    assert any(i["conversation_id"] == conv["id"] for i in firsts["items"])

    # The customer writes again: back in the queue, first response unchanged.
    again = tweet("it is back, thanks", user_id="7001", reply_to=answer["id_str"], created=start + 200)
    client.deliver(delivery([again]))
    reopened = client.http.get(f"/agent/conversations/{conv['id']}", headers=client.auth(agent)).json()
    assert reopened["status"] == "waiting"
    assert reopened["first_response_seconds"] == pytest.approx(95.5, abs=0.01)


def test_direct_messages_are_ingested_and_brand_dm_answers(client: Desk) -> None:
    agent = client.create_agent(f"dm-{next_id()}")
    start = time.time() - 60
    incoming = dm("how do I change my plan?", sender="8001", recipient=BRAND_ID, created=start)
    r = client.deliver(delivery(dms=[incoming]))
    assert r.json() == {"stored": 1, "duplicates": 0}
    assert client.deliver(delivery(dms=[incoming])).json() == {"stored": 0, "duplicates": 1}
    convs = client.http.get("/agent/conversations", params={"limit": 1000}, headers=client.auth(agent)).json()
    mine = [c for c in convs["conversations"] if c["author_id"] == "8001"]
    assert len(mine) == 1 and mine[0]["channel"] == "dm" and mine[0]["kind"] == "question"
    answer = dm("Sure: Settings > Plan", sender=BRAND_ID, recipient="8001", created=start + 42)
    client.deliver(delivery(dms=[answer]))
    detail = client.http.get(f"/agent/conversations/{mine[0]['id']}", headers=client.auth(agent)).json()
    assert detail["first_response_seconds"] == pytest.approx(42, abs=0.01)
    assert len(detail["direct_messages"]) == 2


def test_other_activity_events_are_acknowledged(client: Desk) -> None:
    body = json.dumps({"for_user_id": BRAND_ID, "favorite_events": [{"id": "1"}]}).encode()
    assert client.deliver(body).json() == {"stored": 0, "duplicates": 0}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"tweet_create_events": [tweet()]}, "for_user_id"),
        ({"direct_message_events": [dm("hi", sender="7", recipient=BRAND_ID)]}, "for_user_id"),
        ({"for_user_id": BRAND_ID, "tweet_create_events": {}}, "tweet_create_events"),
        ({"for_user_id": BRAND_ID, "tweet_create_events": [{}]}, "tweet_create_events[0].id_str"),
        ({"for_user_id": BRAND_ID, "tweet_create_events": [tweet(), {**tweet(), "text": 5}]},
         "tweet_create_events[1].text"),
        ({"for_user_id": BRAND_ID, "tweet_create_events": [{**tweet(), "created_at": "yesterday"}]},
         "tweet_create_events[0].created_at"),
        ({"for_user_id": BRAND_ID, "tweet_create_events": [{**tweet(), "user": None}]},
         "tweet_create_events[0].user"),
        ({"for_user_id": BRAND_ID,
          "tweet_create_events": [{**tweet(), "user": {"id_str": "1", "followers_count": -3}}]},
         "tweet_create_events[0].user.followers_count"),
        ({"for_user_id": BRAND_ID, "tweet_create_events": [{**tweet(), "in_reply_to_status_id_str": "x"}]},
         "tweet_create_events[0].in_reply_to_status_id_str"),
        ({"for_user_id": BRAND_ID, "direct_message_events": [{"type": "message_create", "id": "1"}]},
         "direct_message_events[0].created_timestamp"),
        ([1, 2], "body"),
    ],
)
def test_schema_violations_are_400_naming_the_field(client: Desk, payload: object, field: str) -> None:
    body = json.dumps(payload).encode()
    r = client.deliver(body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field
    assert r.json()["error"]


def test_malformed_json_and_oversized_bodies(client: Desk) -> None:
    for raw in (b"{not json", b"", b"\xff\xfe", b'{"for_user_id": "1", "tweet_create_events": [' * 600):
        r = client.deliver(raw)
        assert r.status_code in (400, 413), raw[:20]
        assert r.json()["field"] == "body"
    big = delivery([tweet("x" * 9000) for _ in range(10)])  # ~100 KB > the 64 KiB limit
    r = client.deliver(big)
    assert r.status_code == 413 and r.json()["field"] == "body"

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(20):
            yield b" " * 8192

    r = client.http.post("/webhooks/twitter", content=chunks(), headers=signed(b"irrelevant"))
    assert r.status_code == 413
    metrics = client.http.get("/metrics").text
    assert 'chirpdesk_rejected_total{reason="too_large"}' in metrics
    assert 'chirpdesk_rejected_total{reason="invalid"}' in metrics
