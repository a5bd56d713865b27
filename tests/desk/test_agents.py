"""The agent desk API against a real server: exclusivity, FRT, auth, lifecycle, observability."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from deskkit import ADMIN, Desk, delivery, next_id, tweet


def _claim_all(url: str, requests: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests))
        async with httpx.AsyncClient(base_url=url, timeout=15, limits=limits) as ac:
            return await asyncio.gather(*(ac.post(path, headers=h) for path, h in requests))

    return asyncio.run(run())


def test_twenty_concurrent_agents_never_share_a_conversation(client: Desk) -> None:
    agents = [client.create_agent(f"excl-{i}-{next_id()}") for i in range(20)]
    # Drain anything earlier tests left waiting so the count below is exact.
    while client.http.post("/agent/claim", headers=client.auth(agents[0])).json()["conversation"]:
        pass
    tweets = [tweet(f"how do I {i}?", user_id=str(20_000 + i)) for i in range(12)]
    assert client.deliver(delivery(tweets)).json()["stored"] == 12

    responses = _claim_all(client.server.url, [("/agent/claim", client.auth(a)) for a in agents])
    assert all(r.status_code == 200 for r in responses)
    claimed = [r.json()["conversation"] for r in responses if r.json()["conversation"]]
    assert len(claimed) == 12
    assert len({c["id"] for c in claimed}) == 12
    assert all(c["status"] == "claimed" for c in claimed)

    # Twenty agents racing for one specific conversation: exactly one wins, the rest get 409.
    target = tweet("is there a family plan?", user_id="29999")
    client.deliver(delivery([target]))
    conv_id = client.conversation_of(target["id_str"], agents[0])["id"]
    path = f"/agent/conversations/{conv_id}/claim"
    responses = _claim_all(client.server.url, [(path, client.auth(a)) for a in agents])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 19
    assert all(r.json()["field"] == "conversation_id" for r in responses if r.status_code == 409)


def test_claim_order_follows_priority_then_age(client: Desk) -> None:
    agent = client.create_agent(f"order-{next_id()}")
    while client.http.post("/agent/claim", headers=client.auth(agent)).json()["conversation"]:
        pass
    now = time.time()
    normal = tweet("what are your hours?", user_id="31001", created=now - 500)
    influencer = tweet("what are your hours?", user_id="31002", followers=250_000, created=now - 100)
    fail = tweet("checkout broken again #fail", user_id="31003", created=now - 10)
    client.deliver(delivery([normal, influencer, fail]))
    order = []
    for _ in range(3):
        conv = client.http.post("/agent/claim", headers=client.auth(agent)).json()["conversation"]
        order.append((conv["author_id"], conv["priority"]))
    assert order == [("31003", "fail"), ("31002", "influencer"), ("31001", "normal")]
    assert client.http.post("/agent/claim", headers=client.auth(agent)).json() == {"conversation": None}


def test_reply_records_first_response_time(client: Desk) -> None:
    agent = client.create_agent(f"frt-{next_id()}")
    t = tweet("can I get a refund?", user_id="32001", created=time.time() - 90)
    client.deliver(delivery([t]))
    conv_id = client.conversation_of(t["id_str"], agent)["id"]
    assert client.http.post(f"/agent/conversations/{conv_id}/claim", headers=client.auth(agent)).status_code == 200
    r = client.http.post(f"/agent/conversations/{conv_id}/reply", json={"text": "Yes, DM us"},
                         headers=client.auth(agent))
    assert r.status_code == 200, r.text
    conv = r.json()["conversation"]
    assert conv["first_response_seconds"] == pytest.approx(90, abs=5)
    assert conv["first_response_by"] == f"agent:{agent['name']}"
    # A second reply does not move the first response.
    later = client.http.post(f"/agent/conversations/{conv_id}/reply", json={"text": "anything else?"},
                             headers=client.auth(agent)).json()["conversation"]
    assert later["first_response_seconds"] == conv["first_response_seconds"]
    firsts = client.http.get("/stats/first_responses").json()
    assert conv["first_response_seconds"] in firsts["seconds"]
    stats = client.http.get("/stats").json()
    assert stats["first_response_seconds"]["count"] >= 1
    assert stats["sla"]["threshold_seconds"] == 600
    assert 0 <= stats["sla"]["attainment"] <= 1
    detail = client.http.get(f"/agent/conversations/{conv_id}", headers=client.auth(agent)).json()
    assert [x["text"] for x in detail["replies"]] == ["Yes, DM us", "anything else?"]


def test_dm_escalate_release_resolve_lifecycle(client: Desk) -> None:
    alice = client.create_agent(f"alice-{next_id()}")
    bob = client.create_agent(f"bob-{next_id()}")
    t = tweet("worst service ever, refund now", user_id="33001", created=time.time() - 30)
    client.deliver(delivery([t]))
    conv_id = client.conversation_of(t["id_str"], alice)["id"]
    base = f"/agent/conversations/{conv_id}"
    A, B = client.auth(alice), client.auth(bob)

    assert client.http.post(base + "/reply", json={"text": "hi"}, headers=A).status_code == 409  # not claimed
    assert client.http.post(base + "/claim", headers=A).status_code == 200
    assert client.http.post(base + "/claim", headers=A).status_code == 200  # idempotent for the holder
    assert client.http.post(base + "/claim", headers=B).status_code == 409
    assert client.http.post(base + "/reply", json={"text": "hi"}, headers=B).status_code == 409
    assert client.http.post(base + "/release", headers=B).status_code == 409

    released = client.http.post(base + "/release", headers=A).json()["conversation"]
    assert released["status"] == "waiting" and released["claimed_by"] is None
    assert client.http.post(base + "/claim", headers=B).status_code == 200

    r = client.http.post(base + "/dm", json={"text": "Let's take this to DM"}, headers=B)
    assert r.status_code == 200 and r.json()["conversation"]["channel"] == "dm"
    assert r.json()["conversation"]["first_response_seconds"] is not None

    bad = client.http.post(base + "/escalate", json={"target": "carrier pigeon"}, headers=B)
    assert bad.status_code == 400 and bad.json()["field"] == "target"
    r = client.http.post(base + "/escalate", json={"target": "email", "note": "billing"}, headers=B)
    assert r.status_code == 200
    assert r.json()["ticket"]["target"] == "email" and r.json()["ticket"]["id"] > 0
    assert r.json()["conversation"]["status"] == "escalated"

    assert client.http.post(base + "/resolve", headers=A).status_code == 409  # Alice does not hold it
    done = client.http.post(base + "/resolve", headers=B).json()["conversation"]
    assert done["status"] == "resolved" and done["resolved_at"] is not None
    assert client.http.post(base + "/claim", headers=A).status_code == 409

    stats = client.http.get("/stats").json()
    assert stats["escalations"]["by_target"]["email"] >= 1
    assert 'chirpdesk_escalations_total{target="email"}' in client.http.get("/metrics").text


def test_agent_api_refuses_bad_credentials_and_input(client: Desk) -> None:
    agent = client.create_agent(f"auth-{next_id()}")
    assert client.http.post("/agent/claim").status_code == 401
    assert client.http.post("/agent/claim", headers={"Authorization": "Basic abc"}).status_code == 401
    r = client.http.post("/agent/claim", headers={"Authorization": "Bearer not-an-agent"})
    assert r.status_code == 403 and r.json()["field"] == "authorization"
    assert client.http.get("/agent/me", headers=client.auth(agent)).json()["name"] == agent["name"]
    assert client.http.post("/admin/agents", json={"name": "x"}, headers={"Authorization": "Bearer nope"}).status_code == 403
    r = client.http.post("/admin/agents", json={"name": ""}, headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 400 and r.json()["field"] == "name"
    A = client.auth(agent)
    assert client.http.post("/agent/conversations/999999999/claim", headers=A).status_code == 404
    assert client.http.post(f"/agent/conversations/{2**70}/claim", headers=A).status_code == 404
    t = tweet("how?", user_id="34001")
    client.deliver(delivery([t]))
    conv_id = client.conversation_of(t["id_str"], agent)["id"]
    client.http.post(f"/agent/conversations/{conv_id}/claim", headers=A)
    for body, field in (({"text": ""}, "text"), ({"text": "x" * 281}, "text"), ([], "body")):
        r = client.http.post(f"/agent/conversations/{conv_id}/reply", json=body, headers=A)
        assert r.status_code == 400 and r.json()["field"] == field
    r = client.http.post(f"/agent/conversations/{conv_id}/reply", content=b"{oops", headers=A)
    assert r.status_code == 400 and r.json()["field"] == "body"
    assert client.http.get("/agent/conversations", params={"status": "bogus"}, headers=A).json()["field"] == "status"


def test_health_and_metrics_exposition(client: Desk) -> None:
    health = client.http.get("/healthz").json()
    assert health["status"] == "ok" and health["backend"] in ("sqlite", "postgresql")
    text = client.http.get("/metrics").text
    for name in ("chirpdesk_ingested_total", "chirpdesk_duplicates_total", "chirpdesk_queue_depth",
                 "chirpdesk_write_queue_depth", "chirpdesk_first_response_seconds_bucket",
                 "chirpdesk_rejected_total", "chirpdesk_ack_seconds_count"):
        assert name in text, name
    assert '# TYPE chirpdesk_first_response_seconds histogram' in text
    assert 'chirpdesk_first_response_seconds_bucket{le="+Inf"}' in text
