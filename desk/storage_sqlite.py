"""SQLite backend: embedded, zero set-up, WAL mode, durable commits.

WAL lets readers (stats, agent views) run while the group-commit writer writes, and a commit is a
single append + fsync of the WAL. ``synchronous=FULL`` (default) makes every acknowledged commit
survive power loss, not just a process crash. Several processes (``--workers N``) may share the
file: write transactions start with ``BEGIN IMMEDIATE`` and wait on ``busy_timeout`` instead of
failing, and the atomic claim ``UPDATE`` keeps claims exclusive across them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chirpdesk.desk.storage_base import QueueOrder, Storage

#: How long a write waits for another process's write lock, milliseconds.
BUSY_TIMEOUT_MS = 10_000


class SQLiteStorage(Storage):
    """The desk database in one SQLite file (``path``)."""

    backend = "sqlite"

    def __init__(self, path: str, pool_size: int = 4, synchronous: str = "FULL",
                 order: QueueOrder | None = None, max_pages: int = 0) -> None:
        super().__init__(pool_size, order)
        self.path = path
        self.synchronous = synchronous
        #: ``PRAGMA max_page_count`` for every connection (0: SQLite's default).
        self.max_pages = max_pages
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: the driver never opens transactions behind our back; we issue
        # BEGIN IMMEDIATE ourselves. check_same_thread=False only so close() can run at shutdown;
        # each connection is otherwise used by exactly one thread.
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=OFF")
        if self.max_pages:
            conn.execute(f"PRAGMA max_page_count={int(self.max_pages)}")
        return conn

    @contextmanager
    def _transaction(self, conn: Any) -> Iterator[Any]:
        # IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading
        # read locks, and busy_timeout applies to the wait.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # SQLite rolls back by itself after some errors (a full disk)
                with contextlib.suppress(sqlite3.Error):  # the original error is the one to report
                    conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (disk full, I/O error) may leave the transaction open: end it, so
            # that nothing of it can be committed later by another transaction on this connection.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    def _types(self) -> dict[str, str]:
        return {"pk": "INTEGER PRIMARY KEY AUTOINCREMENT", "float": "REAL", "bigint": "INTEGER"}
