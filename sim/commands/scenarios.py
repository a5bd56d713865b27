"""``chirpdesk scenarios`` and ``chirpdesk init``: the shipped scenarios, and a copy of one to
start from."""

from __future__ import annotations

import argparse
from pathlib import Path

from chirpdesk.sim.shipped import init_scenario, shipped_description, shipped_scenarios


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``scenarios`` and ``init`` subcommands."""
    p = sub.add_parser("scenarios", help="list the scenarios shipped with chirpdesk",
                       description="List the shipped scenarios. Any command that takes SCENARIO "
                                   "accepts one of these names as well as a file path.")
    p.add_argument("--paths", action="store_true", help="print each file's installed path too")
    p.set_defaults(func=run_list)

    p = sub.add_parser("init", help="copy a scenario into this folder as NAME.toml to start from",
                       description="Copy a shipped scenario (or any scenario file) to NAME.toml, "
                                   "comments included, with [scenario] name set to NAME.")
    p.add_argument("name", metavar="NAME", help="name of the new scenario (writes NAME.toml)")
    p.add_argument("--from", dest="source", default="baseline", metavar="SCENARIO",
                   help="shipped scenario name or file to copy (default: baseline)")
    p.add_argument("--dir", type=Path, default=Path("."), metavar="DIR",
                   help="folder to write NAME.toml into (default: the current folder)")
    p.add_argument("--force", action="store_true", help="overwrite NAME.toml if it exists")
    p.set_defaults(func=run_init)


def run_list(args: argparse.Namespace) -> int:
    """Print one line per shipped scenario: name and description (and path with --paths)."""
    shipped = shipped_scenarios()
    width = max(map(len, shipped), default=0)
    for name, path in shipped.items():
        line = f"{name:<{width}}  {shipped_description(path)}"
        print(f"{line}\n{'':<{width}}  {path}" if args.paths else line)
    return 0


def run_init(args: argparse.Namespace) -> int:
    """Write NAME.toml and say how to run it."""
    target = init_scenario(args.name, args.source, args.dir, force=args.force)
    print(f"wrote {target}; run it with: chirpdesk simulate {target} --out runs/{target.stem}")
    return 0
