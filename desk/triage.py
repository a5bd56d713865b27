"""Transparent triage rules: what kind of tweet is this, and how urgently does it need a human?

The rules use only the shared vocabulary in :mod:`chirpdesk.sim.vocabulary`, so the desk, the simulation
and the load-test payload generator agree on what a "complaint" or an "outage_report" is.

Kind, first matching rule wins (the order encodes "what would a human deal with first"):

1. any ``SPAM_WORDS``                      -> ``spam``
2. any ``OUTAGE_WORDS``                    -> ``outage_report``
3. ``FAIL_TAG`` or any ``COMPLAINT_WORDS`` -> ``complaint``
4. any ``QUESTION_WORDS``                  -> ``question``
5. any ``PRAISE_WORDS``                    -> ``praise``
6. otherwise                               -> ``feedback``

Priority class (``PRIORITY_CLASSES``, highest first): ``fail`` when the tweet carries ``#fail`` or
outage words; else ``influencer`` when the author has at least the configured follower count;
else ``normal``. Its rank (0 = most urgent) orders the agents' queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from chirpdesk.sim.vocabulary import (
    COMPLAINT_WORDS,
    DEFAULT_INFLUENCER_FOLLOWERS,
    DEFAULT_NEEDS_REPLY,
    FAIL_TAG,
    OUTAGE_WORDS,
    PRAISE_WORDS,
    PRIORITY_CLASSES,
    QUESTION_WORDS,
    SPAM_WORDS,
    TWEET_KINDS,
)

# Mentions and links say nothing about intent but can contain vocabulary words
# ("@shop_down_under", "https://x.co/help?"), so they are removed before matching.
_NOISE = re.compile(r"@\w+|https?://\S+")


class _Words:
    r"""Finds the first of ``words`` in a normalised text: whole words only for entries that start
    and end with a letter or digit, so "how" does not fire on "show" nor "down" on "download";
    punctuation entries ("?") as substrings.

    The same leftmost match as one regex with ``(?<![\w'])`` before each whole word, about ten
    times faster: a pattern that starts with a lookbehind cannot skip ahead to a word's first
    letter, so it tried every word at every position of the text, and this ran for each tweet
    the desk stores (about half the commit process's CPU per delivery, docs/desk.md). Here the regex
    holds the words and their trailing check only, and the leading one is checked in Python on
    each candidate.
    """

    def __init__(self, words: tuple[str, ...]) -> None:
        parts, loose = [], []
        for word in words:
            escaped = re.escape(word.lower())
            parts.append(rf"{escaped}(?![\w'])" if _whole(word) else escaped)
            if not _whole(word):
                loose.append(escaped)
        self._regex = re.compile("|".join(parts))
        #: The substring entries alone: one may still match where a whole word was refused.
        self._loose = re.compile("|".join(loose)) if loose else None

    def search(self, text: str) -> re.Match[str] | None:
        """The leftmost match in ``text`` (as :func:`normalise` leaves it), or None."""
        regex, start = self._regex, 0
        while (match := regex.search(text, start)) is not None:
            at = match.start()
            before = text[at - 1] if at else " "
            if not (before.isalnum() or before in "_'") or not _whole(match.group(0)):
                return match
            # A whole word inside a longer one: a substring entry may match right here, else
            # look further on.
            if self._loose is not None and (loose := self._loose.match(text, at)) is not None:
                return loose
            start = at + 1
        return None


def _whole(word: str) -> bool:
    """Whether ``word`` is matched as a whole word (it starts and ends with a letter or digit)."""
    return word[:1].isalnum() and word[-1:].isalnum()


_SPAM = _Words(SPAM_WORDS)
_OUTAGE = _Words(OUTAGE_WORDS)
_COMPLAINT = _Words(COMPLAINT_WORDS)
_QUESTION = _Words(QUESTION_WORDS)
_PRAISE = _Words(PRAISE_WORDS)
_FAIL = re.compile(re.escape(FAIL_TAG.lower()) + r"(?!\w)")


@dataclass(frozen=True)
class Triage:
    """The outcome of triaging one message."""

    #: One of :data:`chirpdesk.sim.vocabulary.TWEET_KINDS`.
    kind: str
    #: One of :data:`chirpdesk.sim.vocabulary.PRIORITY_CLASSES`.
    priority: str
    #: Position of ``priority`` in ``PRIORITY_CLASSES``: 0 is served first.
    rank: int
    #: Whether the kind normally needs a reply (``DEFAULT_NEEDS_REPLY``).
    needs_reply: bool
    #: Human-readable reasons, e.g. ``("kind: outage word 'down'", "priority: #fail")``.
    reasons: tuple[str, ...]


def normalise(text: str) -> str:
    """Lower-case ``text``, straighten curly apostrophes and drop @mentions and links."""
    return _NOISE.sub(" ", text.replace("\u2019", "'").lower())


def classify_kind(text: str) -> tuple[str, str]:
    """Return ``(kind, reason)`` for a message text by the rules in the module docstring."""
    clean = normalise(text)
    rules: tuple[tuple[str, _Words | re.Pattern[str], str], ...] = (
        ("spam", _SPAM, "spam word"),
        ("outage_report", _OUTAGE, "outage word"),
        ("complaint", _FAIL, "fail tag"),
        ("complaint", _COMPLAINT, "complaint word"),
        ("question", _QUESTION, "question word"),
        ("praise", _PRAISE, "praise word"),
    )
    for kind, pattern, label in rules:
        match = pattern.search(clean)
        if match:
            return kind, f"kind: {label} {match.group(0)!r}"
    return "feedback", "kind: no rule matched"


def classify_priority(
    text: str, kind: str, followers: int, influencer_followers: int = DEFAULT_INFLUENCER_FOLLOWERS
) -> tuple[str, str]:
    """Return ``(priority_class, reason)`` from the fail tag, outage words and follower count."""
    if _FAIL.search(normalise(text)):
        return "fail", f"priority: {FAIL_TAG}"
    if kind == "outage_report":
        return "fail", "priority: outage report"
    if followers >= influencer_followers:
        return "influencer", f"priority: {followers} followers >= {influencer_followers}"
    return "normal", "priority: default"


@lru_cache(maxsize=4096)
def triage(
    text: str, followers: int = 0, influencer_followers: int = DEFAULT_INFLUENCER_FOLLOWERS
) -> Triage:
    """Triage one message: kind, priority class and rank, whether it needs a reply, and why."""
    kind, kind_reason = classify_kind(text)
    priority, priority_reason = classify_priority(text, kind, followers, influencer_followers)
    assert kind in TWEET_KINDS and priority in PRIORITY_CLASSES
    return Triage(
        kind=kind,
        priority=priority,
        rank=PRIORITY_CLASSES.index(priority),
        needs_reply=kind in DEFAULT_NEEDS_REPLY,
        reasons=(kind_reason, priority_reason),
    )
