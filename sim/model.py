"""The SimPy model of a social customer-service desk.

Each tweet is a conversation: it arrives (maybe on the marketing handle, to be re-routed), waits
in a priority queue for an agent with a free concurrency slot (or gives up: patience), gets a
first public reply, and the customer answers after a think time, turn after turn, until it is
resolved in public or leaves the timeline (DM, email, phone, ticket; tier 2 when configured).

The hot path uses SimPy events with callbacks rather than a generator process per wait, draws
random numbers in numpy blocks, and writes records into preallocated typed arrays: no per-event
dicts, objects or logging. The model never reads files or globals: it gets a
:class:`~sim.scenario.Scenario`, an :class:`~sim.arrivals.ArrivalStream` and a seed sequence.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import Timeout

from sim.arrivals import ArrivalStream
from sim.calendar import agents_on_shift, open_hours
from sim.distributions import Distribution, Draws
from sim.scenario import Scenario
from sim.vocabulary import ESCALATION_TARGETS

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
# Queue classes, served in this order.
_FOLLOWUP, _FAIL, _INFLUENCER, _NORMAL = 0, 1, 2, 3


@dataclass(frozen=True)
class RunRecords:
    """Everything one replication recorded, as flat numpy columns (times in seconds from start).

    ``conversations``: one entry per tweet (``arrival``, ``kind``, ``fail``, ``followers``,
    ``marketing``, ``origin``, ``needs_reply``, ``pickup``, ``first_response``, ``end``,
    ``turns``, ``outcome``, ``busy``, ``auto_replied``, ``tier2_start``, ``tier2_end``).
    ``intervals``: one entry per interval boundary (``time``, cumulative ``queue_area``,
    ``busy_area``, ``staffed_area``, and instantaneous ``queue``, ``agents``, ``open``).
    ``kinds`` names the kind codes.
    """

    conversations: dict[str, np.ndarray]
    intervals: dict[str, np.ndarray]
    kinds: tuple[str, ...]


class Desk:
    """One replication of the desk: build it, call :meth:`run`, read :attr:`records`."""

    def __init__(self, scenario: Scenario, arrivals: ArrivalStream, seed: np.random.SeedSequence) -> None:
        self.sc = scenario
        self.arr = arrivals
        self.env = simpy.Environment()
        n = len(arrivals)
        self.n = n
        streams = [np.random.default_rng(s) for s in seed.spawn(8)]
        h, c, m = scenario.handling, scenario.customers, scenario.mix
        self._compose = Draws(h.compose, streams[0])
        self._think = Draws(c.think_time, streams[1])
        self._uniform = Draws(Distribution("uniform", low=0.0, high=1.0), streams[2])
        self._reroute = Draws(m.reroute_delay, streams[3])
        self._work = {t: Draws(d, streams[4]) for t, d in h.escalation_work.items()}
        self._tier2 = Draws(scenario.agents.tier2.handle_time, streams[5]) if scenario.agents.tier2 else None
        # Per-conversation draws made up front in one numpy call each.
        self.patience = (c.patience.sample(streams[6], n) if not c.patience.is_none else None)
        self.turns_total = h.turns.sample(streams[7], n).astype(np.int64).tolist() if n else []

        kinds = arrivals.kinds
        needs = np.isin(np.arange(len(kinds)), [kinds.index(k) for k in m.needs_reply])
        self.needs_reply = needs[arrivals.kind] if n else np.zeros(0, bool)
        self.deflectable = np.isin(np.arange(len(kinds)), [kinds.index(k) for k in scenario.deflection.kinds if k in kinds])
        if h.priority == "influencer_fail":
            cls = np.where(arrivals.fail, _FAIL, np.where(arrivals.followers >= m.influencer_followers, _INFLUENCER, _NORMAL))
        else:
            cls = np.full(n, _NORMAL)
        self.qclass = cls.tolist()

        # Records, preallocated (typed arrays: raw doubles, no Python object per value).
        nan = array("d", [math.nan]) * n
        self.pickup = array("d", nan)
        self.first = array("d", nan)
        self.end = array("d", nan)
        self.busy = array("d", bytes(8 * n))
        self.t2_start = array("d", nan)
        self.t2_end = array("d", nan)
        self.turns = array("l", bytes(array("l").itemsize * n))
        self.outcome = array("b", bytes(n))
        self.auto = array("b", bytes(n))
        self.state = array("b", bytes(n))
        self.agent_of = array("l", bytes(array("l").itemsize * n))

        # Queue: one deque per class; entries are conversation indices.
        self.queue: list[deque[int]] = [deque(), deque(), deque(), deque()]
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
        # Time-integrals for queue length, busy slots and staffed (open) slots.
        self._last = 0.0
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

    # -- bookkeeping ---------------------------------------------------------------------------
    def _account(self) -> None:
        """Advance the time-integrals to now (call before any change to queue, busy or staff)."""
        now = self.env._now
        dt = now - self._last
        if dt > 0:
            self.queue_area += self.waiting * dt
            self.busy_area += self.busy_slots * dt
            if self.is_open:
                self.staffed_area += self.on_shift * self.k * dt
            self._last = now

    # -- arrivals ------------------------------------------------------------------------------
    def _schedule_arrival(self, i: int) -> None:
        if i < self.n:
            ev = Timeout(self.env, max(self.arr_time[i] - self.env._now, 0.0), i)
            ev.callbacks.append(self._arrive)

    def _arrive(self, ev: simpy.Event) -> None:
        i: int = ev._value
        self._schedule_arrival(i + 1)
        if not self.needs_reply[i]:
            self.outcome[i] = NO_REPLY
            return
        if self.dfl_on and self.deflectable[self.arr_kind[i]]:
            n = self.public_answers
            if self._uniform() < self.dfl_max * n / (n + self.dfl_half):
                self.outcome[i] = DEFLECTED
                return
        now = self.env._now
        if not self.is_open and self.auto_reply:
            self.auto[i] = 1
        if self.patience is not None:
            wait_from = self.next_open(now) if self.auto[i] else now
            p = Timeout(self.env, wait_from - now + self.patience[i], i)
            p.callbacks.append(self._give_up)
        if self.arr_marketing[i]:
            ev2 = Timeout(self.env, self._reroute(), i)
            ev2.callbacks.append(self._rerouted)
            return
        self._enqueue(i, self.qclass[i])

    def _rerouted(self, ev: simpy.Event) -> None:
        i: int = ev._value
        if self.state[i] == _TRANSIT:
            self._enqueue(i, self.qclass[i])

    def _enqueue(self, i: int, cls: int) -> None:
        """Put conversation ``i`` in the queue, or straight to an agent when one is free."""
        if self.is_open and self.waiting == 0:
            agent = self._free_agent()
            if agent >= 0:
                self._start(i, agent)
                return
        self._account()
        self.state[i] = _WAITING
        self.queue[cls].append(i)
        self.waiting += 1

    def _give_up(self, ev: simpy.Event) -> None:
        i: int = ev._value
        s = self.state[i]
        if (s == _WAITING or s == _TRANSIT) and self.turns[i] == 0:
            if s == _WAITING:
                self._account()
                self.waiting -= 1
            self.state[i] = _DONE
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
        """Agent takes conversation ``i`` and starts composing its next reply."""
        self._account()
        load = self.load[agent] + 1
        self.load[agent] = load
        if load < self.k:
            self.free[load][agent] = None
        self.busy_slots += 1
        self.state[i] = _ACTIVE
        self.agent_of[i] = agent
        if self.pickup[i] != self.pickup[i]:  # NaN: first pick-up
            self.pickup[i] = self.env._now
        self._compose_turn(i, load)

    def _compose_turn(self, i: int, load: int) -> None:
        d = self._compose()
        if load > 1 and self.slow:
            d *= 1.0 + self.slow * (load - 1)
        self.busy[i] += d
        ev = Timeout(self.env, d, i)
        ev.callbacks.append(self._replied)

    def _release(self, agent: int) -> None:
        """A slot of ``agent`` frees up: it takes the next waiting conversation, if any."""
        self._account()
        self.busy_slots -= 1
        load = self.load[agent]
        if self.leaving[agent]:
            self.load[agent] = load - 1
            if load == 1:
                self.leaving[agent] = False
                self.idle_pool.append(agent)
            return
        if load < self.k:
            del self.free[load][agent]
        self.load[agent] = load - 1
        if self.waiting and self.is_open:
            self._start(self._next_waiting(), agent)
            return
        self.free[load - 1][agent] = None

    def _next_waiting(self) -> int:
        for q in self.queue:
            while q:
                j = q.popleft()
                if self.state[j] == _WAITING:
                    self._account()
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
    def _replied(self, ev: simpy.Event) -> None:
        i: int = ev._value
        now = self.env._now
        t = self.turns[i] + 1
        self.turns[i] = t
        if t == 1:
            self.first[i] = now
            if self.private and self._uniform() < self.private:
                self._leave_timeline(i, self.private_code)
                return
        agent = self.agent_of[i]
        if t < self.turns_total[i]:
            think = self._think()
            if self.hold and not self.leaving[agent]:
                ev2 = Timeout(self.env, think, i)
                ev2.callbacks.append(self._next_turn_same_agent)
                return
            self.state[i] = _TRANSIT
            self._release(agent)
            ev2 = Timeout(self.env, think, i)
            ev2.callbacks.append(self._followup)
            return
        u = self._uniform()
        for code, cum in self.esc_cum:
            if u < cum:
                self._leave_timeline(i, code)
                return
        self.public_answers += 1
        self._finish(i, RESOLVED_PUBLIC)
        self._release(agent)

    def _next_turn_same_agent(self, ev: simpy.Event) -> None:
        i: int = ev._value
        self._compose_turn(i, self.load[self.agent_of[i]])

    def _followup(self, ev: simpy.Event) -> None:
        i: int = ev._value
        self._enqueue(i, _FOLLOWUP if self.followups_first else self.qclass[i])

    def _leave_timeline(self, i: int, code: int) -> None:
        """Move the conversation off Twitter: hand-off work by the agent, then tier 2 if any."""
        target = OUTCOMES[code]
        work = self._work.get(target)
        self.outcome[i] = code
        if work is not None:
            d = work()
            self.busy[i] += d
            ev = Timeout(self.env, d, i)
            ev.callbacks.append(self._handed_off)
            return
        self._hand_off(i)
        self._release(self.agent_of[i])

    def _handed_off(self, ev: simpy.Event) -> None:
        i: int = ev._value
        self._hand_off(i)
        self._release(self.agent_of[i])

    def _hand_off(self, i: int) -> None:
        now = self.env._now
        self.state[i] = _DONE
        self.end[i] = now
        if OUTCOMES[self.outcome[i]] in self.t2_targets:
            if self.t2_free:
                self.t2_free -= 1
                self._tier2_start(i)
            else:
                self.t2_queue.append(i)

    def _finish(self, i: int, code: int) -> None:
        self.state[i] = _DONE
        self.outcome[i] = code
        self.end[i] = self.env._now

    # -- tier 2 ---------------------------------------------------------------------------------
    def _tier2_start(self, i: int) -> None:
        self.t2_start[i] = self.env._now
        assert self._tier2 is not None
        ev = Timeout(self.env, self._tier2(), i)
        ev.callbacks.append(self._tier2_done)

    def _tier2_done(self, ev: simpy.Event) -> None:
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
                if self.load[back] < self.k:
                    self.free[self.load[back]][back] = None
            else:
                agent = self.idle_pool.pop() if self.idle_pool else self._new_agent()
                self.free[0][agent] = None
            self.on_shift += 1
        while self.on_shift > target:
            agent = -1
            for level, bucket in enumerate(self.free):
                if bucket:
                    agent = next(iter(bucket))
                    del bucket[agent]
                    break
            else:
                level = self.k
                agent = min((a for a in range(len(self.load)) if self.load[a] and not self.leaving[a]),
                            key=lambda a: self.load[a])
            if self.load[agent] == 0:
                self.idle_pool.append(agent)
            else:
                self.leaving[agent] = True
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

    def _calendar(self, end: float):  # type: ignore[no-untyped-def]
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

    def _ticker(self, step: float, end: float):  # type: ignore[no-untyped-def]
        """Process: snapshot the time-integrals at every interval boundary."""
        t = 0.0
        while t <= end + 1e-9:
            if t > self.env._now:
                yield self.env.timeout(t - self.env._now)
            self._account()
            self.interval_rows.append((self.env._now, self.queue_area, self.busy_area, self.staffed_area,
                                       float(self.waiting), float(self.on_shift), float(self.is_open)))
            t += step

    # -- run --------------------------------------------------------------------------------------
    def run(self) -> RunRecords:
        """Simulate arrivals up to the horizon, then drain, and return the records."""
        sc = self.sc
        horizon, stop = sc.meta.horizon, sc.meta.horizon + sc.meta.drain
        self.arr_time = self.arr.time.tolist()
        self.arr_kind = self.arr.kind.tolist()
        self.arr_marketing = self.arr.marketing.tolist()
        self.needs_reply = self.needs_reply.tolist()
        self.deflectable = self.deflectable.tolist()
        d = sc.deflection
        self.dfl_on, self.dfl_max, self.dfl_half = d.enabled, d.max_share, d.half_saturation
        self.hold = sc.handling.hold_during_think
        self.followups_first = sc.handling.followups_first
        self.auto_reply = sc.agents.tweeting_hours.outside == "auto_reply"
        self.open_times, self.open_values = open_hours(sc.agents.tweeting_hours, sc, stop + 86400.0)
        self.is_open = bool(self.open_values[0])
        self.env.process(self._calendar(stop))
        self.env.process(self._ticker(sc.meta.interval, horizon))
        self._schedule_arrival(0)
        self.env.run(until=stop)
        self._account()
        return self.records()

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
            "needs_reply": np.asarray(self.needs_reply, dtype=bool),
            "pickup": np.frombuffer(self.pickup, dtype=np.float64),
            "first_response": np.frombuffer(self.first, dtype=np.float64),
            "end": np.frombuffer(self.end, dtype=np.float64),
            "turns": np.frombuffer(self.turns, dtype=np.int64 if array("l").itemsize == 8 else np.int32),
            "outcome": np.frombuffer(self.outcome, dtype=np.int8),
            "busy": np.frombuffer(self.busy, dtype=np.float64),
            "auto_replied": np.frombuffer(self.auto, dtype=np.int8).astype(bool),
            "tier2_start": np.frombuffer(self.t2_start, dtype=np.float64),
            "tier2_end": np.frombuffer(self.t2_end, dtype=np.float64),
        }
        rows = np.asarray(self.interval_rows, dtype=float).reshape(-1, 7)
        names = ("time", "queue_area", "busy_area", "staffed_area", "queue", "agents", "open")
        intervals = {name: rows[:, j] for j, name in enumerate(names)}
        return RunRecords(conv, intervals, a.kinds)


def simulate_once(scenario: Scenario, seed: np.random.SeedSequence) -> RunRecords:
    """Run one replication: draw arrivals and simulate them; returns the flat records.

    ``seed`` is this replication's :class:`numpy.random.SeedSequence`; arrivals and the model
    draw from separate children of it, so the same seed gives the same numbers anywhere.
    """
    from sim.arrivals import generate_arrivals

    arrival_seed, model_seed = seed.spawn(2)
    stream = generate_arrivals(scenario, np.random.default_rng(arrival_seed))
    return Desk(scenario, stream, model_seed).run()
