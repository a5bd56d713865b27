"""Hypothesis fuzzing of the webhook and agent API on a real server: never a 5xx."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskkit import ADMIN, BRAND_ID, Desk, delivery, signed, tweet

_FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)

# Payloads close to the real shape (mutated fields) reach deeper validation and storage paths
# than arbitrary JSON does.
_KEYS = ["id_str", "text", "created_at", "timestamp_ms", "user", "in_reply_to_status_id_str"]
near_tweets = st.builds(
    lambda base, key, value: {**base, key: value} if key else base,
    st.builds(lambda text, followers: tweet(text, followers=followers),
              st.text(max_size=50), st.integers(min_value=0, max_value=10**7)),
    st.sampled_from([None, *_KEYS]),
    json_values,
)
near_deliveries = st.fixed_dictionaries(
    {"for_user_id": st.sampled_from([BRAND_ID, "1", 5, None, "x"]),
     "tweet_create_events": st.lists(near_tweets, max_size=3)},
    optional={"direct_message_events": st.lists(json_values, max_size=2)},
)


# Header values an HTTP client can send at all (no control characters), as UTF-8 bytes.
header_values = st.text(
    st.characters(min_codepoint=32, blacklist_categories=("Cc", "Cs")), max_size=60
).map(lambda s: s.strip(" \t").encode("utf-8"))


def _no_5xx(status: int, body: str) -> None:
    assert status < 500, body


@_FUZZ
@given(payload=json_values)
def test_fuzz_webhook_arbitrary_json(client: Desk, payload: Any) -> None:
    body = json.dumps(payload).encode()
    r = client.deliver(body)
    _no_5xx(r.status_code, r.text)
    assert r.status_code in (200, 400)


@_FUZZ
@given(payload=near_deliveries)
def test_fuzz_webhook_near_valid_deliveries(client: Desk, payload: Any) -> None:
    body = json.dumps(payload).encode()
    r = client.deliver(body)
    _no_5xx(r.status_code, r.text)
    if r.status_code == 400:
        assert isinstance(r.json()["field"], str)


@_FUZZ
@given(raw=st.binary(max_size=200), sig=st.none() | header_values)
def test_fuzz_webhook_raw_bytes_and_signatures(client: Desk, raw: bytes, sig: bytes | None) -> None:
    headers = signed(raw) if sig is None else {"x-twitter-webhooks-signature": sig}
    r = client.http.post("/webhooks/twitter", content=raw, headers=headers)
    _no_5xx(r.status_code, r.text)
    assert r.status_code in (200, 400, 401)


@_FUZZ
@given(
    action=st.sampled_from(["claim", "reply", "dm", "escalate", "resolve", "release", ""]),
    # Small ids hit real conversations; huge ones must still be a clean 404.
    conv=st.integers(min_value=0, max_value=5) | st.integers(min_value=0, max_value=2**64),
    body=json_values,
    token=st.sampled_from(["agent", "bad", "none"]),
)
def test_fuzz_agent_api(client: Desk, action: str, conv: int, body: Any, token: str) -> None:
    global _agent
    if _agent is None:
        _agent = client.create_agent("fuzzer")
        client.deliver(delivery([tweet("how do I fuzz?", user_id="55555")]))
    headers = {"agent": client.auth(_agent), "bad": {"Authorization": "Bearer zzzzzzzz"}, "none": {}}[token]
    path = f"/agent/conversations/{conv}" + (f"/{action}" if action else "")
    if action:
        r = client.http.post(path, content=json.dumps(body).encode(), headers=headers)
    else:
        r = client.http.get(path, headers=headers)
    _no_5xx(r.status_code, r.text)
    assert r.status_code in (200, 400, 401, 403, 404, 409)


@_FUZZ
@given(name=json_values, status=st.text(max_size=10), limit=st.text(max_size=6), after=st.text(max_size=25))
def test_fuzz_admin_and_query_params(client: Desk, name: Any, status: str, limit: str, after: str) -> None:
    r = client.http.post("/admin/agents", json={"name": name}, headers={"Authorization": f"Bearer {ADMIN}"})
    _no_5xx(r.status_code, r.text)
    r = client.http.get("/stats/tweets", params={"after": after, "limit": limit})
    _no_5xx(r.status_code, r.text)
    if _agent is not None:
        r = client.http.get("/agent/conversations", params={"status": status, "limit": limit},
                            headers=client.auth(_agent))
        _no_5xx(r.status_code, r.text)


_agent: dict[str, str] | None = None
