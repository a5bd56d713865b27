"""chirpdesk's simulation package: can we keep answering fast on Twitter/X, and what will it cost?

Data flows one way: scenario -> arrivals -> model -> records -> metrics -> report.

>>> from sim import load_scenario, run_scenario
>>> sc = load_scenario("scenarios/erlang-check.toml", ["scenario.horizon=2d", "scenario.replications=2"])
>>> result = run_scenario(sc, jobs=1)
>>> 0.0 <= result.summary["sla_attainment"]["mean"] <= 1.0
True
"""

from sim.arrivals import ArrivalStream, expected_count, generate_arrivals, penetration, rate
from sim.distributions import Distribution, Draws
from sim.errors import ChirpdeskError, ScenarioError
from sim.loader import apply_override, load_scenario, scenario_from_dict, scenario_from_toml, with_overrides
from sim.metrics import METRIC_UNITS, confidence_interval, interval_table, replication_metrics, summarise
from sim.model import OUTCOMES, Desk, RunRecords, simulate_once
from sim.outputs import read_summary, read_table, summary_document, write_outputs
from sim.run import ReplicationResult, SimulationResult, run_replication, run_scenario
from sim.scenario import (
    SLA,
    Adoption,
    Agents,
    Arrivals,
    Burst,
    Cascade,
    Cost,
    Customers,
    Deflection,
    Handling,
    LoadTest,
    Meta,
    Mix,
    Scenario,
    Shift,
    Tier2,
    TweetingHours,
)
from sim.units import format_duration, parse_clock, parse_duration

__version__ = "0.1.0"

__all__ = [
    "Adoption",
    "Agents",
    "ArrivalStream",
    "Arrivals",
    "Burst",
    "Cascade",
    "ChirpdeskError",
    "Cost",
    "Customers",
    "Deflection",
    "Desk",
    "Distribution",
    "Draws",
    "Handling",
    "LoadTest",
    "METRIC_UNITS",
    "Meta",
    "Mix",
    "OUTCOMES",
    "ReplicationResult",
    "RunRecords",
    "SLA",
    "Scenario",
    "ScenarioError",
    "Shift",
    "SimulationResult",
    "Tier2",
    "TweetingHours",
    "apply_override",
    "confidence_interval",
    "expected_count",
    "format_duration",
    "generate_arrivals",
    "interval_table",
    "load_scenario",
    "parse_clock",
    "parse_duration",
    "penetration",
    "rate",
    "read_summary",
    "read_table",
    "replication_metrics",
    "run_replication",
    "run_scenario",
    "scenario_from_dict",
    "scenario_from_toml",
    "simulate_once",
    "summarise",
    "summary_document",
    "with_overrides",
    "write_outputs",
]
