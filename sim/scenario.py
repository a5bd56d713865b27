"""The scenario: one frozen description of a social customer-service operation.

Built once from TOML by :func:`chirpdesk.sim.loader.load_scenario`; every time is in seconds and every rate
per second past that point. The model, the staffing tools and the load-test shapes all read the
same :class:`Scenario`, so one file drives everything.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from chirpdesk.sim.distributions import Distribution


@dataclass(frozen=True)
class Meta:
    """``[scenario]``: name, calendar start, horizon and warm-up (seconds), seed, replications."""

    name: str
    start: dt.datetime
    horizon: float
    warmup: float
    seed: int
    replications: int
    description: str = ""
    interval: float = 3600.0
    drain: float = 86400.0


@dataclass(frozen=True)
class Adoption:
    """How the share of customers who use the channel grows over the horizon.

    ``model``: ``none`` (flat), ``linear`` (from ``start_share`` to ``end_share`` over the
    horizon) or ``bass`` (Bass diffusion with innovation ``p`` and imitation ``q`` per ``period``
    seconds, starting at penetration ``start_share``). The arrival rate scales with
    penetration(t) / penetration(0), so ``base_rate`` is today's volume.
    """

    model: str = "none"
    start_share: float = 1.0
    end_share: float = 1.0
    p: float = 0.03
    q: float = 0.38
    period: float = 365.0 * 86400.0


@dataclass(frozen=True)
class Burst:
    """A scheduled surge (outage or campaign) multiplying the arrival rate.

    ``start`` and ``duration`` in seconds from the scenario start; ``multiplier`` >= 0 on the
    rate. A one-to-many public ``update_after`` seconds into the burst deflects
    ``update_deflects`` (0..1) of the remaining excess tweets. ``kind`` forces the kind of the
    excess tweets (e.g. ``outage_report``); empty means drawn from the mix.
    """

    name: str
    start: float
    duration: float
    multiplier: float
    update_after: float = math.inf
    update_deflects: float = 0.0
    kind: str = ""


@dataclass(frozen=True)
class Cascade:
    """Self-exciting pile-ons (a Hawkes process in cluster form).

    A complaint with ``#fail`` or from an author with at least ``min_followers`` followers
    triggers on average ``branching_ratio`` (< 1) extra tweets, delayed by an exponential kernel
    with mean ``decay`` seconds; offspring of ``kind`` may trigger in turn.
    """

    enabled: bool = False
    branching_ratio: float = 0.0
    decay: float = 1800.0
    min_followers: float = 10_000.0
    on_fail: bool = True
    kind: str = "complaint"


@dataclass(frozen=True)
class Arrivals:
    """``[arrivals]``: non-homogeneous Poisson tweets at ``base_rate`` tweets per second.

    ``diurnal`` (24 values) and ``weekly`` (7, Monday first) are relative profiles normalised to
    mean 1; ``interpolation`` is ``step`` (constant within each hour) or ``linear``.
    ``hour_of_week`` (168 values, Monday 00:00 first, mean 1), when given, replaces
    ``diurnal x weekly``: a week whose days differ in shape, as a calibrated history has.
    """

    base_rate: float
    diurnal: tuple[float, ...] = (1.0,) * 24
    weekly: tuple[float, ...] = (1.0,) * 7
    interpolation: str = "step"
    adoption: Adoption = field(default_factory=Adoption)
    bursts: tuple[Burst, ...] = ()
    cascade: Cascade = field(default_factory=Cascade)
    hour_of_week: tuple[float, ...] = ()


@dataclass(frozen=True)
class Mix:
    """``[mix]``: what arrives.

    ``kinds`` maps kind -> share (sums to 1); ``needs_reply`` lists kinds that need a reply;
    ``fail_share`` is the share of complaints carrying ``#fail``; ``followers`` is the author's
    follower count; ``private_share`` of replied conversations need private data and must leave
    the public timeline (to ``private_target``); ``marketing_share`` of tweets land on the
    marketing handle and reach the service team after ``reroute_delay``.
    """

    kinds: dict[str, float]
    needs_reply: tuple[str, ...]
    fail_share: float = 0.0
    followers: Distribution = field(default_factory=lambda: Distribution("constant", value=100.0))
    influencer_followers: float = 10_000.0
    private_share: float = 0.0
    private_target: str = "dm"
    marketing_share: float = 0.0
    reroute_delay: Distribution = field(default_factory=lambda: Distribution("constant", value=0.0))


@dataclass(frozen=True)
class Deflection:
    """``[deflection]``: public answers become searchable self-service.

    The share of new tweets of ``kinds`` that never reach the desk is
    ``max_share * n / (n + half_saturation)`` where n is the number of conversations answered in
    public so far.
    """

    enabled: bool = False
    max_share: float = 0.0
    half_saturation: float = 1000.0
    kinds: tuple[str, ...] = ("question",)


@dataclass(frozen=True)
class Customers:
    """``[customers]``: patience while waiting for a first response, and think time between turns.

    ``patience_until``: ``first_response`` (default: the customer gives up unless the first reply
    is *posted* within their patience, even while an agent is writing it, as on Twitter, where
    nothing shows until the reply does) or ``pickup`` (patience ends when an agent starts: the
    Erlang A convention, which :func:`chirpdesk.sim.analytic.erlang_a` matches exactly).
    """

    patience: Distribution = field(default_factory=lambda: Distribution("none"))
    think_time: Distribution = field(default_factory=lambda: Distribution("exponential", mean=1800.0))
    patience_until: str = "first_response"
    #: Think time per tweet kind (``think_time = { question = {...}, ... }``); ``think_time`` is
    #: then the entry for kinds not listed.
    think_by_kind: dict[str, Distribution] = field(default_factory=dict)

    def think_for(self, kind: str) -> Distribution:
        """The think-time distribution of a customer whose first tweet was of ``kind`` (s)."""
        return self.think_by_kind.get(kind, self.think_time)


@dataclass(frozen=True)
class Handling:
    """``[handling]``: work per conversation.

    ``compose``: time to write one reply; ``compose_by_kind``: per tweet kind, when the scenario
    writes ``compose = { question = {...}, complaint = {...} }`` (``compose`` is then the entry
    for kinds not listed, ``other``, or the first listed); ``turns``: agent replies in public until done
    (integer-valued distribution, >= 1); ``escalation``: target -> probability of leaving the
    public timeline at the end (rest resolve in public); ``escalation_work``: agent time spent on
    the hand-off per target; ``priority``: ``fifo``, ``influencer_fail`` or a user-defined order
    in text form (``outage>fail>influencer>followup>rest``, see :mod:`chirpdesk.sim.priority`);
    ``followups_first``: customers' follow-up tweets jump ahead of new tweets;
    ``hold_during_think``: the agent keeps the conversation's slot between turns (chat-like).
    """

    compose: Distribution
    turns: Distribution = field(default_factory=lambda: Distribution("constant", value=1.0))
    escalation: dict[str, float] = field(default_factory=dict)
    escalation_work: dict[str, Distribution] = field(default_factory=dict)
    priority: str = "fifo"
    followups_first: bool = True
    hold_during_think: bool = False
    compose_by_kind: dict[str, Distribution] = field(default_factory=dict)

    @property
    def levels(self) -> tuple[tuple[str, ...], ...]:
        """The claim order as levels of class labels (:func:`chirpdesk.sim.priority.levels`)."""
        from chirpdesk.sim.priority import levels

        return levels(self.priority, self.followups_first)

    def compose_for(self, kind: str) -> Distribution:
        """The compose-time distribution of a reply to a tweet of ``kind`` (seconds)."""
        return self.compose_by_kind.get(kind, self.compose)


@dataclass(frozen=True)
class Shift:
    """One shift pattern: ``count`` agents on ``days`` (0 = Monday) from ``start`` to ``end``
    (seconds after midnight; ``end <= start`` crosses midnight)."""

    name: str
    days: tuple[int, ...]
    start: float
    end: float
    count: int

    @property
    def length(self) -> float:
        """Shift length in seconds."""
        return (self.end - self.start) % 86400.0 or 86400.0


@dataclass(frozen=True)
class TweetingHours:
    """When the service handle answers. Outside: tweets ``wait`` (patience runs) or get an
    ``auto_reply`` that sets expectations (patience starts at opening)."""

    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    start: float = 0.0
    end: float = 86400.0
    outside: str = "wait"

    @property
    def always(self) -> bool:
        """True when the handle answers around the clock."""
        return len(self.days) == 7 and self.start == 0.0 and self.end == 86400.0


@dataclass(frozen=True)
class Tier2:
    """Second tier for escalations to ``targets``: ``count`` agents around the clock taking
    ``handle_time`` each."""

    count: int
    handle_time: Distribution
    targets: tuple[str, ...] = ("email", "phone", "ticket")


@dataclass(frozen=True)
class Agents:
    """``[agents]``: who answers. Concurrency is conversations an agent holds at once; each extra
    one slows composing by ``slowdown`` (0.25 = 25% longer per extra conversation); ``shrinkage``
    is the share of scheduled time not available (breaks, training): on-shift agents are
    ``round(count * (1 - shrinkage))``."""

    shifts: tuple[Shift, ...]
    concurrency: int = 1
    slowdown: float = 0.0
    shrinkage: float = 0.0
    tweeting_hours: TweetingHours = field(default_factory=TweetingHours)
    tier2: Tier2 | None = None


@dataclass(frozen=True)
class SLA:
    """``[sla]``: ``share`` of tweets needing a reply answered ``within`` seconds.

    ``basis`` is ``first_response`` (reply posted) or ``pickup`` (agent starts; the Erlang C
    convention)."""

    share: float = 0.9
    within: float = 600.0
    basis: str = "first_response"


@dataclass(frozen=True)
class Cost:
    """``[cost]``: money per scheduled agent hour, per tier-2 hour and per escalation target."""

    agent_hour: float = 0.0
    tier2_hour: float = 0.0
    escalation: dict[str, float] = field(default_factory=dict)
    currency: str = "USD"


@dataclass(frozen=True)
class Gate:
    """A load-test pass/fail gate: ``metric`` compared with ``op`` against ``value``."""

    metric: str
    op: str
    value: float


@dataclass(frozen=True)
class LoadTest:
    """``[loadtest]``: how the scenario is replayed against an endpoint.

    ``speedup``: simulated seconds per real second; ``duration``: real seconds; ``offset``:
    simulated seconds from the scenario start where replay begins; ``shape``: ``scenario``,
    ``step``, ``soak`` or ``spike``; shares of redeliveries and bad bodies; ``gates``.
    """

    speedup: float = 60.0
    duration: float = 60.0
    offset: float = 0.0
    shape: str = "scenario"
    redelivery_share: float = 0.0
    malformed_share: float = 0.0
    oversized_share: float = 0.0
    agents: bool = True
    step_rate: float = 5.0
    step_every: float = 10.0
    step_count: int = 5
    spike_multiplier: float = 5.0
    spike_at: float = 10.0
    spike_duration: float = 10.0
    gates: tuple[Gate, ...] = ()


@dataclass(frozen=True)
class Staffing:
    """``[staffing]``: how ``chirpdesk staff`` plans and which shift patterns it may use.

    ``interval``: planning interval in seconds (1800 or 3600); ``method``: ``isa``
    (simulation-based iterative staffing), ``mol`` (modified offered load) or ``sipp``
    (pointwise stationary); ``lengths``: allowed shift lengths in seconds; ``start_every``:
    granularity of shift start times in seconds (a multiple of ``interval``); ``days``: allowed
    day sets of a pattern (each a tuple of weekdays, 0 = Monday); ``max_agents_per_pattern``:
    cap on the count of one pattern (0 = no cap); ``max_abandon``: optional cap on the
    abandonment probability per interval (share, NaN = none); ``iterations``: ISA iteration cap;
    ``replications``: replications per ISA iteration.
    """

    interval: float = 3600.0
    method: str = "isa"
    lengths: tuple[float, ...] = (4 * 3600.0, 6 * 3600.0, 8 * 3600.0)
    start_every: float = 3600.0
    days: tuple[tuple[int, ...], ...] = ((0, 1, 2, 3, 4), (5, 6), (0,), (1,), (2,), (3,), (4,), (5,), (6,))
    max_agents_per_pattern: int = 0
    max_abandon: float = math.nan
    iterations: int = 8
    replications: int = 4


@dataclass(frozen=True)
class Policy:
    """``[policy]``: how the team changes as adoption grows (multi-period studies).

    ``name``: ``fixed`` (the scenario's shifts), ``proportional`` (shift counts scaled with volume
    as it was ``hiring_lag`` seconds earlier), ``budget`` (``erlang`` capped at
    ``budget_per_year`` money per year; 0 = twice the fixed team's yearly cost) or ``erlang``
    (staff each period to the SLA with the analytic ``method``, ``mol`` or ``sipp``).
    """

    name: str = "fixed"
    hiring_lag: float = 90 * 86400.0
    budget_per_year: float = 0.0
    method: str = "mol"


@dataclass(frozen=True)
class Study:
    """``[study]``: sample weeks of a multi-period scenario instead of simulating every tweet.

    ``period``: ``month``, ``quarter``, ``half-year`` or ``year``; ``sample``: simulated
    (measured) length of each sample in seconds; ``warmup``: extra simulated seconds before it;
    ``policies``: the staffing policies compared (see :class:`Policy`).
    """

    period: str = "quarter"
    sample: float = 7 * 86400.0
    warmup: float = 86400.0
    policies: tuple[str, ...] = ("fixed",)


@dataclass(frozen=True)
class Scenario:
    """A whole scenario, validated; built by :func:`chirpdesk.sim.loader.load_scenario`.

    ``source`` is the file it came from and ``raw`` the TOML table as written (after ``--set``
    overrides), kept for the report's "scenario as run" and for sweeps that vary keys.
    """

    meta: Meta
    arrivals: Arrivals
    mix: Mix
    deflection: Deflection
    customers: Customers
    handling: Handling
    agents: Agents
    sla: SLA
    cost: Cost
    loadtest: LoadTest
    staffing: Staffing = field(default_factory=Staffing)
    policy: Policy = field(default_factory=Policy)
    study: Study = field(default_factory=Study)
    source: str = "<memory>"
    raw: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def end(self) -> float:
        """Last arrival time, seconds from start (the horizon)."""
        return self.meta.horizon
