"""Locust entry point: ``locust -f loadtests/locustfile.py --host URL``.

Scenario and secret come from ``--scenario``/``--secret`` (custom arguments, also in the web
UI) or ``CHIRPDESK_SCENARIO``/``CHIRPDESK_SECRET``; see docs/loadtests.md for every setting.
Works headless, with the web UI, and distributed (``--processes N`` or ``--master``/``--worker``):
once every worker has answered a ping (its handlers are registered), the master picks the start
time and run id and sends them to each worker with its index, each worker acknowledges and sends
its share of the arrival schedule.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import gevent
from locust import events

from chirpdesk.loadtests.plan import ENV
from chirpdesk.loadtests.shapes import ScenarioShape  # noqa: F401  (the shape Locust runs)
from chirpdesk.loadtests.users import (  # noqa: F401  (the user classes Locust runs)
    COORDINATOR,
    RUN,
    AgentUser,
    cpu_monitor,
    is_master,
    is_worker,
    new_setup,
    on_request,
    register_master_handlers,
    register_worker_handlers,
    start_dispatcher,
    stop_dispatcher,
)
from chirpdesk.sim.units import cli_duration, cli_duration_help


def _checked(convert: Callable[[str], float]) -> Callable[[str], str]:
    """An argparse type that checks a value with ``convert`` (argparse's error names the option)
    and keeps the text: the web UI sets these options as strings, and the plan reads them."""
    def check(text: str) -> str:
        if text.strip():
            convert(text)
        return text

    check.__name__ = getattr(convert, "__name__", "value")
    return check


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument("--scenario", dest="chirpdesk_scenario", env_var=ENV["scenario"], default="",
                       help="scenario TOML file whose [loadtest] section shapes the test")
    parser.add_argument("--secret", dest="chirpdesk_secret", env_var=ENV["secret"], default="",
                       is_secret=True, help="the endpoint's X consumer secret (signs deliveries)")
    parser.add_argument("--speedup", dest="chirpdesk_speedup", env_var=ENV["speedup"], default="",
                       help="simulated seconds per real second (default: the scenario's)")
    parser.add_argument("--duration", dest="chirpdesk_duration", env_var=ENV["duration"], default="",
                       type=_checked(cli_duration()),
                       help=f"real time of arrivals: {cli_duration_help()} (default: the scenario's)")
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
        register_worker_handlers(environment)
    elif is_master(runner):
        register_master_handlers(environment)


@events.test_start.add_listener
def _test_start(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if is_worker(runner, environment):
        gevent.spawn(cpu_monitor)
        return
    shape = RUN.shape_kind or RUN.plan_for(None).shape
    if is_master(runner):
        # Blocks (bounded) until every worker has its set-up, before any user is spawned.
        if COORDINATOR.distribute(runner, shape) is None:
            environment.process_exit_code = 1
            gevent.spawn_later(0, runner.quit)
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
        from chirpdesk.loadtests.report import quick_summary

        print(quick_summary(RUN.records, RUN.setup, RUN.plan, RUN.cpu), file=sys.stderr)
