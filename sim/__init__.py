"""chirpdesk's simulation package: can we keep answering fast on Twitter/X, and what will it cost?

Data flows one way: scenario -> arrivals -> model -> records -> metrics -> report.

>>> from chirpdesk.sim import load_scenario, resolve_scenario, run_scenario
>>> sc = load_scenario(resolve_scenario("erlang-check"), ["scenario.horizon=2d", "scenario.replications=2"])
>>> result = run_scenario(sc, jobs=1)
>>> 0.0 <= result.summary["sla_attainment"]["mean"] <= 1.0
True
"""

from chirpdesk.sim.analytic import (
    ErlangAResult,
    agents_from_slots,
    effective_service_rate,
    erlang_a,
    erlang_b,
    erlang_c,
    infinite_server_offered_load,
    littles_law_L,
    mmc_mean_wait,
    mmc_service_level,
    mmc_utilisation,
    mmc_wait_quantile,
    mol_staffing,
    priority_mean_waits,
    required_agents,
    required_agents_for_intervals,
)
from chirpdesk.sim.arrivals import (
    ArrivalStream,
    expected_count,
    generate_arrivals,
    penetration,
    rate,
)
from chirpdesk.sim.calibrate import Calibration, calibrate
from chirpdesk.sim.distributions import Distribution, Draws
from chirpdesk.sim.errors import ChirpdeskError, ScenarioError
from chirpdesk.sim.histogram import TimeHistogram
from chirpdesk.sim.history import History, read_history
from chirpdesk.sim.history_gen import BrandTruth, generate_twcs
from chirpdesk.sim.loader import (
    apply_override,
    load_scenario,
    scenario_from_dict,
    scenario_from_toml,
    with_overrides,
)
from chirpdesk.sim.metrics import (
    METRIC_UNITS,
    confidence_interval,
    interval_table,
    replication_metrics,
    summarise,
)
from chirpdesk.sim.model import OUTCOMES, Desk, RunRecords, simulate_once
from chirpdesk.sim.outputs import (
    FORMATS,
    read_summary,
    read_table,
    summary_document,
    write_outputs,
    write_table,
)
from chirpdesk.sim.policies import policy_shifts
from chirpdesk.sim.run import ReplicationResult, SimulationResult, run_replication, run_scenario
from chirpdesk.sim.scenario import (
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
    Policy,
    Scenario,
    Shift,
    Staffing,
    Study,
    Tier2,
    TweetingHours,
)
from chirpdesk.sim.sensitivity import sobol, tornado
from chirpdesk.sim.shifts_milp import ShiftPlan, plan_shifts, toml_snippet
from chirpdesk.sim.shipped import init_scenario, resolve_scenario, shipped_scenarios
from chirpdesk.sim.staffing import Requirement, Target, staffing_requirement
from chirpdesk.sim.study import Period, sample_scenario
from chirpdesk.sim.study import periods as study_periods
from chirpdesk.sim.sweep import SweepResult, breakpoints, run_sweep
from chirpdesk.sim.units import format_duration, parse_clock, parse_duration
from chirpdesk.sim.workers import WorkerLost

__version__ = "0.1.0"

__all__ = [
    "Adoption",
    "Agents",
    "ArrivalStream",
    "Arrivals",
    "BrandTruth",
    "Burst",
    "Calibration",
    "Cascade",
    "ChirpdeskError",
    "Cost",
    "Customers",
    "Deflection",
    "Desk",
    "Distribution",
    "Draws",
    "ErlangAResult",
    "FORMATS",
    "Handling",
    "History",
    "LoadTest",
    "METRIC_UNITS",
    "Meta",
    "Mix",
    "OUTCOMES",
    "Period",
    "Policy",
    "ReplicationResult",
    "Requirement",
    "RunRecords",
    "SLA",
    "Scenario",
    "ScenarioError",
    "Shift",
    "ShiftPlan",
    "SimulationResult",
    "Staffing",
    "Study",
    "SweepResult",
    "Target",
    "Tier2",
    "TimeHistogram",
    "TweetingHours",
    "WorkerLost",
    "agents_from_slots",
    "apply_override",
    "breakpoints",
    "calibrate",
    "confidence_interval",
    "effective_service_rate",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "expected_count",
    "format_duration",
    "generate_arrivals",
    "generate_twcs",
    "infinite_server_offered_load",
    "init_scenario",
    "interval_table",
    "littles_law_L",
    "load_scenario",
    "mmc_mean_wait",
    "mmc_service_level",
    "mmc_utilisation",
    "mmc_wait_quantile",
    "mol_staffing",
    "parse_clock",
    "parse_duration",
    "penetration",
    "plan_shifts",
    "policy_shifts",
    "priority_mean_waits",
    "rate",
    "read_history",
    "read_summary",
    "read_table",
    "replication_metrics",
    "required_agents",
    "required_agents_for_intervals",
    "resolve_scenario",
    "run_replication",
    "run_scenario",
    "run_sweep",
    "sample_scenario",
    "scenario_from_dict",
    "scenario_from_toml",
    "shipped_scenarios",
    "simulate_once",
    "sobol",
    "staffing_requirement",
    "study_periods",
    "summarise",
    "summary_document",
    "toml_snippet",
    "tornado",
    "with_overrides",
    "write_outputs",
    "write_table",
]
