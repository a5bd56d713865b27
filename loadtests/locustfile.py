"""Locust entry point: ``locust -f loadtests/locustfile.py --host URL``.

Scenario and secret come from ``--scenario``/``--secret`` (custom arguments, also in the web
UI) or ``CHIRPDESK_SCENARIO``/``CHIRPDESK_SECRET``; see docs/loadtests.md for every setting.
Works headless, with the web UI, and distributed (``--processes N`` or ``--master``/``--worker``):
the master picks the start time and run id and sends them to each worker with its index, and
each worker sends its share of the arrival schedule.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import gevent
from locust import events

# Locust imports this file by path: make the repository importable for `loadtests.*` and `sim`.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from loadtests.plan import ENV, LEAD_S  # noqa: E402
from loadtests.shapes import ScenarioShape  # noqa: E402,F401  (the shape Locust runs)
from loadtests.users import (  # noqa: E402,F401  (the user classes Locust runs)
    RUN,
    SETUP_MESSAGE,
    AgentUser,
    Setup,
    cpu_monitor,
    is_master,
    is_worker,
    new_setup,
    on_request,
    start_dispatcher,
    stop_dispatcher,
)


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument("--scenario", dest="chirpdesk_scenario", env_var=ENV["scenario"], default="",
                       help="scenario TOML file whose [loadtest] section shapes the test")
    parser.add_argument("--secret", dest="chirpdesk_secret", env_var=ENV["secret"], default="",
                       is_secret=True, help="the endpoint's X consumer secret (signs deliveries)")
    parser.add_argument("--speedup", dest="chirpdesk_speedup", env_var=ENV["speedup"], default="",
                       help="simulated seconds per real second (default: the scenario's)")
    parser.add_argument("--duration", dest="chirpdesk_duration", env_var=ENV["duration"], default="",
                       help="real seconds of arrivals (default: the scenario's)")
    parser.add_argument("--shape", dest="chirpdesk_shape", env_var=ENV["shape"], default="",
                       help="scenario, step, soak or spike (default: the scenario's)")
    parser.add_argument("--seed", dest="chirpdesk_seed", env_var=ENV["seed"], default="",
                       help="seed of the arrival process (default: the scenario's)")


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    RUN.options = environment.parsed_options
    environment.events.request.add_listener(on_request)
    runner = environment.runner
    if is_worker(runner):
        def on_setup(environment: Any, msg: Any, **_: Any) -> None:
            RUN.reset()
            RUN.begin(Setup(**msg.data))
            start_dispatcher(environment)

        runner.register_message(SETUP_MESSAGE, on_setup)


@events.test_start.add_listener
def _test_start(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if is_worker(runner):
        gevent.spawn(cpu_monitor)
        return
    shape = RUN.shape_kind or RUN.plan_for(None).shape
    if is_master(runner):
        # Workers start sending together, a little later than a local run (messages travel).
        t0 = time.time() + LEAD_S + 0.5
        clients = sorted(runner.clients.keys())
        base = new_setup(shape)
        for index, client_id in enumerate(clients):
            data = {"t0": t0, "run_id": base.run_id, "index": index, "count": len(clients), "shape": shape}
            runner.send_message(SETUP_MESSAGE, data, client_id)
        return
    RUN.reset()
    RUN.begin(new_setup(shape))
    start_dispatcher(environment)
    gevent.spawn(cpu_monitor)


@events.test_stop.add_listener
def _test_stop(environment: Any, **_: Any) -> None:
    stop_dispatcher()
    RUN.write()


@events.quitting.add_listener
def _quitting(environment: Any, **_: Any) -> None:
    if RUN.write() is not None:
        from loadtests.report import quick_summary

        print(quick_summary(RUN.records, RUN.setup, RUN.plan, RUN.cpu), file=sys.stderr)
