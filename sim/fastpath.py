"""The FCFS fast path: the desk model's own rules, specialised to the cases a big sweep runs most.

When a scenario asks for nothing but a first-come-first-served team (one public reply per
conversation, one conversation per agent, a constant number of agents around the clock, the
handle always open, no priority classes, no marketing handle, deflection, private data or
escalation; patience of any distribution or none), every rule of :class:`chirpdesk.sim.model.Desk`
collapses to the classic multi-server recursion: conversation ``j`` is picked up at
``max(arrival_j, earliest time an agent is free)`` unless its patience runs out first, and the
agent is then busy for one compose time. :func:`simulate` runs that recursion with a ``heapq`` of
agent-free times instead of SimPy events, then derives the interval integrals in numpy.

It is the same model, not a second one: it draws the same random numbers from the same streams
in the same order (compose times in pick-up order from child 0 of the model seed, patience from
child 6), applies the same horizon and drain cut-offs, and so reproduces the SimPy engine's
conversation records to the last bit (``tests/test_fastpath.py`` checks this, and checks both
engines against Erlang C and Erlang A). :func:`chirpdesk.sim.model.simulate_once` uses it automatically
when :func:`qualifies` says so; ``engine="simpy"`` forces the general engine.
"""

from __future__ import annotations

import math
from array import array
from heapq import heapreplace
from typing import TYPE_CHECKING

import numpy as np

from chirpdesk.sim.arrivals import ArrivalStream
from chirpdesk.sim.calendar import agents_on_shift, interval_boundaries, snapshot_times
from chirpdesk.sim.distributions import Distribution, Draws, per_kind_draws
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.seeds import children

if TYPE_CHECKING:  # sim.model imports this module
    from chirpdesk.sim.model import RunRecords


#: Arrivals turned into Python floats at a time by :func:`simulate`.
CHUNK = 1 << 16


def _single_turn(d: Distribution) -> bool:
    # The model reads turns as int(sample): anything below 2 is one public reply.
    if d.family == "constant":
        return d.value < 2
    if d.family == "empirical":
        return bool(d.values) and max(d.values) < 2
    return False


def constant_staff(scenario: Scenario) -> int | None:
    """The number of agents if it never changes over the run (horizon + drain), else None."""
    stop = scenario.meta.horizon + scenario.meta.drain
    times, values = agents_on_shift(scenario, stop)
    inside = values[times < stop]
    if inside.size == 0 or np.any(inside != inside[0]):
        return None
    return int(inside[0])


def why_not(scenario: Scenario) -> str:
    """Why ``scenario`` needs the general SimPy engine ('' when the fast path applies)."""
    h, m, a = scenario.handling, scenario.mix, scenario.agents
    checks = [
        (not _single_turn(h.turns), "multi-turn conversations"),
        (a.concurrency != 1, "concurrency above 1"),
        (h.priority != "fifo", f"priority {h.priority!r}"),
        (any(p > 0 for p in h.escalation.values()), "escalations"),
        (m.private_share > 0, "private data moved to DM"),
        (m.marketing_share > 0, "tweets on the marketing handle"),
        (scenario.deflection.enabled, "deflection"),
        (not a.tweeting_hours.always, "tweeting hours"),
        (constant_staff(scenario) is None, "staff changing over time"),
    ]
    return ", ".join(reason for failed, reason in checks if failed)


def qualifies(scenario: Scenario) -> bool:
    """True when :func:`simulate` gives exactly what :class:`chirpdesk.sim.model.Desk` would."""
    return why_not(scenario) == ""


def simulate(scenario: Scenario, arrivals: ArrivalStream, seed: np.random.SeedSequence) -> RunRecords:
    """One replication of a qualifying scenario; returns :class:`chirpdesk.sim.model.RunRecords`."""
    from chirpdesk.sim.model import ABANDONED, NO_REPLY, RESOLVED_PUBLIC, RunRecords

    sc, h, c = scenario, scenario.handling, scenario.customers
    stop = sc.meta.horizon + sc.meta.drain
    agents = constant_staff(sc)
    assert agents is not None, "simulate() called on a scenario that does not qualify"
    n = len(arrivals)
    # The same streams as Desk: child 0 composes, child 6 patience (the others go unused here).
    seeds = children(seed, 8)
    streams = [np.random.default_rng(s) for s in seeds]
    draw = Draws(h.compose, streams[0]).next
    by_kind = per_kind_draws(h.compose_for, h.compose_by_kind, arrivals.kinds, seeds[0])
    patience = c.patience.sample(streams[6], n) if not c.patience.is_none else None

    kinds = arrivals.kinds
    needs = np.isin(np.arange(len(kinds)), [kinds.index(k) for k in sc.mix.needs_reply])
    needs_reply = needs[arrivals.kind] if n else np.zeros(0, bool)
    who = np.flatnonzero(needs_reply)
    arrive = arrivals.time[who]
    m = arrive.size
    pick = array("d", [math.nan]) * m
    serve = array("d", bytes(8 * m))
    gave_up = array("d", [math.nan]) * m
    free = [0.0] * agents  # heap of the times each agent is next free
    inf = math.inf
    # patience_until = first_response: a customer still waiting for the reply when patience
    # runs out leaves even after pick-up; the agent finishes the reply all the same.
    until_reply = c.patience_until == "first_response"
    # Python floats are quickest in the loop; made CHUNK at a time, so that a million
    # arrivals never sit in memory as Python objects all at once (~30 MB saved).
    for j0 in range(0, m, CHUNK):
        times = arrive[j0:j0 + CHUNK].tolist()
        pat = patience[who[j0:j0 + CHUNK]].tolist() if patience is not None else None
        kind_of = arrivals.kind[who[j0:j0 + CHUNK]].tolist() if by_kind is not None else None
        for i, t in enumerate(times):
            j = j0 + i
            s = free[0] if agents else inf
            if s < t:
                s = t
            if pat is not None:
                quit_at = t + pat[i]
                if quit_at < s:  # patience runs out before an agent is free: never takes a slot
                    if quit_at < stop:
                        gave_up[j] = quit_at
                    continue
            if s >= stop:  # still waiting when the run ends
                continue
            d = draw() if by_kind is None else by_kind[kind_of[i]]()  # type: ignore[index]
            heapreplace(free, s + d)
            pick[j] = s
            serve[j] = d
            if until_reply and pat is not None and quit_at < s + d and quit_at < stop:
                gave_up[j] = quit_at

    # Conversation columns, as Desk.records() lays them out.
    pickup = np.full(n, math.nan)
    busy = np.zeros(n)
    end = np.full(n, math.nan)
    first = np.full(n, math.nan)
    outcome = np.where(needs_reply, 0, NO_REPLY).astype(np.int8)
    turns = np.zeros(n, dtype=np.int16)
    p = np.frombuffer(pick, dtype=np.float64)
    served = np.frombuffer(serve, dtype=np.float64)
    g = np.frombuffer(gave_up, dtype=np.float64)
    pickup[who] = p
    busy[who] = served
    done_at = p + served
    quit_ = ~np.isnan(g)
    finished = (done_at < stop) & ~quit_  # NaN (never picked up) compares False
    idx = who[finished]
    first[idx] = done_at[finished]
    end[idx] = done_at[finished]
    outcome[idx] = RESOLVED_PUBLIC
    turns[idx] = 1
    end[who[quit_]] = g[quit_]
    outcome[who[quit_]] = ABANDONED
    conv = {
        "arrival": arrivals.time,
        "kind": arrivals.kind,
        "fail": arrivals.fail,
        "followers": arrivals.followers,
        "marketing": arrivals.marketing,
        "origin": arrivals.origin,
        "needs_reply": needs_reply,
        "pickup": pickup,
        "first_response": first,
        "end": end,
        "turns": turns,
        "outcome": outcome,
        "busy": busy,
        "auto_replied": np.zeros(n, dtype=bool),
        "tier2_start": np.full(n, math.nan),
        "tier2_end": np.full(n, math.nan),
        "followup_visits": np.zeros(n, dtype=np.int16),  # one turn: no follow-ups
        "followup_wait": np.zeros(n),
    }
    arr = arrive
    left_queue = np.where(np.isnan(p), np.where(quit_, g, inf), p)
    return RunRecords(conv, _intervals(sc, arr, left_queue, p[~np.isnan(p)], done_at[~np.isnan(p)], agents),
                      arrivals.kinds)


def _area(starts: np.ndarray, ends: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time-integral up to each ``at`` of the number of open spans [start, end), and that number.

    ``starts`` must be in time order (arrivals and FCFS pick-ups are); ``ends`` need not be.
    """
    s, e = starts, np.sort(ends)
    cs = np.concatenate(([0.0], np.cumsum(s)))
    ce = np.concatenate(([0.0], np.cumsum(e[np.isfinite(e)])))
    ns = np.searchsorted(s, at, side="right")
    ne = np.searchsorted(e, at, side="right")  # inf never counts as ended
    area = (ns * at - cs[ns]) - (ne * at - ce[ne])
    return area, (ns - ne).astype(float)


def _intervals(sc: Scenario, arrive: np.ndarray, left_queue: np.ndarray, start: np.ndarray,
               done: np.ndarray, agents: int) -> dict[str, np.ndarray]:
    """The interval snapshots Desk's ticker would take: integrals of queue, busy and staffed slots."""
    ts = snapshot_times(sc)
    queue_area, queue = _area(arrive, left_queue, ts)
    busy_area, _ = _area(start, done, ts)
    k = sc.agents.concurrency
    return {"time": ts, "queue_area": queue_area, "busy_area": busy_area, "staffed_area": agents * k * ts,
            "queue": queue, "agents": np.full(ts.size, float(agents)), "open": np.ones(ts.size),
            "boundary": interval_boundaries(sc, ts)}
