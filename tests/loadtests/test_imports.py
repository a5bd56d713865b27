"""Importing chirpdesk must never import Locust/gevent (they monkey-patch the process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_sim_desk_and_loadtest_cli_do_not_import_locust_or_gevent() -> None:
    code = (
        "import sys, chirpdesk.sim, chirpdesk.sim.cli, chirpdesk.desk, chirpdesk.desk.cli, chirpdesk.desk.app, "
        "chirpdesk.loadtests, chirpdesk.loadtests.cli, chirpdesk.loadtests.payloads, "
        "chirpdesk.loadtests.report, chirpdesk.loadtests.plan\n"
        "chirpdesk.sim.cli.build_parser()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent', 'geventhttpclient'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "[]"
