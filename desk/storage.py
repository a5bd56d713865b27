"""Pick and build the storage backend from a ``--db`` value."""

from __future__ import annotations

from chirpdesk.desk.config import DeskConfig
from chirpdesk.desk.storage_base import QueueOrder, Storage
from chirpdesk.sim.errors import ChirpdeskError


def describe_db(url: str) -> tuple[str, str]:
    """Return ``(backend, target)`` for a db URL: ``("sqlite", path)`` or ``("postgresql", dsn)``.

    Accepted: ``postgresql://...`` / ``postgres://...``, ``sqlite:///abs/path``,
    ``sqlite://rel/path`` and plain file paths. Anything else raises :class:`ChirpdeskError`.
    """
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql", url
    if url.startswith("sqlite:///"):
        return "sqlite", url[len("sqlite://"):]
    if url.startswith("sqlite://"):
        return "sqlite", url[len("sqlite://"):]
    if "://" in url or not url.strip():
        raise ChirpdeskError(
            f"--db: got {url!r}, expected a SQLite file path, sqlite:///path or postgresql://..."
        )
    return "sqlite", url


def open_storage(config: DeskConfig) -> Storage:
    """Build the backend named by ``config.db`` (not yet opened: call ``.open()``)."""
    backend, target = describe_db(config.db)
    order = QueueOrder(config.priority_rule, config.followups_first, config.influencer_followers)
    if backend == "postgresql":
        from chirpdesk.desk.storage_postgres import PostgresStorage

        return PostgresStorage(target, pool_size=config.db_pool, order=order)
    from chirpdesk.desk.storage_sqlite import SQLiteStorage

    return SQLiteStorage(target, pool_size=config.db_pool, synchronous=config.sqlite_synchronous, order=order,
                         max_pages=config.sqlite_max_pages)
