"""Helpers for the load-test tests (imported by a unique name, see conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 150.0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m chirpdesk.sim.cli ARGS`` from the repository (a fresh process: no gevent here)."""
    return subprocess.run([sys.executable, "-m", "chirpdesk.sim.cli", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout)
