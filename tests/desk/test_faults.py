"""A 200 is a promise: storage faults injected under concurrent load, on a real server.

Each test floods a real desk on 127.0.0.1 from concurrent keep-alive connections, injects a
fault (a full disk, a killed commit process, PostgreSQL stopped or cut off, a statement timeout,
a slow disk), and then checks the client's own record of every 200 against the database:
acknowledged-and-missing = 0, duplicates = 0, every 5xx a 503 with ``Retry-After``. Health must
say so while the fault lasts and recover after it, without a restart; SIGTERM must stop the desk
within its stated bound, whatever the storage is doing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from faultkit import (
    PrivateCluster,
    check_nothing_lost,
    commit_process,
    flood,
    sigterm_and_time,
    small_tmpfs,
    wait_health,
)

from chirpdesk.desk.server import SHUTDOWN_SECONDS
from chirpdesk.desk.storage_sqlite import SQLiteStorage
from deskkit import DeskServer


def _sqlite_with_ballast(path: Path, ballast_pages: int) -> int:
    """A desk database holding a ``ballast`` table of about ``ballast_pages`` pages; returns the
    file's page count (a cap just above it leaves room for a few tweets only)."""
    storage = SQLiteStorage(str(path))
    storage.open()
    storage.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE ballast (b BLOB)")
    conn.executemany("INSERT INTO ballast VALUES (randomblob(3900))", [()] * ballast_pages)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    conn.close()
    return pages


def _drop_ballast(path: Path) -> None:
    """Give the space back: the ballast's pages go to SQLite's free list."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=15)
    conn.execute("DROP TABLE ballast")
    conn.close()


def _metrics(url: str) -> str:
    r = httpx.get(url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    return r.text


def test_disk_full_sqlite_never_acknowledges_a_lost_tweet_and_recovers_without_restart(
    tmp_path: Path, start_server: Callable[..., DeskServer]
) -> None:
    db = tmp_path / "desk.sqlite3"
    pages = _sqlite_with_ballast(db, 120)
    server = start_server("sqlite", db=str(db), env={"CHIRPDESK_SQLITE_MAX_PAGES": str(pages + 12)})

    record = asyncio.run(flood(server.url, 2.5))
    assert record.codes[503] > 0, f"the database never filled: {record.codes}"
    health = asyncio.run(wait_health(server.url, 503, timeout=5))
    assert "full" in str(health["reason"]), health
    assert "chirpdesk_storage_healthy 0" in _metrics(server.url)
    assert check_nothing_lost(record, str(db)), "nothing at all was stored before the disk filled"

    _drop_ballast(db)  # space is back: the probe finds it, no tweet needed
    asyncio.run(wait_health(server.url, 200, timeout=10))
    after = asyncio.run(flood(server.url, 1.0))
    assert after.codes[200] > 0, after.codes
    text = _metrics(server.url)
    assert "chirpdesk_storage_healthy 1" in text
    failures = next(line for line in text.splitlines() if line.startswith("chirpdesk_commit_failures_total "))
    assert float(failures.split()[1]) > 0
    record.merge(after)

    assert server.proc is not None
    code, seconds = sigterm_and_time(server.proc, SHUTDOWN_SECONDS + 5)
    assert code == 0, f"exit code {code} after {seconds:.1f} s"
    check_nothing_lost(record, str(db))


def test_sigterm_while_the_disk_is_full_exits_within_the_bound(
    tmp_path: Path, start_server: Callable[..., DeskServer]
) -> None:
    db = tmp_path / "desk.sqlite3"
    pages = _sqlite_with_ballast(db, 40)
    server = start_server("sqlite", db=str(db), env={"CHIRPDESK_SQLITE_MAX_PAGES": str(pages + 4)})
    assert server.proc is not None
    outcome: dict[str, object] = {}

    async def stop_midway() -> None:
        await asyncio.sleep(1.0)
        outcome["exit"] = await asyncio.to_thread(sigterm_and_time, server.proc, SHUTDOWN_SECONDS + 5)

    record = asyncio.run(flood(server.url, 2.5, during=stop_midway))
    code, seconds = outcome["exit"]  # type: ignore[misc]
    assert code == 0 and seconds < SHUTDOWN_SECONDS, f"exit {code} after {seconds:.1f} s"
    assert record.codes[503] > 0, record.codes
    check_nothing_lost(record, str(db))


@pytest.fixture()
def tmpfs() -> Iterator[Path]:
    """A real 2 MB tmpfs (root only; skipped where mounting is not allowed)."""
    if os.geteuid() != 0:
        pytest.skip("a real small disk needs root to mount a tmpfs")
    try:
        with small_tmpfs("2m") as where:
            yield where
    except RuntimeError as exc:
        pytest.skip(str(exc))


def test_real_full_disk_on_tmpfs(tmpfs: Path, start_server: Callable[..., DeskServer]) -> None:
    db = tmpfs / "desk.sqlite3"
    server = start_server("sqlite", db=str(db))
    stats = os.statvfs(tmpfs)
    filler = tmpfs / "filler"
    filler.write_bytes(b"\0" * max(0, stats.f_bavail * stats.f_frsize - 160_000))

    record = asyncio.run(flood(server.url, 2.5))
    assert record.codes[503] > 0, f"the disk never filled: {record.codes}"
    asyncio.run(wait_health(server.url, 503, timeout=5))

    filler.unlink()
    asyncio.run(wait_health(server.url, 200, timeout=10))
    after = asyncio.run(flood(server.url, 1.0))
    assert after.codes[200] > 0, after.codes
    record.merge(after)
    assert server.proc is not None
    code, _ = sigterm_and_time(server.proc, SHUTDOWN_SECONDS + 5)
    assert code == 0
    check_nothing_lost(record, str(db))


def test_commit_process_killed_again_and_again(
    backend: str, start_server: Callable[..., DeskServer], make_db: Callable[[str], str]
) -> None:
    db = make_db(backend)
    server = start_server(backend, db=db)
    assert server.proc is not None
    killed: list[int] = []

    async def kill_three_times() -> None:
        for _ in range(3):
            await asyncio.sleep(0.8)
            pid = await asyncio.to_thread(commit_process, server.proc.pid)  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    record = asyncio.run(flood(server.url, 4.0, during=kill_three_times))
    assert len(set(killed)) == 3, "each kill should have hit a fresh commit process"
    assert record.codes[200] > 50, record.codes
    asyncio.run(wait_health(server.url, 200, timeout=10))

    # Killed while idle: health says so, then the probe starts a new one and health recovers.
    os.kill(commit_process(server.proc.pid), signal.SIGKILL)
    health = asyncio.run(wait_health(server.url, 503, timeout=5))
    assert "commit process" in str(health["reason"]), health
    asyncio.run(wait_health(server.url, 200, timeout=10))
    check_nothing_lost(record, db)


def test_slow_disk_acknowledges_only_after_the_commit(
    tmp_path: Path, start_server: Callable[..., DeskServer]
) -> None:
    delay = 0.6
    slow = start_server("sqlite", db=str(tmp_path / "slow.sqlite3"), env={"CHIRPDESK_WRITE_DELAY": str(delay)})
    record = asyncio.run(flood(slow.url, 2.5, senders=4))
    assert record.codes[200] > 0, record.codes
    assert min(record.ack_seconds) >= delay, f"a 200 came {min(record.ack_seconds):.3f} s after sending"
    check_nothing_lost(record, str(tmp_path / "slow.sqlite3"))

    # Slower than the acknowledgement deadline: 503s, never a 200 for an uncommitted delivery.
    stuck = start_server("sqlite", db=str(tmp_path / "stuck.sqlite3"),
                         env={"CHIRPDESK_WRITE_DELAY": "1.5", "CHIRPDESK_ACK_TIMEOUT": "0.5"})
    late = asyncio.run(flood(stuck.url, 2.0, senders=4))
    assert late.codes[200] == 0 and late.codes[503] > 0, late.codes
    check_nothing_lost(late, str(tmp_path / "stuck.sqlite3"))


@pytest.fixture()
def cluster() -> Iterator[PrivateCluster]:
    """A private PostgreSQL cluster that this test may stop and cut off."""
    try:
        pg = PrivateCluster()
    except (RuntimeError, OSError) as exc:
        if os.environ.get("CHIRPDESK_CI") == "1":
            pytest.fail(f"CI must run the PostgreSQL fault tests: {exc}")
        pytest.skip(str(exc))
    yield pg
    pg.close()


def test_postgres_stopped_restarted_and_cut_off_mid_flood(
    cluster: PrivateCluster, start_server: Callable[..., DeskServer]
) -> None:
    server = start_server("postgresql", db=cluster.dsn)
    seen: dict[str, object] = {}

    async def restart_midway() -> None:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(cluster.stop)
        seen["down"] = await wait_health(server.url, 503, timeout=5)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(cluster.start)

    record = asyncio.run(flood(server.url, 4.0, during=restart_midway))
    assert record.codes[503] > 0 and record.codes[200] > 0, record.codes
    asyncio.run(wait_health(server.url, 200, timeout=15))

    async def cut_off() -> None:
        await asyncio.sleep(0.7)
        seen["terminated"] = await asyncio.to_thread(cluster.terminate_backends)

    record.merge(asyncio.run(flood(server.url, 2.0, during=cut_off)))
    assert seen["terminated"], "no connection was cut"
    asyncio.run(wait_health(server.url, 200, timeout=15))
    after = asyncio.run(flood(server.url, 0.8))
    assert after.codes[200] > 0, after.codes
    record.merge(after)
    check_nothing_lost(record, cluster.dsn)

    # The database gone for good: SIGTERM still ends the desk within the bound.
    cluster.stop()
    assert server.proc is not None
    code, seconds = sigterm_and_time(server.proc, SHUTDOWN_SECONDS + 5)
    assert code == 0 and seconds < SHUTDOWN_SECONDS, f"exit {code} after {seconds:.1f} s"


def test_postgres_statement_timeout_is_a_503_then_recovers(
    cluster: PrivateCluster, start_server: Callable[..., DeskServer]
) -> None:
    db = f"{cluster.dsn}?options={quote('-c statement_timeout=300')}"
    server = start_server("postgresql", db=db)

    def hold_lock(seconds: float) -> None:
        import time

        import psycopg

        with psycopg.connect(cluster.dsn) as conn, conn.transaction():
            conn.execute("LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE")
            time.sleep(seconds)

    async def lock_midway() -> None:
        await asyncio.sleep(0.7)
        await asyncio.to_thread(hold_lock, 1.5)

    record = asyncio.run(flood(server.url, 3.5, during=lock_midway))
    assert record.codes[503] > 0, record.codes
    asyncio.run(wait_health(server.url, 200, timeout=10))
    after = asyncio.run(flood(server.url, 0.8))
    assert after.codes[200] > 0, after.codes
    record.merge(after)
    check_nothing_lost(record, cluster.dsn)
