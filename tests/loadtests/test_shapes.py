"""The Locust shape classes (run in a subprocess: importing Locust patches the process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, time
from chirpdesk.loadtests.shapes import ScenarioShape, StepShape, SpikeShape
out = {}
for cls in (ScenarioShape, StepShape, SpikeShape):
    shape = cls()
    ticks = []
    for t in (0.0, 5.0, 29.0, 40.0, 60.0):
        shape.start_time = time.perf_counter() - t
        r = shape.tick()
        ticks.append(None if r is None else [r[0], r[1], sorted(c.__name__ for c in r[2])])
    out[cls.__name__] = ticks
print(json.dumps(out))
"""


def test_shape_ticks() -> None:
    env = {**os.environ, "CHIRPDESK_SCENARIO": "scenarios/outage-storm.toml", "CHIRPDESK_AGENTS": "a:tok12345,b:tok67890"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    ticks = json.loads(proc.stdout.strip().splitlines()[-1])
    # The scenario shape: 5 agents for the 30 s window (plus lead and tail), then stop.
    assert ticks["ScenarioShape"][:3] == [[5, 10.0, ["AgentUser"]]] * 3
    assert ticks["ScenarioShape"][3:] == [None, None]
    # The step shape lasts step_every x step_count = 50 s.
    assert ticks["StepShape"][3] is not None and ticks["StepShape"][4] is None
    assert ticks["SpikeShape"][3] is None
