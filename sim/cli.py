"""The ``chirpdesk`` command line: a thin layer over the library.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds a
parser and sets ``func`` (a callable taking the parsed args and returning an exit code).
Modules are listed here by import path so that a command's heavy imports (uvicorn, locust
subprocess plumbing, matplotlib) happen only when that command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from chirpdesk.sim.errors import ChirpdeskError

#: Import paths of the modules that provide subcommands, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "chirpdesk.sim.commands.simulate",
    "chirpdesk.sim.commands.staff",
    "chirpdesk.sim.commands.sweep",
    "chirpdesk.sim.commands.calibrate",
    "chirpdesk.sim.commands.forecast",
    "chirpdesk.sim.commands.backtest",
    "chirpdesk.sim.commands.scenarios",
    "chirpdesk.desk.cli",
    "chirpdesk.reports.cli",
    "chirpdesk.loadtests.cli",
)


#: Subcommands whose process must stay light, each with the one module that provides it: with
#: one of them first on the command line, the parser is built from that module alone. ``serve``
#: runs the desk, which never needs the libraries the other commands' modules import (numpy,
#: scipy, SimPy: about 80 MB and a second of start-up).
SOLO_COMMANDS: dict[str, str] = {"serve": "chirpdesk.desk.cli"}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level argument parser with every registered subcommand, or with those of
    the module ``only`` (an entry of :data:`COMMANDS`) alone."""
    parser = argparse.ArgumentParser(
        prog="chirpdesk",
        description=(
            "Model, staff and load-test customer service on Twitter/X: can we keep answering "
            "fast as more customers come to us there, and what will it cost?"
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for path in (only,) if only else COMMANDS:
        importlib.import_module(path).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (2 for bad input, as argparse does)."""
    words = list(sys.argv[1:] if argv is None else argv)
    return dispatch(build_parser(SOLO_COMMANDS.get(words[0]) if words else None).parse_args(words))


def dispatch(args: argparse.Namespace) -> int:
    """Run a parsed subcommand: user errors become one line on stderr and exit code 2."""
    try:
        return int(args.func(args) or 0)
    except ChirpdeskError as exc:
        print(f"chirpdesk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chirpdesk: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
