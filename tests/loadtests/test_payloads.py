"""Payloads: signed like X, parsed by the desk's own schema, triaged as the kind drawn."""

from __future__ import annotations

import json
import time

import pytest

from chirpdesk.desk.schema import CREATED_AT_FORMAT, InvalidInput, parse_delivery
from chirpdesk.desk.signature import SIGNATURE_HEADER, verify
from chirpdesk.desk.triage import classify_kind
from chirpdesk.loadtests.payloads import Payloads, sign, x_time
from chirpdesk.loadtests.plan import parse_tweet_id, tweet_id
from chirpdesk.sim.vocabulary import FAIL_TAG, TWEET_KINDS

SECRET = "payload-secret"


@pytest.fixture(scope="module")
def pl() -> Payloads:
    return Payloads(SECRET, run_id=123456, seed=7, brand_id="42", brand_name="AcmeHelp")


def test_signature_verifies_with_the_desk_module(pl: Payloads) -> None:
    body = pl.arrival(5, "question", False, 1200, time.time())
    headers = pl.headers(body)
    assert verify(SECRET, body, headers[SIGNATURE_HEADER])
    assert not verify("another-secret", body, headers[SIGNATURE_HEADER])
    assert sign(SECRET, body) == headers[SIGNATURE_HEADER]


@pytest.mark.parametrize("kind", TWEET_KINDS)
def test_every_kind_is_triaged_as_drawn(pl: Payloads, kind: str) -> None:
    for index in range(300):
        for turn in (0, 1):
            text = pl.text(kind, index, fail=(kind == "complaint" and index % 2 == 0), turn=turn)
            assert classify_kind(text)[0] == kind, text


def test_questions_ask_and_fail_complaints_carry_the_tag(pl: Payloads) -> None:
    assert all("?" in pl.text("question", i) for i in range(50))
    assert FAIL_TAG in pl.text("complaint", 3, fail=True)
    assert FAIL_TAG not in pl.text("complaint", 3, fail=False)


def test_real_fields_parse_with_the_desk_schema(pl: Payloads) -> None:
    created = 1_700_000_000.25
    body = pl.arrival(9, "complaint", True, 25_000, created)
    raw = json.loads(body)
    tweet = raw["tweet_create_events"][0]
    assert set(tweet) >= {"id_str", "text", "created_at", "timestamp_ms", "user", "in_reply_to_status_id_str"}
    assert set(tweet["user"]) == {"id_str", "screen_name", "followers_count"}
    assert tweet["created_at"] == "Tue Nov 14 22:13:20 +0000 2023"
    assert time.strptime(x_time(created), CREATED_AT_FORMAT.replace(" %z", " +0000"))
    parsed = parse_delivery(raw)
    (t,) = parsed.tweets
    assert parsed.for_user_id == "42"
    assert t.followers_count == 25_000 and t.created_at == pytest.approx(created, abs=1e-3)
    assert parse_tweet_id(t.id_str, 123456) == (9, 0)


def test_reply_chain_links_follow_up_to_brand_reply(pl: Payloads) -> None:
    first = tweet_id(123456, 9, 0)
    brand = json.loads(pl.delivery(pl.brand_tweet(9, 1, "We're on it", time.time(), first)))
    b = brand["tweet_create_events"][0]
    assert b["user"]["id_str"] == "42" and b["in_reply_to_status_id_str"] == first
    follow = parse_delivery(json.loads(pl.followup(9, "complaint", 1, 100, time.time(), b["id_str"]))).tweets[0]
    assert follow.in_reply_to_status_id_str == b["id_str"]
    assert follow.author_id == parse_delivery(json.loads(pl.arrival(9, "complaint", False, 100, time.time()))).tweets[0].author_id
    assert parse_tweet_id(follow.id_str, 123456) == (9, 1)


def test_redelivery_is_byte_identical(pl: Payloads) -> None:
    assert pl.arrival(3, "praise", False, 10, 1e9) == pl.arrival(3, "praise", False, 10, 1e9)


def test_bad_bodies_fail_where_the_desk_checks(pl: Payloads) -> None:
    body, headers = pl.malformed(1, "malformed_json", time.time())
    assert verify(SECRET, body, headers[SIGNATURE_HEADER])
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    body, headers = pl.malformed(1, "schema", time.time())
    assert verify(SECRET, body, headers[SIGNATURE_HEADER])
    with pytest.raises(InvalidInput, match="id_str"):
        parse_delivery(json.loads(body))
    body, headers = pl.malformed(1, "bad_signature", time.time())
    assert not verify(SECRET, body, headers[SIGNATURE_HEADER])
    body, headers = pl.oversized(1, 1 << 20, time.time())
    assert len(body) > 1 << 20 and verify(SECRET, body, headers[SIGNATURE_HEADER])
