"""PostgreSQL backend (psycopg 3) for a shared deployment: same schema, same behaviour.

Each thread has its own connection in autocommit mode with explicit transactions. Claims add
``FOR UPDATE SKIP LOCKED`` so that concurrent agents each get a different conversation without
queueing behind one another's row locks; schema creation is serialised with an advisory lock so
several workers can start at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chirpdesk.desk.storage_base import QueueOrder, Storage

#: Arbitrary key for the advisory lock taken while creating the schema.
_SCHEMA_LOCK_KEY = 0x43484952  # "CHIR"


class PostgresStorage(Storage):
    """The desk database on a PostgreSQL server given by a ``postgresql://`` URL."""

    backend = "postgresql"
    skip_locked = "FOR UPDATE SKIP LOCKED"
    row_lock = "FOR UPDATE"

    def __init__(self, dsn: str, pool_size: int = 4, order: QueueOrder | None = None) -> None:
        super().__init__(pool_size, order)
        self.dsn = dsn

    def _connect(self) -> Any:
        import psycopg  # imported lazily: SQLite users need not have it

        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)

    @contextmanager
    def _transaction(self, conn: Any) -> Iterator[Any]:
        with conn.transaction():
            yield conn

    def _types(self) -> dict[str, str]:
        return {"pk": "BIGSERIAL PRIMARY KEY", "float": "DOUBLE PRECISION", "bigint": "BIGINT"}

    def _placeholder(self, sql: str) -> str:
        # The shared SQL never contains a literal '?' or '%', so this rewrite is safe.
        return sql.replace("?", "%s")

    def _create_schema(self, conn: Any) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
            self._build_schema(conn)
