"""Pure functions of the desk: triage rules, signatures, payload validation, config, stats."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re

import pytest

from chirpdesk.desk.config import DeskConfig, config_from_env, config_to_env, parse_agents
from chirpdesk.desk.metrics import Histogram, percentile
from chirpdesk.desk.schema import InvalidInput, parse_delivery
from chirpdesk.desk.signature import crc_response, sign, verify
from chirpdesk.desk.storage import describe_db
from chirpdesk.desk.triage import _Words, classify_kind, normalise, triage
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.vocabulary import (
    COMPLAINT_WORDS,
    DEFAULT_INFLUENCER_FOLLOWERS,
    FAIL_TAG,
    OUTAGE_WORDS,
    PRAISE_WORDS,
    PRIORITY_CLASSES,
    QUESTION_WORDS,
    SPAM_WORDS,
    TWEET_KINDS,
)
from deskkit import tweet


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Free followers! click here", "spam"),
        ("@AcmeHelp is the site down for everyone?", "outage_report"),
        ("I can\u2019t log in since this morning", "outage_report"),
        ("third time this week #fail", "complaint"),
        ("absolutely ridiculous, I want a refund", "complaint"),
        ("how do I change my address", "question"),
        ("thanks, you folks are awesome", "praise"),
        ("just switched plans", "feedback"),
        ("show me the download page", "feedback"),  # "how"/"down" only as whole words
        ("@shop_down_under see https://x.co/why?", "feedback"),  # mentions and links ignored
    ],
)
def test_kind_rules(text: str, kind: str) -> None:
    result = triage(text)
    assert result.kind == kind
    assert result.kind in TWEET_KINDS
    assert result.reasons[0].startswith("kind:")


def _one_regex_per_rule(words: tuple[str, ...]) -> re.Pattern[str]:
    """The rule as one regex with the whole-word checks around every word: what the desk's
    faster matcher must agree with."""
    parts = [rf"(?<![\w']){re.escape(w.lower())}(?![\w'])" if w[:1].isalnum() and w[-1:].isalnum()
             else re.escape(w.lower()) for w in words]
    return re.compile("|".join(parts))


def test_kind_rules_match_exactly_where_one_regex_per_rule_would() -> None:
    # Texts built from the vocabulary, pieces of it glued to letters, digits, underscores,
    # apostrophes and non-ASCII letters, and punctuation: every rule must find the same first
    # match (kind and reason) as the plain regex.
    vocabulary = [*SPAM_WORDS, *OUTAGE_WORDS, *COMPLAINT_WORDS, *QUESTION_WORDS, *PRAISE_WORDS, FAIL_TAG]
    glue = ["", "", " ", " ", "x", "_", "'", "\u00e9", "9", "?", "!", "#", "-", "\u2019"]
    rules = [("spam", SPAM_WORDS, "spam word"), ("outage_report", OUTAGE_WORDS, "outage word"),
             ("complaint", None, "fail tag"), ("complaint", COMPLAINT_WORDS, "complaint word"),
             ("question", QUESTION_WORDS, "question word"), ("praise", PRAISE_WORDS, "praise word")]
    regexes = [None if words is None else _one_regex_per_rule(words) for _, words, _ in rules]
    fail = re.compile(re.escape(FAIL_TAG.lower()) + r"(?!\w)")
    rng = random.Random(7)
    texts = []
    for _ in range(3000):
        pieces = rng.choices(vocabulary, k=rng.randint(0, 3)) + rng.choices(["my", "order", "show", "download",
                                                                               "thanks", "own", "i"], k=2)
        rng.shuffle(pieces)
        texts.append("".join(rng.choice(glue) + piece for piece in pieces) + rng.choice(glue))

    def expected(text: str) -> tuple[str, str]:
        clean = normalise(text)
        for (kind, _, label), regex in zip(rules, regexes, strict=True):
            match = (fail if regex is None else regex).search(clean)
            if match:
                return kind, f"kind: {label} {match.group(0)!r}"
        return "feedback", "kind: no rule matched"

    assert [classify_kind(t) for t in texts] == [expected(t) for t in texts]
    assert {classify_kind(t)[0] for t in texts} == set(TWEET_KINDS)  # every rule was exercised


def test_a_substring_entry_still_matches_where_a_whole_word_was_refused() -> None:
    # "own" inside "down" is refused as a word; "own!" (a substring entry) matches there.
    words = ("own", "own!", "?")
    for text in ("down!", "I own it", "sown?", "down", "town? own!"):
        expected = _one_regex_per_rule(words).search(text)
        found = _Words(words).search(text)
        assert (found and (found.start(), found.group(0))) == (expected and (expected.start(), expected.group(0)))
    assert _Words(words).search("down!").group(0) == "own!"  # type: ignore[union-attr]


def test_priority_rules() -> None:
    assert triage("where is my parcel?", 5).priority == "normal"
    assert triage("where is my parcel?", DEFAULT_INFLUENCER_FOLLOWERS).priority == "influencer"
    assert triage("where is my parcel? #fail", 3).priority == "fail"
    assert triage("app is broken", 3).priority == "fail"
    assert triage("where is my parcel?", 500, influencer_followers=100).priority == "influencer"
    assert [triage(t, f).rank for t, f in (("x #fail", 0), ("x", 10**6), ("x", 0))] == [0, 1, 2]
    assert PRIORITY_CLASSES[triage("x", 0).rank] == "normal"
    assert triage("is it down?").needs_reply and not triage("love it").needs_reply


def test_signature_matches_x_algorithm() -> None:
    expected = "sha256=" + base64.b64encode(hmac.new(b"k", b"body", hashlib.sha256).digest()).decode()
    assert sign("k", b"body") == expected
    assert crc_response("k", "tok") == {"response_token": sign("k", "tok")}
    assert verify("k", b"body", expected)
    assert not verify("k", b"body2", expected)
    assert not verify("k", b"body", None)
    assert not verify("k", b"body", "sha256=\u00e9")


def test_delivery_parsing_keeps_real_fields() -> None:
    t = tweet("hi", id_str="1234", user_id="77", followers=12, reply_to="99", created=1_700_000_000.5)
    d = parse_delivery({"for_user_id": "5", "tweet_create_events": [t]})
    (parsed,) = d.tweets
    assert (parsed.id_str, parsed.author_id, parsed.followers_count, parsed.in_reply_to_status_id_str) == (
        "1234", "77", 12, "99")
    assert parsed.created_at == pytest.approx(1_700_000_000.5)  # timestamp_ms precision wins
    no_ms = {k: v for k, v in t.items() if k != "timestamp_ms"}
    assert parse_delivery({"for_user_id": "5", "tweet_create_events": [no_ms]}).tweets[0].created_at == 1_700_000_000
    long = {**t, "extended_tweet": {"full_text": "the whole long text"}}
    assert parse_delivery({"for_user_id": "5", "tweet_create_events": [long]}).tweets[0].text == "the whole long text"
    with pytest.raises(InvalidInput) as err:
        parse_delivery({"for_user_id": "5", "tweet_create_events": [{**t, "text": "a\x00b"}]})
    assert err.value.field == "tweet_create_events[0].text"


def test_config_env_round_trip_and_errors() -> None:
    cfg = config_from_env({"CHIRPDESK_SLA_SECONDS": "300", "CHIRPDESK_AGENTS": "ann:tokentoken",
                           "CHIRPDESK_DB": "postgresql://u@h/db"})
    assert cfg.sla_seconds == 300 and cfg.agents == {"ann": "tokentoken"}
    assert config_from_env(config_to_env(cfg)) == cfg
    assert DeskConfig().sla_seconds == 600 and DeskConfig().db == "./chirpdesk-desk.sqlite3"
    with pytest.raises(ChirpdeskError, match="CHIRPDESK_QUEUE_MAX"):
        config_from_env({"CHIRPDESK_QUEUE_MAX": "lots"})
    with pytest.raises(ChirpdeskError, match="sla_seconds"):
        config_from_env({"CHIRPDESK_SLA_SECONDS": "-1"})
    assert config_from_env({"CHIRPDESK_MAX_IN_FLIGHT": "64"}).max_in_flight == 64
    with pytest.raises(ChirpdeskError, match=r"max_in_flight: got 0, expected an integer >= 1"):
        config_from_env({"CHIRPDESK_MAX_IN_FLIGHT": "0"})
    with pytest.raises(ChirpdeskError):
        parse_agents("nocolon")
    assert describe_db("x.sqlite3") == ("sqlite", "x.sqlite3")
    assert describe_db("sqlite:///tmp/a.db") == ("sqlite", "/tmp/a.db")
    with pytest.raises(ChirpdeskError, match="--db"):
        describe_db("mysql://nope")


def test_percentiles_and_histogram() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0], 95) == 10.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    hist = Histogram.of((1, 10), [0.5, 5, 50])
    lines = hist.render("h")
    assert 'h_bucket{le="1"} 1' in lines and 'h_bucket{le="10"} 2' in lines
    assert 'h_bucket{le="+Inf"} 3' in lines and "h_count 3" in lines
