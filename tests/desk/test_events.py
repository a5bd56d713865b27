"""Every Account Activity event type X delivers is answered 200 and counted per type.

X retries any delivery that does not get a 200, so a well-formed, correctly signed delivery of
an event type the desk does not store must still be acknowledged. The payloads follow the
shapes in X's Account Activity API documentation, including ``user_event`` (a token
revocation), which carries no ``for_user_id``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from deskkit import BRAND_ID, Desk, delivery, next_id, tweet

_USER = {"id": "3001", "id_str": "3001", "name": "Ann", "screen_name": "ann", "followers_count": 12}
_BRAND = {"id": BRAND_ID, "id_str": BRAND_ID, "name": "Brand", "screen_name": "brand", "followers_count": 9}


def _status() -> dict[str, Any]:
    return {"id_str": next_id(), "created_at": "Mon Mar 26 16:33:26 +0000 2018", "text": "hi", "user": _BRAND}


#: One delivery per event type, as X documents it (event type -> body).
PAYLOADS: dict[str, dict[str, Any]] = {
    "favorite_events": {
        "for_user_id": BRAND_ID,
        "favorite_events": [{
            "id": "a7ba59eab0bfcba386f7acedac279542", "created_at": "Mon Mar 26 16:33:26 +0000 2018",
            "timestamp_ms": 1522082006140, "favorited_status": _status(), "user": _USER,
        }],
    },
    "follow_events": {
        "for_user_id": BRAND_ID,
        "follow_events": [{"type": "follow", "created_timestamp": "1517588749178", "target": _BRAND, "source": _USER}],
    },
    "unfollow_events": {
        "for_user_id": BRAND_ID,
        "follow_events": [{"type": "unfollow", "created_timestamp": "1517588749178", "target": _USER,
                           "source": _BRAND}],
    },
    "block_events": {
        "for_user_id": BRAND_ID,
        "block_events": [{"type": "block", "created_timestamp": "1518127020304", "source": _BRAND, "target": _USER}],
    },
    "mute_events": {
        "for_user_id": BRAND_ID,
        "mute_events": [{"type": "mute", "created_timestamp": "1518127020304", "source": _BRAND, "target": _USER}],
    },
    "user_event": {
        # A revoked authorisation: X sends no for_user_id with it.
        "user_event": {"revoke": {"date_time": "2018-05-24T09:48:12+00:00", "target": {"app_id": "13090192"},
                                  "source": {"user_id": "63046977"}}},
    },
    "tweet_delete_events": {
        "for_user_id": BRAND_ID,
        "tweet_delete_events": [{"status": {"id": "1045405559317569537", "user_id": "3001"},
                                 "timestamp_ms": "1432228155593"}],
    },
    "direct_message_indicate_typing_events": {
        "for_user_id": BRAND_ID,
        "direct_message_indicate_typing_events": [{"created_timestamp": "1518127183443", "sender_id": "3001",
                                                   "target": {"recipient_id": BRAND_ID}}],
        "users": {"3001": _USER, BRAND_ID: _BRAND},
    },
    "direct_message_mark_read_events": {
        "for_user_id": BRAND_ID,
        "direct_message_mark_read_events": [{"created_timestamp": "1518452444662", "sender_id": BRAND_ID,
                                             "target": {"recipient_id": "3001"},
                                             "last_read_event_id": "963085315333238788"}],
        "users": {"3001": _USER, BRAND_ID: _BRAND},
    },
    "direct_message_events": {
        # A DM event other than message_create (X may add types): acknowledged, not stored.
        "for_user_id": BRAND_ID,
        "direct_message_events": [{"type": "message_reaction", "id": "1", "created_timestamp": "1518452444662"}],
    },
}


def _counted(client: Desk) -> dict[str, float]:
    text = client.http.get("/metrics").text
    return {m[1]: float(m[2]) for m in re.finditer(r'chirpdesk_event_deliveries_total\{type="(\w+)"\} (\S+)', text)}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_every_x_event_type_is_acknowledged_and_counted(client: Desk, name: str) -> None:
    body = json.dumps(PAYLOADS[name]).encode()
    kind = next(k for k in PAYLOADS[name] if k.endswith("_events") or k == "user_event")
    before = _counted(client).get(kind, 0)
    stored_before = len(client.tweet_ids())
    r = client.deliver(body)
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": 0, "duplicates": 0}
    assert _counted(client).get(kind, 0) == before + 1
    assert len(client.tweet_ids()) == stored_before  # nothing stored
    assert client.deliver(body).status_code == 200  # and again: X may redeliver


def test_a_new_event_type_and_a_body_without_events_are_acknowledged(client: Desk) -> None:
    before = _counted(client)
    for payload in ({"for_user_id": BRAND_ID, "space_created_events": [{"id": "1"}]}, {"for_user_id": BRAND_ID}):
        r = client.deliver(json.dumps(payload).encode())
        assert r.status_code == 200, r.text
    after = _counted(client)
    assert after.get("other_events", 0) == before.get("other_events", 0) + 1
    assert after.get("none", 0) == before.get("none", 0) + 1


def test_tweets_are_counted_by_type_too(client: Desk) -> None:
    before = _counted(client).get("tweet_create_events", 0)
    assert client.deliver(delivery([tweet("counted")])).status_code == 200
    assert _counted(client).get("tweet_create_events", 0) == before + 1


def test_a_bad_for_user_id_is_still_refused_naming_it(client: Desk) -> None:
    payload = {**PAYLOADS["follow_events"], "for_user_id": "not-a-number"}
    r = client.deliver(json.dumps(payload).encode())
    assert r.status_code == 400 and r.json()["field"] == "for_user_id"
