"""The public API: curated, sorted, importable, documented; the model stays pure."""

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import chirpdesk.sim as sim


def test_all_is_sorted_and_importable():
    assert sim.__all__ == sorted(sim.__all__)
    assert len(set(sim.__all__)) == len(sim.__all__)
    for name in sim.__all__:
        assert getattr(sim, name) is not None


def test_the_stubs_all_lists_exactly_the_names_it_imports():
    # chirpdesk.sim's names are loaded from the imports of sim/__init__.pyi; its __all__ is
    # what type checkers read, so the two must not drift apart.
    stub = ast.parse((Path(sim.__file__).parent / "__init__.pyi").read_text())
    imported = {alias.asname or alias.name for node in stub.body if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    listed = next(ast.literal_eval(node.value) for node in stub.body
                  if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__")
    assert sorted(listed) == listed
    assert set(listed) == imported == set(sim.__all__)


def test_a_name_shared_with_its_module_is_the_name_even_after_the_module_is_imported():
    # calibrate is a function and the module that holds it: importing chirpdesk.sim.calibrate
    # (the CLI and the backtest do) must not turn chirpdesk.sim.calibrate into the module.
    code = ("import importlib, chirpdesk.sim.backtest\n"
            "module = importlib.import_module('chirpdesk.sim.calibrate')\n"
            "import chirpdesk.sim as s\n"
            "from chirpdesk.sim import calibrate\n"
            "print(calibrate is module.calibrate, s.calibrate is module.calibrate)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True"]


def test_every_public_item_has_a_docstring():
    missing = [name for name in sim.__all__
               if (inspect.isfunction(getattr(sim, name)) or inspect.isclass(getattr(sim, name)))
               and not inspect.getdoc(getattr(sim, name))]
    assert not missing


def test_sim_does_not_import_rendering_load_or_server_libraries():
    # Every public name is loaded (the package loads them on first use), then what came with them.
    code = ("import sys, chirpdesk.sim as s, chirpdesk.sim.cli, chirpdesk.sim.model, chirpdesk.sim.run;"
            "[getattr(s, name) for name in s.__all__];"
            "bad = [m for m in ('locust', 'gevent', 'matplotlib', 'jinja2', 'uvicorn', 'starlette') if m in sys.modules];"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_the_desk_imports_only_the_light_modules_of_sim():
    # The desk uses the vocabulary, priority orders and errors of chirpdesk.sim; importing them
    # must not import the model's libraries with the rest of the package (about 80 MB and a
    # second of start-up in each desk process, the commit process included).
    code = ("import sys, chirpdesk.desk.server, chirpdesk.desk.committer, chirpdesk.desk.cli;"
            "print(','.join(m for m in ('numpy', 'scipy', 'simpy', 'pandas', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_a_name_the_package_does_not_have_is_an_attribute_error():
    try:
        sim.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("chirpdesk.sim.no_such_name resolved")


def test_modules_have_docstrings():
    for mod in ("chirpdesk.sim.arrivals", "chirpdesk.sim.model", "chirpdesk.sim.metrics", "chirpdesk.sim.loader", "chirpdesk.sim.run", "chirpdesk.sim.analytic"):
        assert importlib.import_module(mod).__doc__
