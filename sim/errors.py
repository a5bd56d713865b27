"""Errors that reach the user as one clear line (exit code 2), never as a traceback."""

from __future__ import annotations


class ChirpdeskError(Exception):
    """Base class for errors caused by user input (files, options, values)."""


class ScenarioError(ChirpdeskError, ValueError):
    """A scenario file is invalid.

    The message names the file, the dotted key, what was given and what is allowed, e.g.
    ``baseline.toml: arrivals.base_rate: got -5, expected a number >= 0 (tweets per hour)``.
    """

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}")
