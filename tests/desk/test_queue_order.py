"""The claim order follows the scenario's rule (``priority_rule`` x ``followups_first``), on both
backends; follow-ups re-enter the queue at their own time; old databases are migrated.

The order tests run real servers (``chirpdesk serve`` configured through ``CHIRPDESK_*``
variables, and once through the flags); the schema tests open the storage directly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from chirpdesk.desk.config import DeskConfig
from chirpdesk.desk.schema import parse_delivery
from chirpdesk.desk.storage import open_storage
from chirpdesk.desk.storage_base import Brand, QueueOrder, Storage
from deskkit import BRAND_ID, REPO, Desk, DeskServer, delivery, next_id, tweet

# Five waiting conversations (author id -> what it is). Times are seconds before "now":
# FU_N and FU_F were answered long ago and their customers have just written again.
N1, I1, F1, FU_N, FU_F = "51001", "51002", "51003", "51004", "51005"
EXPECTED = {
    # Follow-ups first (one class, first come first served whatever their priority), then
    # fail > influencer > normal, each by when its wait started.
    ("influencer_fail", True): [FU_N, FU_F, F1, I1, N1],
    # Follow-ups queue in their conversation's class, at their follow-up's time.
    ("influencer_fail", False): [F1, FU_F, I1, N1, FU_N],
    ("fifo", True): [FU_N, FU_F, N1, I1, F1],
    ("fifo", False): [N1, I1, F1, FU_N, FU_F],
    # User-defined orders (a scenario's priority list): the first level holding any of a
    # conversation's classes; follow-ups at their own level when listed, else in their class.
    ("influencer>outage+fail>followup>rest", True): [I1, F1, FU_N, FU_F, N1],
    ("outage>fail>influencer>rest", True): [F1, FU_F, I1, N1, FU_N],
}


def _env(rule: str, followups_first: bool) -> dict[str, str]:
    return {"CHIRPDESK_PRIORITY_RULE": rule, "CHIRPDESK_FOLLOWUPS_FIRST": "true" if followups_first else "no"}


def _claim(client: Desk, agent: dict[str, str]) -> dict[str, Any] | None:
    r = client.http.post("/agent/claim", headers=client.auth(agent))
    assert r.status_code == 200, r.text
    return r.json()["conversation"]


def _answer(client: Desk, agent: dict[str, str], conv_id: int) -> None:
    base = f"/agent/conversations/{conv_id}"
    A = client.auth(agent)
    assert client.http.post(base + "/claim", headers=A).status_code == 200
    assert client.http.post(base + "/reply", json={"text": "On it!"}, headers=A).status_code == 200
    released = client.http.post(base + "/release", headers=A).json()["conversation"]
    assert released["status"] == "answered" and released["awaiting_followup"] == 0


def _populate(client: Desk, agent: dict[str, str], now: float) -> dict[str, float]:
    """The five conversations of :data:`EXPECTED`; returns each one's follow-up/first time."""
    firsts = {FU_N: tweet("what are your hours?", user_id=FU_N, created=now - 1000),
              FU_F: tweet("charged twice #fail", user_id=FU_F, created=now - 800)}
    client.deliver(delivery(list(firsts.values())))
    for t in firsts.values():
        _answer(client, agent, client.conversation_of(t["id_str"], agent)["id"])
    times = {N1: now - 500, I1: now - 300, F1: now - 100, FU_N: now - 50, FU_F: now - 40}
    client.deliver(delivery([
        tweet("what are your hours?", user_id=N1, created=times[N1]),
        tweet("what are your hours?", user_id=I1, followers=250_000, created=times[I1]),
        tweet("checkout broken again", user_id=F1, created=times[F1]),  # outage report: fail class
    ]))
    # The follow-ups (plain questions: they do not change their conversation's priority).
    client.deliver(delivery([tweet("any news?", user_id=FU_N, created=times[FU_N],
                                   reply_to=firsts[FU_N]["id_str"])]))
    client.deliver(delivery([tweet("any news?", user_id=FU_F, created=times[FU_F])]))
    return times


@pytest.mark.parametrize(("rule", "followups_first"), list(EXPECTED))
def test_claim_order_follows_the_configured_rule(
    backend: str, start_server: Callable[..., DeskServer], rule: str, followups_first: bool
) -> None:
    client = Desk(start_server(backend, _env(rule, followups_first)))
    try:
        agent = client.create_agent(f"order-{next_id()}")
        now = time.time()
        times = _populate(client, agent, now)
        listed = client.http.get("/agent/conversations", params={"status": "waiting"},
                                 headers=client.auth(agent)).json()["conversations"]
        assert [c["author_id"] for c in listed] == EXPECTED[(rule, followups_first)]
        for conv in listed:
            assert conv["waiting_since"] == pytest.approx(times[conv["author_id"]], abs=0.01)
            assert conv["awaiting_followup"] == (1 if conv["author_id"] in (FU_N, FU_F) else 0)
        claimed = [_claim(client, agent) for _ in range(5)]
        assert [c["author_id"] for c in claimed if c] == EXPECTED[(rule, followups_first)]
        assert _claim(client, agent) is None
        # The follow-up did not move the first response (FRT is the first reply's, as documented).
        fu = next(c for c in claimed if c and c["author_id"] == FU_N)
        assert fu["first_response_seconds"] == pytest.approx(1000, abs=10)
        assert fu["priority"] == "normal" and fu["first_tweet_at"] == pytest.approx(now - 1000, abs=0.01)
    finally:
        client.close()


def test_flags_configure_the_order_and_bad_values_are_one_line_errors(
    backend: str, start_server: Callable[..., DeskServer], make_db: Callable[[str], str]
) -> None:
    # Flags win over the environment: influencer_fail by env, fifo without follow-ups by flag.
    client = Desk(start_server(backend, _env("influencer_fail", True),
                               args=["--priority-rule", "fifo", "--no-followups-first"]))
    try:
        agent = client.create_agent(f"flags-{next_id()}")
        _populate(client, agent, time.time())
        claimed = [_claim(client, agent) for _ in range(5)]
        assert [c["author_id"] for c in claimed if c] == EXPECTED[("fifo", False)]
    finally:
        client.close()
    for args, env, needle in (
        (["--priority-rule", "vip"], {}, "--priority-rule: got 'vip', expected one of fifo, influencer_fail or an order"),
        (["--priority-rule", "outage>vip>rest"], {}, "classes: outage, fail, influencer, followup, rest"),
        ([], {"CHIRPDESK_PRIORITY_RULE": "vip"},
         "chirpdesk: error: CHIRPDESK_PRIORITY_RULE: got 'vip', expected one of fifo, influencer_fail"),
        ([], {"CHIRPDESK_FOLLOWUPS_FIRST": "sometimes"},
         "chirpdesk: error: CHIRPDESK_FOLLOWUPS_FIRST: got 'sometimes', expected true or false"),
    ):
        r = subprocess.run([sys.executable, "-m", "chirpdesk.desk", "serve", "--db", make_db("sqlite"), *args],
                           cwd=REPO, env={**os.environ, **env},
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and needle in r.stderr, r.stderr


def test_a_follow_up_keeps_its_place_when_released_or_written_while_held(client: Desk) -> None:
    """Default order (influencer_fail, follow-ups first): a released follow-up goes back to
    waiting (not "answered"), with its original ``waiting_since``; a customer writing while an
    agent who already answered still holds the conversation is queued again on release."""
    agent = client.create_agent(f"fu-{next_id()}")
    while _claim(client, agent):
        pass
    A = client.auth(agent)
    now = time.time()
    first = tweet("where is my parcel?", user_id="52001", created=now - 600)
    client.deliver(delivery([first]))
    conv_id = client.conversation_of(first["id_str"], agent)["id"]
    _answer(client, agent, conv_id)
    client.deliver(delivery([tweet("still nothing", user_id="52001", created=now - 30)]))
    client.deliver(delivery([tweet("#fail outage", user_id="52002", created=now - 20)]))
    conv = _claim(client, agent)
    assert conv is not None and conv["id"] == conv_id and conv["awaiting_followup"] == 1
    assert conv["waiting_since"] == pytest.approx(now - 30, abs=0.01)
    back = client.http.post(f"/agent/conversations/{conv_id}/release", headers=A).json()["conversation"]
    assert back["status"] == "waiting" and back["waiting_since"] == pytest.approx(now - 30, abs=0.01)
    assert _claim(client, agent)["id"] == conv_id  # still ahead of the new #fail tweet
    assert client.http.post(f"/agent/conversations/{conv_id}/reply", json={"text": "Found it"},
                            headers=A).json()["conversation"]["awaiting_followup"] == 0
    # The customer answers while the agent still holds the conversation.
    client.deliver(delivery([tweet("thanks, and the invoice?", user_id="52001", created=now - 5)]))
    held = client.http.get(f"/agent/conversations/{conv_id}", headers=A).json()
    assert held["status"] == "claimed" and held["awaiting_followup"] == 1
    assert held["waiting_since"] == pytest.approx(now - 5, abs=0.01)
    back = client.http.post(f"/agent/conversations/{conv_id}/release", headers=A).json()["conversation"]
    assert back["status"] == "waiting"
    # A native brand reply dated before the follow-up (a late delivery) does not answer it...
    late = {"id_str": next_id(), "text": "@cust sorted?", "created_at": "Wed Oct 10 20:19:24 +0000 2018",
            "timestamp_ms": str(int((now - 10) * 1000)),
            "user": {"id_str": BRAND_ID, "screen_name": "AcmeHelp", "followers_count": 1},
            "in_reply_to_status_id_str": first["id_str"]}
    client.deliver(delivery([late]))
    assert client.http.get(f"/agent/conversations/{conv_id}", headers=A).json()["status"] == "waiting"
    # ...one dated after it does.
    client.deliver(delivery([{**late, "id_str": next_id(), "timestamp_ms": str(int(now * 1000))}]))
    detail = client.http.get(f"/agent/conversations/{conv_id}", headers=A).json()
    assert detail["status"] == "answered" and detail["awaiting_followup"] == 0
    assert detail["first_response_seconds"] == pytest.approx(600, abs=10)
    while _claim(client, agent):
        pass


# -- schema: the queue index, and migrating a database from before waiting_since -------------

#: ``conversations`` as created by releases before the configurable claim order.
LEGACY_CONVERSATIONS = """CREATE TABLE conversations (
    id {pk}, author_id TEXT NOT NULL, screen_name TEXT NOT NULL DEFAULT '',
    followers_count {bigint} NOT NULL DEFAULT 0, channel TEXT NOT NULL DEFAULT 'public',
    status TEXT NOT NULL, kind TEXT NOT NULL, priority TEXT NOT NULL, priority_rank INTEGER NOT NULL,
    first_tweet_id TEXT, first_tweet_at {float} NOT NULL, last_activity_at {float} NOT NULL,
    claimed_by {bigint}, claimed_at {float}, first_response_at {float},
    first_response_seconds {float}, first_response_by TEXT, resolved_at {float})"""


def _storage(db: str, order: QueueOrder) -> Storage:
    return open_storage(DeskConfig(db=db, priority_rule=order.priority_rule,
                                   followups_first=order.followups_first))


def _indexes(st: Storage) -> set[str]:
    conn = st._conn()
    if st.backend == "sqlite":
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                            " AND tbl_name = 'conversations' AND sql IS NOT NULL").fetchall()
    else:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'conversations'"
                            " AND schemaname = current_schema() AND indexname NOT LIKE '%pkey'").fetchall()
    return {r[0] for r in rows}


def test_an_older_database_gets_the_new_columns_and_keeps_its_queue(
    backend: str, make_db: Callable[[str], str]
) -> None:
    db = make_db(backend)
    st = _storage(db, QueueOrder())
    conn = st._connect()
    types = st._types()
    now = time.time()
    legacy = [  # (author, status, first_tweet_at, last_activity_at, first_response_at)
        ("53001", "waiting", now - 900, now - 20, now - 800),  # re-opened by a follow-up at ~-20
        ("53002", "waiting", now - 300, now - 300, None),
        ("53003", "answered", now - 200, now - 150, now - 150),
    ]
    with st._transaction(conn):
        conn.execute(LEGACY_CONVERSATIONS.format(**types))
        conn.execute("CREATE INDEX conversations_queue ON conversations (status, priority_rank, first_tweet_at, id)")
        for author, status, first, last, response in legacy:
            st._x(conn, "INSERT INTO conversations (author_id, status, kind, priority, priority_rank,"
                  " first_tweet_at, last_activity_at, first_response_at) VALUES (?, ?, 'question',"
                  " 'normal', 2, ?, ?, ?)", (author, status, first, last, response))
    conn.close()

    st.open()
    try:
        assert _indexes(st) == {"conversations_open_author", "conversations_queue_influencer_fail_ff"}
        rows = {c["author_id"]: c for c in st.write_sync(st.list_conversations, None, 10)}
        assert rows["53001"]["awaiting_followup"] == 1
        assert rows["53001"]["waiting_since"] == pytest.approx(now - 20)
        assert rows["53002"]["awaiting_followup"] == 0
        assert rows["53002"]["waiting_since"] == pytest.approx(now - 300)
        assert rows["53003"]["waiting_since"] == pytest.approx(now - 200)
        agent = st.write_sync(st.upsert_agent, "migrated", "0" * 64, now)
        assert st.write_sync(st.claim_next, agent, now)["author_id"] == "53001"
        assert st.write_sync(st.claim_next, agent, now)["author_id"] == "53002"
        # New messages after the migration are stored with the new columns.
        d = parse_delivery({"for_user_id": BRAND_ID, "tweet_create_events": [tweet("hello?", user_id="53004")]})
        st.write_sync(st.ingest, [d], Brand(BRAND_ID), 10_000, now)
        assert st.write_sync(st.claim_next, agent, now)["author_id"] == "53004"
    finally:
        st.close()
    # Re-opening with another order swaps the queue index (no stale index slows the writes).
    st = _storage(db, QueueOrder("fifo", False))
    st.open()
    try:
        assert _indexes(st) == {"conversations_open_author", "conversations_queue_fifo"}
    finally:
        st.close()


@pytest.mark.parametrize("order", QueueOrder.all(), ids=lambda o: o.tag)
def test_the_queue_index_serves_the_claim_without_a_sort(
    backend: str, make_db: Callable[[str], str], order: QueueOrder
) -> None:
    st = _storage(make_db(backend), order)
    st.open()
    try:
        conn = st._conn()
        query = f"SELECT id FROM conversations WHERE status = 'waiting' ORDER BY {order.order_by} LIMIT 1"
        if backend == "sqlite":
            plan = " / ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + query).fetchall())
            assert f"USING INDEX {order.index_name}" in plan or f"USING COVERING INDEX {order.index_name}" in plan
            assert "TEMP B-TREE" not in plan, plan
        else:
            with conn.transaction():
                conn.execute("SET LOCAL enable_seqscan = off")
                conn.execute("SET LOCAL enable_bitmapscan = off")
                plan = " / ".join(r[0] for r in conn.execute("EXPLAIN " + query).fetchall())
            assert order.index_name in plan and "Sort" not in plan, plan
    finally:
        st.close()


def test_a_customers_open_conversation_is_found_by_the_partial_index_without_a_sort(
    backend: str, make_db: Callable[[str], str]
) -> None:
    # Every customer message looks up its author's open conversation: it must be a probe of
    # conversations_open_author by author, not a scan of the waiting queue, however
    # many conversations are waiting.
    from chirpdesk.desk.storage_base import _AUTHOR_OPEN_CONV

    st = _storage(make_db(backend), QueueOrder())
    st.open()
    try:
        conn = st._conn()
        query = st._placeholder(_AUTHOR_OPEN_CONV[1:-1])
        if backend == "sqlite":
            with st._transaction(conn):
                for author in range(2000):  # a long queue, all waiting
                    conn.execute(
                        "INSERT INTO conversations (author_id, status, kind, priority, priority_rank,"
                        " first_tweet_at, last_activity_at, waiting_since) VALUES (?, 'waiting',"
                        " 'question', 'normal', 2, 1, 1, 1)", (str(author),))
            conn.execute("ANALYZE")
            plan = " / ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + query, ("7",)).fetchall())
            # (With statistics SQLite may still sort the one or two rows of that author.)
            assert "USING INDEX conversations_open_author" in plan, plan
            assert "queue" not in plan, plan
        else:
            with conn.transaction():
                conn.execute("SET LOCAL enable_seqscan = off")
                conn.execute("SET LOCAL enable_bitmapscan = off")
                plan = " / ".join(r[0] for r in conn.execute("EXPLAIN " + query, ("7",)).fetchall())
            assert "conversations_open_author" in plan and "Sort" not in plan, plan
    finally:
        st.close()
