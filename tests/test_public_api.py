"""The public API: curated, sorted, importable, documented; the model stays pure."""

import importlib
import inspect
import subprocess
import sys

import chirpdesk.sim as sim


def test_all_is_sorted_and_importable():
    assert sim.__all__ == sorted(sim.__all__)
    assert len(set(sim.__all__)) == len(sim.__all__)
    for name in sim.__all__:
        assert getattr(sim, name) is not None


def test_every_public_item_has_a_docstring():
    missing = [name for name in sim.__all__
               if (inspect.isfunction(getattr(sim, name)) or inspect.isclass(getattr(sim, name)))
               and not inspect.getdoc(getattr(sim, name))]
    assert not missing


def test_sim_does_not_import_rendering_load_or_server_libraries():
    code = ("import sys, chirpdesk.sim, chirpdesk.sim.cli, chirpdesk.sim.model, chirpdesk.sim.run;"
            "bad = [m for m in ('locust', 'gevent', 'matplotlib', 'jinja2', 'uvicorn', 'starlette') if m in sys.modules];"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_modules_have_docstrings():
    for mod in ("chirpdesk.sim.arrivals", "chirpdesk.sim.model", "chirpdesk.sim.metrics", "chirpdesk.sim.loader", "chirpdesk.sim.run", "chirpdesk.sim.analytic"):
        assert importlib.import_module(mod).__doc__
