"""Storage logic shared by the SQLite and PostgreSQL backends.

All SQL is written once here with ``?`` placeholders and portable syntax (``ON CONFLICT``,
``RETURNING``, ``CASE``); a backend supplies connections, transactions, placeholder style, column
types and its row-locking clause. Database calls are blocking, so they run on threads:

* one **group-commit writer** (:mod:`chirpdesk.desk.writer`: the commit process of :mod:`chirpdesk.desk.committer`
  or a thread, calling :meth:`Storage.write_sync`) with its own connection stores webhook
  deliveries, so a batch is one transaction (one fsync) however many requests it acknowledges;
* a small **pool** of threads, each with its own connection, runs agent, stats and admin calls
  concurrently. Claim exclusivity does not depend on the threads: it is an atomic
  ``UPDATE ... WHERE status = 'waiting' ... RETURNING`` (plus ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL), so it also holds across worker processes sharing one database.

Times are epoch seconds (floats) everywhere; the tables are plain enough to query by hand
(``SELECT id_str, conversation_id FROM tweets``; ``SELECT first_response_seconds FROM
conversations``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, TypeVar

from chirpdesk.desk.schema import Delivery, DirectMessage, Tweet
from chirpdesk.desk.triage import triage
from chirpdesk.sim.priority import is_preset, level_of, levels
from chirpdesk.sim.vocabulary import DEFAULT_INFLUENCER_FOLLOWERS, PRIORITY_RULES

T = TypeVar("T")

#: Conversation states. ``answered`` means the brand replied and nobody holds it; ``spam`` and
#: ``resolved`` are closed; the rest are open (a new tweet by the same author joins them).
STATUSES: tuple[str, ...] = ("waiting", "claimed", "answered", "escalated", "resolved", "spam")
OPEN_STATUSES: tuple[str, ...] = ("waiting", "claimed", "answered", "escalated")

#: Columns of a conversation as returned to clients, in ``SELECT`` order.
CONVERSATION_COLUMNS: tuple[str, ...] = (
    "id", "author_id", "screen_name", "followers_count", "channel", "status", "kind", "priority",
    "priority_rank", "first_tweet_id", "first_tweet_at", "last_activity_at", "claimed_by",
    "claimed_at", "first_response_at", "first_response_seconds", "first_response_by",
    "resolved_at", "waiting_since", "awaiting_followup",
)
_CONV_SELECT = "SELECT " + ", ".join(CONVERSATION_COLUMNS) + " FROM conversations"
_OPEN_IN = "(" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")"

#: Schema, with ``{pk}`` (auto-increment primary key), ``{float}`` and ``{bigint}`` filled in
#: by the backend. Ids from X are TEXT: they are 64-bit and JSON clients lose precision on them.
SCHEMA_TEMPLATE: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS conversations (
        id {pk},
        author_id TEXT NOT NULL,
        screen_name TEXT NOT NULL DEFAULT '',
        followers_count {bigint} NOT NULL DEFAULT 0,
        channel TEXT NOT NULL DEFAULT 'public',
        status TEXT NOT NULL,
        kind TEXT NOT NULL,
        priority TEXT NOT NULL,
        priority_rank INTEGER NOT NULL,
        first_tweet_id TEXT,
        first_tweet_at {float} NOT NULL,
        last_activity_at {float} NOT NULL,
        claimed_by {bigint},
        claimed_at {float},
        first_response_at {float},
        first_response_seconds {float},
        first_response_by TEXT,
        resolved_at {float},
        waiting_since {float},
        awaiting_followup INTEGER NOT NULL DEFAULT 0
    )""",
    # Finds a customer's open conversation (see _AUTHOR_OPEN_CONV) by one backwards index step:
    # partial, so closed conversations cost nothing, and keyed by id, so there is no sort.
    # (The WHERE must be the very text the lookups use, for the planners to match it.)
    "CREATE INDEX IF NOT EXISTS conversations_open_author ON conversations (author_id, id)"
    " WHERE status IN " + _OPEN_IN,
    """CREATE TABLE IF NOT EXISTS tweets (
        id_str TEXT PRIMARY KEY,
        conversation_id {bigint},
        for_user_id TEXT NOT NULL,
        author_id TEXT NOT NULL,
        screen_name TEXT NOT NULL DEFAULT '',
        followers_count {bigint} NOT NULL DEFAULT 0,
        text TEXT NOT NULL,
        created_at {float} NOT NULL,
        in_reply_to_status_id_str TEXT,
        is_brand INTEGER NOT NULL DEFAULT 0,
        kind TEXT,
        priority TEXT,
        received_at {float} NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS tweets_conversation ON tweets (conversation_id)",
    """CREATE TABLE IF NOT EXISTS direct_messages (
        id TEXT PRIMARY KEY,
        conversation_id {bigint},
        for_user_id TEXT NOT NULL,
        sender_id TEXT NOT NULL,
        recipient_id TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at {float} NOT NULL,
        is_brand INTEGER NOT NULL DEFAULT 0,
        received_at {float} NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS agents (
        id {pk},
        name TEXT NOT NULL UNIQUE,
        token_sha256 TEXT NOT NULL UNIQUE,
        created_at {float} NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS replies (
        id {pk},
        conversation_id {bigint} NOT NULL,
        agent_id {bigint} NOT NULL,
        channel TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at {float} NOT NULL,
        posted INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS tickets (
        id {pk},
        conversation_id {bigint} NOT NULL,
        agent_id {bigint} NOT NULL,
        target TEXT NOT NULL,
        note TEXT,
        created_at {float} NOT NULL
    )""",
    # The writer's storage probe (Storage.heartbeat): the last successful probe, with a page's
    # worth of text so that a probe needs the room a tweet does.
    """CREATE TABLE IF NOT EXISTS desk_heartbeat (
        id {pk},
        at {float} NOT NULL,
        room TEXT NOT NULL
    )""",
)

#: Characters of incompressible text a heartbeat row holds (about one database page).
HEARTBEAT_ROOM = 4096


#: Columns added to ``conversations`` after the first release, with their ``ALTER TABLE`` type
#: (``{float}`` filled in by the backend). :meth:`Storage._migrate` adds them to an older database
#: and back-fills them (see :data:`_BACKFILL`).
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("waiting_since", "{float}"),
    ("awaiting_followup", "INTEGER NOT NULL DEFAULT 0"),
)
#: Best-effort values for conversations stored before those columns existed: a waiting
#: conversation that already has a first response was re-opened by a follow-up, whose time is
#: approximately its last activity; every other wait started with the first message.
_BACKFILL = (
    "UPDATE conversations SET"
    " awaiting_followup = CASE WHEN status = 'waiting' AND first_response_at IS NOT NULL THEN 1 ELSE 0 END,"
    " waiting_since = CASE WHEN status = 'waiting' AND first_response_at IS NOT NULL"
    "   THEN last_activity_at ELSE first_tweet_at END"
    " WHERE waiting_since IS NULL"
)
#: Indexes of earlier releases, dropped when found: the queue index before the configurable
#: order, and the author index before the partial one (it needed a sort for every lookup).
_LEGACY_INDEXES = ("conversations_queue", "conversations_author")

#: The author's most recent open conversation (a customer message joins it).
_AUTHOR_OPEN_CONV = (
    f"(SELECT id FROM conversations WHERE author_id = ? AND status IN {_OPEN_IN}"
    " ORDER BY id DESC LIMIT 1)"
)
#: The conversation of the tweet replied to (``open``: only if that conversation is open).
_PARENT_CONV = "(SELECT c.id FROM tweets t JOIN conversations c ON c.id = t.conversation_id WHERE t.id_str = ?"
_PARENT_CONV_ANY = _PARENT_CONV + ")"
_PARENT_CONV_OPEN = _PARENT_CONV + f" AND c.status IN {_OPEN_IN})"


def _tweet_insert(conversation: str) -> str:
    """Insert a tweet unless its id is stored (then no row comes back), with its conversation
    given by the sub-select ``conversation`` (evaluated before the insert), returned."""
    return (
        "INSERT INTO tweets (id_str, for_user_id, author_id, screen_name, followers_count, text,"
        " created_at, in_reply_to_status_id_str, is_brand, kind, priority, received_at,"
        f" conversation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {conversation})"
        " ON CONFLICT (id_str) DO NOTHING RETURNING conversation_id"
    )


#: Customer tweets: the replied-to tweet's open conversation, else the author's open one (the
#: new conversation is created and set afterwards when both are missing).
_TWEET_INSERT = _tweet_insert(_AUTHOR_OPEN_CONV)
_TWEET_INSERT_REPLY = _tweet_insert(f"COALESCE({_PARENT_CONV_OPEN}, {_AUTHOR_OPEN_CONV})")
#: Brand tweets: the replied-to tweet's conversation whatever its status, else none.
_TWEET_INSERT_BRAND = _tweet_insert("NULL")
_TWEET_INSERT_BRAND_REPLY = _tweet_insert(_PARENT_CONV_ANY)
#: DMs: the customer's open conversation (the customer is the sender, or a brand DM's recipient).
_DM_INSERT = (
    "INSERT INTO direct_messages (id, for_user_id, sender_id, recipient_id, text, created_at,"
    f" is_brand, received_at, conversation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {_AUTHOR_OPEN_CONV})"
    " ON CONFLICT (id) DO NOTHING RETURNING conversation_id"
)
_REOPEN = ("(status = 'answered' OR (status = 'claimed' AND first_response_at IS NOT NULL"
           " AND awaiting_followup = 0))")
#: :data:`_FOLLOW_UP` when it would change nothing but ``last_activity_at`` (no row otherwise).
_FOLLOW_UP_QUIET = (
    "UPDATE conversations SET"
    " last_activity_at = CASE WHEN ? > last_activity_at THEN ? ELSE last_activity_at END"
    f" WHERE id = ? AND ? >= priority_rank AND NOT {_REOPEN}"
)
_FOLLOW_UP = (
    "UPDATE conversations SET"
    " priority = CASE WHEN ? < priority_rank THEN ? ELSE priority END,"
    " priority_rank = CASE WHEN ? < priority_rank THEN ? ELSE priority_rank END,"
    f" waiting_since = CASE WHEN {_REOPEN} THEN ? ELSE waiting_since END,"
    f" awaiting_followup = CASE WHEN {_REOPEN} THEN 1 ELSE awaiting_followup END,"
    " status = CASE WHEN status = 'answered' THEN 'waiting' ELSE status END,"
    " last_activity_at = CASE WHEN ? > last_activity_at THEN ? ELSE last_activity_at END"
    " WHERE id = ?"
)


@dataclass(frozen=True)
class QueueOrder:
    """The claim order, in the scenario vocabulary (``[handling] priority`` and
    ``followups_first``), as the SQL ``ORDER BY`` key of waiting conversations.

    Classes, served in this order (as :class:`chirpdesk.sim.model.Desk` serves its queues): follow-ups
    (``awaiting_followup = 1``) when ``followups_first``; then, under ``influencer_fail``, the
    priority classes ``fail`` < ``influencer`` < ``normal`` (``priority_rank``), while under
    ``fifo`` every other conversation is one class. Within a class: first come, first served by
    ``waiting_since`` (when the current wait started), then ``id``. Follow-ups form one class of
    their own, first come first served, whatever their priority (the model's follow-up queue).
    """

    priority_rule: str = "influencer_fail"
    followups_first: bool = True
    #: Followers from which an author is an influencer (used by user-defined orders only).
    influencer_followers: int = DEFAULT_INFLUENCER_FOLLOWERS

    @property
    def tag(self) -> str:
        """Short name of this order (names its index)."""
        if not is_preset(self.priority_rule):
            digest = hashlib.sha1(self.class_expr.encode()).hexdigest()[:10]  # type: ignore[union-attr]
            return f"custom_{digest}"
        return f"{self.priority_rule}{'_ff' if self.followups_first else ''}"

    @property
    def class_expr(self) -> str | None:
        """SQL for the queue class of a conversation (0 is served first), ``None`` when every
        waiting conversation is in one class (``fifo`` without follow-ups first).

        A user-defined order (:mod:`chirpdesk.sim.priority`) is a ``CASE`` over the levels in
        order, so a conversation goes to the first level holding any of its labels, as in the
        model: ``outage`` is the first message's kind ``outage_report``, ``fail`` the ``fail``
        priority of anything else (a ``#fail``; triage gives outage reports that priority too),
        ``influencer`` the follower count, ``followup`` a pending follow-up (checked first: it
        queues at its level whatever its class).
        """
        if not is_preset(self.priority_rule):
            order = levels(self.priority_rule)
            conditions = {
                "outage": "kind = 'outage_report'",
                "fail": "(priority = 'fail' AND kind <> 'outage_report')",
                "influencer": f"followers_count >= {int(self.influencer_followers)}",
            }
            whens = []
            followup = level_of(order, "followup")
            if followup is not None:
                whens.append(f"WHEN awaiting_followup = 1 THEN {followup}")
            for index, level in enumerate(order):
                whens += [f"WHEN {conditions[label]} THEN {index}" for label in level if label in conditions]
            return f"CASE {' '.join(whens)} ELSE {level_of(order, 'rest')} END"
        ranked = self.priority_rule == "influencer_fail"
        if self.followups_first:
            other = "priority_rank + 1" if ranked else "1"
            return f"CASE WHEN awaiting_followup = 1 THEN 0 ELSE {other} END"
        return "priority_rank" if ranked else None

    @property
    def order_by(self) -> str:
        """The ``ORDER BY`` list (the index below has the same expressions, textually)."""
        expr = self.class_expr
        return ", ".join(([f"({expr})"] if expr else []) + ["waiting_since", "id"])

    @property
    def index_name(self) -> str:
        """Name of the queue index serving this order."""
        return f"conversations_queue_{self.tag}"

    def index_sql(self) -> str:
        """``CREATE INDEX`` serving ``WHERE status = 'waiting' ORDER BY <order_by> LIMIT 1``."""
        return f"CREATE INDEX IF NOT EXISTS {self.index_name} ON conversations (status, {self.order_by})"

    @classmethod
    def all(cls) -> tuple[QueueOrder, ...]:
        """Every order the desk can be configured with."""
        return tuple(cls(rule, ff) for rule in PRIORITY_RULES for ff in (True, False))


class NotFound(LookupError):
    """The conversation (or other record) does not exist."""


class Conflict(RuntimeError):
    """The conversation is not in a state that allows the operation (taken, closed...)."""


@dataclass(frozen=True)
class Brand:
    """Who the brand is: its user ids (configured plus each delivery's ``for_user_id``) and handle."""

    user_id: str | None = None
    screen_name: str | None = None

    def is_brand(self, for_user_id: str, author_id: str, screen_name: str = "") -> bool:
        """True when a tweet/DM author is the brand itself."""
        if author_id == for_user_id or (self.user_id is not None and author_id == self.user_id):
            return True
        return bool(self.screen_name) and screen_name.lower() == (self.screen_name or "").lower()


#: DB-API error classes that point at one delivery's data rather than at the storage: after one
#: of these a merged transaction is retried delivery by delivery.
_DATA_ERRORS = frozenset({"IntegrityError", "DataError", "ProgrammingError", "NotSupportedError"})


def is_storage_fault(exc: BaseException) -> bool:
    """True when ``exc`` is the storage failing (a full disk, a lost connection, a server
    restart, a timeout, a lock) rather than one delivery's data being refused.

    Judged by the DB-API class names (sqlite3 and psycopg share them), so that neither driver
    needs importing here; errors that are not DB-API errors (``ValueError`` from odd data, say)
    count as the delivery's.
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "Error" not in names or names & _DATA_ERRORS:
        return False
    # sqlite3.Error and psycopg.Error both descend from a class named "Error"; the operational,
    # interface, internal and plain database errors are all the storage's.
    return bool(names & {"OperationalError", "InterfaceError", "InternalError", "DatabaseError"})


class IngestResult(NamedTuple):
    """What one delivery did: events stored for the first time and redelivered duplicates, and
    its event types (:attr:`chirpdesk.desk.schema.Delivery.kinds`)."""

    stored: int = 0
    duplicates: int = 0
    kinds: str = ""


class Storage(ABC):
    """A desk database. Sync methods take a connection; ``write``/``read`` run them on threads."""

    #: Backend name, ``sqlite`` or ``postgresql``.
    backend: str = ""
    #: Appended to the claim sub-select so concurrent claimers skip rows others are locking.
    skip_locked: str = ""
    #: Appended to a single-row ``SELECT`` that is followed by an ``UPDATE`` of the same row.
    row_lock: str = ""

    def __init__(self, pool_size: int = 4, order: QueueOrder | None = None) -> None:
        #: The claim order (``chirpdesk serve --priority-rule/--followups-first``).
        self.order = order or QueueOrder()
        self._pool = ThreadPoolExecutor(pool_size, thread_name_prefix="desk-db")
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        self._sql_cache: dict[str, str] = {}

    # -- backend hooks -------------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any:
        """Open a new DB-API connection in autocommit mode (transactions are explicit)."""

    @abstractmethod
    def _transaction(self, conn: Any) -> AbstractContextManager[Any]:
        """Context manager running its block as one transaction (commit, or roll back on error)."""

    @abstractmethod
    def _types(self) -> dict[str, str]:
        """Fill-ins for :data:`SCHEMA_TEMPLATE`: ``pk``, ``float``, ``bigint``."""

    def _placeholder(self, sql: str) -> str:
        """Rewrite ``?`` placeholders into the driver's style (identity for SQLite)."""
        return sql

    def _create_schema(self, conn: Any) -> None:
        """Create tables and indexes if missing (a backend may add locking around this)."""
        with self._transaction(conn):
            self._build_schema(conn)

    def _build_schema(self, conn: Any) -> None:
        """Inside a transaction: create what is missing, migrate an older database, and keep
        exactly one queue index, the one serving :attr:`order`."""
        types = self._types()
        for statement in SCHEMA_TEMPLATE:
            conn.execute(statement.format(**types))
        self._migrate(conn, types)
        for name in self._queue_indexes(conn):
            if name != self.order.index_name:
                conn.execute(f"DROP INDEX IF EXISTS {name}")
        for legacy in _LEGACY_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {legacy}")
        conn.execute(self.order.index_sql())

    def _queue_indexes(self, conn: Any) -> list[str]:
        """Names of the queue indexes in the database (``conversations_queue_*``): one per order
        ever configured, of which only the current one is kept."""
        if self.backend == "postgresql":
            sql = ("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                   " AND tablename = 'conversations' AND indexname LIKE 'conversations_queue_%'")
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'conversations_queue_%'"
        return [row[0] for row in conn.execute(sql).fetchall()]

    def _migrate(self, conn: Any, types: dict[str, str]) -> list[str]:
        """Add the :data:`ADDED_COLUMNS` an older database lacks (``ALTER TABLE ... ADD
        COLUMN``) and back-fill them; returns the names of the columns added."""
        cur = conn.execute("SELECT * FROM conversations LIMIT 0")
        have = {d[0].lower() for d in cur.description}
        cur.fetchall()
        added = []
        for name, kind in ADDED_COLUMNS:
            if name not in have:
                conn.execute(f"ALTER TABLE conversations ADD COLUMN {name} {kind.format(**types)}")
                added.append(name)
        if added:
            conn.execute(_BACKFILL)
        return added

    # -- plumbing ------------------------------------------------------------------------------

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _x(self, conn: Any, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """Execute ``sql`` (``?`` placeholders) and return the cursor."""
        text = self._sql_cache.get(sql)
        if text is None:
            text = self._sql_cache[sql] = self._placeholder(sql)
        return conn.execute(text, params)

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(self._conn(), *args)
        except Exception as exc:
            if is_storage_fault(exc):
                self._drop_connection()  # a broken connection is never reused: the next call reconnects
            raise

    def _drop_connection(self) -> None:
        """Close and forget the calling thread's connection (after a storage fault: a server
        restart, a lost connection or a full disk can leave it broken or mid-transaction)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._connections_lock:
            if conn in self._connections:
                self._connections.remove(conn)
        with contextlib.suppress(Exception):  # it may be broken already; closing rolls back
            conn.close()

    def write_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` here, on the calling thread's own connection.

        Only the group-commit writer (the commit process, or the writer thread of
        :mod:`chirpdesk.desk.writer`) calls this, so all webhook writes of a desk process share one
        connection and one transaction per batch. After a storage fault (:func:`is_storage_fault`)
        the connection is dropped, so the next call reconnects.
        """
        return self._call(fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on the pool (agent, stats and admin calls)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(self._call, fn, *args))

    def open(self) -> None:
        """Connect once and create the schema; call before serving."""
        self._create_schema(self._connect_and_keep())

    def _connect_and_keep(self) -> Any:
        conn = self._connect()
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Finish running calls, then close every connection."""
        self._pool.shutdown(wait=True)
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(Exception):  # best effort at shutdown
                    conn.close()
            self._connections.clear()

    # -- ingestion -----------------------------------------------------------------------------

    def ingest(
        self, conn: Any, deliveries: list[Delivery], brand: Brand, influencer_followers: int,
        now: float,
    ) -> list[IngestResult | BaseException]:
        """Store a batch of deliveries received at epoch ``now`` in one transaction; one result
        (or error) per delivery. See :meth:`ingest_batches`."""
        return self.ingest_batches(conn, [(deliveries, now)], brand, influencer_followers)[0]

    def ingest_batches(
        self, conn: Any, batches: Sequence[tuple[list[Delivery], float]], brand: Brand,
        influencer_followers: int, heartbeat: float | None = None,
    ) -> list[list[IngestResult | BaseException]]:
        """Store several batches, each ``(deliveries, received at epoch s)``, in one transaction.

        Returns, per batch, one result (or error) per delivery. Duplicates (same tweet id or DM
        id) are counted, not stored again. If the transaction fails on a delivery's data, each
        delivery is retried in its own transaction so that one poisoned delivery cannot fail the
        acknowledgement of the others; if it fails on the storage (:func:`is_storage_fault`),
        this raises and no delivery is acknowledged. ``heartbeat`` (epoch s): also write
        :meth:`heartbeat` in the transaction (the writer's storage probe).
        """
        items = [(delivery, now) for deliveries, now in batches for delivery in deliveries]
        flat: list[IngestResult | BaseException]
        try:
            with self._transaction(conn):
                if heartbeat is not None:
                    self.heartbeat(conn, heartbeat)
                flat = [self._ingest_one(conn, d, brand, influencer_followers, now) for d, now in items]
        except Exception as exc:
            if len(items) + (heartbeat is not None) == 1 or is_storage_fault(exc):
                raise  # the storage failed, not a delivery: retrying each one would fail alike
            flat = self._ingest_each(conn, items, brand, influencer_followers)
        if len(flat) != len(items):  # never answer a delivery with another one's result
            raise RuntimeError(f"{len(flat)} results for {len(items)} deliveries")
        results, start = [], 0
        for deliveries, _ in batches:
            results.append(flat[start:start + len(deliveries)])
            start += len(deliveries)
        return results

    def _ingest_each(
        self, conn: Any, items: list[tuple[Delivery, float]], brand: Brand, influencer_followers: int,
    ) -> list[IngestResult | BaseException]:
        """Each delivery in its own transaction (after a merged transaction failed on one of
        them): one result per delivery. A result is taken only once its transaction has
        committed; after a storage fault the rest fail with it, untried."""
        flat: list[IngestResult | BaseException] = []
        for delivery, now in items:
            try:
                with self._transaction(conn):
                    result = self._ingest_one(conn, delivery, brand, influencer_followers, now)
            except Exception as exc:  # noqa: BLE001 - reported to that delivery's request
                if is_storage_fault(exc):
                    self._drop_connection()
                    return flat + [exc] * (len(items) - len(flat))
                flat.append(exc)
            else:
                flat.append(result)
        return flat

    def _ingest_one(
        self, conn: Any, delivery: Delivery, brand: Brand, influencer_followers: int, now: float
    ) -> IngestResult:
        stored = duplicates = 0
        for tweet in delivery.tweets:
            if self._ingest_tweet(conn, tweet, delivery.for_user_id, brand, influencer_followers, now):
                stored += 1
            else:
                duplicates += 1
        for dm in delivery.direct_messages:
            if self._ingest_dm(conn, dm, delivery.for_user_id, brand, influencer_followers, now):
                stored += 1
            else:
                duplicates += 1
        return IngestResult(stored, duplicates, delivery.kinds)

    def _ingest_tweet(
        self, conn: Any, t: Tweet, for_user_id: str, brand: Brand, influencer_followers: int,
        now: float,
    ) -> bool:
        is_brand = brand.is_brand(for_user_id, t.author_id, t.screen_name)
        reply_to = t.in_reply_to_status_id_str
        # Insert first: the primary key makes redelivery idempotent even across processes, and
        # nothing else is touched for a duplicate (no row comes back). The same statement looks
        # up the conversation the tweet belongs to (see _TWEET_INSERT), so a follow-up costs two
        # statements and a new conversation three.
        if is_brand:
            row = self._x(
                conn, _TWEET_INSERT_BRAND_REPLY if reply_to else _TWEET_INSERT_BRAND,
                (t.id_str, for_user_id, t.author_id, t.screen_name, t.followers_count, t.text,
                 t.created_at, reply_to, 1, None, None, now,
                 *((reply_to,) if reply_to else ())),
            ).fetchone()
            if row is None:
                return False
            if row[0] is not None:
                # The brand answered (natively on X, not through the agent API): this closes the wait.
                by = f"brand:@{t.screen_name}" if t.screen_name else "brand"
                self._record_response(conn, row[0], t.created_at, by)
            return True
        tri = triage(t.text, t.followers_count, influencer_followers)
        row = self._x(
            conn, _TWEET_INSERT_REPLY if reply_to else _TWEET_INSERT,
            (t.id_str, for_user_id, t.author_id, t.screen_name, t.followers_count, t.text,
             t.created_at, reply_to, 0, tri.kind, tri.priority, now,
             *((reply_to, t.author_id) if reply_to else (t.author_id,))),
        ).fetchone()
        if row is None:
            return False
        conv_id = row[0]
        if conv_id is not None:
            self._follow_up(conn, conv_id, tri.priority, tri.rank, t.created_at)
            return True
        conv_id = self._new_conversation(
            conn, t.author_id, t.screen_name, t.followers_count, t.id_str, t.created_at,
            tri.kind, tri.priority, tri.rank, "public",
        )
        self._x(conn, "UPDATE tweets SET conversation_id = ? WHERE id_str = ?", (conv_id, t.id_str))
        return True

    def _ingest_dm(
        self, conn: Any, dm: DirectMessage, for_user_id: str, brand: Brand, influencer_followers: int,
        now: float,
    ) -> bool:
        is_brand = brand.is_brand(for_user_id, dm.sender_id)
        # As for tweets: insert first (idempotent), looking up the open conversation of the
        # customer (the recipient of a brand DM, else the sender) in the same statement.
        row = self._x(
            conn, _DM_INSERT,
            (dm.id, for_user_id, dm.sender_id, dm.recipient_id, dm.text, dm.created_at,
             int(is_brand), now, dm.recipient_id if is_brand else dm.sender_id),
        ).fetchone()
        if row is None:
            return False
        conv_id = row[0]
        if is_brand:
            if conv_id is not None:
                self._record_response(conn, conv_id, dm.created_at, "brand:dm")
            return True
        tri = triage(dm.text, 0, influencer_followers)
        if conv_id is not None:
            self._follow_up(conn, conv_id, tri.priority, tri.rank, dm.created_at)
            return True
        conv_id = self._new_conversation(
            conn, dm.sender_id, "", 0, None, dm.created_at, tri.kind, tri.priority, tri.rank, "dm"
        )
        self._x(conn, "UPDATE direct_messages SET conversation_id = ? WHERE id = ?", (conv_id, dm.id))
        return True

    def _new_conversation(
        self, conn: Any, author_id: str, screen_name: str, followers: int, tweet_id: str | None,
        created_at: float, kind: str, priority: str, rank: int, channel: str,
    ) -> int:
        """Open a conversation for a customer's first message; returns its id."""
        status = "spam" if kind == "spam" else "waiting"
        row = self._x(
            conn,
            "INSERT INTO conversations (author_id, screen_name, followers_count, channel, status,"
            " kind, priority, priority_rank, first_tweet_id, first_tweet_at, last_activity_at,"
            " waiting_since, awaiting_followup)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) RETURNING id",
            (author_id, screen_name, followers, channel, status, kind, priority, rank, tweet_id,
             created_at, created_at, created_at),
        ).fetchone()
        return int(row[0])

    def _follow_up(self, conn: Any, conv_id: int, priority: str, rank: int, created_at: float) -> None:
        """A customer's further message on an open conversation.

        A follow-up raises the priority if it is more urgent. A customer writing again after
        the brand's answer starts a new wait, on a follow-up, from this message's time: an
        answered conversation goes back to the queue; a held one whose holder has already
        answered is marked, so that releasing it puts it back in the queue rather than away.
        (Every SET expression reads the row as it was, so ``reopen`` is evaluated once.)
        """
        # Usually only the activity time moves: then one narrow UPDATE that leaves the queue and
        # author indexes alone (SQLite rewrites the index entries of every column SET names).
        if self._x(conn, _FOLLOW_UP_QUIET, (created_at, created_at, conv_id, rank)).rowcount == 1:
            return
        self._x(conn, _FOLLOW_UP, (rank, priority, rank, rank, created_at, created_at, created_at, conv_id))

    def _record_response(self, conn: Any, conv_id: int, at: float, by: str, held: bool = False) -> None:
        """Record a response by the brand: the first one sets FRT = ``at`` - first message time
        (>= 0); any response ends the current wait (a waiting conversation becomes answered, a
        pending follow-up is answered).

        ``held``: an agent answered a conversation it holds (always ends the wait). Otherwise
        the brand answered natively on X; a reply dated before a pending follow-up's message
        (a late delivery) answers an earlier turn and leaves the follow-up waiting.
        """
        ends = "1 = 1" if held else "(awaiting_followup = 0 OR ? >= waiting_since)"
        params: tuple[Any, ...] = () if held else (at,)
        self._x(
            conn,
            "UPDATE conversations SET"
            " first_response_seconds = COALESCE(first_response_seconds,"
            "   CASE WHEN ? > first_tweet_at THEN ? - first_tweet_at ELSE 0 END),"
            " first_response_by = COALESCE(first_response_by, ?),"
            " first_response_at = COALESCE(first_response_at, ?),"
            f" status = CASE WHEN status = 'waiting' AND {ends} THEN 'answered' ELSE status END,"
            f" awaiting_followup = CASE WHEN {ends} THEN 0 ELSE awaiting_followup END,"
            " last_activity_at = CASE WHEN ? > last_activity_at THEN ? ELSE last_activity_at END"
            " WHERE id = ?",
            (at, at, by, at, *params, *params, at, at, conv_id),
        )

    # -- agents --------------------------------------------------------------------------------

    def upsert_agent(self, conn: Any, name: str, token_sha256: str, now: float) -> int:
        """Create agent ``name`` or reset its token; returns the agent id."""
        with self._transaction(conn):
            row = self._x(
                conn,
                "INSERT INTO agents (name, token_sha256, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET token_sha256 = excluded.token_sha256"
                " RETURNING id",
                (name, token_sha256, now),
            ).fetchone()
        return int(row[0])

    def agent_by_token(self, conn: Any, token_sha256: str) -> tuple[int, str] | None:
        """The ``(id, name)`` of the agent with this token hash, or ``None``."""
        row = self._x(conn, "SELECT id, name FROM agents WHERE token_sha256 = ?", (token_sha256,)).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def list_agents(self, conn: Any) -> list[dict[str, Any]]:
        """All agents as ``{"id", "name", "created_at"}`` (never their tokens)."""
        rows = self._x(conn, "SELECT id, name, created_at FROM agents ORDER BY id").fetchall()
        return [{"id": r[0], "name": r[1], "created_at": r[2]} for r in rows]

    # -- the agent desk ------------------------------------------------------------------------

    def _conversation(self, conn: Any, conv_id: int, lock: bool = False) -> dict[str, Any]:
        suffix = f" {self.row_lock}" if lock and self.row_lock else ""
        row = self._x(conn, f"{_CONV_SELECT} WHERE id = ?{suffix}", (conv_id,)).fetchone()
        if row is None:
            raise NotFound(f"conversation {conv_id} does not exist")
        return dict(zip(CONVERSATION_COLUMNS, row, strict=True))

    def claim_next(self, conn: Any, agent_id: int, now: float) -> dict[str, Any] | None:
        """Atomically give the most urgent waiting conversation to ``agent_id``; ``None`` if none.

        Most urgent is first in :attr:`order` (see :class:`QueueOrder`), which the queue index
        serves directly: no sort, one index probe.

        The ``status = 'waiting'`` re-check in the ``UPDATE`` is what makes two concurrent
        claimers unable to take the same row; on PostgreSQL ``SKIP LOCKED`` additionally lets a
        second claimer move on to the next row instead of waiting for the first.
        """
        with self._transaction(conn):
            row = self._x(
                conn,
                "UPDATE conversations SET status = 'claimed', claimed_by = ?, claimed_at = ?"
                " WHERE id = (SELECT id FROM conversations WHERE status = 'waiting'"
                f"   ORDER BY {self.order.order_by} LIMIT 1 {self.skip_locked})"
                " AND status = 'waiting' RETURNING id",
                (agent_id, now),
            ).fetchone()
            if row is None:
                return None
            return self._conversation(conn, int(row[0]))

    def claim(self, conn: Any, conv_id: int, agent_id: int, now: float) -> dict[str, Any]:
        """Claim one given conversation; :class:`Conflict` if it is not waiting."""
        with self._transaction(conn):
            row = self._x(
                conn,
                "UPDATE conversations SET status = 'claimed', claimed_by = ?, claimed_at = ?"
                " WHERE id = ? AND status = 'waiting' RETURNING id",
                (agent_id, now, conv_id),
            ).fetchone()
            conv = self._conversation(conn, conv_id)
            if row is None:
                if conv["status"] == "claimed" and conv["claimed_by"] == agent_id:
                    return conv  # claiming what you already hold is harmless (retries)
                raise Conflict(f"conversation {conv_id} is {conv['status']}, not waiting")
            return conv

    def _held(self, conn: Any, conv_id: int, agent_id: int) -> dict[str, Any]:
        conv = self._conversation(conn, conv_id, lock=True)
        if conv["status"] != "claimed" or conv["claimed_by"] != agent_id:
            raise Conflict(f"conversation {conv_id} is {conv['status']} and not held by you; claim it first")
        return conv

    def reply(
        self, conn: Any, conv_id: int, agent_id: int, agent_name: str, text: str, channel: str,
        now: float,
    ) -> dict[str, Any]:
        """Record an agent's reply (public or DM) on a conversation the agent holds.

        The first reply sets the first-response time: ``now`` minus the first message's
        ``created_at``, in seconds. Replies are kept in ``replies`` (the outbox a poster would
        send to X). Returns ``{"reply_id", "conversation"}``.
        """
        with self._transaction(conn):
            self._held(conn, conv_id, agent_id)
            row = self._x(
                conn,
                "INSERT INTO replies (conversation_id, agent_id, channel, text, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (conv_id, agent_id, channel, text, now),
            ).fetchone()
            self._record_response(conn, conv_id, now, f"agent:{agent_name}", held=True)
            if channel == "dm":
                self._x(conn, "UPDATE conversations SET channel = 'dm' WHERE id = ?", (conv_id,))
            return {"reply_id": int(row[0]), "conversation": self._conversation(conn, conv_id)}

    def escalate(
        self, conn: Any, conv_id: int, agent_id: int, target: str, note: str | None, now: float
    ) -> dict[str, Any]:
        """Open a ticket towards ``target`` (email/phone/ticket/dm) and mark the conversation
        escalated. Returns ``{"ticket": {...}, "conversation": {...}}``."""
        with self._transaction(conn):
            self._held(conn, conv_id, agent_id)
            row = self._x(
                conn,
                "INSERT INTO tickets (conversation_id, agent_id, target, note, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (conv_id, agent_id, target, note, now),
            ).fetchone()
            self._x(
                conn,
                "UPDATE conversations SET status = 'escalated', last_activity_at = ? WHERE id = ?",
                (now, conv_id),
            )
            ticket = {"id": int(row[0]), "conversation_id": conv_id, "agent_id": agent_id,
                      "target": target, "note": note, "created_at": now}
            return {"ticket": ticket, "conversation": self._conversation(conn, conv_id)}

    def resolve(self, conn: Any, conv_id: int, agent_id: int, now: float) -> dict[str, Any]:
        """Close a conversation the agent holds (or escalated, or that was answered)."""
        with self._transaction(conn):
            conv = self._conversation(conn, conv_id, lock=True)
            mine = conv["claimed_by"] == agent_id
            if conv["status"] in ("resolved", "spam") or (
                conv["status"] in ("claimed", "escalated") and not mine
            ) or conv["status"] == "waiting":
                raise Conflict(f"conversation {conv_id} is {conv['status']}; claim it before resolving")
            self._x(
                conn,
                "UPDATE conversations SET status = 'resolved', resolved_at = ?, last_activity_at = ?"
                " WHERE id = ?",
                (now, now, conv_id),
            )
            return self._conversation(conn, conv_id)

    def release(self, conn: Any, conv_id: int, agent_id: int, now: float) -> dict[str, Any]:
        """Hand a held conversation back: ``waiting`` if the customer's last message is
        unanswered (no first response yet, or a pending follow-up), else ``answered``. Its place
        in the queue is where it was: ``waiting_since`` is unchanged."""
        with self._transaction(conn):
            self._held(conn, conv_id, agent_id)
            self._x(
                conn,
                "UPDATE conversations SET claimed_by = NULL, claimed_at = NULL,"
                " status = CASE WHEN first_response_at IS NULL OR awaiting_followup = 1"
                "   THEN 'waiting' ELSE 'answered' END"
                " WHERE id = ?",
                (conv_id,),
            )
            return self._conversation(conn, conv_id)

    def conversation_detail(self, conn: Any, conv_id: int) -> dict[str, Any]:
        """A conversation with its tweets, DMs, replies and tickets (oldest first)."""
        conv = self._conversation(conn, conv_id)
        conv["tweets"] = [
            dict(zip(("id_str", "author_id", "screen_name", "text", "created_at", "is_brand",
                      "in_reply_to_status_id_str", "kind", "priority"), r, strict=True))
            for r in self._x(
                conn,
                "SELECT id_str, author_id, screen_name, text, created_at, is_brand,"
                " in_reply_to_status_id_str, kind, priority FROM tweets"
                " WHERE conversation_id = ? ORDER BY created_at, id_str",
                (conv_id,),
            ).fetchall()
        ]
        conv["direct_messages"] = [
            dict(zip(("id", "sender_id", "text", "created_at", "is_brand"), r, strict=True))
            for r in self._x(
                conn,
                "SELECT id, sender_id, text, created_at, is_brand FROM direct_messages"
                " WHERE conversation_id = ? ORDER BY created_at, id",
                (conv_id,),
            ).fetchall()
        ]
        conv["replies"] = [
            dict(zip(("id", "agent_id", "channel", "text", "created_at"), r, strict=True))
            for r in self._x(
                conn,
                "SELECT id, agent_id, channel, text, created_at FROM replies"
                " WHERE conversation_id = ? ORDER BY id",
                (conv_id,),
            ).fetchall()
        ]
        conv["tickets"] = [
            dict(zip(("id", "agent_id", "target", "note", "created_at"), r, strict=True))
            for r in self._x(
                conn,
                "SELECT id, agent_id, target, note, created_at FROM tickets"
                " WHERE conversation_id = ? ORDER BY id",
                (conv_id,),
            ).fetchall()
        ]
        return conv

    def list_conversations(self, conn: Any, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Conversations in queue order (most urgent first), optionally of one status."""
        where, params = ("WHERE status = ?", (status, limit)) if status else ("", (limit,))
        rows = self._x(
            conn,
            f"{_CONV_SELECT} {where} ORDER BY {self.order.order_by} LIMIT ?",
            params,
        ).fetchall()
        return [dict(zip(CONVERSATION_COLUMNS, r, strict=True)) for r in rows]

    # -- statistics ----------------------------------------------------------------------------

    def first_responses(self, conn: Any) -> list[dict[str, Any]]:
        """Every recorded first response, in the order they happened."""
        cols = ("conversation_id", "first_tweet_id", "first_tweet_at", "first_response_at",
                "seconds", "by", "kind", "priority")
        rows = self._x(
            conn,
            "SELECT id, first_tweet_id, first_tweet_at, first_response_at, first_response_seconds,"
            " first_response_by, kind, priority FROM conversations"
            " WHERE first_response_seconds IS NOT NULL ORDER BY first_response_at, id",
        ).fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def heartbeat(self, conn: Any, now: float) -> None:
        """Inside the caller's transaction: write a fresh heartbeat row (a page of new data, as
        a tweet needs) and drop the older ones; the group-commit writer's storage probe."""
        row = self._x(conn, "INSERT INTO desk_heartbeat (at, room) VALUES (?, ?) RETURNING id",
                      (now, secrets.token_hex(HEARTBEAT_ROOM // 2))).fetchone()
        self._x(conn, "DELETE FROM desk_heartbeat WHERE id <> ?", (row[0],))

    def ping(self, conn: Any) -> bool:
        """True when the database answers a trivial query (health check)."""
        return self._x(conn, "SELECT 1").fetchone()[0] == 1

    def first_response_seconds(self, conn: Any) -> list[float]:
        """Every recorded first-response time, seconds (for percentiles and histograms)."""
        rows = self._x(
            conn, "SELECT first_response_seconds FROM conversations WHERE first_response_seconds IS NOT NULL"
        ).fetchall()
        return [float(r[0]) for r in rows]

    def summary(self, conn: Any, sla_cutoff: float) -> dict[str, Any]:
        """Counts for ``/stats`` and ``/metrics``: conversations by status, the oldest start of
        a current wait, waiting conversations whose current wait started before ``sla_cutoff``
        (epoch seconds; for a new conversation that is its first message, for a follow-up the
        follow-up), escalations by target, stored tweets and DMs."""
        by_status = {s: 0 for s in STATUSES}
        for status, count in self._x(conn, "SELECT status, COUNT(*) FROM conversations GROUP BY status"):
            by_status[str(status)] = int(count)
        oldest = self._x(
            conn, "SELECT MIN(waiting_since) FROM conversations WHERE status = 'waiting'"
        ).fetchone()[0]
        escalations = {
            str(target): int(count)
            for target, count in self._x(conn, "SELECT target, COUNT(*) FROM tickets GROUP BY target")
        }
        over = self._x(
            conn,
            "SELECT COUNT(*) FROM conversations WHERE status = 'waiting' AND waiting_since < ?",
            (sla_cutoff,),
        ).fetchone()[0]
        tweets = int(self._x(conn, "SELECT COUNT(*) FROM tweets").fetchone()[0])
        dms = int(self._x(conn, "SELECT COUNT(*) FROM direct_messages").fetchone()[0])
        return {"by_status": by_status, "oldest_waiting_at": oldest, "escalations": escalations,
                "waiting_over_sla": int(over), "tweets": tweets, "direct_messages": dms}

    def tweet_ids(self, conn: Any, after: str, limit: int) -> list[str]:
        """Stored tweet ids greater than ``after`` (string order), at most ``limit``."""
        rows = self._x(
            conn, "SELECT id_str FROM tweets WHERE id_str > ? ORDER BY id_str LIMIT ?", (after, limit)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def iter_tweets(self, conn: Any) -> Iterator[tuple[Any, ...]]:
        """Yield ``(id_str, conversation_id, created_at, received_at)`` for every stored tweet."""
        yield from self._x(
            conn, "SELECT id_str, conversation_id, created_at, received_at FROM tweets ORDER BY id_str"
        )
