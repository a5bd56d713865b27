"""Shipped scenarios: listed, found by name from any folder, copied by ``chirpdesk init``."""

from __future__ import annotations

import tomllib

import pytest

from chirpdesk.sim.cli import main
from chirpdesk.sim.errors import ChirpdeskError, ScenarioError
from chirpdesk.sim.loader import load_scenario
from chirpdesk.sim.shipped import init_scenario, resolve_scenario, shipped_scenarios
from simkit import SCENARIOS


def test_every_scenarios_file_is_shipped_by_name() -> None:
    shipped = shipped_scenarios()
    assert set(shipped) == {p.stem for p in SCENARIOS.glob("*.toml")}
    assert all(path.read_bytes() == (SCENARIOS / path.name).read_bytes() for path in shipped.values())


def test_a_name_resolves_to_the_shipped_file_but_an_existing_file_wins(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario("baseline").name == "baseline.toml"
    assert resolve_scenario("baseline.toml") == shipped_scenarios()["baseline"]
    (tmp_path / "baseline.toml").write_text("# mine\n")
    assert resolve_scenario("baseline.toml").resolve() == (tmp_path / "baseline.toml").resolve()


def test_an_unknown_name_lists_the_shipped_ones_and_suggests_the_closest(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as err:
        resolve_scenario("basline")
    text = str(err.value)
    assert text.startswith("basline: file not found") and "erlang-check" in text and "did you mean 'baseline'" in text
    with pytest.raises(ScenarioError, match="file not found"):
        resolve_scenario("somewhere/baseline.toml")  # a path is never replaced by a shipped file


def test_init_copies_comments_and_renames_only_the_scenario(tmp_path) -> None:
    target = init_scenario("acme", "outage-storm", tmp_path)
    text = target.read_text()
    original = (SCENARIOS / "outage-storm.toml").read_text()
    assert text.replace('name = "acme"', 'name = "outage-storm"', 1) == original
    data = tomllib.loads(text)
    assert data["scenario"]["name"] == "acme"
    assert load_scenario(target).meta.name == "acme"
    with pytest.raises(ChirpdeskError, match="already exists"):
        init_scenario("acme", "baseline", tmp_path)
    assert init_scenario("acme", "baseline", tmp_path, force=True).read_text().count('name = "acme"') == 1
    with pytest.raises(ChirpdeskError, match="NAME 'a/b'"):
        init_scenario("a/b", "baseline", tmp_path)


def test_cli_scenarios_and_init(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(shipped_scenarios())
    assert main(["init", "mine"]) == 0
    assert "chirpdesk simulate mine.toml" in capsys.readouterr().out
    assert tomllib.loads((tmp_path / "mine.toml").read_text())["scenario"]["name"] == "mine"
    assert main(["init", "mine"]) == 2
    assert "already exists" in capsys.readouterr().err
