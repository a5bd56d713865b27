"""Back-test: replay a brand's real thread arrivals through the model with a given team and
compare the simulated first responses with what the brand's customers got, hour by hour; and
find the team size whose simulated first responses match the observed ones (implied staffing).

The replay uses the real arrival times exactly (count and order kept) of the threads the brand
answered (the ones that cost it agent time); everything else (reply writing time, turns, think
time, DM share) is the scenario's, calibrated from the same history where tweets show it
(:mod:`chirpdesk.sim.calibrate`) and the template's where they do not: the compose time in
particular, so an implied team size is conditional on it, and backtest.json says so.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from chirpdesk.sim import fastpath
from chirpdesk.sim.arrivals import ArrivalStream
from chirpdesk.sim.calibrate import Calibration, scenario_document
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.loader import scenario_from_dict
from chirpdesk.sim.model import Desk, RunRecords
from chirpdesk.sim.scenario import Scenario
from chirpdesk.sim.seeds import children

#: Fewest answered threads in an hour for the hour to be compared.
MIN_PER_HOUR = 5
#: A team "matches" when the two-sample Kolmogorov-Smirnov test does not reject at this level.
MATCH_P = 0.05


@dataclass(frozen=True)
class Replay:
    """The replayed arrivals and the scenario they run in."""

    scenario: Scenario
    stream: ArrivalStream
    start: float  # epoch s of the scenario start
    observed: np.ndarray  # first response of each replayed thread (s), in arrival order


def replay(cal: Calibration, template: dict[str, Any], agents: int | None, concurrency: int = 1) -> Replay:
    """The brand's answered threads as an arrival stream, in a scenario with ``agents`` agents
    on around the clock (and ``concurrency`` conversations each); ``agents=None`` keeps the
    template's ``[[agents.shifts]]`` (a shift plan, on the clock of the history's first week)."""
    answered = ~np.isnan(cal.start_first_response)
    times = cal.starts[answered]
    if times.size < 30:
        raise ChirpdeskError(f"{cal.summary['brand']}: {times.size} answered threads; a back-test needs at least 30")
    start = math.floor(float(times[0]) / 3600.0) * 3600.0
    doc = scenario_document(cal, template, f"{cal.summary['brand']}-backtest")  # a deep copy
    span = float(times[-1]) - start + 1.0
    doc["scenario"].update(start=dt.datetime.fromtimestamp(start, dt.UTC).replace(tzinfo=None),
                           horizon=f"{span:.0f}s", warmup="0s", drain="2d", replications=1)
    doc["arrivals"] = {"base_rate": 1.0}  # unused: the arrivals are the real ones
    mix = doc["mix"]
    mix.update(kinds={"question": 1.0}, needs_reply=["question"], fail_share=0.0, marketing_share=0.0)
    mix.pop("followers", None)
    doc.setdefault("customers", {})["patience"] = {"dist": "none"}
    doc.pop("deflection", None)
    doc.pop("loadtest", None)
    agents_t = doc.setdefault("agents", {})
    if agents is not None:
        agents_t["shifts"] = [{"name": "team", "days": "all", "start": "00:00", "end": "24:00", "count": int(agents)}]
    elif not agents_t.get("shifts"):
        raise ChirpdeskError("--shifts: the template has no [[agents.shifts]] to replay the history with")
    agents_t["concurrency"] = int(concurrency)
    agents_t["shrinkage"] = 0.0
    agents_t.pop("tweeting_hours", None)
    agents_t.pop("tier2", None)
    sc = scenario_from_dict(doc, f"<backtest of {cal.summary['source']}>")
    n = times.size
    stream = ArrivalStream(time=times - start, kind=np.zeros(n, np.int16), fail=np.zeros(n, bool),
                           followers=np.full(n, 100.0), marketing=np.zeros(n, bool), origin=np.zeros(n, np.int8),
                           kinds=("question",))
    return Replay(sc, stream, start, cal.start_first_response[answered])


def simulate_replay(r: Replay, replications: int, seed: int) -> list[RunRecords]:
    """``replications`` runs of the replay (the fast path when the scenario allows it)."""
    runs = []
    for child in children(np.random.SeedSequence(seed), replications):
        model_seed = children(child, 2)[1]
        if fastpath.qualifies(r.scenario):
            runs.append(fastpath.simulate(r.scenario, r.stream, model_seed))
        else:
            runs.append(Desk(r.scenario, r.stream, model_seed).run())
    return runs


def hourly_comparison(r: Replay, runs: list[RunRecords]) -> dict[str, Any]:
    """Observed vs simulated first-response median and p90 per clock hour (hours with at least
    :data:`MIN_PER_HOUR` threads): the range of the simulated values across the replications
    (what the hour's statistic could be under the model), and the share of hours where the
    observed one falls inside. Were the brand's desk the model, an observed value would fall
    inside the range of R replications with probability (R - 1) / (R + 1): ``expected_share_inside``."""
    hour = np.floor((r.stream.time + r.start) / 3600.0).astype(np.int64)
    hours, counts = np.unique(hour, return_counts=True)
    keep = hours[counts >= MIN_PER_HOUR]
    sim = [rec.conversations["first_response"] - rec.conversations["arrival"] for rec in runs]
    rows = []
    inside = {"p50": 0, "p90": 0}
    for h in keep:
        mask = hour == h
        obs = r.observed[mask]
        row: dict[str, Any] = {"hour_s": float(h * 3600), "threads": int(mask.sum())}
        for q, name in ((0.5, "p50"), (0.9, "p90")):
            per_rep = np.asarray([np.nanquantile(s[mask], q) for s in sim])
            lo, hi = float(np.min(per_rep)), float(np.max(per_rep))
            o = float(np.quantile(obs, q))
            row.update({f"observed_{name}_s": o, f"simulated_{name}_s": float(per_rep.mean()),
                        f"simulated_{name}_low_s": float(lo), f"simulated_{name}_high_s": float(hi)})
            inside[name] += int(lo <= o <= hi)
        rows.append(row)
    n = len(rows)
    return {"hours": rows, "hours_compared": n, "expected_share_inside": (len(runs) - 1) / (len(runs) + 1),
            "share_inside_p50": inside["p50"] / n if n else math.nan,
            "share_inside_p90": inside["p90"] / n if n else math.nan}


def match(r: Replay, runs: list[RunRecords]) -> dict[str, float]:
    """How close the simulated first responses are to the observed: the two-sample KS distance
    and p-value (observed against the first replication's, the same sample size), and the
    medians and p90s of both."""
    sim = runs[0].conversations["first_response"] - runs[0].conversations["arrival"]
    sim = sim[np.isfinite(sim)]
    test = stats.ks_2samp(r.observed, sim)
    return {"ks_distance": float(test.statistic), "ks_p": float(test.pvalue),
            "observed_p50_s": float(np.median(r.observed)), "simulated_p50_s": float(np.median(sim)),
            "observed_p90_s": float(np.quantile(r.observed, 0.9)), "simulated_p90_s": float(np.quantile(sim, 0.9))}


def fit_agents(cal: Calibration, template: dict[str, Any], max_agents: int = 40, concurrency: int = 1,
               replications: int = 3, seed: int = 1) -> dict[str, Any]:
    """The smallest team whose simulated first responses match the observed ones (KS test not
    rejecting at :data:`MATCH_P`); with none, the team at the least KS distance. Returns the
    curve (agents -> distance, p-value), ``agents`` chosen, and ``plausible`` (every team that
    matches: the uncertainty of the estimate)."""
    curve: list[dict[str, Any]] = []
    for agents in range(1, max_agents + 1):
        r = replay(cal, template, agents, concurrency)
        m = match(r, simulate_replay(r, 1, seed))
        curve.append({"agents": agents, **m})
        # Once the simulated responses are faster than the observed and the distance has grown
        # three times in a row, more agents only move further away.
        if (len(curve) >= 4 and m["simulated_p50_s"] < m["observed_p50_s"]
                and all(curve[-i]["ks_distance"] > curve[-i - 1]["ks_distance"] for i in (1, 2, 3))):
            break
    matching = [c["agents"] for c in curve if c["ks_p"] > MATCH_P]
    closest = min(curve, key=lambda c: c["ks_distance"])["agents"]
    best = matching[0] if matching else closest
    return {"agents": best, "matched": bool(matching), "plausible": matching, "closest": closest, "curve": curve,
            "concurrency": concurrency, "ks_distance": min(c["ks_distance"] for c in curve if c["agents"] == best)}


def fit_team(cal: Calibration, template: dict[str, Any], max_agents: int, concurrencies: list[int],
             seed: int = 1) -> dict[str, Any]:
    """:func:`fit_agents` for each concurrency in ``concurrencies``; the chosen team is the one
    that matches with the fewest agents (else the least distance). Returns its fit, with every
    concurrency's in ``by_concurrency``."""
    fits = [fit_agents(cal, template, max_agents, k, seed=seed) for k in concurrencies]
    matched = [f for f in fits if f["matched"]]
    best = min(matched, key=lambda f: (f["agents"], f["concurrency"])) if matched else min(
        fits, key=lambda f: f["ks_distance"])
    return {**best, "by_concurrency": [{k: f[k] for k in ("concurrency", "agents", "matched", "ks_distance")}
                                       for f in fits]}
