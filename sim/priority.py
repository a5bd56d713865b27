"""Claim order between classes of tweets: the presets and user-defined orders, in one vocabulary
shared by the model (:class:`chirpdesk.sim.model.Desk`) and the desk's claim query.

An order is a list of *levels*, served first to last, first come first served within a level.
Each level holds one or more labels:

- ``outage``: an outage report (kind ``outage_report``);
- ``fail``: a tweet carrying ``#fail``;
- ``influencer``: an author with at least ``influencer_followers`` followers;
- ``followup``: a customer's follow-up after the brand answered (it queues at this level, whatever
  its own class); left out, follow-ups queue in their own class;
- ``rest``: everything else (required).

A tweet with several labels goes to the first level holding any of them. In a scenario:
``priority = ["outage", "fail", "influencer", "followup", "rest"]``, a list entry may itself be a
list for a tie (``["followup", ["outage", "fail"], "influencer", "rest"]``). The presets
``fifo`` and ``influencer_fail`` are such orders (:func:`levels`). As text (the desk's
``CHIRPDESK_PRIORITY_RULE``, summary settings) an order is written ``followup>outage+fail>rest``.
"""

from __future__ import annotations

from collections.abc import Sequence

from chirpdesk.sim.vocabulary import PRIORITY_RULES

#: The labels an order may use.
LABELS: tuple[str, ...] = ("outage", "fail", "influencer", "followup", "rest")

#: An order: levels served first to last, each a tuple of labels.
Levels = tuple[tuple[str, ...], ...]


def parse_order(spec: str | Sequence[object]) -> Levels:
    """An order from a list (``["outage", ["fail", "influencer"], "rest"]``) or its text form
    (``"outage>fail+influencer>rest"``); raises :class:`ValueError` saying what is allowed."""
    if isinstance(spec, str):
        items: list[object] = [part.split("+") if "+" in part else part for part in spec.split(">")]
    else:
        items = list(spec)
    levels: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for item in items:
        labels = [item] if isinstance(item, str) else list(item) if isinstance(item, list | tuple) else [item]
        level = []
        for label in labels:
            if not isinstance(label, str) or label.strip() not in LABELS:
                raise ValueError(f"unknown class {label!r}; allowed: {', '.join(LABELS)} "
                                 f"(or a preset: {', '.join(PRIORITY_RULES)})")
            label = label.strip()
            if label in seen:
                raise ValueError(f"class {label!r} is listed twice")
            seen.add(label)
            level.append(label)
        if not level:
            raise ValueError("an empty level; each entry names one class or a list of classes")
        levels.append(tuple(level))
    if "rest" not in seen:
        raise ValueError("the order must include 'rest' (every tweet without another class)")
    return tuple(levels)


def format_order(levels: Levels) -> str:
    """The text form of an order (``followup>outage+fail>influencer>rest``)."""
    return ">".join("+".join(level) for level in levels)


def levels(rule: str, followups_first: bool = True) -> Levels:
    """The levels of a preset (``fifo``, ``influencer_fail``, with ``followups_first``) or of a
    user-defined order in text form (which says itself where follow-ups go)."""
    if rule == "fifo":
        return (("followup",), ("rest",)) if followups_first else (("rest",),)
    if rule == "influencer_fail":
        ranked: Levels = (("outage", "fail"), ("influencer",), ("rest",))
        return (("followup",), *ranked) if followups_first else ranked
    return parse_order(rule)


def level_of(order: Levels, label: str) -> int | None:
    """The level of ``label`` in ``order`` (0 is served first), ``None`` if it is not listed."""
    return next((i for i, level in enumerate(order) if label in level), None)


def is_preset(rule: str) -> bool:
    """True for the named presets (:data:`chirpdesk.sim.vocabulary.PRIORITY_RULES`)."""
    return rule in PRIORITY_RULES
