"""The running desk: configuration, storage, group-commit writer, metrics and agent cache.

One :class:`DeskState` lives on ``app.state.desk`` between the app's start-up and shutdown.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

from chirpdesk.desk.committer import CommitProcess
from chirpdesk.desk.config import DeskConfig
from chirpdesk.desk.metrics import Metrics
from chirpdesk.desk.storage import open_storage
from chirpdesk.desk.storage_base import Brand, Storage
from chirpdesk.desk.writer import Committer, GroupCommitWriter, ThreadCommitter

log = logging.getLogger("desk")

#: Seconds the shutdown waits for queued deliveries to commit before answering them 503.
DRAIN_SECONDS = 5.0
#: Seconds the shutdown waits for database calls still running (a hung query, a lock).
CLOSE_SECONDS = 3.0


def token_hash(token: str) -> str:
    """SHA-256 hex of a bearer token: the database never stores tokens themselves."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class DeskState:
    """Everything the routes share; :meth:`start` and :meth:`stop` bracket serving."""

    def __init__(self, config: DeskConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.brand = Brand(config.brand_user_id, config.brand_screen_name)
        self.storage: Storage = open_storage(config)
        committer: Committer
        if config.writer == "process":
            committer = CommitProcess(config)
        else:
            committer = ThreadCommitter(self.storage, self.brand, config.influencer_followers,
                                        config.write_delay, config.batch_max)
        self.writer = GroupCommitWriter(
            committer, self.metrics, queue_max=config.queue_max, batch_max=config.batch_max,
            ack_timeout=config.ack_timeout,
        )
        #: token hash -> (agent id, name); agents are never deleted, so entries stay valid.
        self.agents: dict[str, tuple[int, str]] = {}
        self.started_at = time.time()

    async def start(self) -> None:
        """Open the database (creating the schema), register configured agents, start the writer
        (with the default ``writer = "process"``, once its commit process has connected)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.storage.open)
        for name, token in self.config.agents.items():
            await self.storage.read(self.storage.upsert_agent, name, token_hash(token), time.time())
        await self.writer.start()
        log.info("desk ready: %s backend, %d configured agents", self.storage.backend, len(self.config.agents))

    async def stop(self) -> None:
        """Commit what is still queued (for at most :data:`DRAIN_SECONDS`; the rest is answered
        503), then close the database (waiting at most :data:`CLOSE_SECONDS` for calls still
        running on it): a shutdown is bounded whatever the storage is doing."""
        await self.writer.stop(DRAIN_SECONDS)
        closing = asyncio.get_running_loop().run_in_executor(None, self.storage.close)
        try:
            await asyncio.wait_for(closing, CLOSE_SECONDS)
        except TimeoutError:
            log.error("shutdown: database calls still running after %.0f s; exiting without them", CLOSE_SECONDS)
            return
        log.info("desk stopped: write queue flushed")

    async def agent_for(self, token: str) -> tuple[int, str] | None:
        """The ``(id, name)`` of the agent holding ``token``, or ``None``."""
        digest = token_hash(token)
        agent = self.agents.get(digest)
        if agent is None:
            agent = await self.storage.read(self.storage.agent_by_token, digest)
            if agent is not None:
                self.agents[digest] = agent
        return agent
