"""``chirpdesk backtest``: replay a brand's real thread arrivals through the model and compare
with the first responses its customers got; ``--fit-agents`` finds the implied team size."""

from __future__ import annotations

import argparse
import csv
import json
import tomllib
from pathlib import Path

from chirpdesk.sim.backtest import fit_team, hourly_comparison, match, replay, simulate_replay
from chirpdesk.sim.calibrate import calibrate
from chirpdesk.sim.commands.calibrate import add_history_arguments, read_args_history
from chirpdesk.sim.commands.common import add_output_arguments, write_report
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.outputs import json_safe
from chirpdesk.sim.shipped import resolve_scenario

#: What public tweets cannot show, written into backtest.json.
CANNOT_KNOW = (
    "the team size found is the one that reproduces the observed first responses with the template's "
    "compose time; a different writing time gives a different team",
    "agents' other work (DMs, email, phone) and breaks: the implied team is the Twitter-equivalent one",
    "threads answered privately from the start, and how many customers gave up unseen",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``backtest`` subcommand."""
    p = sub.add_parser(
        "backtest", help="replay a brand's real arrivals through the model and compare first responses",
        description="Replay the real arrival times of a brand's answered threads through the model with --agents "
                    "(or find the team with --fit-agents) and compare simulated with observed first responses per "
                    "hour. Writes backtest.json, backtest.csv and report.html.")
    add_history_arguments(p)
    team = p.add_mutually_exclusive_group(required=True)
    team.add_argument("--agents", type=int, metavar="N", help="agents on around the clock")
    team.add_argument("--fit-agents", action="store_true", help="find the team size whose responses match")
    team.add_argument("--shifts", action="store_true",
                      help="replay with the template's [[agents.shifts]] (a shift plan) instead of a fixed team")
    p.add_argument("--max-agents", type=int, default=40, metavar="N", help="largest team --fit-agents tries (40)")
    p.add_argument("--concurrency", default="1", metavar="K",
                   help="conversations per agent (default 1); with --fit-agents a list such as 1,2,3 fits it too")
    p.add_argument("--replications", type=int, default=10, metavar="R", help="replications of the replay (10)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    p.add_argument("--template", default="baseline", metavar="SCENARIO",
                   help="scenario giving what tweets cannot show, the compose time first (default: baseline)")
    add_output_arguments(p, "backtest.json, backtest.csv")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replay, compare, write. Returns 0."""
    if args.out is None:
        raise ChirpdeskError("backtest: --out DIR is required")
    try:
        concurrencies = [int(x) for x in str(args.concurrency).split(",") if x.strip()]
    except ValueError:
        raise ChirpdeskError(f"--concurrency: got {args.concurrency!r}, expected an integer or a list such as 1,2,3") from None
    if not concurrencies or min(concurrencies) < 1 or (len(concurrencies) > 1 and not args.fit_agents):
        raise ChirpdeskError(f"--concurrency: got {args.concurrency!r}, expected integers >= 1 "
                             "(a list only with --fit-agents)")
    args.concurrency = concurrencies[0]
    for name in ("max_agents", "replications"):
        if getattr(args, name) < 1:
            raise ChirpdeskError(f"--{name.replace('_', '-')}: got {getattr(args, name)}, expected an integer >= 1")
    if args.agents is not None and args.agents < 1:
        raise ChirpdeskError(f"--agents: got {args.agents}, expected an integer >= 1")
    with open(resolve_scenario(args.template), "rb") as f:
        template = tomllib.load(f)
    cal = calibrate(read_args_history(args), args.brand)
    doc: dict[str, object] = {"kind": "backtest", "brand": cal.summary["brand"], "source": cal.summary["source"],
                              "template": str(args.template), "replications": args.replications, "seed": args.seed,
                              "cannot_be_known": list(CANNOT_KNOW)}
    agents = args.agents
    if args.fit_agents:
        fit = fit_team(cal, template, args.max_agents, concurrencies, seed=args.seed)
        doc["fit"] = fit
        agents = int(fit["agents"])
        args.concurrency = int(fit["concurrency"])
    r = replay(cal, template, agents, args.concurrency)
    runs = simulate_replay(r, args.replications, args.seed)
    hourly = hourly_comparison(r, runs)
    doc.update(agents=agents, concurrency=args.concurrency, threads_replayed=len(r.stream),
               compose=str(template.get("handling", {}).get("compose")), **match(r, runs),
               **{k: v for k, v in hourly.items() if k != "hours"})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "backtest.json").write_text(json.dumps(json_safe(doc), indent=2), encoding="utf-8")
    rows = hourly["hours"]
    with open(out / "backtest.csv", "w", newline="", encoding="utf-8") as f:
        if rows:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    write_report(args)
    team = "the template's shifts" if agents is None else f"{agents} agents"
    print(f"{doc['brand']}: {len(r.stream):,} answered threads replayed with {team}"
          + (" (fitted)" if args.fit_agents else "") + f"; first response p50 observed {doc['observed_p50_s']:.0f} s, "
          f"simulated {doc['simulated_p50_s']:.0f} s; observed hourly median inside the simulated range "
          f"in {hourly['share_inside_p50']:.0%} of {hourly['hours_compared']} hours (expected {hourly['expected_share_inside']:.0%} were the desk the model)")
    return 0
