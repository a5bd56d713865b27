"""Validate X Account Activity deliveries and agent-API bodies into plain records.

Every problem raises :class:`InvalidInput` naming the offending field with a JSON path
(``tweet_create_events[0].user.id_str``) so a client can fix its payload; the routes turn it into
a 400 ``{"error": ..., "field": ...}``. Only the fields the desk uses are checked; anything else X
sends is ignored, as X adds fields over time.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple

#: X's ``created_at`` format, e.g. ``Wed Oct 10 20:19:24 +0000 2018``.
CREATED_AT_FORMAT = "%a %b %d %H:%M:%S %z %Y"
_CREATED_AT_SHAPE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" [0-3]\d [0-2]\d:[0-5]\d:[0-6]\d [+-]\d{4} \d{4}"
)
#: Longest tweet/DM text stored, characters (X DMs allow 10,000; tweets far fewer).
MAX_TEXT = 10_000
#: Longest id accepted (X ids are 64-bit integers: at most 20 digits).
MAX_ID_DIGITS = 20


class InvalidInput(ValueError):
    """A request body that violates the schema; ``field`` is the JSON path of the bad value."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


# The records below are immutable named tuples rather than frozen dataclasses: one is built per
# event on the webhook's hot path, and a tuple is several times cheaper to construct.


class Tweet(NamedTuple):
    """The parts of a ``tweet_create_events`` entry the desk stores. Times are epoch seconds."""

    id_str: str
    text: str
    created_at: float
    author_id: str
    screen_name: str
    followers_count: int
    in_reply_to_status_id_str: str | None


class DirectMessage(NamedTuple):
    """The parts of a ``direct_message_events`` ``message_create`` entry the desk stores."""

    id: str
    text: str
    created_at: float
    sender_id: str
    recipient_id: str


#: The Account Activity event types X delivers (each a top-level key of a delivery). The desk
#: stores ``tweet_create_events`` and ``direct_message_events`` (``message_create``); every other
#: type is acknowledged with 200 and counted, as X retries any other answer.
EVENT_TYPES: tuple[str, ...] = (
    "tweet_create_events", "direct_message_events", "tweet_delete_events", "favorite_events",
    "follow_events", "unfollow_events", "block_events", "unblock_events", "mute_events",
    "unmute_events", "user_event", "direct_message_indicate_typing_events",
    "direct_message_mark_read_events",
)
_EVENT_TYPES = frozenset(EVENT_TYPES)
#: Label for an event type X may add that the desk does not know yet (``*_events``).
OTHER_EVENT_TYPE = "other_events"


class Delivery(NamedTuple):
    """One validated webhook delivery: the subscribed (brand) user and its events.

    ``for_user_id`` is ``""`` when X left it out, which it does for event types that are not
    about one subscribed user (``user_event``, a token revocation); a delivery that carries
    tweets or DMs must name it. ``kinds`` lists the delivery's event types, comma-separated, in
    the body's order (:data:`EVENT_TYPES`, or :data:`OTHER_EVENT_TYPE`).
    """

    for_user_id: str
    tweets: tuple[Tweet, ...]
    direct_messages: tuple[DirectMessage, ...]
    kinds: str = ""

    @property
    def event_count(self) -> int:
        """Number of tweets plus DMs in the delivery."""
        return len(self.tweets) + len(self.direct_messages)


def _obj(value: Any, path: str, name: str = "") -> dict[str, Any]:
    # Field paths are built only on error (``path + name``): they are per-field f-strings otherwise.
    if not isinstance(value, dict):
        raise InvalidInput(path + name, "expected an object")
    return value


def _id(value: Any, path: str, name: str = "", *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:
        raise InvalidInput(path + name, "expected a numeric id string")
    if not text.isdigit() or not text.isascii() or len(text) > MAX_ID_DIGITS:
        raise InvalidInput(path + name, f"expected a numeric id string of 1-{MAX_ID_DIGITS} digits")
    return text


def _text(value: Any, path: str, name: str = "") -> str:
    if not isinstance(value, str):
        raise InvalidInput(path + name, "expected a string")
    if len(value) > MAX_TEXT:
        raise InvalidInput(path + name, f"longer than {MAX_TEXT} characters")
    if "\x00" in value:
        _no_nul(value, path + name)
    return value


def _no_nul(value: str, path: str) -> None:
    # X never sends NUL characters, and PostgreSQL cannot store them in text columns.
    if "\x00" in value:
        raise InvalidInput(path, "contains a NUL character")


def _epoch_ms(value: Any, path: str, name: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(path + name, "expected milliseconds since the epoch")
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 15:
        raise InvalidInput(path + name, "expected milliseconds since the epoch")
    return int(text) / 1000.0


def _created_at(value: Any, path: str) -> float:
    if not isinstance(value, str):
        raise InvalidInput(path, "expected a string like 'Wed Oct 10 20:19:24 +0000 2018'")
    try:
        return datetime.strptime(value, CREATED_AT_FORMAT).timestamp()
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(path, "expected X's format 'Wed Oct 10 20:19:24 +0000 2018'") from None


def parse_tweet(raw: Any, path: str) -> Tweet:
    """Validate one ``tweet_create_events`` entry."""
    obj = _obj(raw, path)
    get = obj.get
    id_str = _id(get("id_str"), path, ".id_str")
    # Long tweets carry their full text in extended_tweet; X truncates ``text`` with an ellipsis.
    extended = get("extended_tweet")
    if isinstance(extended, dict) and isinstance(extended.get("full_text"), str):
        text = _text(extended["full_text"], path, ".extended_tweet.full_text")
    else:
        text = _text(get("text"), path, ".text")
    # created_at is always present; timestamp_ms, when present, adds millisecond precision and
    # spares the (slow) strptime: then created_at only has its shape checked.
    timestamp_ms = get("timestamp_ms")
    if timestamp_ms is not None:
        created = _epoch_ms(timestamp_ms, path, ".timestamp_ms")
        raw_created = get("created_at")
        if not isinstance(raw_created, str) or not _CREATED_AT_SHAPE.fullmatch(raw_created):
            raise InvalidInput(f"{path}.created_at", "expected X's format 'Wed Oct 10 20:19:24 +0000 2018'")
    else:
        created = _created_at(get("created_at"), f"{path}.created_at")
    user = _obj(get("user"), path, ".user")
    author_id = _id(user.get("id_str"), path, ".user.id_str")
    screen_name = user.get("screen_name", "")
    if not isinstance(screen_name, str) or len(screen_name) > 50:
        raise InvalidInput(f"{path}.user.screen_name", "expected a handle string")
    if "\x00" in screen_name:
        _no_nul(screen_name, f"{path}.user.screen_name")
    followers = user.get("followers_count", 0)
    if isinstance(followers, bool) or not isinstance(followers, int) or not 0 <= followers < 2**53:
        raise InvalidInput(f"{path}.user.followers_count", "expected an integer >= 0")
    reply_to = _id(get("in_reply_to_status_id_str"), path, ".in_reply_to_status_id_str", required=False)
    assert id_str is not None and author_id is not None
    return Tweet(id_str, text, created, author_id, screen_name, followers, reply_to)


def parse_dm(raw: Any, path: str) -> DirectMessage | None:
    """Validate one ``direct_message_events`` entry; ``None`` for types other than message_create."""
    obj = _obj(raw, path)
    if obj.get("type") != "message_create":
        return None
    dm_id = _id(obj.get("id"), path, ".id")
    created = _epoch_ms(obj.get("created_timestamp"), path, ".created_timestamp")
    create = _obj(obj.get("message_create"), path, ".message_create")
    target = _obj(create.get("target"), path, ".message_create.target")
    recipient = _id(target.get("recipient_id"), path, ".message_create.target.recipient_id")
    sender = _id(create.get("sender_id"), path, ".message_create.sender_id")
    data = _obj(create.get("message_data"), path, ".message_create.message_data")
    text = _text(data.get("text"), path, ".message_create.message_data.text")
    assert dm_id is not None and recipient is not None and sender is not None
    return DirectMessage(dm_id, text, created, sender, recipient)


def event_kinds(obj: dict[str, Any]) -> str:
    """The event types of a delivery body, comma-separated (see :attr:`Delivery.kinds`)."""
    kinds = [
        key if key in _EVENT_TYPES else OTHER_EVENT_TYPE
        for key in obj
        if key in _EVENT_TYPES or key.endswith("_events")
    ]
    return ",".join(kinds)


def parse_delivery(payload: Any, max_events: int = 1000) -> Delivery:
    """Validate a whole webhook body; other event kinds (follows, likes...) are accepted and ignored."""
    obj = _obj(payload, "body")
    raw_for = obj.get("for_user_id")
    for_user_id = "" if raw_for is None else _id(raw_for, "for_user_id")
    assert for_user_id is not None
    tweets: list[Tweet] = []
    dms: list[DirectMessage] = []
    raw_tweets = obj.get("tweet_create_events", [])
    if not isinstance(raw_tweets, list):
        raise InvalidInput("tweet_create_events", "expected a list")
    raw_dms = obj.get("direct_message_events", [])
    if not isinstance(raw_dms, list):
        raise InvalidInput("direct_message_events", "expected a list")
    if len(raw_tweets) + len(raw_dms) > max_events:
        raise InvalidInput("tweet_create_events", f"more than {max_events} events in one delivery")
    for i, raw in enumerate(raw_tweets):
        tweets.append(parse_tweet(raw, f"tweet_create_events[{i}]"))
    for i, raw in enumerate(raw_dms):
        dm = parse_dm(raw, f"direct_message_events[{i}]")
        if dm is not None:
            dms.append(dm)
    if not for_user_id and (tweets or dms):
        raise InvalidInput("for_user_id", "required when a delivery carries tweets or direct messages")
    return Delivery(for_user_id, tuple(tweets), tuple(dms), event_kinds(obj))


def require_text(body: Any, name: str = "text", max_len: int = 280) -> str:
    """Return a non-blank string field of an agent-API body, at most ``max_len`` characters."""
    obj = _obj(body, "body")
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(name, "expected a non-empty string")
    if len(value) > max_len:
        raise InvalidInput(name, f"longer than {max_len} characters")
    _no_nul(value, name)
    return value


def optional_text(body: Any, name: str, max_len: int = 2000) -> str | None:
    """Return an optional string field of an agent-API body (``None`` when absent)."""
    obj = _obj(body, "body")
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise InvalidInput(name, f"expected a string of at most {max_len} characters")
    _no_nul(value, name)
    return value
