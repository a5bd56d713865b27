"""Shared test constants for the simulation tests (imported as ``simkit``; named uniquely so it
never collides with another folder's conftest on ``sys.path``)."""

from __future__ import annotations

import os
from pathlib import Path

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
