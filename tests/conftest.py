"""Shared fixtures: paths, and small scenarios written inline as TOML."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"

#: In CI (``CHIRPDESK_CI=1``) tests that need PostgreSQL or Chromium must run, not skip.
IN_CI = os.environ.get("CHIRPDESK_CI") == "1"

MINIMAL = """
[scenario]
name = "tiny"
start = 2024-03-04T00:00:00
horizon = "2d"
warmup = "2h"
seed = 1
replications = 2

[arrivals]
base_rate = 30

[mix]
kinds = { question = 0.7, praise = 0.3 }
needs_reply = ["question"]

[handling]
compose = { dist = "exponential", mean = "2m" }

[[agents.shifts]]
name = "all day"
days = "all"
start = "00:00"
end = "24:00"
count = 2
"""


@pytest.fixture
def minimal_toml() -> str:
    """A small valid scenario as TOML text."""
    return MINIMAL


@pytest.fixture
def scenarios_dir() -> Path:
    """The shipped scenarios folder."""
    return SCENARIOS
