"""``chirpdesk serve``: wiring into the CLI, zero-config start, one-line errors, graceful stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from deskkit import delivery, free_port, signed, tweet


def _env() -> dict[str, str]:
    return dict(os.environ)


def test_serve_is_registered_in_the_chirpdesk_cli() -> None:
    from chirpdesk.sim.cli import COMMANDS, build_parser

    assert "chirpdesk.desk.cli" in COMMANDS
    args = build_parser().parse_args(["serve", "--port", "9999", "--db", "x.sqlite3"])
    assert (args.port, args.db) == (9999, "x.sqlite3") and callable(args.func)


def test_chirpdesk_serve_builds_only_the_desk_and_reads_its_options_as_the_full_cli_does() -> None:
    # `chirpdesk serve` runs the desk, which must not carry the model's libraries; the rest of
    # the command line is not even imported for it. Same options, same parse.
    code = (
        "import sys\n"
        "from chirpdesk.sim import cli\n"
        "words = ['serve', '--port', '9999', '--db', 'x.sqlite3', '--workers', '2']\n"
        "solo = cli.build_parser(cli.SOLO_COMMANDS['serve']).parse_args(words)\n"
        "heavy = [m for m in ('numpy', 'scipy', 'simpy') if m in sys.modules]\n"
        "try:\n"
        "    cli.main(['serve', '--workers', 'many'])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "heavy += [m for m in ('numpy', 'scipy', 'simpy') if m in sys.modules]\n"
        "full = cli.build_parser().parse_args(words)\n"
        "same = {k: v for k, v in vars(solo).items() if k != 'func'} == {k: v for k, v in vars(full).items() if k != 'func'}\n"
        "print(','.join(heavy) or '-', code, same, solo.func is full.func)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["-", "2", "True", "True"], r.stderr
    assert "argument --workers: invalid int value: 'many'" in r.stderr


def test_bad_db_is_one_line_error_exit_2(tmp_path) -> None:
    r = subprocess.run([sys.executable, "-m", "chirpdesk.sim", "serve", "--db", "mysql://x/y"], cwd=tmp_path,
                       env=_env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("chirpdesk: error: --db") and len(r.stderr.strip().splitlines()) == 1


def test_zero_config_serve_then_graceful_shutdown_keeps_acked_data(tmp_path) -> None:
    port = free_port()
    env = {**_env(), "CHIRPDESK_SECRET": "s"}
    env.pop("CHIRPDESK_DB", None)
    proc = subprocess.Popen([sys.executable, "-m", "chirpdesk.desk", "serve", "--port", str(port)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        t = tweet("hello there")
        body = delivery([t])
        r = httpx.post(url + "/webhooks/twitter", content=body, headers=signed(body, "s"))
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    # uvicorn re-raises the caught SIGTERM after its graceful shutdown, hence -15 is a clean exit.
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert b"Application shutdown complete" in out
    db = tmp_path / "chirpdesk-desk.sqlite3"
    assert db.exists()
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT id_str FROM tweets").fetchall() == [(t["id_str"],)]
