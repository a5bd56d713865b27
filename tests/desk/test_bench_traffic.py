"""The desk benchmark's traffic shape (benchmarks/bench_desk.py): who writes which tweet."""

from __future__ import annotations

from collections import defaultdict

from benchmarks.bench_desk import FOLLOW_UP_GAP, RECURRING_BASE, customer_of


def test_by_default_each_customer_writes_three_tweets_a_gap_apart() -> None:
    start = 3 * 10**12  # where the benchmark's first phase starts numbering its tweets
    tweets: dict[int, list[int]] = defaultdict(list)
    for number in range(start, start + 9 * FOLLOW_UP_GAP):
        tweets[customer_of(number)].append(number)
    assert len(tweets) == 3 * FOLLOW_UP_GAP
    for numbers in tweets.values():
        assert len(numbers) == 3
        assert numbers[1] - numbers[0] == numbers[2] - numbers[1] == FOLLOW_UP_GAP
    # Another phase's tweets come from other customers.
    assert not set(tweets) & {customer_of(n) for n in range(2 * start, 2 * start + 3 * FOLLOW_UP_GAP)}


def test_recurring_customers_cycle_through_a_fixed_population() -> None:
    customers = [customer_of(n, recurring_customers=5000) for n in range(20_000)]
    assert set(customers) == set(range(RECURRING_BASE, RECURRING_BASE + 5000))
    assert all(customers.count(RECURRING_BASE + c) == 4 for c in (0, 2500, 4999))
