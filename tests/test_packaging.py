"""The wheel stands alone: one import name (``chirpdesk``), shipped scenarios, and the main job
working from a fresh venv in a folder outside the repository (issue 16)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Repository folder -> the import name the wheel gives it.
MAPPING = {"sim": "chirpdesk.sim", "desk": "chirpdesk.desk", "reports": "chirpdesk.reports",
           "loadtests": "chirpdesk.loadtests", "scenarios": "chirpdesk.scenarios"}


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_subpackage_is_listed_and_mapped() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"] == {name: folder for folder, name in MAPPING.items()}
    listed = set(setuptools["packages"])
    found = set()
    for folder, name in MAPPING.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            found.add(".".join([name, *rel.parts]))
    assert found == listed, f"pyproject.toml [tool.setuptools] packages: missing {found - listed}, extra {listed - found}"


def test_no_module_imports_the_repository_folders_by_their_bare_names() -> None:
    # `import sim` would work from the repository root only, and load a second copy of the module.
    bare = set(MAPPING) | {"chirpdesk"}
    offenders = []
    for folder in [*MAPPING, "tests", "benchmarks"]:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [f"{path.relative_to(REPO)}:{node.lineno} {n}" for n in names
                              if n.split(".")[0] in bare - {"chirpdesk"}]
    assert not offenders


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("chirpdesk-*.whl")
    return found


@pytest.mark.slow
def test_the_wheel_installs_only_chirpdesk_and_ships_scenarios_and_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"chirpdesk"}
    assert not any(n.startswith(("chirpdesk/benchmarks", "chirpdesk/tests")) for n in names)
    shipped = {Path(n).name for n in names if n.startswith("chirpdesk/scenarios/") and n.endswith(".toml")}
    assert shipped == {p.name for p in (REPO / "scenarios").glob("*.toml")}
    assert {Path(n).name for n in names if n.startswith("chirpdesk/reports/templates/")} == \
        {p.name for p in (REPO / "reports" / "templates").iterdir()}
    assert "chirpdesk/sim/py.typed" in names and "chirpdesk/desk/py.typed" in names
    assert "chirpdesk/sim/__init__.pyi" in names  # chirpdesk.sim loads its names from it
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "chirpdesk = chirpdesk.sim.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


@pytest.mark.slow
def test_the_wheel_in_a_fresh_venv_runs_init_simulate_and_serve(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    # A clean environment: nothing from this test process's venv or the repository.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    work = tmp_path / "planner"
    work.mkdir()

    def run(*cmd: str, timeout: float = 600) -> str:
        proc = subprocess.run(list(cmd), cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    run(py, "-m", "pip", "install", "-q", str(wheel))
    # No generic top-level names: only chirpdesk's own.
    probe = run(py, "-c", "import importlib.util as u; print([m for m in ('sim','desk','reports','loadtests',"
                          "'benchmarks','scenarios') if u.find_spec(m)])")
    assert probe.strip() == "[]"
    listing = run("chirpdesk", "scenarios")
    assert re.search(r"^erlang-check\s+M/M/10", listing, re.M)
    run("chirpdesk", "init", "mybrand", "--from", "erlang-check")
    assert 'name = "mybrand"' in (work / "mybrand.toml").read_text()
    run("chirpdesk", "simulate", "mybrand.toml", "--set", "scenario.horizon=6h", "--set", "scenario.warmup=1h",
        "-r", "2", "-j", "1", "-q", "--out", "runs/mybrand")
    run_dir = work / "runs" / "mybrand"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["scenario"] == "mybrand"
    assert 0.0 <= summary["metrics"]["sla_attainment"]["mean"] <= 1.0
    assert "<html" in (run_dir / "report.html").read_text()[:500].lower()
    # The tables, as Parquet, readable with the wheel's own reader.
    assert summary["files"] == {"intervals": "intervals.parquet", "conversations": "conversations.parquet"}
    count = run(py, "-c", "from chirpdesk.sim import read_table; "
                f"t = read_table({str(run_dir / 'conversations.parquet')!r}); print(int(t['in_window'].sum()))")
    assert int(count) == summary["per_replication"][0]["tweets"]
    # A shipped scenario by name, and the module entry points.
    run("chirpdesk", "simulate", "erlang-check", "--set", "scenario.horizon=3h", "--set", "scenario.warmup=1h",
        "-r", "1", "-j", "1", "-q")
    assert "simulate" in run(py, "-m", "chirpdesk.sim", "--help")
    assert "serve" in run(py, "-m", "chirpdesk.desk", "--help")

    # The desk from the wheel: its commit process (python -m chirpdesk.desk.committer) must start.
    sys.path.insert(0, str(REPO / "tests" / "desk"))
    from deskkit import Desk, DeskServer, delivery, tweet

    server = DeskServer(str(work / "desk.sqlite3"), python=py, log=tmp_path / "desk.log").start(timeout=60)
    try:
        assert Desk(server).deliver(delivery([tweet("my order never arrived")])).status_code == 200
    finally:
        assert server.stop() != -9  # stopped by SIGTERM, not killed after the grace period
