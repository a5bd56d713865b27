"""The shared vocabulary of social customer service.

The scenario ``[mix]`` section, the simulation model, the desk endpoint's triage rules and the
load-test payload generator all speak these words, so a "complaint" or an "email" escalation means
the same thing everywhere.
"""

from __future__ import annotations

#: Tweet kinds a scenario may name in ``[mix.kinds]``; the desk's triage assigns one of these.
TWEET_KINDS: tuple[str, ...] = ("question", "complaint", "praise", "spam", "feedback", "outage_report")

#: Kinds that need a reply unless the scenario says otherwise (``[mix] needs_reply``).
DEFAULT_NEEDS_REPLY: tuple[str, ...] = ("question", "complaint", "outage_report")

#: Where a conversation can go when it leaves the public timeline ("three tweets and an email").
ESCALATION_TARGETS: tuple[str, ...] = ("dm", "email", "phone", "ticket")

#: The public-shaming tag: tweets carrying it jump the queue under the ``influencer_fail`` rule.
FAIL_TAG = "#fail"

#: Words that mark a tweet as reporting an outage (triage raises its priority).
OUTAGE_WORDS: tuple[str, ...] = (
    "down", "outage", "not working", "broken", "can't log in", "cannot log in", "offline", "error",
)

#: Words that mark a complaint when no ``#fail`` is present.
COMPLAINT_WORDS: tuple[str, ...] = (
    "terrible", "worst", "awful", "angry", "disappointed", "refund", "never again", "still waiting",
    "unacceptable", "ridiculous",
)

#: Words that mark praise.
PRAISE_WORDS: tuple[str, ...] = ("thanks", "thank you", "love", "great", "awesome", "amazing", "kudos")

#: Words that mark a question.
QUESTION_WORDS: tuple[str, ...] = ("how", "why", "when", "where", "what", "can i", "is there", "?")

#: Words that mark spam.
SPAM_WORDS: tuple[str, ...] = ("giveaway", "crypto", "follow back", "click here", "free followers", "dm me for")

#: Kinds that share the top ("fail") priority class with ``#fail`` tweets under ``influencer_fail``:
#: the desk's triage ranks outage words with ``#fail``, and the model does the same.
URGENT_KINDS: tuple[str, ...] = ("outage_report",)

#: Priority classes, highest first. ``influencer_fail`` queues the first two ahead of ``normal``.
PRIORITY_CLASSES: tuple[str, ...] = ("fail", "influencer", "normal")

#: Default follower count from which an author counts as an influencer.
DEFAULT_INFLUENCER_FOLLOWERS = 10_000

#: Priority rules a scenario may choose in ``[handling] priority``.
PRIORITY_RULES: tuple[str, ...] = ("fifo", "influencer_fail")

#: What a customer's patience waits for (``[customers] patience_until``): the reply being posted
#: (``first_response``, what a tweeting customer sees) or an agent starting on it (``pickup``,
#: the Erlang A convention).
PATIENCE_UNTIL: tuple[str, ...] = ("first_response", "pickup")

#: Handles a tweet can arrive on.
HANDLES: tuple[str, ...] = ("service", "marketing")

#: Phrases by which a brand's reply moves a conversation off the public timeline ("DM us your
#: order number"): calibration counts a thread as moved to DM when a brand reply contains one
#: (lower-case, word-bounded). The one place this vocabulary lives.
DM_REQUEST_WORDS: tuple[str, ...] = (
    "dm", "dms", "direct message", "private message", "send us a message", "message us",
    "pm us", "inbox", "via dm", "in dm",
)
