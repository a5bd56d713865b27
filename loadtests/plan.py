"""What a load test will do, computed the same way in every process: settings, the arrival
schedule, per-conversation agent plans, shift gates and shape user counts.

Pure (stdlib, numpy, sim): no Locust, no gevent. The CLI, the Locust master and every Locust
worker call these functions with the same settings and seed and get the same answers, so a
distributed run needs no shared state beyond a start time and a run id (sent by the master).

Time conventions: *simulated* seconds are scenario seconds (from the scenario start); *real*
seconds are wall-clock seconds of the test. ``real = (simulated - window_start) / speedup``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from chirpdesk.sim.arrivals import ArrivalStream, expected_count, generate_arrivals
from chirpdesk.sim.calendar import agents_on_shift, open_hours, value_at
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.loader import load_scenario, with_overrides
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.units import parse_cli_duration

#: Shapes a run may use (``[loadtest] shape`` or ``--shape``).
SHAPES: tuple[str, ...] = ("scenario", "step", "soak", "spike")
#: Real seconds between the start of the test and the first intended send (users spawn first).
LEAD_S = 1.0
#: Real seconds the test keeps running after the last intended send (in-flight requests finish).
TAIL_S = 1.5
#: The brand account the deliveries are for (``for_user_id``) unless configured.
DEFAULT_BRAND_ID = "1000000001"
DEFAULT_BRAND_NAME = "chirpdesk_help"
#: Bodies this large are refused by the desk's default 1 MiB limit (413).
DEFAULT_OVERSIZED_BYTES = (1 << 20) + 4096
#: p95 schedule lag (real seconds) above which the generator counts as saturated.
DEFAULT_LAG_THRESHOLD_S = 0.25
#: Concurrent in-flight sends per Locust process (the open-arrival greenlet pool).
DEFAULT_POOL = 512
#: Seed-sequence keys separating the load test's random streams from each other.
_SCHEDULE_KEY, _PLAN_KEY = 101, 102

#: Environment variables read by the locustfile (the CLI sets them for its subprocess).
ENV = {
    "scenario": "CHIRPDESK_SCENARIO",
    "secret": "CHIRPDESK_SECRET",
    "overrides": "CHIRPDESK_SET",
    "speedup": "CHIRPDESK_SPEEDUP",
    "duration": "CHIRPDESK_DURATION",
    "shape": "CHIRPDESK_SHAPE",
    "seed": "CHIRPDESK_SEED",
    "agents": "CHIRPDESK_AGENTS",
    "brand_id": "CHIRPDESK_BRAND_USER_ID",
    "brand_name": "CHIRPDESK_BRAND_SCREEN_NAME",
    "out": "CHIRPDESK_LOADTEST_OUT",
    "lag_threshold": "CHIRPDESK_LAG_THRESHOLD",
    "pool": "CHIRPDESK_POOL",
    "oversized_bytes": "CHIRPDESK_OVERSIZED_BYTES",
}

#: Settings that are durations in seconds (``30s``, ``10m`` or a plain number of seconds).
DURATION_SETTINGS = ("duration", "lag_threshold")


@dataclass(frozen=True)
class Settings:
    """Everything a load-test process needs; ``None`` speedup/duration/shape/seed mean "the
    scenario's own". ``agents`` are bearer tokens (one desk agent per Agent user); ``out`` is
    where each process writes its request records (empty: nowhere)."""

    scenario: str
    secret: str = ""
    overrides: tuple[str, ...] = ()
    speedup: float | None = None
    duration: float | None = None
    shape: str | None = None
    seed: int | None = None
    agents: tuple[str, ...] = ()
    brand_id: str = DEFAULT_BRAND_ID
    brand_name: str = DEFAULT_BRAND_NAME
    out: str = ""
    lag_threshold: float = DEFAULT_LAG_THRESHOLD_S
    pool: int = DEFAULT_POOL
    oversized_bytes: int = DEFAULT_OVERSIZED_BYTES

    def to_env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings in a Locust process."""
        env = {
            ENV["scenario"]: self.scenario, ENV["secret"]: self.secret,
            ENV["overrides"]: "\n".join(self.overrides), ENV["brand_id"]: self.brand_id,
            ENV["brand_name"]: self.brand_name, ENV["out"]: self.out,
            ENV["lag_threshold"]: repr(self.lag_threshold), ENV["pool"]: str(self.pool),
            ENV["oversized_bytes"]: str(self.oversized_bytes),
            ENV["agents"]: ",".join(f"agent{i}:{t}" for i, t in enumerate(self.agents)),
        }
        for name in ("speedup", "duration", "shape", "seed"):
            value = getattr(self, name)
            if value is not None:
                env[ENV[name]] = str(value)
        return env


def settings_from_env(environ: Mapping[str, str] | None = None, **given: object) -> Settings:
    """Build :class:`Settings` from ``CHIRPDESK_*`` variables; keyword values (Locust custom
    arguments) win over the environment when not ``None``/empty."""
    env = os.environ if environ is None else environ

    def pick(name: str) -> str:
        value = given.get(name)
        if value not in (None, ""):
            return str(value)
        return env.get(ENV[name], "")

    scenario = pick("scenario")
    if not scenario:
        raise ChirpdeskError(f"no scenario: set {ENV['scenario']} or --scenario")

    def number(name: str, kind: type = float) -> float | int | None:
        raw = pick(name)
        if not raw:
            return None
        try:
            # Durations take units as on the command line (30s, 10m); plain numbers are seconds.
            value = parse_cli_duration(raw) if name in DURATION_SETTINGS else kind(raw)
        except ValueError as exc:
            detail = exc if name in DURATION_SETTINGS else f"got {raw!r}, expected a number"
            raise ChirpdeskError(f"{ENV[name]}: {detail}") from None
        if value < 0 or (name != "seed" and value == 0):
            raise ChirpdeskError(f"{ENV[name]}: got {raw!r}, expected a number > 0")
        return value

    shape = pick("shape") or None
    if shape is not None and shape not in SHAPES:
        raise ChirpdeskError(f"{ENV['shape']}: got {shape!r}, expected one of {', '.join(SHAPES)}")
    agents = []
    for part in pick("agents").split(","):
        _, _, token = part.strip().rpartition(":")
        if token:
            agents.append(token)
    return Settings(
        scenario=scenario,
        secret=pick("secret"),
        overrides=tuple(x for x in pick("overrides").splitlines() if x.strip()),
        speedup=number("speedup"),  # type: ignore[arg-type]
        duration=number("duration"),  # type: ignore[arg-type]
        shape=shape,
        seed=number("seed", int),  # type: ignore[arg-type]
        agents=tuple(agents),
        brand_id=pick("brand_id") or DEFAULT_BRAND_ID,
        brand_name=pick("brand_name") or DEFAULT_BRAND_NAME,
        out=pick("out"),
        lag_threshold=number("lag_threshold") or DEFAULT_LAG_THRESHOLD_S,  # type: ignore[arg-type]
        pool=int(number("pool", int) or DEFAULT_POOL),
        oversized_bytes=int(number("oversized_bytes", int) or DEFAULT_OVERSIZED_BYTES),
    )


@dataclass(frozen=True)
class Send:
    """One intended request of the arrival process.

    ``at``: real seconds after the run's start time ``t0``; ``what``: ``tweet`` (a new customer
    tweet), ``redelivery`` (the exact same body again, as a network retry), ``malformed`` or
    ``oversized`` (expected 4xx); ``index``: the arrival index the send belongs to;
    ``variant``: which kind of malformation.
    """

    at: float
    what: str
    index: int
    variant: int = 0


#: Malformations, in ``Send.variant`` order, with the status the endpoint must answer.
MALFORMED: tuple[tuple[str, int], ...] = (("malformed_json", 400), ("schema", 400), ("bad_signature", 401))


@dataclass(frozen=True)
class ConversationPlan:
    """How the agents and the customer of arrival ``index`` behave, drawn from the scenario.

    Times are simulated seconds: ``compose[t]`` and ``think[t]`` for turn ``t`` (0-based),
    ``patience`` before an unanswered customer gives up, ``work`` for a hand-off. ``private``:
    the first reply moves it to ``private_target``; ``target``: escalation after the last turn
    (``None``: resolved in public).
    """

    index: int
    kind: str
    needs_reply: bool
    turns: int
    private: bool
    target: str | None
    patience: float
    compose: tuple[float, ...]
    think: tuple[float, ...]
    work: float


class LoadPlan:
    """The scenario as replayed: window, arrivals, schedule, agent plans and gates.

    Build with :func:`build_plan`. ``scenario`` is the scenario the arrivals come from (for stress
    shapes a synthetic one with the same desk, see :func:`stress_scenario`); ``start``/``end``
    bound the replayed window in simulated seconds; ``duration`` is real seconds.
    """

    def __init__(self, scenario: Scenario, settings: Settings, shape: str, speedup: float,
                 duration: float, seed: int, start: float) -> None:
        self.scenario = scenario
        self.settings = settings
        self.shape = shape
        self.speedup = speedup
        self.duration = duration
        self.seed = seed
        self.start = start
        self.end = start + duration * speedup
        self.lt = scenario.loadtest

    # -- arrivals --------------------------------------------------------------------------
    @cached_property
    def arrivals(self) -> ArrivalStream:
        """Every customer tweet in the window, from :func:`chirpdesk.sim.arrivals.generate_arrivals` with
        the scenario's seed (the same stream the prediction simulates)."""
        return generate_arrivals(self.scenario, np.random.default_rng(self.seed), self.start, self.end)

    @cached_property
    def real_times(self) -> np.ndarray:
        """Intended send time of each arrival, real seconds after ``t0``."""
        return (self.arrivals.time - self.start) / self.speedup

    @cached_property
    def schedule(self) -> list[Send]:
        """All intended sends in time order: tweets plus redeliveries and bad bodies."""
        lt, n = self.lt, len(self.arrivals)
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_SCHEDULE_KEY,)))
        sends = [Send(float(t), "tweet", i) for i, t in enumerate(self.real_times)]
        redeliver = rng.random(n) < lt.redelivery_share
        # A network retry follows the original after a short, random real delay.
        delays = rng.uniform(0.05, 1.0, n)
        malformed = rng.random(n) < lt.malformed_share
        variants = rng.integers(0, len(MALFORMED), n)
        oversized = rng.random(n) < lt.oversized_share
        for i in np.nonzero(redeliver)[0]:
            sends.append(Send(float(self.real_times[i] + delays[i]), "redelivery", int(i)))
        for i in np.nonzero(malformed)[0]:
            sends.append(Send(float(self.real_times[i]), "malformed", int(i), int(variants[i])))
        for i in np.nonzero(oversized)[0]:
            sends.append(Send(float(self.real_times[i]), "oversized", int(i)))
        sends.sort(key=lambda s: (s.at, s.index))
        return sends

    def share(self, index: int, count: int) -> list[Send]:
        """The sends process ``index`` of ``count`` makes: by arrival index, so a redelivery
        goes out from the process that sent (and cached) the original."""
        if count <= 1:
            return self.schedule
        return [s for s in self.schedule if s.index % count == index]

    @property
    def intended_rate(self) -> float:
        """New customer tweets per real second the schedule asks for."""
        return len(self.arrivals) / self.duration

    # -- agents ----------------------------------------------------------------------------
    @cached_property
    def _needs(self) -> np.ndarray:
        kinds = self.arrivals.kinds
        needs = np.isin(np.arange(len(kinds)), [kinds.index(k) for k in self.scenario.mix.needs_reply if k in kinds])
        return needs[self.arrivals.kind] if len(self.arrivals) else np.zeros(0, bool)

    def needs_reply(self, index: int) -> bool:
        """True when arrival ``index`` is of a kind the scenario says needs a reply."""
        return bool(self._needs[index])

    def conversation(self, index: int) -> ConversationPlan:
        """The deterministic plan of arrival ``index`` (same answer in every process)."""
        sc = self.scenario
        h, c = sc.handling, sc.customers
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index], spawn_key=(_PLAN_KEY,)))
        turns = max(1, int(h.turns.sample(rng, 1)[0]))
        private = bool(rng.random() < sc.mix.private_share)
        u = rng.random()
        target, cum = None, 0.0
        for name, p in h.escalation.items():
            cum += p
            if u < cum:
                target = name
                break
        end_target = sc.mix.private_target if private else target
        work_dist = h.escalation_work.get(end_target) if end_target else None
        kind = self.arrivals.kinds[int(self.arrivals.kind[index])]
        return ConversationPlan(
            index=index,
            kind=kind,
            needs_reply=self.needs_reply(index),
            turns=turns,
            private=private,
            target=target,
            patience=float(c.patience.sample(rng, 1)[0]),
            compose=tuple(float(x) for x in h.compose_for(kind).sample(rng, turns)),
            think=tuple(float(x) for x in c.think_for(kind).sample(rng, turns)),
            work=float(work_dist.sample(rng, 1)[0]) if work_dist is not None else 0.0,
        )

    @cached_property
    def _staff(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        st, sv = agents_on_shift(self.scenario, self.end + 1.0)
        ot, ov = open_hours(self.scenario.agents.tweeting_hours, self.scenario, self.end + 86400.0)
        return st, sv, ot, ov

    def agents_at(self, real_t: float) -> int:
        """Agents on shift (after shrinkage) at ``real_t`` real seconds after ``t0``; 0 while the
        handle is outside its tweeting hours."""
        st, sv, ot, ov = self._staff
        sim_t = self.start + max(real_t, 0.0) * self.speedup
        if not int(value_at(ot, ov, sim_t)):
            return 0
        return int(value_at(st, sv, sim_t))

    @cached_property
    def max_agents(self) -> int:
        """Most agents on shift at any time of the window (Agent users to spawn)."""
        if not self.lt.agents:
            return 0
        st, sv, _, _ = self._staff
        inside = (st >= self.start) & (st < self.end)
        values = [int(value_at(st, sv, self.start))] + [int(v) for v in sv[inside]]
        return max(values)

    def user_counts(self) -> dict[str, int]:
        """Users per class the shape spawns: the Agent users. (The arrival dispatcher is not a
        spawned user: exactly one runs in every sending process, see loadtests/users.py.)"""
        return {"AgentUser": self.max_agents}

    def tick(self, run_time: float) -> tuple[int, float, dict[str, int]] | None:
        """What the shape says at ``run_time`` real seconds after the test start: ``(users,
        spawn_rate, counts per class)``, or ``None`` once the window (plus tail) is over."""
        if run_time >= LEAD_S + self.duration + TAIL_S:
            return None
        counts = self.user_counts()
        total = sum(counts.values())
        return total, float(max(total, 1) / 0.5), counts

    @property
    def poll_s(self) -> float:
        """Real seconds an idle agent waits before asking for work again: five simulated seconds,
        kept between 50 ms and 1 s so that idle agents do not hammer the endpoint."""
        return min(1.0, max(0.05, 5.0 / self.speedup))


def stress_scenario(scenario: Scenario, shape: str, speedup: float, duration: float) -> Scenario:
    """A synthetic scenario for the ``step``, ``soak`` and ``spike`` shapes.

    The desk (mix, handling, agents, SLA) is the scenario's; the arrivals become a flat Poisson
    process starting at ``[loadtest] offset`` (moved to simulated time 0), with stress bursts
    expressed as :class:`chirpdesk.sim.scenario.Burst` multipliers so that :func:`generate_arrivals` still
    draws every tweet. ``soak``: the scenario's mean rate over the window, constant; ``step``:
    ``step_rate`` real tweets/s more every ``step_every`` real seconds; ``spike``: the soak rate
    times ``spike_multiplier`` from ``spike_at`` for ``spike_duration`` real seconds.
    """
    lt = scenario.loadtest
    start, end = lt.offset, lt.offset + duration * speedup
    mean_rate = expected_count(scenario, start, end) / (end - start)  # tweets per simulated s
    bursts: list[dict[str, object]] = []
    if shape == "step":
        base = lt.step_rate / speedup
        for k in range(1, lt.step_count):
            bursts.append({"name": f"step{k}", "start": f"{k * lt.step_every * speedup}s",
                           "duration": f"{(lt.step_count - k) * lt.step_every * speedup}s",
                           "multiplier": 2.0})
    else:
        base = mean_rate
        if shape == "spike":
            bursts.append({"name": "spike", "start": f"{lt.spike_at * speedup}s",
                           "duration": f"{lt.spike_duration * speedup}s",
                           "multiplier": lt.spike_multiplier})
    horizon = duration * speedup + 1.0
    overrides = {
        "scenario.start": (scenario.meta.start + _seconds(start)).isoformat(),
        "scenario.horizon": f"{horizon}s",
        "scenario.warmup": "0s",
        "arrivals.base_rate": max(base * 3600.0, 1e-9),
        "arrivals.diurnal": [1.0] * 24,
        "arrivals.weekly": [1.0] * 7,
        "arrivals.hour_of_week": [],
        "arrivals.adoption": {"model": "none"},
        "arrivals.bursts": bursts,
        "arrivals.cascade": {"enabled": False},
        "loadtest.offset": "0s",
    }
    return with_overrides(scenario, overrides)


def _seconds(s: float):  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.timedelta(seconds=s)


def build_plan(settings: Settings) -> LoadPlan:
    """Load the scenario named in ``settings`` and work out the run (no network, no Locust)."""
    scenario = load_scenario(settings.scenario, settings.overrides)
    lt = scenario.loadtest
    speedup = settings.speedup or lt.speedup
    shape = settings.shape or lt.shape
    duration = settings.duration or lt.duration
    if shape == "step" and settings.duration is None:
        duration = lt.step_every * lt.step_count
    seed = scenario.meta.seed if settings.seed is None else settings.seed
    if not math.isfinite(speedup) or speedup <= 0:
        raise ChirpdeskError(f"speedup: got {speedup!r}, expected a number > 0")
    if lt.offset + duration * speedup > scenario.meta.horizon and shape == "scenario":
        raise ChirpdeskError(
            f"{scenario.source}: loadtest window [{lt.offset:g}, {lt.offset + duration * speedup:g}) simulated s "
            f"runs past the horizon ({scenario.meta.horizon:g} s); lower --duration or --speedup")
    if shape != "scenario":
        scenario = stress_scenario(scenario, shape, speedup, duration)
        start = 0.0
    else:
        start = lt.offset
    return LoadPlan(scenario, replace(settings), shape, speedup, duration, seed, start)


# -- identifiers ----------------------------------------------------------------------------------

def tweet_id(run_id: int, index: int, turn: int = 0) -> str:
    """X-style numeric id of arrival ``index``'s customer tweet at ``turn`` (0: the first one);
    brand replies use ``turn + 50``. 17 digits: run id (6), arrival index (9), turn (2)."""
    return f"{run_id:06d}{index:09d}{turn:02d}"


def author_id(run_id: int, index: int) -> str:
    """The customer's user id for arrival ``index`` (one customer per arrival)."""
    return f"{run_id:06d}{index:09d}"


def parse_tweet_id(id_str: str | None, run_id: int) -> tuple[int, int] | None:
    """``(index, turn)`` of an id made by :func:`tweet_id` for this run, else ``None``."""
    if not id_str or len(id_str) != 17 or not id_str.isdigit() or int(id_str[:6]) != run_id:
        return None
    return int(id_str[6:15]), int(id_str[15:])
