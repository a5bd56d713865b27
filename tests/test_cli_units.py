"""Command-line durations and rates take the units scenario files use (issue 16, item 4).

Every duration option of ``chirpdesk`` reads ``30s``, ``10m``, ``2h``, ``1d``, ``2w`` as well as
the plain number it read before (in the same unit, seconds), with identical results; a bad value
is argparse's exit 2 naming the option, what was given and the allowed forms. Nothing is mocked:
options go through the real parser, and the staff, serve and loadtest commands run for real.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chirpdesk.loadtests.plan import ENV, Settings, build_plan, settings_from_env
from chirpdesk.sim.cli import build_parser, main
from chirpdesk.sim.units import (
    CLI_DURATION_FORMS,
    cli_duration,
    cli_rate,
    parse_cli_duration,
    parse_cli_rate,
)

ROOT = Path(__file__).resolve().parents[1]
STORM = str(ROOT / "scenarios" / "outage-storm.toml")
BASELINE = str(ROOT / "scenarios" / "baseline.toml")
FORMS = "30s, 10m, 2h, 1d, 2w"

#: (command line before the option, option, namespace attribute) of every converted option.
DURATION_OPTIONS = [
    (["loadtest", STORM], "--duration", "duration"),
    (["loadtest", STORM], "--lag-threshold", "lag_threshold"),
    (["serve"], "--sla-seconds", "sla_seconds"),
]

#: Options with type=float that are not durations or rates (checked so a new one is not missed).
NOT_DURATIONS = {"--speedup"}  # simulated seconds per real second: a ratio


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def parse_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """argparse's error for ``argv``: asserts exit code 2 and returns stderr."""
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    assert exc.value.code == 2
    return capsys.readouterr().err


def all_options() -> list[tuple[str, argparse.Action]]:
    """(subcommand, action) for every option of every ``chirpdesk`` subcommand."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [(name, action) for name, p in sub.choices.items() for action in p._actions if action.option_strings]


# -- the shared types ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, seconds", [
    ("30", 30.0), ("0.25", 0.25), ("30s", 30.0), ("10m", 600.0), ("2h", 7200.0), ("1d", 86400.0),
    ("2w", 1209600.0), ("250ms", 0.25), ("1h 30m", 5400.0), ("10min", 600.0),
])
def test_parse_cli_duration_in_seconds(text: str, seconds: float) -> None:
    assert parse_cli_duration(text) == seconds


def test_plain_numbers_are_read_exactly_as_float_did() -> None:
    for text in ("30", "-5", "0", "1e3", "0.1", "inf"):
        assert parse_cli_duration(text) == float(text)
    assert parse_cli_duration("nan") != parse_cli_duration("nan")  # NaN, as float("nan"): checked later


def test_duration_in_an_option_that_counts_minutes() -> None:
    assert parse_cli_duration("90", unit_seconds=60.0) == 90.0
    assert parse_cli_duration("2h", unit_seconds=60.0) == 120.0
    with pytest.raises(ValueError, match="expected a number of minutes or a duration such as 30s"):
        parse_cli_duration("soon", unit_seconds=60.0)


@pytest.mark.parametrize("bad", ["10 parsecs", "", "m", "-5m", "5x", "10m30s", "1,5h"])
def test_parse_cli_duration_rejects(bad: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_cli_duration(bad)
    assert str(exc.value) == f"got {bad!r}, expected a number of seconds or a duration such as {FORMS}"


@pytest.mark.parametrize("text", ["540/h", "9/min", "9/m", "0.15/s", "540", "90/10m", "12960/d", "540 / h"])
def test_rates_per_hour(text: str) -> None:
    assert parse_cli_rate(text, per_seconds=3600.0) == pytest.approx(540.0)


@pytest.mark.parametrize("text", ["540/h", "9/min", "0.15/s", "0.15"])
def test_rates_per_second(text: str) -> None:
    assert parse_cli_rate(text, per_seconds=1.0) == pytest.approx(0.15)


def test_plain_rate_is_read_exactly_as_float_did() -> None:
    assert parse_cli_rate("540") == 540.0 and parse_cli_rate("0.15", per_seconds=1.0) == 0.15


@pytest.mark.parametrize("bad", ["fast", "540/fortnight", "/h", "540/", "540/0s", "-5/h", "5 per h"])
def test_parse_cli_rate_rejects(bad: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_cli_rate(bad)
    assert str(exc.value) == f"got {bad!r}, expected a number per hour or a rate such as 540/h, 9/min, 0.15/s"


def test_rate_option_through_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    # No chirpdesk option takes a rate today (rates are scenario keys, set with --set); the shared
    # type is what a rate option uses, so check it as argparse runs it.
    p = argparse.ArgumentParser(prog="prog")
    p.add_argument("--rate", type=cli_rate(3600.0))
    p.add_argument("--per-second", type=cli_rate(1.0))
    assert p.parse_args(["--rate", "540/h"]).rate == p.parse_args(["--rate", "540"]).rate == 540.0
    assert p.parse_args(["--rate", "0.15/s"]).rate == pytest.approx(540.0)
    assert p.parse_args(["--per-second", "540/h"]).per_second == pytest.approx(0.15)
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--rate", "lots"])
    assert exc.value.code == 2
    assert ("prog: error: argument --rate: got 'lots', expected a number per hour or a rate such as "
            "540/h, 9/min, 0.15/s") in capsys.readouterr().err


def test_cli_duration_with_allowed_values(capsys: pytest.CaptureFixture[str]) -> None:
    p = argparse.ArgumentParser(prog="prog")
    p.add_argument("--every", type=cli_duration(allowed=(1800.0, 3600.0)))
    assert p.parse_args(["--every", "0.5h"]).every == 1800.0
    with pytest.raises(SystemExit):
        p.parse_args(["--every", "45m"])
    assert "argument --every: got '45m', expected 30m or 1h" in capsys.readouterr().err


# -- every duration option of the command line --------------------------------------------------

def test_no_duration_option_is_left_as_a_bare_float() -> None:
    names = re.compile(r"duration|seconds|timeout|threshold|horizon|every|interval|lag|rate|window|sla")
    seen = set()
    for command, action in all_options():
        option = action.option_strings[-1]
        if action.type is float:
            assert option in NOT_DURATIONS, f"chirpdesk {command} {option} is type=float"
        if names.search(option) and action.type is not None:
            assert getattr(action.type, "__name__", "") in ("duration", "rate"), f"chirpdesk {command} {option}"
            seen.add((command, option))
    assert {("loadtest", "--duration"), ("loadtest", "--lag-threshold"), ("serve", "--sla-seconds"),
            ("staff", "--interval")} <= seen


@pytest.mark.parametrize("prefix, option, dest", DURATION_OPTIONS, ids=[o for _, o, _ in DURATION_OPTIONS])
def test_duration_option_accepts_units_and_plain_seconds(prefix: list[str], option: str, dest: str) -> None:
    def value(text: str) -> float:
        return getattr(parse(*prefix, option, text), dest)

    assert value("30s") == value("30") == float("30")
    assert value("10m") == value("600") == 600.0
    assert value("2h") == value("7200") == 7200.0
    assert value("1d") == 86400.0 and value("2w") == 1209600.0 and value("0.25") == 0.25
    assert getattr(parse(*prefix), dest) is None  # the default is untouched


@pytest.mark.parametrize("prefix, option, dest", DURATION_OPTIONS, ids=[o for _, o, _ in DURATION_OPTIONS])
def test_bad_duration_is_exit_2_naming_the_option(capsys: pytest.CaptureFixture[str], prefix: list[str],
                                                   option: str, dest: str) -> None:
    err = parse_error(capsys, *prefix, option, "10 parsecs")
    assert (f"error: argument {option}: got '10 parsecs', expected a number of seconds or a duration "
            f"such as {FORMS}") in err


@pytest.mark.parametrize("command, option", [("loadtest", "--duration"), ("loadtest", "--lag-threshold"),
                                             ("serve", "--sla-seconds"), ("staff", "--interval"),
                                             ("staff", "--target")])
def test_help_states_the_unit_and_the_forms(capsys: pytest.CaptureFixture[str], command: str, option: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    start = text.index(f" {option} ", text.index("options:"))
    help_text = text[start:start + 260]
    assert "seconds" in help_text and f"a duration such as {CLI_DURATION_FORMS}" in help_text, help_text


def test_bad_value_from_a_fresh_process_exits_2() -> None:
    r = subprocess.run([sys.executable, "-m", "chirpdesk.sim.cli", "loadtest", STORM, "--duration", "10 parsecs"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (
        "chirpdesk loadtest: error: argument --duration: got '10 parsecs', expected a number of seconds "
        f"or a duration such as {FORMS}")


# -- loadtest: --duration and --lag-threshold, the locustfile and CHIRPDESK_* -------------------

def test_loadtest_duration_in_units_makes_the_same_plan() -> None:
    plain, units = parse("loadtest", STORM, "--duration", "20"), parse("loadtest", STORM, "--duration", "20s")
    a = build_plan(Settings(scenario=STORM, duration=plain.duration))
    b = build_plan(Settings(scenario=STORM, duration=units.duration))
    assert a.duration == b.duration == 20.0 and (a.start, a.end) == (b.start, b.end)
    assert [s.at for s in a.schedule] == [s.at for s in b.schedule]
    # 2m of arrivals at speedup 60 is the same plan as 120 (seconds), in both spellings.
    c = build_plan(Settings(scenario=STORM, speedup=60.0, duration=parse("loadtest", STORM, "--duration", "2m").duration))
    d = build_plan(Settings(scenario=STORM, speedup=60.0, duration=120.0))
    assert [s.at for s in c.schedule] == [s.at for s in d.schedule]


def test_loadtest_range_checks_still_apply_to_unit_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", STORM, "--duration", "0s"]) == 2
    assert "--duration: got 0.0, expected a number > 0" in capsys.readouterr().err
    assert main(["loadtest", STORM, "--lag-threshold", "-5"]) == 2
    assert "--lag-threshold: got -5.0, expected a number > 0" in capsys.readouterr().err


def test_locust_settings_take_units_as_well() -> None:
    env = {ENV["scenario"]: STORM, ENV["duration"]: "2m", ENV["lag_threshold"]: "250ms"}
    s = settings_from_env(env)
    assert (s.duration, s.lag_threshold) == (120.0, 0.25)
    plain = settings_from_env({ENV["scenario"]: STORM, ENV["duration"]: "120", ENV["lag_threshold"]: "0.25"})
    assert (plain.duration, plain.lag_threshold) == (120.0, 0.25)
    # The Locust custom argument (also the web UI's text field) wins over the environment.
    assert settings_from_env(env, duration="30s").duration == 30.0
    # What the CLI hands its Locust subprocess reads back exactly.
    assert settings_from_env(Settings(scenario=STORM, duration=20.0, lag_threshold=0.25).to_env()).duration == 20.0
    from chirpdesk.sim.errors import ChirpdeskError

    with pytest.raises(ChirpdeskError, match=rf"^CHIRPDESK_DURATION: got '10 parsecs', expected a number of "
                                             rf"seconds or a duration such as {FORMS}$"):
        settings_from_env({ENV["scenario"]: STORM, ENV["duration"]: "10 parsecs"})


@pytest.mark.parametrize("how", ["option", "environment"])
def test_locustfile_rejects_a_bad_duration_with_exit_2(tmp_path: Path, how: str) -> None:
    cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
           "-t", "1s", "--host", "http://127.0.0.1:9"]
    env = {**os.environ, ENV["scenario"]: STORM}
    if how == "option":
        cmd += ["--duration", "10 parsecs"]
    else:
        env[ENV["duration"]] = "10 parsecs"
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert (f"error: argument --duration: got '10 parsecs', expected a number of seconds or a duration "
            f"such as {FORMS}") in r.stderr


@pytest.mark.slow
def test_loadtest_end_to_end_with_unit_durations(tmp_path: Path) -> None:
    """``chirpdesk loadtest --duration 4s --lag-threshold 250ms`` against the embedded desk: the
    run covers the same window and schedule as the plain-seconds plan."""
    r = subprocess.run([sys.executable, "-m", "chirpdesk.sim.cli", "loadtest", STORM, "--duration", "4s",
                        "--lag-threshold", "250ms", "--out", str(tmp_path), "-q"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert r.returncode in (0, 1), r.stderr  # 1: a gate failed on a busy machine; units are not gates
    result = json.loads((tmp_path / "loadtest.json").read_text())
    plan = build_plan(Settings(scenario=STORM, duration=4.0))
    assert result["duration_s"] == 4.0
    assert (result["window"]["start_s"], result["window"]["end_s"]) == (plan.start, plan.end)
    assert result["tweets_scheduled"] == sum(1 for s in plan.schedule if s.what == "tweet")


# -- staff: --interval and --target's time ------------------------------------------------------

def test_staff_interval_spellings(capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("30m", "1800", "1800s", "0.5h", "30min"):
        assert parse("staff", BASELINE, "--interval", text).interval == 1800.0
    for text in ("60m", "1h", "3600", "60min"):
        assert parse("staff", BASELINE, "--interval", text).interval == 3600.0
    assert parse("staff", BASELINE).interval is None
    err = parse_error(capsys, "staff", BASELINE, "--interval", "45m")
    assert ("argument --interval: got '45m', expected 30m or 1h (as a number of seconds or a duration "
            f"such as {FORMS})") in err
    err = parse_error(capsys, "staff", BASELINE, "--interval", "hourly")
    assert f"argument --interval: got 'hourly', expected a number of seconds or a duration such as {FORMS}" in err


def test_staff_target_in_plain_seconds_or_units(capsys: pytest.CaptureFixture[str]) -> None:
    from chirpdesk.sim.commands.staff import parse_target

    assert parse_target("90% within 10m") == parse_target("90% within 600") == (0.9, 600.0)
    assert main(["staff", BASELINE, "--target", "90% within 10 parsecs", "-q"]) == 2
    assert (f"--target: got '10 parsecs', expected a number of seconds or a duration such as {FORMS}"
            in capsys.readouterr().err)
    assert main(["staff", BASELINE, "--target", "90% within -5", "-q"]) == 2
    assert "--target: got '90% within -5', expected a time >= 0" in capsys.readouterr().err


def test_staff_plan_is_identical_in_units_and_in_plain_seconds(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["--method", "mol", "-r", "1", "-j", "1", "-q", "--no-report"]
    assert main(["staff", BASELINE, "--interval", "1h", "--target", "80% within 10m", *common, "--out", str(a)]) == 0
    assert main(["staff", BASELINE, "--interval", "3600", "--target", "80% within 600", *common, "--out", str(b)]) == 0
    for name in ("requirement.csv", "shifts.csv"):
        assert (a / name).read_text() == (b / name).read_text(), name
    doc_a, doc_b = (json.loads((d / "staff.json").read_text()) for d in (a, b))
    doc_a.pop("wall_seconds"), doc_b.pop("wall_seconds")
    assert doc_a == doc_b


# -- serve: --sla-seconds -----------------------------------------------------------------------

def _serve_sla(tmp_path: Path, text: str) -> float:
    """Start ``chirpdesk serve --sla-seconds TEXT`` for real; the SLA threshold /stats reports."""
    port = free_port()
    db = tmp_path / f"desk-{abs(hash(text))}.sqlite3"
    proc = subprocess.Popen([sys.executable, "-m", "chirpdesk.sim.cli", "serve", "--port", str(port), "--db", str(db),
                             "--secret", "s", "--writer", "thread", "--log-level", "warning", "--sla-seconds", text],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not become healthy"
            time.sleep(0.1)
        return float(httpx.get(f"{url}/stats", timeout=5.0).json()["sla"]["threshold_seconds"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_sla_in_units_is_the_same_sla(tmp_path: Path) -> None:
    assert _serve_sla(tmp_path, "10m") == _serve_sla(tmp_path, "600") == 600.0
    assert _serve_sla(tmp_path, "90s") == 90.0


def test_serve_range_check_still_applies_to_unit_values(tmp_path: Path) -> None:
    errors = []
    for text in ("0s", "0"):
        r = subprocess.run([sys.executable, "-m", "chirpdesk.sim.cli", "serve", "--db", str(tmp_path / "x.sqlite3"),
                            "--sla-seconds", text], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2
        errors.append(r.stderr)
    assert errors[0] == errors[1] == "chirpdesk: error: desk config sla_seconds: got 0.0, expected a number > 0 (seconds)\n"
