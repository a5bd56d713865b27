"""Signed X Account Activity deliveries for the load tests (pure: no Locust, no network).

Texts are written with the shared vocabulary (:mod:`chirpdesk.sim.vocabulary`) so that the desk's triage
files each tweet under the kind the scenario drew: questions carry a question word and ``?``,
complaints a complaint word (and ``#fail`` when drawn), outage reports an outage word, praise a
praise word, spam a spam word; filler words come from Faker (seeded) with every vocabulary word
removed, so filler never changes the kind. Bodies are bytes, signed as X signs them:
``x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(secret, body)>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from faker import Faker

from chirpdesk.loadtests.plan import author_id, tweet_id
from chirpdesk.sim.vocabulary import (
    COMPLAINT_WORDS,
    FAIL_TAG,
    OUTAGE_WORDS,
    PRAISE_WORDS,
    QUESTION_WORDS,
    SPAM_WORDS,
)

#: Header carrying the delivery signature.
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
#: X's ``created_at`` format.
CREATED_AT_FORMAT = "%a %b %d %H:%M:%S +0000 %Y"

_VOCAB = {w for phrase in (*COMPLAINT_WORDS, *OUTAGE_WORDS, *PRAISE_WORDS, *QUESTION_WORDS, *SPAM_WORDS)
          for w in phrase.replace("'", " ").split()}
_QUESTIONS = ("how do I", "why does my", "when will the", "where can I find", "what happened to",
              "can I change", "is there a way to fix")
_OUTAGES = ("app is down", "site not working", "can't log in", "checkout broken", "service offline",
            "outage again", "error on every page")


def sign(secret: str | bytes, body: bytes) -> str:
    """``"sha256=" + base64(HMAC-SHA256(secret, body))``, the value of :data:`SIGNATURE_HEADER`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


def x_time(epoch: float) -> str:
    """X's ``created_at`` text ("Wed Oct 10 20:19:24 +0000 2018") for epoch seconds (UTC)."""
    return time.strftime(CREATED_AT_FORMAT, time.gmtime(epoch))


class Payloads:
    """Builds the deliveries of one run: ``run_id`` makes ids unique per run, ``seed`` makes
    names and texts reproducible, ``brand_id``/``brand_name`` are the subscribed account."""

    def __init__(self, secret: str, run_id: int, seed: int, brand_id: str, brand_name: str,
                 pool: int = 512) -> None:
        self.secret = secret
        self.run_id = run_id
        self.brand_id = brand_id
        self.brand_name = brand_name
        fake = Faker("en_US")
        fake.seed_instance(seed)
        # Pools drawn once: Faker per tweet would cost more than the HTTP request itself.
        self._names = [fake.user_name()[:13] for _ in range(pool)]
        words = [w for w in fake.words(nb=4 * pool) if w.lower() not in _VOCAB and w.isalpha()]
        self._words = words or ["lorem"]

    # -- pieces ------------------------------------------------------------------------------
    def screen_name(self, index: int) -> str:
        """The customer's handle for arrival ``index`` (unique per arrival)."""
        return f"{self._names[index % len(self._names)]}{index % 1000}"

    def _filler(self, index: int, turn: int, n: int = 5) -> str:
        w = self._words
        return " ".join(w[(index * 7 + turn * 13 + k * 31) % len(w)] for k in range(n))

    def text(self, kind: str, index: int, fail: bool = False, turn: int = 0) -> str:
        """A tweet text of ``kind`` (see module docstring) mentioning the brand."""
        filler = self._filler(index, turn)
        if kind == "question":
            body = f"{_QUESTIONS[index % len(_QUESTIONS)]} {filler}?"
        elif kind == "complaint":
            body = f"{filler}, {COMPLAINT_WORDS[index % len(COMPLAINT_WORDS)]}"
        elif kind == "outage_report":
            body = f"{_OUTAGES[index % len(_OUTAGES)]} {filler}"
        elif kind == "praise":
            body = f"{PRAISE_WORDS[index % len(PRAISE_WORDS)]} {filler}"
        elif kind == "spam":
            body = f"{SPAM_WORDS[index % len(SPAM_WORDS)]} {filler}"
        else:  # feedback: no vocabulary word at all
            body = f"{filler}. {self._filler(index, turn + 1, 3)}"
        if fail:
            body = f"{body} {FAIL_TAG}"
        if turn:
            body = f"still about this: {body}" if kind != "feedback" else body
        return f"@{self.brand_name} {body}"

    def tweet(self, index: int, kind: str, fail: bool, followers: int, created: float,
              turn: int = 0, reply_to: str | None = None) -> dict[str, object]:
        """A ``tweet_create_events`` entry with X's field names (``created`` epoch seconds)."""
        return {
            "id_str": tweet_id(self.run_id, index, turn),
            "text": self.text(kind, index, fail, turn),
            "created_at": x_time(created),
            "timestamp_ms": str(int(created * 1000)),
            "user": {"id_str": author_id(self.run_id, index), "screen_name": self.screen_name(index),
                     "followers_count": int(max(followers, 0))},
            "in_reply_to_status_id_str": reply_to,
        }

    def brand_tweet(self, index: int, turn: int, text: str, created: float, reply_to: str) -> dict[str, object]:
        """The brand's public reply as X delivers it to the webhook (author = the brand)."""
        return {
            "id_str": tweet_id(self.run_id, index, 50 + turn),
            "text": text[:280],
            "created_at": x_time(created),
            "timestamp_ms": str(int(created * 1000)),
            "user": {"id_str": self.brand_id, "screen_name": self.brand_name, "followers_count": 50_000},
            "in_reply_to_status_id_str": reply_to,
        }

    def delivery(self, *events: dict[str, object]) -> bytes:
        """A whole webhook body for these tweets, as bytes."""
        return json.dumps({"for_user_id": self.brand_id, "tweet_create_events": list(events)},
                          separators=(",", ":")).encode()

    def headers(self, body: bytes) -> dict[str, str]:
        """Request headers for ``body``: JSON content type and X's signature."""
        return {"content-type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}

    # -- whole deliveries ---------------------------------------------------------------------
    def arrival(self, index: int, kind: str, fail: bool, followers: int, created: float) -> bytes:
        """The delivery of arrival ``index``'s first tweet."""
        return self.delivery(self.tweet(index, kind, fail, followers, created))

    def followup(self, index: int, kind: str, turn: int, followers: int, created: float,
                 reply_to: str) -> bytes:
        """The customer's ``turn``-th follow-up, replying to the brand's tweet ``reply_to``."""
        return self.delivery(self.tweet(index, kind, False, followers, created, turn, reply_to))

    def malformed(self, index: int, variant: str, created: float) -> tuple[bytes, dict[str, str]]:
        """A bad delivery and its headers: ``malformed_json`` (400), ``schema`` (400, no
        ``id_str``) or ``bad_signature`` (401)."""
        if variant == "malformed_json":
            body = b'{"for_user_id": "' + self.brand_id.encode() + b'", "tweet_create_events": [{'
            return body, self.headers(body)
        tweet = self.tweet(index, "question", False, 10, created, turn=99)
        if variant == "schema":
            tweet.pop("id_str")
            body = self.delivery(tweet)
            return body, self.headers(body)
        body = self.delivery(tweet)
        return body, {"content-type": "application/json", SIGNATURE_HEADER: sign(self.secret + "x", body)}

    def oversized(self, index: int, size: int, created: float) -> tuple[bytes, dict[str, str]]:
        """A correctly signed delivery padded past ``size`` bytes (expected 413)."""
        tweet = self.tweet(index, "question", False, 10, created, turn=98)
        tweet["text"] = "x" * size
        body = self.delivery(tweet)
        return body, self.headers(body)
