"""Tools for the storage-fault tests: a flood that keeps the client's own record of every 200,
the check of that record against the database, and a private PostgreSQL cluster that a test
may stop and start (the shared test server is never touched).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deskkit import delivery, free_port, next_id, signed, tweet


@dataclass
class FloodRecord:
    """What the client saw: the tweet ids of every 200, status counts, and every bad answer."""

    acked: list[str] = field(default_factory=list)
    codes: Counter[int | str] = field(default_factory=Counter)
    #: 5xx answers that were not a 503 with Retry-After, and 200s faster than allowed.
    violations: list[str] = field(default_factory=list)
    #: Seconds each 200 took.
    ack_seconds: list[float] = field(default_factory=list)

    def merge(self, other: FloodRecord) -> None:
        """Add another flood's record to this one."""
        self.acked += other.acked
        self.codes.update(other.codes)
        self.violations += other.violations
        self.ack_seconds += other.ack_seconds


async def flood(url: str, seconds: float, senders: int = 8,
                during: Callable[[], Awaitable[None]] | None = None) -> FloodRecord:
    """``senders`` keep-alive connections sending signed one-tweet deliveries for ``seconds``,
    while ``during()`` (a fault, say) runs beside them; returns the client's record."""
    record = FloodRecord()
    stop_at = time.monotonic() + seconds

    async def sender(n: int, ac: httpx.AsyncClient) -> None:
        while time.monotonic() < stop_at:
            tid = next_id()
            body = delivery([tweet(f"my order {tid} is late, is it down?", id_str=tid, user_id=str(70_000 + n))])
            started = time.monotonic()
            try:
                r = await ac.post("/webhooks/twitter", content=body, headers=signed(body))
            except httpx.HTTPError as exc:
                record.codes[type(exc).__name__] += 1
                await asyncio.sleep(0.02)
                continue
            record.codes[r.status_code] += 1
            if r.status_code == 200:
                record.acked.append(tid)
                record.ack_seconds.append(time.monotonic() - started)
            elif r.status_code >= 500 and (r.status_code != 503 or "retry-after" not in r.headers):
                record.violations.append(f"{r.status_code} {r.headers.get('retry-after')} {r.text[:120]}")
            elif r.status_code in (429, 503):
                await asyncio.sleep(0.01)  # as told by Retry-After, only shorter: keep the pressure on

    async def fault() -> None:
        if during is not None:
            await during()

    async with httpx.AsyncClient(base_url=url, timeout=20) as ac:
        await asyncio.gather(fault(), *(sender(n, ac) for n in range(senders)))
    return record


def stored_ids(db: str) -> list[str]:
    """Every tweet id in the desk's database, read directly (SQLite path or PostgreSQL URL)."""
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            return [row[0] for row in conn.execute("SELECT id_str FROM tweets")]
    conn = sqlite3.connect(db)
    try:
        return [row[0] for row in conn.execute("SELECT id_str FROM tweets")]
    finally:
        conn.close()


def check_nothing_lost(record: FloodRecord, db: str) -> set[str]:
    """Assert every acknowledged tweet is in the database exactly once, and no answer broke the
    rules; returns the stored ids."""
    stored = stored_ids(db)
    missing = set(record.acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged tweets are not in the database, e.g. {sorted(missing)[:3]}"
    assert len(stored) == len(set(stored)), "a tweet is stored twice"
    assert len(record.acked) == len(set(record.acked)), "a tweet was acknowledged twice"
    assert not record.violations, record.violations[:5]
    return set(stored)


async def wait_health(url: str, status: int, timeout: float = 15.0) -> dict[str, object]:
    """Poll ``/healthz`` until it answers ``status``; returns its body."""
    deadline = time.monotonic() + timeout
    last: object = None
    async with httpx.AsyncClient(base_url=url, timeout=5) as ac:
        while time.monotonic() < deadline:
            try:
                r = await ac.get("/healthz")
                last = (r.status_code, r.text)
                if r.status_code == status:
                    body: dict[str, object] = r.json()
                    return body
            except httpx.HTTPError as exc:
                last = exc
            await asyncio.sleep(0.1)
    raise AssertionError(f"/healthz never answered {status} within {timeout} s; last: {last}")


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def commit_process(server_pid: int, timeout: float = 10.0) -> int:
    """The desk's commit process (its child running ``chirpdesk.desk.committer``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children(server_pid):
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"chirpdesk.desk.committer" in cmdline:
                return child
        time.sleep(0.05)
    raise AssertionError("the desk has no commit process")


class PrivateCluster:
    """A throwaway PostgreSQL cluster in a temporary folder, on its own port: a test may stop,
    start and disconnect it without touching the shared test server."""

    def __init__(self) -> None:
        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bindir or shutil.which("runuser") is None or os.geteuid() != 0:
            raise RuntimeError("needs Debian's PostgreSQL binaries and root (to run them as postgres)")
        self.bin = bindir[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="chirpdesk-pg-"))
        os.chown(self.dir, *_postgres_ids())
        self.data = self.dir / "data"
        self.port = free_port()
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        (self.data / "postgresql.conf").open("a").write(
            f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.dir}'\n"
            # Durable commits as in production: with synchronous_commit off, an immediate stop
            # loses commits the server had already confirmed, and this test would rightly fail.
            "fsync = on\nsynchronous_commit = on\nmax_connections = 50\n")
        self.start()

    @property
    def dsn(self) -> str:
        """URL of the cluster's ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        """Stop it at once (``-m immediate``: as a crash or a pulled cable would)."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def terminate_backends(self) -> int:
        """Cut every other client's connection (``pg_terminate_backend``); returns how many."""
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'").fetchall()
        return len(rows)

    def close(self) -> None:
        """Stop and delete the cluster."""
        with suppress(subprocess.CalledProcessError):  # already stopped
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def _postgres_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


@contextmanager
def small_tmpfs(size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on a temporary folder (root only)."""
    where = Path(tempfile.mkdtemp(prefix="chirpdesk-tmpfs-"))
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        where.rmdir()
        raise RuntimeError(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        shutil.rmtree(where, ignore_errors=True)


def sigterm_and_time(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, float]:
    """SIGTERM ``proc`` and wait up to ``timeout`` s; returns (exit code or None, seconds)."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code: int | None = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        code = None
        proc.kill()
        proc.wait(10)
    return code, time.monotonic() - started
