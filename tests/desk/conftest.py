"""Fixtures for the desk tests: a database per backend, and real servers on loopback.

Every behaviour test runs against SQLite and PostgreSQL. PostgreSQL needs
``CHIRPDESK_TEST_PG_DSN`` (``source .ci/postgres.sh`` sets it); without it those cases skip.
Each server gets its own SQLite file or its own PostgreSQL schema, so tests never see each
other's data.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

# Make `desk`, `sim` and the helper module `deskkit` importable however pytest is launched
# (plain `pytest` does not put the repository root on sys.path, and a site-packages `tests`
# package can shadow ours, so the helpers are imported by their own unique module name).
for _path in (Path(__file__).resolve().parents[2], Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from deskkit import PG_ENV, Desk, DeskServer  # noqa: E402

BACKENDS = ["sqlite", "postgresql"]


def _pg_dsn() -> str:
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        reason = f"{PG_ENV} is not set: run `source .ci/postgres.sh` to test against PostgreSQL"
        if os.environ.get("CHIRPDESK_CI") == "1":
            pytest.fail(f"CI must test PostgreSQL: {reason}")
        pytest.skip(reason)
    return dsn


@pytest.fixture(scope="session")
def make_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Factory: ``make_db(backend)`` returns a fresh, empty database URL for that backend."""
    schemas: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return str(tmp_path_factory.mktemp("desk") / "desk.sqlite3")
        import psycopg

        dsn = _pg_dsn()
        schema = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        sep = "&" if "?" in dsn else "?"
        return f"{dsn}{sep}options={quote('-csearch_path=' + schema)}"

    yield make
    if schemas:
        import psycopg

        with psycopg.connect(os.environ[PG_ENV], autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="session")
def start_server(
    make_db: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., DeskServer]]:
    """Factory: ``start_server(backend, env={...}, args=[...])`` starts a server on a fresh
    database (``args``: extra ``serve`` flags)."""
    servers: list[DeskServer] = []
    logs = tmp_path_factory.mktemp("logs")

    def start(backend: str, env: dict[str, str] | None = None, db: str | None = None,
              args: list[str] | None = None) -> DeskServer:
        server = DeskServer(db or make_db(backend), env, log=logs / f"server-{len(servers)}.log", args=args)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn (PostgreSQL skipped when no DSN is configured)."""
    if request.param == "postgresql":
        _pg_dsn()
    return str(request.param)


@pytest.fixture(scope="module")
def client(backend: str, start_server: Callable[..., DeskServer]) -> Iterator[Desk]:
    """A client for one server per backend, shared by a test module."""
    client = Desk(start_server(backend, {"CHIRPDESK_MAX_BODY_BYTES": "65536"}))
    yield client
    client.close()
