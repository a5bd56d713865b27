"""Desk configuration: one frozen dataclass, filled from defaults, environment and CLI flags.

Environment variables (all optional) mirror the ``chirpdesk serve`` flags so that a deployment can
be configured without a command line, and so that uvicorn worker processes (``--workers N``), which
re-import the app, see the same settings as the parent:

==================================  =========================================================
``CHIRPDESK_DB``                    database URL or SQLite path (default ``./chirpdesk-desk.sqlite3``)
``CHIRPDESK_SECRET``                X consumer secret: signs CRC answers and verifies deliveries
``CHIRPDESK_BRAND_USER_ID``         the brand's numeric user id (else learnt from ``for_user_id``)
``CHIRPDESK_BRAND_SCREEN_NAME``     the brand's handle, without ``@``
``CHIRPDESK_SLA_SECONDS``           first-response SLA threshold in seconds (default 600)
``CHIRPDESK_INFLUENCER_FOLLOWERS``  follower count from which an author is an influencer
``CHIRPDESK_AGENTS``                ``name:token,name2:token2`` agents to create at start-up
``CHIRPDESK_ADMIN_TOKEN``           bearer token for ``/admin/agents`` (admin API off when unset)
``CHIRPDESK_MAX_BODY_BYTES``        largest accepted request body in bytes (default 1 MiB)
``CHIRPDESK_QUEUE_MAX``             pending webhook deliveries before 429 (default 2000)
``CHIRPDESK_BATCH_MAX``             deliveries committed per group-commit transaction (default 512)
``CHIRPDESK_ACK_TIMEOUT``           seconds a delivery waits for its commit before 503 (default 8)
``CHIRPDESK_DB_POOL``               database connections for agent/stat requests (default 4)
``CHIRPDESK_SQLITE_SYNCHRONOUS``    SQLite ``synchronous`` pragma: FULL (default) or NORMAL
``CHIRPDESK_WRITE_DELAY``           extra seconds per group commit, to rehearse a slow disk
``CHIRPDESK_SQLITE_MAX_PAGES``      cap the SQLite file at this many pages (0: no cap): a quota, or a disk-full drill
``CHIRPDESK_PRIORITY_RULE``         claim order: ``influencer_fail`` (default) or ``fifo``
``CHIRPDESK_FOLLOWUPS_FIRST``       ``true`` (default) or ``false``: follow-ups ahead of new tweets
``CHIRPDESK_WRITER``                group commits in a child ``process`` (default) or a ``thread``
``CHIRPDESK_MAX_CONNECTIONS``       open connections kept at most; more are answered 503 (default 1024)
``CHIRPDESK_IDLE_TIMEOUT``          seconds a connection may sit without a request (default 5)
``CHIRPDESK_READ_TIMEOUT``          seconds a request may take to arrive after its first byte, else 408 (default 10)
``CHIRPDESK_MAX_HEADER_BYTES``      largest request head, bytes, else 431 (default 16384)
``CHIRPDESK_LAG_BUDGET``            event-loop lateness, seconds, from which deliveries are shed with 429 (default 0.1)
``CHIRPDESK_MAX_IN_FLIGHT``         deliveries read and not yet answered, from which new ones are shed with 429 (default 256)
==================================  =========================================================
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.priority import parse_order
from chirpdesk.sim.vocabulary import DEFAULT_INFLUENCER_FOLLOWERS, PRIORITY_RULES

#: Where ``chirpdesk serve`` keeps its data when no ``--db`` is given.
DEFAULT_DB = "./chirpdesk-desk.sqlite3"

#: Environment variable for each config field that can be set from the environment.
ENV_VARS: dict[str, str] = {
    "db": "CHIRPDESK_DB",
    "secret": "CHIRPDESK_SECRET",
    "brand_user_id": "CHIRPDESK_BRAND_USER_ID",
    "brand_screen_name": "CHIRPDESK_BRAND_SCREEN_NAME",
    "sla_seconds": "CHIRPDESK_SLA_SECONDS",
    "influencer_followers": "CHIRPDESK_INFLUENCER_FOLLOWERS",
    "agents": "CHIRPDESK_AGENTS",
    "admin_token": "CHIRPDESK_ADMIN_TOKEN",
    "max_body_bytes": "CHIRPDESK_MAX_BODY_BYTES",
    "queue_max": "CHIRPDESK_QUEUE_MAX",
    "batch_max": "CHIRPDESK_BATCH_MAX",
    "ack_timeout": "CHIRPDESK_ACK_TIMEOUT",
    "db_pool": "CHIRPDESK_DB_POOL",
    "sqlite_synchronous": "CHIRPDESK_SQLITE_SYNCHRONOUS",
    "write_delay": "CHIRPDESK_WRITE_DELAY",
    "sqlite_max_pages": "CHIRPDESK_SQLITE_MAX_PAGES",
    "priority_rule": "CHIRPDESK_PRIORITY_RULE",
    "followups_first": "CHIRPDESK_FOLLOWUPS_FIRST",
    "writer": "CHIRPDESK_WRITER",
    "max_connections": "CHIRPDESK_MAX_CONNECTIONS",
    "idle_timeout": "CHIRPDESK_IDLE_TIMEOUT",
    "read_timeout": "CHIRPDESK_READ_TIMEOUT",
    "max_header_bytes": "CHIRPDESK_MAX_HEADER_BYTES",
    "lag_budget": "CHIRPDESK_LAG_BUDGET",
    "max_in_flight": "CHIRPDESK_MAX_IN_FLIGHT",
}

#: Where group commits run (:attr:`DeskConfig.writer`).
WRITERS = ("process", "thread")

#: Spellings accepted for booleans in the environment (case-insensitive).
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class DeskConfig:
    """Everything the desk app needs to run; see the module docstring for the env variables."""

    #: Database URL (``postgresql://...``, ``sqlite:///path``) or a plain SQLite file path.
    db: str = DEFAULT_DB
    #: X app consumer secret (HMAC-SHA256 key). Empty means "generate one at start-up".
    secret: str = ""
    #: The brand's user id; deliveries' ``for_user_id`` is also treated as the brand.
    brand_user_id: str | None = None
    #: The brand's screen name (case-insensitive, without ``@``).
    brand_screen_name: str | None = None
    #: First-response SLA threshold, seconds.
    sla_seconds: float = 600.0
    #: Follower count from which an author is prioritised as an influencer.
    influencer_followers: int = DEFAULT_INFLUENCER_FOLLOWERS
    #: Agents created (or whose token is reset) at start-up: name -> bearer token.
    agents: dict[str, str] = field(default_factory=dict)
    #: Bearer token for the admin API; ``None`` disables it.
    admin_token: str | None = None
    #: Largest request body accepted, bytes (larger answers 413).
    max_body_bytes: int = 1 << 20
    #: Deliveries that may wait for the group-commit writer before new ones get 429.
    queue_max: int = 2000
    #: Most deliveries committed in one transaction.
    batch_max: int = 512
    #: Seconds a delivery waits for its commit before answering 503 (X gives up after 10 s).
    ack_timeout: float = 8.0
    #: Database connections (threads) serving agent, stats and admin requests.
    db_pool: int = 4
    #: SQLite ``PRAGMA synchronous``: ``FULL`` survives power loss, ``NORMAL`` only crashes.
    sqlite_synchronous: str = "FULL"
    #: Artificial extra seconds per group commit (capacity drills; keep 0 in production).
    write_delay: float = 0.0
    #: SQLite ``PRAGMA max_page_count`` on every connection (0: SQLite's own limit). A quota that
    #: keeps the desk from filling a shared disk, and the portable way to rehearse a full one.
    sqlite_max_pages: int = 0
    #: Claim order between classes, as a scenario's ``[handling] priority``
    #: (:data:`chirpdesk.sim.vocabulary.PRIORITY_RULES`): ``influencer_fail`` serves ``fail`` (``#fail`` or
    #: outage report), then ``influencer``, then ``normal``; ``fifo`` ignores the priority class.
    priority_rule: str = "influencer_fail"
    #: As ``[handling] followups_first``: a customer's follow-up (a message after the brand
    #: answered) is served ahead of every new conversation.
    followups_first: bool = True
    #: Where webhook batches are committed: ``process`` (a child process with its own database
    #: connection, so SQL and fsync never hold the HTTP process's GIL) or ``thread`` (a thread
    #: of the HTTP process). Same transactions and durability either way.
    writer: str = "process"
    #: Open connections kept at most (see :mod:`chirpdesk.desk.connections`); a new connection
    #: beyond this is answered 503 with ``Retry-After`` and closed.
    max_connections: int = 1024
    #: Seconds a connection may stay open without starting a request (also the keep-alive).
    idle_timeout: float = 5.0
    #: Seconds from a request's first byte until all of it has arrived; 408 and closed after.
    read_timeout: float = 10.0
    #: Largest request head (request line and headers), bytes; 431 beyond.
    max_header_bytes: int = 16 * 1024
    #: Event-loop lateness, seconds, from which new webhook deliveries are shed with 429.
    lag_budget: float = 0.1
    #: Webhook deliveries this HTTP process has read whole and not yet answered from which a new
    #: one is shed with 429: past this, more concurrency adds waiting, not
    #: throughput (the group commit is already merging full transactions).
    max_in_flight: int = 256

    def with_overrides(self, **overrides: Any) -> DeskConfig:
        """Return a copy with every non-``None`` override applied (CLI flags over env)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def ensure_secret(self) -> DeskConfig:
        """Return a copy with a random secret when none is configured (dev convenience)."""
        if self.secret:
            return self
        return replace(self, secret=secrets.token_urlsafe(32))

    def validate(self) -> DeskConfig:
        """Check value ranges; raises :class:`ChirpdeskError` naming the bad setting."""
        checks = [
            ("sla_seconds", self.sla_seconds > 0, "a number > 0 (seconds)"),
            ("influencer_followers", self.influencer_followers >= 0, "an integer >= 0"),
            ("max_body_bytes", self.max_body_bytes >= 1024, "an integer >= 1024 (bytes)"),
            ("queue_max", self.queue_max >= 1, "an integer >= 1"),
            ("batch_max", self.batch_max >= 1, "an integer >= 1"),
            ("ack_timeout", 0 < self.ack_timeout <= 9.5,
             "seconds in (0, 9.5] (X's deadline is 10 s; the watchdog may answer up to 0.25 s late)"),
            ("db_pool", self.db_pool >= 1, "an integer >= 1"),
            ("sqlite_synchronous", self.sqlite_synchronous in ("FULL", "NORMAL", "EXTRA"),
             "FULL, NORMAL or EXTRA"),
            ("write_delay", self.write_delay >= 0, "a number >= 0 (seconds)"),
            ("sqlite_max_pages", self.sqlite_max_pages >= 0, "an integer >= 0 (pages; 0: no cap)"),
            ("priority_rule", _valid_order(self.priority_rule), ORDER_HELP),
            ("followups_first", isinstance(self.followups_first, bool), "true or false"),
            ("writer", self.writer in WRITERS, "one of " + ", ".join(WRITERS)),
            ("max_connections", self.max_connections >= 1, "an integer >= 1"),
            ("idle_timeout", self.idle_timeout > 0, "a number > 0 (seconds)"),
            ("read_timeout", self.read_timeout > 0, "a number > 0 (seconds)"),
            ("max_header_bytes", self.max_header_bytes >= 1024, "an integer >= 1024 (bytes)"),
            ("lag_budget", self.lag_budget > 0, "a number > 0 (seconds)"),
            ("max_in_flight", self.max_in_flight >= 1, "an integer >= 1"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ChirpdeskError(f"desk config {name}: got {getattr(self, name)!r}, expected {expected}")
        return self


#: What an order may be, for error messages.
ORDER_HELP = ("one of " + ", ".join(PRIORITY_RULES) + " or an order such as outage>fail>influencer>followup>rest "
              "(classes: outage, fail, influencer, followup, rest; '+' joins a tie)")


def check_order(raw: str, where: str) -> str:
    """``raw`` if it is a claim order the desk knows, else :class:`ChirpdeskError` naming ``where``."""
    rule = raw.strip()
    if not _valid_order(rule):
        raise ChirpdeskError(f"{where}: got {raw!r}, expected {ORDER_HELP}")
    return rule


def _valid_order(rule: str) -> bool:
    if rule in PRIORITY_RULES:
        return True
    try:
        parse_order(rule)
    except ValueError:
        return False
    return True


def parse_agents(spec: str) -> dict[str, str]:
    """Parse ``name:token,name2:token2`` into a dict; raises :class:`ChirpdeskError` if malformed."""
    agents: dict[str, str] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, token = part.partition(":")
        if not sep or not name.strip() or len(token.strip()) < 8:
            raise ChirpdeskError(
                f"CHIRPDESK_AGENTS: bad entry {part!r}, expected name:token with a token of >= 8 chars"
            )
        agents[name.strip()] = token.strip()
    return agents


def format_agents(agents: Mapping[str, str]) -> str:
    """Inverse of :func:`parse_agents` (used to hand agents to worker processes)."""
    return ",".join(f"{name}:{token}" for name, token in agents.items())


def _convert(name: str, raw: str) -> Any:
    kinds = {f.name: f.type for f in fields(DeskConfig)}
    kind = kinds[name]
    try:
        if name == "agents":
            return parse_agents(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ChirpdeskError(f"{ENV_VARS[name]}: got {raw!r}, expected a number") from None
    if name == "sqlite_synchronous":
        return raw.upper()
    if kind == "bool":
        value = raw.strip().lower()
        if value not in _TRUE + _FALSE:
            raise ChirpdeskError(f"{ENV_VARS[name]}: got {raw!r}, expected true or false")
        return value in _TRUE
    if name == "priority_rule":
        return check_order(raw, ENV_VARS[name])
    choices = {"writer": WRITERS}.get(name)
    if choices is not None:
        if raw.strip() not in choices:
            raise ChirpdeskError(f"{ENV_VARS[name]}: got {raw!r}, expected one of {', '.join(choices)}")
        return raw.strip()
    return raw


def config_from_env(environ: Mapping[str, str] | None = None, base: DeskConfig | None = None) -> DeskConfig:
    """Build a :class:`DeskConfig` from ``CHIRPDESK_*`` variables on top of ``base`` (defaults)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, var in ENV_VARS.items():
        raw = env.get(var)
        if raw is not None and raw != "":
            values[name] = _convert(name, raw)
    return replace(base or DeskConfig(), **values).validate()


def config_to_env(config: DeskConfig) -> dict[str, str]:
    """The environment variables that reproduce ``config`` in another process."""
    env: dict[str, str] = {}
    for name, var in ENV_VARS.items():
        value = getattr(config, name)
        if value is None:
            continue
        if name == "agents":
            env[var] = format_agents(value)
        elif isinstance(value, bool):
            env[var] = "true" if value else "false"
        else:
            env[var] = str(value)
    return env
