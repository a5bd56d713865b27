"""Fixtures for the load-test tests: the repository on ``sys.path`` and a one-off real run.

Nothing is mocked: the end-to-end tests run ``chirpdesk loadtest`` against the embedded desk
endpoint (uvicorn + SQLite on 127.0.0.1) with Locust in its own subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The repository and this folder on sys.path: `loadtests`, `sim`, `desk`, and the helper module
# `loadkit` under its own unique name (tests/conftest.py is another `conftest`).
for _path in (Path(__file__).resolve().parents[2], Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from loadkit import run_cli  # noqa: E402


@pytest.fixture(scope="session")
def storm_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, dict[str, Any]]:
    """``chirpdesk loadtest scenarios/outage-storm.toml`` (30 s) against the embedded endpoint."""
    out = tmp_path_factory.mktemp("storm")
    proc = run_cli("loadtest", "scenarios/outage-storm.toml", "--out", str(out))
    result = json.loads((out / "loadtest.json").read_text()) if (out / "loadtest.json").exists() else {}
    return proc, out, result
