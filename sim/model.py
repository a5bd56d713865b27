"""The SimPy model of a social customer-service desk.

Each tweet is a conversation: it arrives (maybe on the marketing handle, to be re-routed), waits
in a priority queue for an agent with a free concurrency slot (or gives up: patience), gets a
first public reply, and the customer answers after a think time, turn after turn, until it is
resolved in public or leaves the timeline (DM, email, phone, ticket; tier 2 when configured).

The hot path uses SimPy events with callbacks rather than a generator process per wait, draws
random numbers in numpy blocks, and writes records into preallocated typed arrays: no per-event
dicts, objects or logging. The model never reads files or globals: it gets a
:class:`~chirpdesk.sim.scenario.Scenario`, an :class:`~chirpdesk.sim.arrivals.ArrivalStream` and a seed sequence.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from chirpdesk.sim import fastpath
from chirpdesk.sim.arrivals import ArrivalStream, generate_arrivals
from chirpdesk.sim.calendar import agents_on_shift, interval_boundaries, open_hours, snapshot_times
from chirpdesk.sim.distributions import Distribution, Draws, per_kind_draws
from chirpdesk.sim.priority import level_of
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.seeds import children
from chirpdesk.sim.vocabulary import ESCALATION_TARGETS, URGENT_KINDS

#: Outcome codes stored in ``ConversationRecords.outcome``.
OUTCOMES: tuple[str, ...] = (
    "open",  # still waiting or in progress when the run ended
    "resolved_public",
    "dm",
    "email",
    "phone",
    "ticket",
    "abandoned",
    "no_reply_needed",
    "deflected",
)
OPEN, RESOLVED_PUBLIC, ABANDONED, NO_REPLY, DEFLECTED = 0, 1, 6, 7, 8
TARGET_CODE = {t: OUTCOMES.index(t) for t in ESCALATION_TARGETS}

# Conversation states (the queue deletes lazily: an entry whose state is no longer WAITING is skipped).
_TRANSIT, _WAITING, _ACTIVE, _DONE = 0, 1, 2, 3
# Per-conversation flag byte: needs a reply, deflectable kind (with deflection on), landed on the
# marketing handle; the queue class sits in the bits above.
_F_REPLY, _F_DEFLECT, _F_MARKETING, _F_CLASS_SHIFT = 1, 2, 4, 3


@dataclass(frozen=True)
class RunRecords:
    """Everything one replication recorded, as flat numpy columns (times in seconds from start).

    ``conversations``: one entry per tweet (``arrival``, ``kind``, ``fail``, ``followers``,
    ``marketing``, ``origin``, ``needs_reply``, ``pickup``, ``first_response``, ``end``,
    ``turns``, ``outcome``, ``busy``, ``auto_replied``, ``tier2_start``, ``tier2_end``,
    ``followup_visits``: times a follow-up queued again, ``followup_wait``: seconds those visits
    waited, summed, visits still waiting at the end not counted): times float64, ``turns`` int16 (int64 only for conversations longer than 32,767 turns),
    ``outcome`` int8, flags bool.
    ``intervals``: one entry per interval boundary (``time``, cumulative ``queue_area``,
    ``busy_area``, ``staffed_area``, and instantaneous ``queue``, ``agents``, ``open``).
    ``kinds`` names the kind codes.
    """

    conversations: dict[str, np.ndarray]
    intervals: dict[str, np.ndarray]
    kinds: tuple[str, ...]


class _Fire(Event):
    """A scheduled callback: what a :class:`simpy.events.Timeout` is, minus its constructor.

    ``Timeout.__init__`` checks the delay, stores five attributes and calls ``env.schedule``;
    the model needs only ``callbacks`` (a shared one-element tuple: SimPy's ``step`` just iterates
    it) and ``_value`` (the conversation index), and pushes the event onto the environment's
    queue itself with the exact entry ``Environment.schedule`` would make,
    ``(time, NORMAL, next(eid), event)``. SimPy still orders and processes every event.
    """

    _ok = True  # always succeeds: step() reads it after the callbacks


_new = object.__new__


class Desk:
    """One replication of the desk: build it, call :meth:`run`, read :attr:`records`."""

    def __init__(self, scenario: Scenario, arrivals: ArrivalStream, seed: np.random.SeedSequence) -> None:
        self.sc = scenario
        self.arr = arrivals
        self.env = simpy.Environment()
        n = len(arrivals)
        self.n = n
        seeds = children(seed, 8)
        streams = [np.random.default_rng(s) for s in seeds]
        h, c, m = scenario.handling, scenario.customers, scenario.mix
        # Bound generator steps (Draws.next), one stream per purpose.
        self._compose = Draws(h.compose, streams[0]).next
        self._think = Draws(c.think_time, streams[1]).next
        # Per-kind compose and think times: one stream per kind, children of the purpose's.
        self._compose_by = per_kind_draws(h.compose_for, h.compose_by_kind, arrivals.kinds, seeds[0])
        self._think_by = per_kind_draws(c.think_for, c.think_by_kind, arrivals.kinds, seeds[1])
        self.kind_of = memoryview(arrivals.kind.astype(np.int64)) if (self._compose_by or self._think_by) else memoryview(b"")  # type: ignore[arg-type]  # numpy stubs: ndarray is a Buffer only for Python >= 3.12
        self._uniform = Draws(Distribution("uniform", low=0.0, high=1.0), streams[2]).next
        self._reroute = Draws(m.reroute_delay, streams[3]).next
        self._work = {t: Draws(d, streams[4]).next for t, d in h.escalation_work.items()}
        self._tier2 = Draws(scenario.agents.tier2.handle_time, streams[5]).next if scenario.agents.tier2 else None
        # Per-conversation draws made up front in one numpy call each, read through memoryviews:
        # a memoryview item is a plain Python number (no numpy scalar) and costs no extra copy,
        # where .tolist() would keep 32 bytes per float alive for the whole run.
        self.patience = memoryview(c.patience.sample(streams[6], n)) if not c.patience.is_none else None  # type: ignore[arg-type]  # numpy stubs: ndarray is a Buffer only for Python >= 3.12
        turns_total = h.turns.sample(streams[7], n) if n else np.zeros(0)
        self.turns_total = memoryview(turns_total.astype(np.int64))  # type: ignore[arg-type]  # numpy stubs: ndarray is a Buffer only for Python >= 3.12

        # One flag byte per conversation folds the per-arrival lookups (needs a reply, deflectable,
        # marketing handle, queue class) into a single read.
        kinds = arrivals.kinds
        needs = np.isin(np.arange(len(kinds)), [kinds.index(k) for k in m.needs_reply])
        self.needs_reply = needs[arrivals.kind] if n else np.zeros(0, bool)
        dfl = scenario.deflection
        deflectable = np.isin(np.arange(len(kinds)), [kinds.index(k) for k in dfl.kinds if k in kinds])
        # Queue classes are the levels of the claim order (sim.priority): a tweet goes to the first
        # level holding any of its labels; follow-ups to the "followup" level when it is listed.
        order = h.levels
        rest = level_of(order, "rest")
        assert rest is not None
        unlabelled = len(order)  # "rest" is for tweets with none of the other labels
        cls = np.full(n, unlabelled)
        labels = (
            ("outage", np.isin(arrivals.kind, [kinds.index(k) for k in URGENT_KINDS if k in kinds])),
            ("fail", arrivals.fail.astype(bool)),
            ("influencer", arrivals.followers >= m.influencer_followers),
        )
        for label, has in labels:
            level = level_of(order, label)
            if level is not None and n:
                cls = np.where(has, np.minimum(cls, level), cls)
        cls = np.where(cls == unlabelled, rest, cls)
        followup = level_of(order, "followup")
        self.followup_level = -1 if followup is None else followup
        flags = self.needs_reply.astype(np.uint8) * _F_REPLY
        if dfl.enabled and n:
            flags |= deflectable[arrivals.kind].astype(np.uint8) * _F_DEFLECT
        if n:
            flags |= arrivals.marketing.astype(np.uint8) * _F_MARKETING
            flags |= cls.astype(np.uint8) << _F_CLASS_SHIFT
        self.flags = memoryview(flags.astype(np.uint8))  # type: ignore[arg-type]  # numpy stubs: ndarray is a Buffer only for Python >= 3.12
        self.arr_time = memoryview(np.ascontiguousarray(arrivals.time, dtype=np.float64))  # type: ignore[arg-type]  # numpy stubs: ndarray is a Buffer only for Python >= 3.12

        # Records, preallocated (typed arrays: raw doubles, no Python object per value).
        nan = array("d", [math.nan]) * n
        self.pickup = array("d", nan)
        self.first = array("d", nan)
        self.end = array("d", nan)
        self.busy = array("d", bytes(8 * n))
        self.t2_start = array("d", nan)
        self.fu_since = array("d", nan)  # when the current follow-up joined the queue
        self.t2_end = nan  # the template itself: the last NaN column
        self.fu_wait = array("d", bytes(8 * n))  # seconds follow-ups waited in the queue, summed
        # Turns fit in int16 unless a scenario asks for absurdly long conversations.
        self._turns_code = "h" if not n or int(turns_total.max()) < 2**15 else "q"
        self.turns = array(self._turns_code, bytes(array(self._turns_code).itemsize * n))
        self.fu_visits = array(self._turns_code, bytes(array(self._turns_code).itemsize * n))
        self.outcome = array("b", bytes(n))
        self.auto = array("b", bytes(n))
        self.state = array("b", bytes(n))
        self.agent_of = array("i", bytes(4 * n))

        # Queue: one deque per class (level of the claim order); entries are conversation indices.
        self.queue: list[deque[int]] = [deque() for _ in order]
        self.waiting = 0
        # Agents: load per agent; free agents bucketed by load (dicts as ordered sets).
        self.k = scenario.agents.concurrency
        self.slow = scenario.agents.slowdown
        self.load: list[int] = []
        self.leaving: list[bool] = []
        self.free: list[dict[int, None]] = [{} for _ in range(self.k)]
        self.idle_pool: list[int] = []  # agents off shift with no work
        self.on_shift = 0
        self.busy_slots = 0
        self.is_open = True
        self.public_answers = 0
        # Time-integrals of queue length and busy slots, kept as running sums so the hot path
        # never integrates: each entry into the queue subtracts its time from q_sum and each exit
        # adds it, so the area up to T is q_sum + waiting * T (likewise b_sum for busy slots).
        # _account() folds the sums into the areas at every interval snapshot and calendar
        # change, which keeps their magnitude to one interval's events (no loss of precision).
        self.q_sum = 0.0
        self.b_sum = 0.0
        # Busy slots of agents past their shift end, finishing what they hold (overtime): they
        # count as staffed while they work, so occupancy stays busy / available.
        self.ot_slots = 0
        self.o_sum = 0.0
        self._last = 0.0  # staffed slots change only at calendar points: integrated there
        self.queue_area = 0.0
        self.busy_area = 0.0
        self.staffed_area = 0.0
        # Tier 2.
        t2 = scenario.agents.tier2
        self.t2_free = t2.count if t2 else 0
        self.t2_queue: deque[int] = deque()
        self.t2_targets = set(t2.targets) if t2 else set()
        esc = [(TARGET_CODE[t], p) for t, p in h.escalation.items() if p > 0]
        self.esc_cum = [(code, sum(p for _, p in esc[: i + 1])) for i, (code, _) in enumerate(esc)]
        self.private = m.private_share
        self.private_code = TARGET_CODE[m.private_target]
        self.interval_rows: list[tuple[float, ...]] = []

        # The environment's event queue and id counter, for _after() and the inlined pushes.
        self._q = self.env._queue
        self._eid = self.env._eid
        # One callbacks tuple per kind of event, shared by every event of that kind.
        self._arrive_cb = (self._arrive,)
        self._replied_cb = (self._replied,)
        self._give_up_cb = (self._give_up,)
        self._rerouted_cb = (self._rerouted,)
        self._same_agent_cb = (self._next_turn_same_agent,)
        self._followup_cb = (self._followup,)
        self._handed_off_cb = (self._handed_off,)
        self._tier2_done_cb = (self._tier2_done,)

    # -- bookkeeping ---------------------------------------------------------------------------
    def _account(self) -> None:
        """Bring the time-integrals up to now (before a change of staff or opening, at snapshots)."""
        now = self.env._now
        self.queue_area += self.q_sum + self.waiting * now
        self.q_sum = -self.waiting * now
        busy = self.b_sum + self.busy_slots * now
        self.b_sum = -self.busy_slots * now
        overtime = self.o_sum + self.ot_slots * now
        self.o_sum = -self.ot_slots * now
        dt = now - self._last
        # Opening changes call this first, so the handle was open (or closed) all along since the
        # last call: busy and staffed time count only while it answers (occupancy's definition).
        if self.is_open:
            self.busy_area += busy
            self.staffed_area += self.on_shift * self.k * dt + overtime
        if dt > 0:
            self._last = now

    def _after(self, delay: float, callbacks: tuple[Callable[[Event], None], ...], i: int) -> None:
        """Call ``callbacks`` with conversation ``i`` after ``delay`` seconds (see :class:`_Fire`)."""
        ev = _new(_Fire)
        ev.callbacks = callbacks  # type: ignore[assignment]  # a shared tuple on purpose: SimPy only iterates callbacks
        ev._value = i
        heappush(self._q, (self.env._now + delay, NORMAL, next(self._eid), ev))

    # -- arrivals ------------------------------------------------------------------------------
    def _arrive(self, ev: Event) -> None:
        i: int = ev._value
        j = i + 1
        if j < self.n:
            # Arrivals form a chain: the event that just fired carries the next one (SimPy has
            # already detached its callbacks), scheduled at the exact arrival time.
            ev.callbacks = self._arrive_cb  # type: ignore[assignment]  # a shared tuple on purpose: SimPy only iterates callbacks
            ev._value = j
            heappush(self._q, (self.arr_time[j], NORMAL, next(self._eid), ev))
        f = self.flags[i]
        if not f & _F_REPLY:
            self.outcome[i] = NO_REPLY
            return
        if f & _F_DEFLECT:
            n = self.public_answers
            if self._uniform() < self.dfl_max * n / (n + self.dfl_half):
                self.outcome[i] = DEFLECTED
                return
        is_open = self.is_open
        if not is_open and self.auto_reply:
            self.auto[i] = 1
        if f & _F_MARKETING:
            self._after(self._reroute(), self._rerouted_cb, i)
        else:
            self._enqueue(i, f >> _F_CLASS_SHIFT)
            if self.state[i] == _ACTIVE and self.until_pickup:
                # Taken at once: it cannot give up any more, so its patience needs no event
                # (its pre-drawn value simply goes unused; no other draw shifts).
                return
        if self.patience is not None:
            # The clock of patience starts at arrival, or at opening for auto-replied tweets.
            now = self.env._now
            wait_from = self.next_open(now) if not is_open and self.auto_reply else now
            self._after(wait_from - now + self.patience[i], self._give_up_cb, i)

    def _rerouted(self, ev: Event) -> None:
        i: int = ev._value
        if self.state[i] == _TRANSIT:
            self._enqueue(i, self.flags[i] >> _F_CLASS_SHIFT)

    def _enqueue(self, i: int, cls: int) -> None:
        """Put conversation ``i`` in the queue, or straight to an agent when one is free."""
        if self.waiting == 0 and self.is_open:
            for bucket in self.free:  # least-loaded on-shift agent with a free slot
                if bucket:
                    self._start(i, bucket.popitem()[0])
                    return
        self.q_sum -= self.env._now
        self.waiting += 1
        self.state[i] = _WAITING
        self.queue[cls].append(i)

    def _give_up(self, ev: Event) -> None:
        i: int = ev._value
        s = self.state[i]
        if self.turns[i]:
            return  # answered: patience no longer matters
        if s == _WAITING or s == _TRANSIT:  # noqa: SIM109 (faster than a tuple test)
            now = self.env._now
            if s == _WAITING:
                self.q_sum += now
                self.waiting -= 1
            self.state[i] = _DONE
            self.outcome[i] = ABANDONED
            self.end[i] = now
        elif s == _ACTIVE and not self.until_pickup and self.outcome[i] != ABANDONED:
            # patience_until = first_response: the agent is still writing the first reply and
            # the customer, who sees nothing until it is posted, leaves. The agent does not know:
            # the reply is finished (its time counts as work) and posted to nobody (_replied).
            self.outcome[i] = ABANDONED
            self.end[i] = self.env._now

    # -- agents --------------------------------------------------------------------------------
    def _free_agent(self) -> int:
        """Least-loaded on-shift agent with a free slot, removed from its bucket; -1 if none."""
        for level in self.free:
            if level:
                return level.popitem()[0]
        return -1

    def _start(self, i: int, agent: int) -> None:
        """Agent (already out of its free bucket) takes conversation ``i``: one more busy slot."""
        load = self.load[agent] + 1
        self.load[agent] = load
        if load < self.k:
            self.free[load][agent] = None
        self.busy_slots += 1
        self.b_sum -= self.env._now
        self._take(i, agent, load)

    def _take(self, i: int, agent: int, load: int) -> None:
        """Conversation ``i`` goes to ``agent`` (now at ``load``), who starts composing a reply."""
        now = self.env._now
        self.state[i] = _ACTIVE
        self.agent_of[i] = agent
        if self.turns[i] == 0:  # first pick-up (a reply always follows before the next take)
            self.pickup[i] = now
        else:  # a follow-up taken from the queue
            self.fu_wait[i] += now - self.fu_since[i]
        d = self._compose() if self._compose_by is None else self._compose_by[self.kind_of[i]]()
        if load > 1 and self.slow:
            d *= 1.0 + self.slow * (load - 1)
        self.busy[i] += d
        ev = _new(_Fire)
        ev.callbacks = self._replied_cb  # type: ignore[assignment]  # a shared tuple on purpose: SimPy only iterates callbacks
        ev._value = i
        heappush(self._q, (now + d, NORMAL, next(self._eid), ev))

    def _compose_turn(self, i: int, load: int) -> None:
        d = self._compose() if self._compose_by is None else self._compose_by[self.kind_of[i]]()
        if load > 1 and self.slow:
            d *= 1.0 + self.slow * (load - 1)
        self.busy[i] += d
        self._after(d, self._replied_cb, i)

    def _release(self, agent: int) -> None:
        """A slot of ``agent`` frees up: it takes the next waiting conversation, if any."""
        load = self.load[agent]
        if self.leaving[agent]:
            self.busy_slots -= 1
            self.b_sum += self.env._now
            self.ot_slots -= 1
            self.o_sum += self.env._now
            self.load[agent] = load - 1
            if load == 1:
                self.leaving[agent] = False
                self.idle_pool.append(agent)
            return
        if self.waiting and self.is_open:
            # Hand the slot straight on: load and busy slots are unchanged. The agent still moves
            # to the back of its bucket, as a release followed by a start would leave it.
            if load < self.k:
                bucket = self.free[load]
                del bucket[agent]
                bucket[agent] = None
            self._take(self._next_waiting(), agent, load)
            return
        self.busy_slots -= 1
        self.b_sum += self.env._now
        if load < self.k:
            del self.free[load][agent]
        self.load[agent] = load - 1
        self.free[load - 1][agent] = None

    def _next_waiting(self) -> int:
        for q in self.queue:
            while q:
                j = q.popleft()
                if self.state[j] == _WAITING:
                    self.q_sum += self.env._now
                    self.waiting -= 1
                    return j
        raise RuntimeError("queue count out of step")  # pragma: no cover

    def _dispatch(self) -> None:
        """Match waiting conversations with free slots (after staff or opening changes)."""
        while self.waiting and self.is_open:
            agent = self._free_agent()
            if agent < 0:
                return
            self._start(self._next_waiting(), agent)

    # -- conversation flow ----------------------------------------------------------------------
    def _replied(self, ev: Event) -> None:
        i: int = ev._value
        if self.outcome[i] == ABANDONED:  # the customer left while this first reply was written
            self.state[i] = _DONE
            self._release(self.agent_of[i])
            return
        t = self.turns[i] + 1
        self.turns[i] = t
        if t == 1:
            self.first[i] = self.env._now
            if self.private and self._uniform() < self.private:
                self._leave_timeline(i, self.private_code)
                return
        agent = self.agent_of[i]
        if t < self.turns_total[i]:
            think = self._think() if self._think_by is None else self._think_by[self.kind_of[i]]()
            if self.hold and not self.leaving[agent]:
                self._after(think, self._same_agent_cb, i)
                return
            self.state[i] = _TRANSIT
            self._release(agent)
            self._after(think, self._followup_cb, i)
            return
        if self.esc_cum:  # no draw when nothing escalates: the uniform stream is shared
            u = self._uniform()
            for code, cum in self.esc_cum:
                if u < cum:
                    self._leave_timeline(i, code)
                    return
        self.public_answers += 1
        self.state[i] = _DONE
        self.outcome[i] = RESOLVED_PUBLIC
        self.end[i] = self.env._now
        self._release(agent)

    def _next_turn_same_agent(self, ev: Event) -> None:
        i: int = ev._value
        agent = self.agent_of[i]
        if self.leaving[agent] or not self.is_open:
            # The agent's shift ended (or the handle closed) while the customer was thinking: the
            # agent takes no more turns, so the follow-up queues like any other.
            self.state[i] = _TRANSIT
            self._release(agent)
            self._requeue(i)
            return
        self._compose_turn(i, self.load[agent])

    def _followup(self, ev: Event) -> None:
        self._requeue(ev._value)

    def _requeue(self, i: int) -> None:
        """A customer's follow-up joins the queue again (a queue visit of its own, timed)."""
        self.fu_visits[i] += 1
        self.fu_since[i] = self.env._now
        self._enqueue(i, self.followup_level if self.followup_level >= 0 else self.flags[i] >> _F_CLASS_SHIFT)

    def _leave_timeline(self, i: int, code: int) -> None:
        """Move the conversation off Twitter: hand-off work by the agent, then tier 2 if any."""
        target = OUTCOMES[code]
        work = self._work.get(target)
        self.outcome[i] = code
        if work is not None:
            d = work()
            self.busy[i] += d
            self._after(d, self._handed_off_cb, i)
            return
        self._hand_off(i)
        self._release(self.agent_of[i])

    def _handed_off(self, ev: Event) -> None:
        i: int = ev._value
        self._hand_off(i)
        self._release(self.agent_of[i])

    def _hand_off(self, i: int) -> None:
        self.state[i] = _DONE
        self.end[i] = self.env._now
        if self.t2_targets and OUTCOMES[self.outcome[i]] in self.t2_targets:
            if self.t2_free:
                self.t2_free -= 1
                self._tier2_start(i)
            else:
                self.t2_queue.append(i)

    # -- tier 2 ---------------------------------------------------------------------------------
    def _tier2_start(self, i: int) -> None:
        self.t2_start[i] = self.env._now
        assert self._tier2 is not None
        self._after(self._tier2(), self._tier2_done_cb, i)

    def _tier2_done(self, ev: Event) -> None:
        self.t2_end[ev._value] = self.env._now
        if self.t2_queue:
            self._tier2_start(self.t2_queue.popleft())
        else:
            self.t2_free += 1

    # -- staff and opening hours ----------------------------------------------------------------
    def _set_staff(self, target: int) -> None:
        """Bring the number of on-shift agents to ``target``: new agents take work at once;
        leaving agents finish what they hold and take no more."""
        self._account()
        while self.on_shift < target:
            # Prefer calling back an agent still finishing work from a shift that just ended.
            back = next((a for a in range(len(self.load)) if self.leaving[a]), -1)
            if back >= 0:
                self.leaving[back] = False
                self.ot_slots -= self.load[back]
                self.o_sum += self.load[back] * self.env._now
                if self.load[back] < self.k:
                    self.free[self.load[back]][back] = None
            else:
                agent = self.idle_pool.pop() if self.idle_pool else self._new_agent()
                self.free[0][agent] = None
            self.on_shift += 1
        while self.on_shift > target:
            agent = -1
            for bucket in self.free:
                if bucket:
                    agent = next(iter(bucket))
                    del bucket[agent]
                    break
            else:
                agent = min((a for a in range(len(self.load)) if self.load[a] and not self.leaving[a]),
                            key=lambda a: self.load[a])
            if self.load[agent] == 0:
                self.idle_pool.append(agent)
            else:
                self.leaving[agent] = True
                self.ot_slots += self.load[agent]
                self.o_sum -= self.load[agent] * self.env._now
            self.on_shift -= 1
        self._dispatch()

    def _new_agent(self) -> int:
        self.load.append(0)
        self.leaving.append(False)
        return len(self.load) - 1

    def next_open(self, t: float) -> float:
        """First time >= ``t`` the handle is open (``t`` itself when open)."""
        idx = int(np.searchsorted(self.open_times, t, side="right")) - 1
        if self.open_values[max(idx, 0)]:
            return t
        later = np.nonzero(self.open_values[idx + 1:])[0]
        return float(self.open_times[idx + 1 + later[0]]) if later.size else math.inf

    def _calendar(self, end: float) -> Generator[Event, Any, None]:
        """Process: walk through staff and opening-hour change points in time order."""
        st, sv = agents_on_shift(self.sc, end)
        ot, ov = self.open_times, self.open_values
        changes = sorted([(t, 0, int(v)) for t, v in zip(st, sv, strict=True)]
                         + [(t, 1, int(v)) for t, v in zip(ot, ov, strict=True)])
        for t, what, v in changes:
            if t > self.env._now:
                yield self.env.timeout(t - self.env._now)
            if what == 0:
                self._set_staff(v)
            else:
                self._account()
                self.is_open = bool(v)
                self._dispatch()

    def _ticker(self, times: np.ndarray) -> Generator[Event, Any, None]:
        """Process: snapshot the time-integrals at each of ``times`` (see :func:`snapshot_times`)."""
        for t in times.tolist():
            if t > self.env._now:
                yield self.env.timeout(t - self.env._now)
            self._snapshot()

    def _snapshot(self) -> None:
        self._account()
        self.interval_rows.append((self.env._now, self.queue_area, self.busy_area, self.staffed_area,
                                   float(self.waiting), float(self.on_shift), float(self.is_open)))

    # -- run --------------------------------------------------------------------------------------
    def run(self) -> RunRecords:
        """Simulate arrivals up to the horizon, then drain, and return the records."""
        sc = self.sc
        stop = sc.meta.horizon + sc.meta.drain
        d = sc.deflection
        self.dfl_max, self.dfl_half = d.max_share, d.half_saturation
        self.hold = sc.handling.hold_during_think
        self.auto_reply = sc.agents.tweeting_hours.outside == "auto_reply"
        self.until_pickup = sc.customers.patience_until == "pickup"
        self.open_times, self.open_values = open_hours(sc.agents.tweeting_hours, sc, stop + 86400.0)
        self.is_open = bool(self.open_values[0])
        self.env.process(self._calendar(stop))
        snaps = snapshot_times(sc)
        self.env.process(self._ticker(snaps))
        if self.n:
            first = _new(_Fire)
            first.callbacks = self._arrive_cb  # type: ignore[assignment]  # a shared tuple on purpose: SimPy only iterates callbacks
            first._value = 0
            heappush(self._q, (self.arr_time[0], NORMAL, next(self._eid), first))
        self.env.run(until=stop)
        # With no drain the run stops at the horizon before the snapshot due then: take it.
        while len(self.interval_rows) < snaps.size:
            self._snapshot()
        rec = self.records()
        # Events left in the queue and the shared callback tuples hold bound methods, so the desk
        # sits in reference cycles; break them so its working columns (flags, patience, state...)
        # are freed now rather than at some later cyclic collection between replications.
        self.env._queue.clear()
        for name in [k for k in vars(self) if k.endswith("_cb")]:
            setattr(self, name, ())
        return rec

    def records(self) -> RunRecords:
        """Collect the typed arrays into numpy columns (no copies of the big ones)."""
        a = self.arr
        conv = {
            "arrival": a.time,
            "kind": a.kind,
            "fail": a.fail,
            "followers": a.followers,
            "marketing": a.marketing,
            "origin": a.origin,
            "needs_reply": self.needs_reply,
            "pickup": np.frombuffer(self.pickup, dtype=np.float64),
            "first_response": np.frombuffer(self.first, dtype=np.float64),
            "end": np.frombuffer(self.end, dtype=np.float64),
            "turns": np.frombuffer(self.turns, dtype=np.int16 if self._turns_code == "h" else np.int64),
            "outcome": np.frombuffer(self.outcome, dtype=np.int8),
            "busy": np.frombuffer(self.busy, dtype=np.float64),
            "auto_replied": np.frombuffer(self.auto, dtype=np.int8).astype(bool),
            "tier2_start": np.frombuffer(self.t2_start, dtype=np.float64),
            "tier2_end": np.frombuffer(self.t2_end, dtype=np.float64),
            "followup_visits": np.frombuffer(self.fu_visits, dtype=np.int16 if self._turns_code == "h" else np.int64),
            "followup_wait": np.frombuffer(self.fu_wait, dtype=np.float64),
        }
        rows = np.asarray(self.interval_rows, dtype=float).reshape(-1, 7)
        names = ("time", "queue_area", "busy_area", "staffed_area", "queue", "agents", "open")
        intervals = {name: rows[:, j] for j, name in enumerate(names)}
        intervals["boundary"] = interval_boundaries(self.sc, intervals["time"])
        return RunRecords(conv, intervals, a.kinds)


#: Engines :func:`simulate_once` can use: ``auto`` picks the FCFS fast path when it applies.
ENGINES = ("auto", "simpy", "fast")


def simulate_once(scenario: Scenario, seed: np.random.SeedSequence, engine: str = "auto") -> RunRecords:
    """Run one replication: draw arrivals and simulate them; returns the flat records.

    ``seed`` is this replication's :class:`numpy.random.SeedSequence`; arrivals and the model
    draw from separate children of it, so the same seed gives the same numbers anywhere.
    ``engine``: ``auto`` (default) runs :mod:`chirpdesk.sim.fastpath` when the scenario qualifies (a
    plain FCFS team: it gives the same records as the SimPy desk, faster) and :class:`Desk`
    otherwise; ``simpy`` always runs :class:`Desk`; ``fast`` insists on the fast path.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    fast = engine == "fast" or (engine == "auto" and fastpath.qualifies(scenario))
    if engine == "fast" and not fastpath.qualifies(scenario):
        raise ValueError(f"the fast path does not cover this scenario: {fastpath.why_not(scenario)}")
    arrival_seed, model_seed = children(seed, 2)  # never seed.spawn(): it changes seed
    stream = generate_arrivals(scenario, np.random.default_rng(arrival_seed))
    if fast:
        return fastpath.simulate(scenario, stream, model_seed)
    return Desk(scenario, stream, model_seed).run()
