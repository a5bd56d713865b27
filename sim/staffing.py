"""Agents needed per planning interval of the week: SIPP, MOL and the iterative staffing algorithm.

All three methods staff a *weekly grid* of 30- or 60-minute intervals starting Monday 00:00 (the
shape of ``[[agents.shifts]]``) and differ only in the offered load they feed to the stationary
Erlang A/C rule of :func:`slots_needed`:

* ``sipp`` (pointwise stationary): every conversation's whole agent work is offered in the
  interval the first tweet arrives, ``a_i = lam_i E[work per conversation]``.
* ``mol`` (modified offered load, Jennings, Mandelbaum, Massey & Whitt 1996): the mean number
  of busy servers of the infinite-server queue, with turn ``j``'s work arriving ``j`` think (and
  compose) times after the first tweet, from :func:`chirpdesk.sim.analytic.infinite_server_offered_load`.
* ``isa`` (iterative staffing algorithm, Feldman, Mandelbaum, Massey & Whitt 2008): simulate
  the SimPy model with ample staff, then with the current plan; estimate each interval's
  offered load as its mean number of busy slots, restaff from the target, and repeat until the
  plan no longer changes (see :func:`isa_requirement`).

Units: times in seconds, rates per second; "jobs" are agent turns (one reply each); loads are
in conversation slots. Everything here is pure (no files, no printing).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from chirpdesk.sim import analytic
from chirpdesk.sim.arrivals import rate
from chirpdesk.sim.calendar import open_hours, value_at
from chirpdesk.sim.scenario import Scenario, Shift
from chirpdesk.sim.units import DAY, WEEK

#: Staffing methods, in the order ``requirement.csv`` lists them.
METHODS: tuple[str, ...] = ("sipp", "mol", "isa")
DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Target:
    """A service target: ``share`` of tweets needing a reply answered within ``within_s`` seconds
    (on ``basis`` ``first_response`` or ``pickup``), optionally at most ``max_abandon`` (share)
    abandoning."""

    share: float
    within_s: float
    max_abandon: float | None = None
    basis: str = "first_response"

    @classmethod
    def from_scenario(cls, sc: Scenario) -> Target:
        """The scenario's ``[sla]`` and ``[staffing] max_abandon`` as a target."""
        ma = sc.staffing.max_abandon
        return cls(sc.sla.share, sc.sla.within, None if math.isnan(ma) else ma, sc.sla.basis)


@dataclass(frozen=True)
class WorkModel:
    """The agent work one conversation brings, sampled (fixed seed) from the scenario.

    ``lags`` (s): when each job (agent turn) becomes available, counted from the first tweet;
    ``durations`` (s): its agent time at no slowdown; ``conversations``: how many conversations
    were sampled; ``first_compose`` (s): sorted first-reply compose times (for the
    first-response basis). Jobs of one conversation never overlap, so :meth:`busy` is a
    probability.
    """

    lags: np.ndarray
    durations: np.ndarray
    conversations: int
    first_compose: np.ndarray
    _starts: np.ndarray = field(repr=False, compare=False)
    _ends: np.ndarray = field(repr=False, compare=False)

    @property
    def mean_job_s(self) -> float:
        """Mean agent time per job (s)."""
        return float(self.durations.mean())

    @property
    def work_per_conversation_s(self) -> float:
        """Mean agent time per conversation over all its turns (s)."""
        return float(self.durations.sum() / self.conversations)

    def busy(self, x: np.ndarray) -> np.ndarray:
        """Expected number of this conversation's jobs in service at age ``x`` seconds (0..1).

        The infinite-server kernel for :func:`chirpdesk.sim.analytic.infinite_server_offered_load`: its
        integral is :attr:`work_per_conversation_s`.
        """
        x = np.asarray(x, dtype=float)
        started = np.searchsorted(self._starts, x, side="right")
        ended = np.searchsorted(self._ends, x, side="right")
        return (started - ended) / self.conversations


def work_model(sc: Scenario, conversations: int = 20_000, seed: int = 20080101) -> WorkModel:
    """Sample the job structure of ``conversations`` conversations of ``sc`` (no queueing).

    Turn ``j`` (0-based) becomes available after the re-route delay (marketing handle), the
    previous turns' compose times and ``j`` think times; a conversation that must go private
    stops after its first reply, and the last job carries the hand-off (escalation) work. With
    ``hold_during_think`` the agent keeps the slot, so the whole conversation is one job.
    """
    rng = np.random.default_rng(seed)
    h, m, c = sc.handling, sc.mix, sc.customers
    n = conversations
    turns = np.maximum(h.turns.sample(rng, n).astype(np.int64), 1)
    private = rng.random(n) < m.private_share
    turns = np.where(private, 1, turns)
    kmax = int(turns.max())
    if h.compose_by_kind or c.think_by_kind:
        # Times per kind: each sampled conversation gets a kind from the mix's reply-needing
        # kinds (by share), so the work is the mix-weighted mixture, whose mean and spread the
        # requirement then reflect.
        kinds = [k for k in m.needs_reply if k in m.kinds] or list(m.kinds)
        shares = np.asarray([m.kinds[k] for k in kinds], dtype=float)
        kind = rng.choice(len(kinds), size=n, p=shares / shares.sum())
        compose, think = np.empty((n, kmax)), np.empty((n, kmax))
        for code, name in enumerate(kinds):
            rows = kind == code
            count = int(rows.sum()) * kmax
            compose[rows] = h.compose_for(name).sample(rng, count).reshape(-1, kmax)
            think[rows] = c.think_for(name).sample(rng, count).reshape(-1, kmax)
    else:
        compose = h.compose.sample(rng, n * kmax).reshape(n, kmax)
        think = c.think_time.sample(rng, n * kmax).reshape(n, kmax)
    think[:, 0] = 0.0  # no think time before the first turn
    reroute = np.where(rng.random(n) < m.marketing_share, m.reroute_delay.sample(rng, n), 0.0)
    # Hand-off work: the private target's, or an escalation drawn from [handling.escalation].
    extra = np.zeros(n)
    targets = list(h.escalation)
    probs = np.array([h.escalation[t] for t in targets]) if targets else np.zeros(0)
    u = rng.random(n)
    cum = np.cumsum(probs)
    for i, t in enumerate(targets):
        lo = cum[i - 1] if i else 0.0
        hit = ~private & (u >= lo) & (u < cum[i])
        if t in h.escalation_work and hit.any():
            extra[hit] = h.escalation_work[t].sample(rng, int(hit.sum()))
    if m.private_target in h.escalation_work and private.any():
        extra[private] = h.escalation_work[m.private_target].sample(rng, int(private.sum()))
    j = np.arange(kmax)[None, :]
    alive = j < turns[:, None]
    last = j == (turns[:, None] - 1)
    dur = compose + np.where(last, extra[:, None], 0.0)
    if h.hold_during_think:
        # One job per conversation: the slot is held from the first pick-up to the last reply.
        span = np.where(alive, dur, 0.0).sum(axis=1) + np.where(alive, think, 0.0).sum(axis=1)
        lags, durations = reroute, span
    else:
        # Start of turn j = reroute + sum_{i<j} compose_i + sum_{i<=j} think_i.
        prev_work = np.cumsum(dur, axis=1) - dur
        start = reroute[:, None] + prev_work + np.cumsum(think, axis=1)
        lags, durations = start[alive], dur[alive]
    return WorkModel(lags, durations, n, np.sort(compose[:, 0]),
                     np.sort(lags), np.sort(lags + durations))


# -- the weekly grid ------------------------------------------------------------------------------

def _clock(sc: Scenario) -> float:
    """Seconds from the scenario start back to Monday 00:00 of its first week."""
    s = sc.meta.start
    return s.weekday() * DAY + s.hour * 3600.0 + s.minute * 60.0 + s.second


def week_slots(interval_s: float) -> tuple[np.ndarray, list[str]]:
    """Starts of the weekly intervals (s after Monday 00:00) and labels such as ``Mon 09:00``."""
    n = int(round(WEEK / interval_s))
    starts = np.arange(n) * interval_s
    labels = [f"{DAY_LABELS[int(t // DAY)]} {int(t % DAY // 3600):02d}:{int(t % 3600 // 60):02d}"
              for t in starts]
    return starts, labels


def slot_of(sc: Scenario, t: np.ndarray, interval_s: float) -> np.ndarray:
    """Weekly interval index of simulation times ``t`` (s from the scenario start)."""
    n = int(round(WEEK / interval_s))
    return (np.floor((np.asarray(t, dtype=float) + _clock(sc)) / interval_s).astype(np.int64)) % n


def _occurrences(sc: Scenario, interval_s: float) -> np.ndarray:
    """Simulation times of each weekly interval's starts inside the measurement window.

    Shape ``(weeks, slots)``; NaN where an occurrence falls outside ``[warmup, horizon)``. When
    the window is shorter than a week, the first occurrence at or after the warm-up is used
    even past the horizon (the rate function is defined at any time).
    """
    starts, _ = week_slots(interval_s)
    base = -_clock(sc)
    w0, w1 = sc.meta.warmup, sc.meta.horizon
    k0 = math.floor((w0 - base) / WEEK) - 1
    k1 = math.ceil((w1 - base) / WEEK) + 1
    occ = base + np.arange(k0, k1)[:, None] * WEEK + starts[None, :]
    inside = (occ >= w0 - 1e-6) & (occ + interval_s <= w1 + 1e-6)
    out = np.where(inside, occ, np.nan)
    for i in np.nonzero(~inside.any(axis=0))[0]:
        col = occ[:, i]
        out[np.argmax(col >= w0 - 1e-6), i] = col[col >= w0 - 1e-6][0]
    return out


def needs_reply_share(sc: Scenario) -> float:
    """Share of tweets that need a reply (from ``[mix]``)."""
    return float(sum(sc.mix.kinds[k] for k in sc.mix.needs_reply))


def arrival_rates(sc: Scenario, interval_s: float, points: int = 30) -> np.ndarray:
    """Mean rate (per second) of tweets needing a reply in each weekly interval.

    Averaged over the interval's occurrences in the measurement window, by the midpoint rule on
    ``points`` points per interval. Cascades and deflection are left out (the ISA simulation
    includes them).
    """
    occ = _occurrences(sc, interval_s)
    offsets = (np.arange(points) + 0.5) * interval_s / points
    mask = ~np.isnan(occ)
    times = (np.nan_to_num(occ)[..., None] + offsets).ravel()
    r = rate(sc, times).reshape(*occ.shape, points).mean(axis=2)
    mean = np.where(mask, r, 0.0).sum(axis=0) / mask.sum(axis=0)
    return mean * needs_reply_share(sc)


def open_slots(sc: Scenario, interval_s: float) -> np.ndarray:
    """True for weekly intervals in which the handle answers (tweeting hours) at their midpoint."""
    starts, _ = week_slots(interval_s)
    # One week after the start's Monday, so every midpoint is a non-negative simulation time.
    t = WEEK - _clock(sc) + starts + interval_s / 2
    times, values = open_hours(sc.agents.tweeting_hours, sc, 2 * WEEK)
    return value_at(times, values, t).astype(bool)


def offered_loads(sc: Scenario, interval_s: float, work: WorkModel | None = None) -> dict[str, np.ndarray]:
    """Offered load per weekly interval in busy slots at no slowdown (Erlangs of agent work).

    Returns ``{"rate": lam_i per second, "sipp": lam_i E[work], "mol": m_i}`` where ``m`` is the
    infinite-server mean of :func:`chirpdesk.sim.analytic.infinite_server_offered_load` (periodic over
    the week) with the conversation kernel :meth:`WorkModel.busy`.
    """
    work = work or work_model(sc)
    lam = arrival_rates(sc, interval_s)
    sipp = lam * work.work_per_conversation_s
    # The kernel is a sum of indicator functions (jobs start and stop at sampled instants), so
    # quadrature steps of ~10 s keep Simpson's error at the jumps small, and the result is
    # rescaled so the kernel's mass is exactly the sampled work per conversation (a flat day then
    # gives lam x E[work], as the stationary formulas expect).
    substeps = max(32, int(interval_s / 10.0))
    mol = analytic.infinite_server_offered_load(lam, interval_s, work.busy, periodic=True, substeps=substeps)
    mass = float(analytic.infinite_server_offered_load(np.ones(1), interval_s, work.busy, periodic=True,
                                                       substeps=substeps)[0])
    if mass > 0:
        mol = mol * (work.work_per_conversation_s / mass)
    return {"rate": lam, "sipp": sipp, "mol": mol}


# -- the stationary rule ----------------------------------------------------------------------------

def patience_rate(sc: Scenario) -> tuple[float, str]:
    """Abandonment rate per waiting tweet (1/s) for Erlang A, and a note when approximated.

    Exponential patience is used as is; any other distribution by the exponential with the same
    mean (the note says so); ``none`` gives 0 (Erlang C).
    """
    p = sc.customers.patience
    if p.is_none:
        return 0.0, ""
    mean = p.expected()
    notes = []
    if p.family != "exponential":
        notes.append(f"patience is {p.family}; Erlang A uses the exponential with the same mean "
                     f"({mean / 60:.0f} min)")
    if sc.customers.patience_until == "first_response":
        # Erlang A's queue is still exact (agents write the whole reply either way); only the
        # customers who leave while their reply is written are not in its abandonment figure.
        notes.append("patience runs to the first response; Erlang A counts abandonment up to pick-up "
                     "(the simulation counts both)")
    return 1.0 / mean, "; ".join(notes)


def slowdown_factor(sc: Scenario) -> float:
    """How much longer a turn takes on a fully loaded agent: ``1 + slowdown (concurrency - 1)``."""
    a = sc.agents
    return analytic.effective_service_rate(1.0, a.concurrency, a.slowdown) ** -1


class StaffingRule:
    """Smallest number of agent slots per interval meeting a :class:`Target` (stationary).

    Jobs (agent turns) are served by slots at rate ``mu = 1 / (E[job] x slowdown factor)``
    (:func:`chirpdesk.sim.analytic.effective_service_rate`); customers abandon at ``theta``. On the
    ``pickup`` basis the service level is Erlang A's ``P(served, wait <= t)``; on the
    ``first_response`` basis the reply's compose time ``C`` is added:
    ``E_C[P(served, wait <= t - C)]`` over the sampled first compose times.
    """

    def __init__(self, sc: Scenario, target: Target, work: WorkModel, quantiles: int = 32) -> None:
        self.target = target
        self.theta, self.note = patience_rate(sc)
        self.slow = slowdown_factor(sc)
        self.mu = analytic.effective_service_rate(1.0 / work.mean_job_s, sc.agents.concurrency,
                                                  sc.agents.slowdown)
        self.concurrency = sc.agents.concurrency
        self.shrinkage = sc.agents.shrinkage
        # Compose quantiles (slowed down) for the first-response convolution.
        qs = (np.arange(quantiles) + 0.5) / quantiles
        self.compose = np.quantile(work.first_compose, qs) * self.slow
        self._cache: dict[float, int] = {}
        if target.basis == "first_response":
            reach = float(np.mean(self.compose <= target.within_s))
            if reach < target.share:
                # Even with no wait the replies take too long at full slowdown: staff on the
                # pickup basis with the target time reduced by the median compose time.
                self.note = ((self.note + "; ") if self.note else "") + (
                    f"only {100 * reach:.0f}% of first replies can be composed within the target; "
                    "staffed for pick-up within the target minus the median compose time")
                self.basis, self.within = "pickup", max(target.within_s - float(np.median(self.compose)), 0.0)
            else:
                self.basis, self.within = "first_response", target.within_s
        else:
            self.basis, self.within = "pickup", target.within_s

    def service_level(self, load_slots: float, c: int) -> float:
        """Service level (share within target) with ``c`` slots at ``load_slots`` Erlangs."""
        return self._level(analytic.erlang_a(load_slots * self.mu, self.mu, self.theta, c))

    def _level(self, res: analytic.ErlangAResult) -> float:
        if self.basis == "pickup":
            return res.service_level(self.within)
        left = self.within - self.compose
        return float(np.mean([res.service_level(x) if x >= 0 else 0.0 for x in left]))

    def _ok(self, load_slots: float, c: int) -> bool:
        lam = load_slots * self.mu
        if c == 0:
            return lam == 0
        if self.theta == 0 and lam >= c * self.mu:
            return False
        res = analytic.erlang_a(lam, self.mu, self.theta, c)
        if self.target.max_abandon is not None and self.theta > 0 and res.p_abandon > self.target.max_abandon:
            return False
        return self._level(res) >= self.target.share

    def slots(self, load_work: float) -> int:
        """Slots needed for an offered load of ``load_work`` Erlangs of unslowed agent work."""
        # Loads closer than 0.001 Erlang share one answer (simulated loads are never equal).
        key = round(float(load_work), 3)
        if key in self._cache:
            return self._cache[key]
        load = key * self.slow
        if load <= 0:
            self._cache[key] = 0
            return 0
        # Pick-up within the target is necessary for the first-response target, so the exact
        # Erlang A/C pick-up requirement is a lower bound; gallop and bisect from there.
        lo_c = analytic.required_agents(load * self.mu, self.mu, self.target.share, self.within,
                                        theta=self.theta or None, max_abandon=self.target.max_abandon
                                        if self.theta > 0 else None)
        if self.basis == "pickup" or self._ok(load, lo_c):
            self._cache[key] = lo_c
            return lo_c
        lo, step = lo_c, 1
        hi = lo + step
        while not self._ok(load, hi):
            lo, step = hi, step * 2
            hi = lo + step
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._ok(load, mid):
                hi = mid
            else:
                lo = mid
        self._cache[key] = hi
        return hi

    def agents(self, load_work: float) -> int:
        """Productive agents (on shift, after shrinkage) for ``load_work`` Erlangs of work."""
        return int(analytic.agents_from_slots(self.slots(load_work), self.concurrency))

    def headcount(self, productive: int) -> int:
        """Scheduled agents whose productive count ``round(n (1 - shrinkage))`` reaches ``productive``."""
        return scheduled_for(productive, self.shrinkage)


def scheduled_for(productive: int, shrinkage: float) -> int:
    """Smallest scheduled count ``n`` with ``floor(n (1 - shrinkage) + 0.5) >= productive``
    (the model's rounding in :func:`chirpdesk.sim.calendar.shift_blocks`)."""
    if productive <= 0:
        return 0
    n = max(int(math.ceil((productive - 0.5) / (1.0 - shrinkage))) - 1, 0)
    while math.floor(n * (1.0 - shrinkage) + 0.5) < productive:
        n += 1
    return n


# -- per-interval staffing as a scenario ---------------------------------------------------------

def interval_shifts(counts: Sequence[int] | np.ndarray, interval_s: float) -> tuple[Shift, ...]:
    """One :class:`Shift` per weekly interval with a positive count (scheduled agents)."""
    per_day = int(round(DAY / interval_s))
    out = []
    for i, n in enumerate(counts):
        if n > 0:
            day, k = divmod(i, per_day)
            out.append(Shift(f"i{i}", (day,), k * interval_s, (k + 1) * interval_s, int(n)))
    return tuple(out)


def with_interval_staff(sc: Scenario, counts: Sequence[int] | np.ndarray, interval_s: float) -> Scenario:
    """``sc`` with its shifts replaced by per-interval blocks of ``counts`` scheduled agents and
    interval-table rows of ``interval_s`` seconds."""
    agents = dataclasses.replace(sc.agents, shifts=interval_shifts(counts, interval_s))
    meta = dataclasses.replace(sc.meta, interval=interval_s)
    return dataclasses.replace(sc, agents=agents, meta=meta)


def per_slot_mean(sc: Scenario, starts: np.ndarray, values: np.ndarray, interval_s: float) -> np.ndarray:
    """Average interval-table values (rows starting at simulation times ``starts``) by weekly
    interval, over rows inside the measurement window; NaN for intervals never seen."""
    n = int(round(WEEK / interval_s))
    keep = (starts >= sc.meta.warmup - 1e-6) & (starts + interval_s <= sc.meta.horizon + 1e-6) & ~np.isnan(values)
    slots = slot_of(sc, starts[keep] + interval_s / 2, interval_s)
    total = np.bincount(slots, weights=values[keep], minlength=n)
    count = np.bincount(slots, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass(frozen=True)
class ISAResult:
    """Outcome of :func:`isa_requirement`: ``scheduled`` agents per weekly interval, the
    estimated offered load in slots (``load_slots``), iterations run, whether the plan stopped
    changing (``converged``) and the plan of every iteration (``history``)."""

    scheduled: np.ndarray
    load_slots: np.ndarray
    iterations: int
    converged: bool
    history: list[np.ndarray]


Runner = Callable[[Scenario, int, int], list[dict[str, np.ndarray]]]


def _serial_runner(sc: Scenario, seed: int, replications: int) -> list[dict[str, np.ndarray]]:
    from chirpdesk.sim.run import run_replication

    return [run_replication(sc, seed, r).intervals for r in range(replications)]


def isa_requirement(sc: Scenario, interval_s: float, rule: StaffingRule, open_mask: np.ndarray,
                    start: np.ndarray, iterations: int = 8, replications: int = 4,
                    seed: int | None = None, runner: Runner | None = None,
                    tolerance: float = 0.15) -> ISAResult:
    """The simulation-based iterative staffing algorithm (Feldman et al. 2008).

    The first iteration simulates ``sc`` with ``start`` scheduled agents per interval (ample
    staff, so the busy slots are those of the infinite-server system); each iteration estimates
    the offered load of interval ``i`` as the mean number of busy slots over its occurrences
    and ``replications`` replications -- the work the desk really does then, with follow-up
    lags, slowdown under concurrency, re-routing, deflection and cascades -- and restaffs every
    open interval with the stationary ``rule`` at that load. Waiting jobs are not added (as
    Feldman et al. do for small delay targets): with a service-level target the queue is not
    negligible, and counting it makes the plan oscillate between under- and over-staffing.
    Stops when the plan is stable (converged: no interval changes by more than one productive
    agent and at most ``tolerance`` of them change; the larger plan is kept) or after
    ``iterations``. ``runner(sc, seed, reps)``
    returns interval tables (default: serial :func:`chirpdesk.sim.run.run_replication`).
    """
    runner = runner or _serial_runner
    seed = sc.meta.seed if seed is None else seed
    counts = np.where(open_mask, start, 0).astype(np.int64)
    history = [counts]
    loads: list[np.ndarray] = []
    load = np.zeros(counts.size)
    prod: np.ndarray | None = None
    stable_from: int | None = None
    converged = False
    it = 0
    for it in range(1, iterations + 1):  # noqa: B007 - the count is reported
        tables = runner(with_interval_staff(sc, counts, interval_s), seed, replications)
        per_rep = [per_slot_mean(sc, t["start"], t["busy_slots"], interval_s) for t in tables]
        loads.append(np.nan_to_num(np.nanmean(np.stack(per_rep), axis=0)))
        # Once the plan moves by at most one agent per interval it is near its fixed point, and
        # the load estimates from then on are pooled: that damps the simulation noise that would
        # otherwise make intervals flip by an agent from one iteration to the next. Earlier
        # estimates (from under- or over-staffed systems) are not pooled.
        load = np.mean(loads[stable_from:], axis=0) if stable_from is not None else loads[-1]
        # The rule takes unslowed work; the simulated slots already include the slowdown.
        new_prod = np.array([rule.agents(x / rule.slow) if ok else 0
                             for x, ok in zip(load, open_mask, strict=True)], dtype=np.int64)
        new = np.array([rule.headcount(int(x)) for x in new_prod], dtype=np.int64)
        history.append(new)
        if prod is not None:
            change = np.abs(new_prod - prod)
            if stable_from is None and change.max() <= 1:
                stable_from = len(loads) - 1
            # Stable: no interval moves by more than one agent and almost none move at all
            # (what is left is simulation noise at a rounding edge). Keep the larger of the two.
            if change.max() == 0 or (len(loads) > 2 and change.max() <= 1
                                     and np.count_nonzero(change) <= tolerance * change.size):
                converged = True
                new = np.array([rule.headcount(int(x)) for x in np.maximum(new_prod, prod)], dtype=np.int64)
                history[-1] = new
                counts = new
                break
        prod, counts = new_prod, new
    return ISAResult(counts, load, it, converged, history)


# -- the whole requirement ------------------------------------------------------------------------

@dataclass(frozen=True)
class Requirement:
    """Scheduled agents needed per weekly interval, by every method computed.

    ``start`` (s after Monday 00:00), ``label``, ``rate_per_h`` (tweets needing a reply per
    hour), ``offered_load`` (Erlangs of agent work, the method's own; MOL for sipp/mol, the
    simulated slots for isa), ``required`` (method -> scheduled agents array; sipp and mol always,
    isa when run), ``method`` (the one used) and ``notes`` (approximations made).
    """

    interval_s: float
    start: np.ndarray
    label: list[str]
    rate_per_h: np.ndarray
    offered_load: np.ndarray
    required: dict[str, np.ndarray]
    method: str
    notes: tuple[str, ...] = ()
    isa: ISAResult | None = None

    @property
    def used(self) -> np.ndarray:
        """The scheduled agents per interval of the chosen method."""
        return self.required[self.method]


def staffing_requirement(sc: Scenario, method: str = "isa", interval_s: float | None = None,
                         target: Target | None = None, seed: int | None = None,
                         runner: Runner | None = None, iterations: int | None = None,
                         replications: int | None = None) -> Requirement:
    """Agents to schedule per weekly interval so that each meets ``target`` (default: ``[sla]``).

    ``method`` is ``sipp``, ``mol`` or ``isa`` (see the module docstring); SIPP and MOL are
    always computed for comparison; ISA starts from twice the MOL plan plus two agents.
    Intervals outside tweeting hours need nobody. Returns a :class:`Requirement`.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    interval_s = interval_s or sc.staffing.interval
    target = target or Target.from_scenario(sc)
    work = work_model(sc)
    rule = StaffingRule(sc, target, work)
    loads = offered_loads(sc, interval_s, work)
    is_open = open_slots(sc, interval_s)
    required = {}
    for m in ("sipp", "mol"):
        required[m] = np.array([rule.headcount(rule.agents(x)) if ok else 0
                                for x, ok in zip(loads[m], is_open, strict=True)], dtype=np.int64)
    notes = [rule.note] if rule.note else []
    notes.append("analytic methods leave out cascades and deflection; follow-ups share one FIFO queue")
    isa = None
    offered = loads["mol"]
    if method == "isa":
        isa = isa_requirement(sc, interval_s, rule, is_open, 2 * required["mol"] + 2,
                              iterations or sc.staffing.iterations,
                              replications or sc.staffing.replications, seed, runner)
        required["isa"] = isa.scheduled
        offered = isa.load_slots / rule.slow
        if not isa.converged:
            notes.append(f"ISA stopped after {isa.iterations} iterations without a fixed point")
    starts, labels = week_slots(interval_s)
    return Requirement(interval_s, starts, labels, loads["rate"] * 3600.0, offered, required, method,
                       tuple(notes), isa)


__all__ = [
    "ISAResult",
    "METHODS",
    "Requirement",
    "StaffingRule",
    "Target",
    "WorkModel",
    "arrival_rates",
    "interval_shifts",
    "isa_requirement",
    "offered_loads",
    "open_slots",
    "patience_rate",
    "per_slot_mean",
    "scheduled_for",
    "slot_of",
    "staffing_requirement",
    "week_slots",
    "with_interval_staff",
    "work_model",
]
