"""``chirpdesk serve``: run the support endpoint (see docs/desk.md).

Flags override ``CHIRPDESK_*`` environment variables, which override defaults.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from chirpdesk.desk.config import WRITERS, check_order, config_from_env, parse_agents
from chirpdesk.desk.storage import describe_db
from chirpdesk.sim.cli import dispatch
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.units import cli_duration, cli_duration_help


def _order(raw: str) -> str:
    try:
        return check_order(raw, "got")
    except ChirpdeskError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("got: ")) from None


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand to the chirpdesk CLI."""
    parser = subparsers.add_parser(
        "serve",
        help="run the support endpoint (X webhooks, agent desk API, metrics)",
        description=(
            "Serve the desk: X Account Activity webhooks at /webhooks/twitter, the agent API at "
            "/agent/..., /healthz, /metrics and /stats. Settings also come from CHIRPDESK_* "
            "environment variables (see docs/desk.md)."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    parser.add_argument(
        "--db", default=None,
        help="SQLite path or URL, or postgresql://... (default ./chirpdesk-desk.sqlite3; env CHIRPDESK_DB)",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument("--secret", default=None, help="X consumer secret (env CHIRPDESK_SECRET)")
    parser.add_argument("--brand-user-id", default=None, help="the brand's X user id")
    parser.add_argument("--brand-screen-name", default=None, help="the brand's handle, without @")
    parser.add_argument("--sla-seconds", type=cli_duration(), default=None, metavar="S",
                        help=f"first-response SLA: {cli_duration_help()} (default 600 = 10m; "
                             "env CHIRPDESK_SLA_SECONDS)")
    parser.add_argument("--agents", default=None, help="agents to create: name:token,name2:token2")
    parser.add_argument("--admin-token", default=None, help="bearer token for /admin/agents")
    parser.add_argument(
        "--priority-rule", default=None, metavar="ORDER", type=_order,
        help="claim order between classes, as a scenario's [handling] priority: influencer_fail "
             "(default: #fail/outage, then influencers, then the rest), fifo, or an order such as "
             "outage>fail>influencer>followup>rest ('+' for a tie; env CHIRPDESK_PRIORITY_RULE)",
    )
    parser.add_argument(
        "--followups-first", default=None, action=argparse.BooleanOptionalAction,
        help="serve customers' follow-ups ahead of new conversations, as [handling] followups_first "
             "(default on; env CHIRPDESK_FOLLOWUPS_FIRST)",
    )
    parser.add_argument(
        "--writer", default=None, choices=WRITERS,
        help="where webhook batches are committed: process (default: a child process, so SQL and "
             "fsync never hold the HTTP process's GIL) or thread (env CHIRPDESK_WRITER)",
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the settings and serve until interrupted; returns the exit code."""
    config = config_from_env().with_overrides(
        db=args.db,
        secret=args.secret,
        brand_user_id=args.brand_user_id,
        brand_screen_name=args.brand_screen_name,
        sla_seconds=args.sla_seconds,
        agents=parse_agents(args.agents) if args.agents is not None else None,
        admin_token=args.admin_token,
        priority_rule=args.priority_rule,
        followups_first=args.followups_first,
        writer=args.writer,
    ).validate()
    describe_db(config.db)  # fail fast, as one line, on a bad --db
    if not 0 < args.port < 65536:
        raise ChirpdeskError(f"--port: got {args.port}, expected 1-65535")
    if args.workers < 1:
        raise ChirpdeskError(f"--workers: got {args.workers}, expected >= 1")
    if not config.secret:
        config = config.ensure_secret()
        print(
            "chirpdesk: no --secret/CHIRPDESK_SECRET given; generated one for this run: "
            f"{config.secret}",
            file=sys.stderr,
        )
    from chirpdesk.desk.server import serve

    serve(config, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level,
          access_log=args.access_log)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m chirpdesk.desk``: the desk subcommands on their own."""
    parser = argparse.ArgumentParser(prog="python -m chirpdesk.desk")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return dispatch(parser.parse_args(argv))
