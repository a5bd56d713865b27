"""Load a scenario TOML file into a validated, frozen :class:`~chirpdesk.sim.scenario.Scenario`.

This is the one place that reads scenario files. ``--set key=value`` overrides are applied to the
TOML table before validation, so an override is checked exactly like the file itself.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chirpdesk.sim.distributions import Distribution
from chirpdesk.sim.errors import ScenarioError
from chirpdesk.sim.priority import format_order, parse_order
from chirpdesk.sim.scenario import (
    SLA,
    Adoption,
    Agents,
    Arrivals,
    Burst,
    Cascade,
    Cost,
    Customers,
    Deflection,
    Gate,
    Handling,
    LoadTest,
    Meta,
    Mix,
    Policy,
    Scenario,
    Shift,
    Staffing,
    Study,
    Tier2,
    TweetingHours,
)
from chirpdesk.sim.tables import Table
from chirpdesk.sim.units import parse_duration
from chirpdesk.sim.vocabulary import (
    DEFAULT_INFLUENCER_FOLLOWERS,
    ESCALATION_TARGETS,
    PATIENCE_UNTIL,
    PRIORITY_RULES,
    TWEET_KINDS,
)

SECTIONS = ("scenario", "arrivals", "mix", "deflection", "customers", "handling", "agents", "sla",
            "cost", "loadtest", "staffing", "policy", "study")
POLICIES = ("fixed", "proportional", "budget", "erlang")
STUDY_PERIODS = ("month", "quarter", "half-year", "year")
GATE_METRICS = ("p95_ingest_ms", "p99_ingest_ms", "error_share", "achieved_rate_ratio", "schedule_lag_p95_s",
                "sla_attainment_gap")
GATE_OPS = ("<", "<=", ">", ">=")


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Read, override and validate the scenario file at ``path``.

    ``overrides`` are ``"dotted.key=value"`` strings (values in TOML syntax; bare words are taken
    as strings). Raises :class:`~chirpdesk.sim.errors.ScenarioError` naming file and key on any problem.
    """
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(name, "", "file not found") from None
    except OSError as exc:
        raise ScenarioError(name, "", f"cannot read: {exc.strerror}") from None
    return scenario_from_toml(text, name, overrides)


def scenario_from_toml(text: str, file: str = "<string>", overrides: Iterable[str] = ()) -> Scenario:
    """Validate scenario TOML given as text (``file`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(file, "", f"not valid TOML: {exc}") from None
    for item in overrides:
        apply_override(data, item, file)
    return scenario_from_dict(data, file)


def parse_override(item: str, file: str = "--set") -> tuple[str, Any]:
    """Split ``"key=value"`` into the dotted key and its TOML value (bare words are strings)."""
    if "=" not in item:
        raise ScenarioError(file, item, 'expected KEY=VALUE, e.g. --set arrivals.base_rate=240')
    key, _, text = item.partition("=")
    key, text = key.strip(), text.strip()
    if not key:
        raise ScenarioError(file, item, "expected a dotted key before '='")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return key, value


def apply_override(data: dict[str, Any], item: str | tuple[str, Any], file: str = "--set") -> None:
    """Set ``dotted.key`` in the TOML table ``data`` in place (numeric parts index arrays)."""
    key, value = parse_override(item, file) if isinstance(item, str) else item
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(file, where, f"no element {part} (array has {len(node)})")
            node = node[int(part)]
        else:
            if part not in node:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict | list):
                raise ScenarioError(file, where, "is not a table; cannot set a key inside it")
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ScenarioError(file, key, f"no element {last} (array has {len(node)})")
        node[int(last)] = value
    else:
        node[last] = value


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any] | Iterable[str]) -> Scenario:
    """Return a new scenario with overrides applied to its raw table and validated again."""
    data = copy.deepcopy(scenario.raw)
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    for item in items:
        apply_override(data, item, scenario.source)
    return scenario_from_dict(data, scenario.source)


def scenario_from_dict(data: dict[str, Any], file: str = "<dict>") -> Scenario:
    """Validate an already-parsed TOML table."""
    raw = copy.deepcopy(data)
    root = Table(data, file)
    meta = _meta(root.table("scenario", required=True))
    arrivals = _arrivals(root.table("arrivals", required=True), meta)
    mix = _mix(root.table("mix"))
    deflection = _deflection(root.table("deflection"))
    customers = _customers(root.table("customers"))
    handling = _handling(root.table("handling", required=True))
    agents = _agents(root.table("agents", required=True))
    sla = _sla(root.table("sla"))
    cost = _cost(root.table("cost"))
    loadtest = _loadtest(root.table("loadtest"))
    staffing = _staffing(root.table("staffing"))
    policy = _policy(root.table("policy"))
    study = _study(root.table("study"))
    root.done(SECTIONS)
    for burst in arrivals.bursts:
        if burst.kind and burst.kind not in mix.kinds:
            raise ScenarioError(file, "arrivals.bursts.kind", f"got {burst.kind!r}, expected a kind from [mix.kinds]: {', '.join(mix.kinds)}")
    if arrivals.cascade.enabled and arrivals.cascade.kind not in mix.kinds:
        raise ScenarioError(file, "arrivals.cascade.kind", f"got {arrivals.cascade.kind!r}, expected a kind from [mix.kinds]: {', '.join(mix.kinds)}")
    _check_by_kind(file, "handling.compose", handling.compose_by_kind, raw.get("handling", {}).get("compose"), mix)
    _check_by_kind(file, "customers.think_time", customers.think_by_kind,
                   raw.get("customers", {}).get("think_time"), mix)
    for kind in deflection.kinds if deflection.enabled else ():
        if kind not in mix.kinds:
            raise ScenarioError(file, "deflection.kinds", f"got {kind!r}, expected kinds from [mix.kinds]: {', '.join(mix.kinds)}")
    return Scenario(meta, arrivals, mix, deflection, customers, handling, agents, sla, cost, loadtest,
                    staffing=staffing, policy=policy, study=study, source=file, raw=raw)


def _meta(t: Table) -> Meta:
    name = t.string("name")
    start = t.raw("start", "2024-01-01T00:00:00")
    if isinstance(start, str):
        try:
            start = dt.datetime.fromisoformat(start)
        except ValueError:
            raise t.error("start", f'got {start!r}, expected a date-time such as 2024-03-04T08:00:00') from None
    elif isinstance(start, dt.date) and not isinstance(start, dt.datetime):
        start = dt.datetime(start.year, start.month, start.day)
    if not isinstance(start, dt.datetime):
        raise t.error("start", f"got {start!r}, expected a date-time such as 2024-03-04T08:00:00")
    if start.tzinfo is not None:
        start = start.replace(tzinfo=None)  # wall-clock time of the desk; offsets play no part
    horizon = t.duration("horizon", positive=True)
    warmup = t.duration("warmup", "0s")
    if warmup >= horizon:
        raise t.error("warmup", f"got {t.raw('warmup')!r}, expected a warm-up shorter than the horizon ({t.raw('horizon')})")
    meta = Meta(
        name=name,
        description=t.string("description", ""),
        start=start,
        horizon=horizon,
        warmup=warmup,
        seed=t.integer("seed", 1, low=0),
        replications=t.integer("replications", 5, low=1, high=10_000),
        interval=t.duration("interval", "1h", positive=True),
        drain=t.duration("drain", "1d"),
    )
    t.done()
    return meta


def _arrivals(t: Table, meta: Meta) -> Arrivals:
    base = t.number("base_rate", low=0.0, what="tweets per hour, a number")
    diurnal = t.profile("diurnal", 24, (1.0,) * 24)
    weekly = t.profile("weekly", 7, (1.0,) * 7)
    interpolation = t.string("interpolation", "step", choices=("step", "linear"))
    adoption = _adoption(t.table("adoption"))
    bursts = tuple(_burst(b, meta) for b in t.tables("bursts"))
    cascade = _cascade(t.table("cascade"))
    how: tuple[float, ...] = ()
    if t.has("hour_of_week") and t.raw("hour_of_week") != []:
        how = t.profile("hour_of_week", 168)
        for other in ("diurnal", "weekly"):
            if t.has(other):
                raise t.error(other, "hour_of_week replaces diurnal and weekly: give one or the other")
        if interpolation != "step":
            raise t.error("interpolation", 'hour_of_week is a step profile: expected "step"')
    t.done()
    return Arrivals(base / 3600.0, diurnal, weekly, interpolation, adoption, bursts, cascade, how)


def _adoption(t: Table) -> Adoption:
    model = t.string("model", "none", choices=("none", "linear", "bass"))
    if model == "none":
        t.done(("model", "start_share", "end_share", "p", "q", "period"),
               unused='adoption model is "none": set model = "linear" or "bass"')
        return Adoption()
    start = t.number("start_share", low=0.0, high=1.0, what="a penetration share", low_open=True)
    if model == "linear":
        a = Adoption(model, start_share=start, end_share=t.number("end_share", low=0.0, high=1.0, what="a penetration share", low_open=True))
    else:
        a = Adoption(model, start_share=start,
                     p=t.number("p", low=0.0, what="the Bass innovation coefficient per period", low_open=True),
                     q=t.number("q", low=0.0, what="the Bass imitation coefficient per period"),
                     period=t.duration("period", "365d", positive=True))
        if start >= 1.0:
            raise t.error("start_share", "expected a starting penetration below 1 for Bass growth")
    t.done()
    return a


def _burst(t: Table, meta: Meta) -> Burst:
    raw_start = t.raw("start")
    if isinstance(raw_start, dt.datetime | str) and not (isinstance(raw_start, str) and raw_start[-1:].isalpha()):
        try:
            when = raw_start if isinstance(raw_start, dt.datetime) else dt.datetime.fromisoformat(raw_start)
        except ValueError:
            raise t.error("start", f'got {raw_start!r}, expected a date-time or an offset duration such as "2d 9h"') from None
        start = (when.replace(tzinfo=None) - meta.start).total_seconds()
    else:
        start = t.duration("start")
    if start < 0 or start >= meta.horizon:
        raise t.error("start", f"got {raw_start!r}, expected a time within the scenario horizon")
    b = Burst(
        name=t.string("name", "burst"),
        start=start,
        duration=t.duration("duration", positive=True),
        multiplier=t.number("multiplier", low=0.0, what="a rate multiplier"),
        update_after=t.duration("update_after", math.inf, allow_inf=True),
        update_deflects=t.share("update_deflects", 0.0),
        kind=t.string("kind", ""),
    )
    t.done()
    return b


def _cascade(t: Table) -> Cascade:
    enabled = t.boolean("enabled", bool(t.data))
    if not enabled:
        t.done(("enabled", "branching_ratio", "decay", "min_followers", "on_fail", "kind"),
               unused="the cascade is off: set enabled = true")
        return Cascade()
    c = Cascade(
        enabled=True,
        branching_ratio=t.number("branching_ratio", low=0.0, high=1.0, high_open=True,
                                 what="a branching ratio (expected follow-on tweets per trigger), must be < 1 for a stable process"),
        decay=t.duration("decay", "30m", positive=True),
        min_followers=t.number("min_followers", float(DEFAULT_INFLUENCER_FOLLOWERS), low=0.0),
        on_fail=t.boolean("on_fail", True),
        kind=t.string("kind", "complaint"),
    )
    t.done()
    return c


def _mix(t: Table) -> Mix:
    kinds = t.shares("kinds", allowed=TWEET_KINDS, default={"question": 0.6, "complaint": 0.4})
    needs = t.string_list("needs_reply", allowed=tuple(kinds), default=tuple(k for k in ("question", "complaint", "outage_report") if k in kinds))
    mix = Mix(
        kinds=kinds,
        needs_reply=needs,
        fail_share=t.share("fail_share", 0.0),
        followers=t.distribution("followers", Distribution("constant", value=100.0), unit="number"),
        influencer_followers=t.number("influencer_followers", float(DEFAULT_INFLUENCER_FOLLOWERS), low=0.0),
        private_share=t.share("private_share", 0.0),
        private_target=t.string("private_target", "dm", choices=ESCALATION_TARGETS),
        marketing_share=t.share("marketing_share", 0.0),
        reroute_delay=t.distribution("reroute_delay", Distribution("constant", value=0.0)),
    )
    t.done()
    return mix


def _deflection(t: Table) -> Deflection:
    enabled = t.boolean("enabled", False)
    if not enabled:
        t.done(("enabled", "max_share", "half_saturation", "kinds"), unused="deflection is off: set enabled = true")
        return Deflection()
    d = Deflection(True, t.share("max_share"), t.number("half_saturation", low=0.0, low_open=True,
                                                        what="public answers at half the maximum deflection"),
                   t.string_list("kinds", TWEET_KINDS, ("question",)))
    t.done()
    return d


#: "No default": the distribution must be given.
_MISSING_DIST = object()


def _by_kind(t: Table, name: str, default: object = _MISSING_DIST) -> tuple[Distribution, dict[str, Distribution]]:
    """A distribution, or one per tweet kind: ``{ question = {...}, complaint = {...}, other = {...} }``.

    Returns ``(fallback, by_kind)``: the single form gives ``(it, {})``; the per-kind form gives
    the ``other`` entry (else the first listed) as the fallback. Whether every kind that needs a
    reply is covered is checked once the mix is known (:func:`_check_by_kind`).
    """
    value = t.raw(name, None)
    if not isinstance(value, dict) or "dist" in value or not value:
        dist = t.distribution(name) if default is _MISSING_DIST else t.distribution(name, default)
        return _finite(t, name, dist), {}
    sub = Table(value, t.file, t.key(name))
    by_kind: dict[str, Distribution] = {}
    for kind in value:
        if kind not in (*TWEET_KINDS, "other"):
            raise sub.error(kind, f"unknown tweet kind; allowed: {', '.join(TWEET_KINDS)}, other "
                                  '(or write one distribution: { dist = "exponential", mean = "5m" })')
        by_kind[kind] = _finite(sub, kind, sub.distribution(kind))
    fallback = by_kind.pop("other", None) or next(iter(by_kind.values()))
    return fallback, by_kind


def _check_by_kind(file: str, key: str, by_kind: dict[str, Distribution], raw: object, mix: Mix) -> None:
    """Every kind that needs a reply has its own entry or an ``other`` one; no entry for a kind
    the mix never sends."""
    if not by_kind:
        return
    listed = set(raw) if isinstance(raw, dict) else set()
    for kind in by_kind:
        if kind not in mix.kinds:
            raise ScenarioError(file, f"{key}.{kind}", f"no such kind in [mix.kinds] ({', '.join(mix.kinds)})")
    if "other" not in listed:
        missing = [k for k in mix.needs_reply if k not in by_kind]
        if missing:
            raise ScenarioError(file, key, f"no entry for {', '.join(missing)} (kinds that need a reply); "
                                           "add them or an 'other' entry")


def _customers(t: Table) -> Customers:
    think, think_by_kind = _by_kind(t, "think_time", Distribution("exponential", mean=1800.0))
    c = Customers(
        patience=t.distribution("patience", Distribution("none")),
        think_time=think,
        patience_until=t.string("patience_until", "first_response", choices=PATIENCE_UNTIL),
        think_by_kind=think_by_kind,
    )
    t.done()
    return c


def _handling(t: Table) -> Handling:
    escalation = t.shares("escalation", allowed=ESCALATION_TARGETS, must_sum_to_one=False, default={})
    work_t = t.table("escalation_work")
    work = {}
    for target in work_t.data:
        if target not in ESCALATION_TARGETS:
            raise work_t.error(target, f"unknown target; allowed: {', '.join(ESCALATION_TARGETS)}")
        work[target] = _finite(work_t, target, work_t.distribution(target))
    compose, compose_by_kind = _by_kind(t, "compose")
    h = Handling(
        compose=compose,
        compose_by_kind=compose_by_kind,
        turns=t.distribution("turns", Distribution("constant", value=1.0), unit="number", integer=True),
        escalation=escalation,
        escalation_work=work,
        priority=_priority(t),
        followups_first=t.boolean("followups_first", True),
        hold_during_think=t.boolean("hold_during_think", False),
    )
    t.done()
    return h


def _priority(t: Table) -> str:
    """``priority``: a preset name, or a user-defined order (a list, or its text form), kept in
    text form (:mod:`chirpdesk.sim.priority`)."""
    value = t.raw("priority", "fifo")
    if isinstance(value, str) and value in PRIORITY_RULES:
        return value
    try:
        order = parse_order(value if isinstance(value, str | list) else [value])
    except ValueError as exc:
        raise t.error("priority", f"got {value!r}: {exc}; e.g. priority = [\"outage\", \"fail\", "
                                  f"\"influencer\", \"followup\", \"rest\"] or one of {', '.join(PRIORITY_RULES)}") from None
    if t.has("followups_first"):
        raise t.error("followups_first", "the priority list says where follow-ups go (its 'followup' entry; "
                                         "left out, they queue in their own class): remove followups_first")
    return format_order(order)


def _finite(t: Table, name: str, dist: Distribution) -> Distribution:
    """Reject ``dist = "none"`` where the event must happen (a reply that is never written)."""
    if dist.is_none:
        raise t.error(f"{name}.dist", 'got "none", expected a distribution of finite times (e.g. "exponential")')
    return dist


def _agents(t: Table) -> Agents:
    shifts: list[Shift] = []
    for s in t.tables("shifts"):
        start = s.clock("start", 0.0)
        if start >= 86400.0:
            raise s.error("start", 'got "24:00", expected a start between "00:00" and "23:59" (24:00 is only an end)')
        end = s.clock("end", 86400.0)
        if end == start and s.has("end"):
            end = start + 86400.0 if start == 0 else end
        shifts.append(Shift(
            name=s.string("name", f"shift{len(shifts) + 1}"),
            days=s.days("days", "all"),
            start=start,
            end=end if end != start else start + 86400.0,
            count=s.integer("count", low=0),
        ))
        s.done()
    if not shifts:
        raise t.error("shifts", "expected at least one [[agents.shifts]] table with name, days, start, end and count")
    hours = t.table("tweeting_hours")
    th = TweetingHours(
        days=hours.days("days", "all"),
        start=hours.clock("start", 0.0),
        end=hours.clock("end", 86400.0),
        outside=hours.string("outside", "wait", choices=("wait", "auto_reply")),
    )
    if th.end <= th.start:
        raise hours.error("end", "expected tweeting hours to end after they start on the same day")
    hours.done()
    tier2 = None
    if t.has("tier2"):
        t2 = t.table("tier2")
        tier2 = Tier2(count=t2.integer("count", low=1), handle_time=_finite(t2, "handle_time", t2.distribution("handle_time")),
                      targets=t2.string_list("targets", ESCALATION_TARGETS, ("email", "phone", "ticket")))
        t2.done()
    a = Agents(
        shifts=tuple(shifts),
        concurrency=t.integer("concurrency", 1, low=1, high=50),
        slowdown=t.number("slowdown", 0.0, low=0.0, what="extra compose time per extra conversation, as a fraction"),
        shrinkage=t.number("shrinkage", 0.0, low=0.0, high=1.0, high_open=True, what="a share of scheduled time (0 <= x < 1)"),
        tweeting_hours=th,
        tier2=tier2,
    )
    t.done()
    return a


def _sla(t: Table) -> SLA:
    s = SLA(share=t.share("share", 0.9), within=t.duration("within", "10m", positive=True),
            basis=t.string("basis", "first_response", choices=("first_response", "pickup")))
    t.done()
    return s


def _cost(t: Table) -> Cost:
    esc = t.table("escalation")
    costs = {}
    for target in esc.data:
        if target not in ESCALATION_TARGETS:
            raise esc.error(target, f"unknown target; allowed: {', '.join(ESCALATION_TARGETS)}")
        costs[target] = esc.number(target, low=0.0, what="money per escalation")
    c = Cost(agent_hour=t.number("agent_hour", 0.0, low=0.0, what="money per scheduled agent hour"),
             tier2_hour=t.number("tier2_hour", 0.0, low=0.0, what="money per tier-2 agent hour"),
             escalation=costs, currency=t.string("currency", "USD"))
    t.done()
    return c


def _loadtest(t: Table) -> LoadTest:
    gates = []
    for g in t.tables("gates"):
        gates.append(Gate(metric=g.string("metric", choices=GATE_METRICS), op=g.string("op", choices=GATE_OPS),
                          value=g.number("value")))
        g.done()
    lt = LoadTest(
        speedup=t.number("speedup", 60.0, low=0.0, low_open=True, what="simulated seconds per real second"),
        duration=t.duration("duration", "60s", positive=True),
        offset=t.duration("offset", "0s"),
        shape=t.string("shape", "scenario", choices=("scenario", "step", "soak", "spike")),
        redelivery_share=t.share("redelivery_share", 0.0),
        malformed_share=t.share("malformed_share", 0.0),
        oversized_share=t.share("oversized_share", 0.0),
        agents=t.boolean("agents", True),
        step_rate=t.number("step_rate", 5.0, low=0.0, low_open=True, what="tweets per second added per step"),
        step_every=t.duration("step_every", "10s", positive=True),
        step_count=t.integer("step_count", 5, low=1),
        spike_multiplier=t.number("spike_multiplier", 5.0, low=1.0),
        spike_at=t.duration("spike_at", "10s"),
        spike_duration=t.duration("spike_duration", "10s", positive=True),
        gates=tuple(gates),
    )
    t.done()
    return lt


def _staffing(t: Table) -> Staffing:
    interval = t.duration("interval", "60m", positive=True)
    if interval not in (1800.0, 3600.0):
        raise t.error("interval", f"got {t.raw('interval')!r}, expected \"30m\" or \"60m\"")
    lengths_raw = t.raw("lengths", ["4h", "6h", "8h"])
    if not isinstance(lengths_raw, list) or not lengths_raw:
        raise t.error("lengths", f'got {lengths_raw!r}, expected an array of durations such as ["4h", "8h"]')
    lengths = []
    for i, v in enumerate(lengths_raw):
        try:
            x = parse_duration(v)
        except ValueError as exc:
            raise t.error(f"lengths[{i}]", str(exc)) from None
        if x <= 0 or x > 86400.0 or x % interval:
            raise t.error(f"lengths[{i}]", f"got {v!r}, expected a whole number of intervals up to 24h")
        lengths.append(x)
    start_every = t.duration("start_every", interval, positive=True)
    if start_every % interval:
        raise t.error("start_every", f"got {t.raw('start_every')!r}, expected a multiple of the interval")
    days_raw = t.raw("days", None)
    days: tuple[tuple[int, ...], ...] = Staffing().days
    if days_raw is not None:
        if not isinstance(days_raw, list) or not days_raw:
            raise t.error("days", 'expected an array of day sets, e.g. ["weekdays", "weekends", ["sat", "sun"]]')
        # Each entry is read like a shift's ``days`` (a group name, a day name or a list of days).
        sub = Table({str(i): v for i, v in enumerate(days_raw)}, t.file, t.key("days"))
        days = tuple(sub.days(str(i)) for i in range(len(days_raw)))
    s = Staffing(
        interval=interval,
        method=t.string("method", "isa", choices=("isa", "mol", "sipp")),
        lengths=tuple(lengths),
        start_every=start_every,
        days=days,
        max_agents_per_pattern=t.integer("max_agents_per_pattern", 0, low=0),
        max_abandon=t.number("max_abandon", math.nan, low=0.0, high=1.0, low_open=True,
                             what="a share of arrivals that abandon (0 < x <= 1)") if t.has("max_abandon") else math.nan,
        iterations=t.integer("iterations", 8, low=1, high=100),
        replications=t.integer("replications", 4, low=1, high=1000),
    )
    t.raw("max_abandon", None)
    t.done()
    return s


def _policy(t: Table) -> Policy:
    p = Policy(
        name=t.string("name", "fixed", choices=POLICIES),
        hiring_lag=t.duration("hiring_lag", "90d"),
        budget_per_year=t.number("budget_per_year", 0.0, low=0.0, what="money per year (0 = twice the fixed team's cost)"),
        method=t.string("method", "mol", choices=("mol", "sipp")),
    )
    t.done()
    return p


def _study(t: Table) -> Study:
    s = Study(
        period=t.string("period", "quarter", choices=STUDY_PERIODS),
        sample=t.duration("sample", "7d", positive=True),
        warmup=t.duration("warmup", "1d"),
        policies=t.string_list("policies", POLICIES, ("fixed",)),
    )
    t.done()
    return s
