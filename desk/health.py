"""Is the desk's storage taking writes? What ``/healthz`` and the ``storage_healthy`` gauge say.

The group-commit writer reports every batch's outcome here: a batch that committed means the
storage is healthy; a batch that failed on the storage (a full disk, a lost connection, a
commit process that died) means it is not, from that moment until a later commit succeeds.
While unhealthy and idle, the writer sends a probe through the same path (a heartbeat row in
a real transaction, :data:`chirpdesk.desk.ingest.PROBE`), so health comes back on its own once
the fault is cleared, without waiting for the next tweet. Transitions are logged once each,
not once per failed request: a desk that fails 10,000 requests a minute writes two lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("desk")


@dataclass(frozen=True)
class HealthReport:
    """A moment's view of storage health.

    ``healthy``: the last write attempt committed (or none failed yet); ``reason``: why not;
    ``since_seconds``: how long the current state has lasted; ``failed_commits``: batches
    that could not be committed since start-up.
    """

    healthy: bool
    reason: str | None
    since_seconds: float
    failed_commits: int


class StorageHealth:
    """Tracks whether commits succeed; used from the event loop only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.healthy = True
        self.reason: str | None = None
        self._since = clock()
        #: Batches answered with a storage error since start-up (``chirpdesk_commit_failures_total``).
        self.failed_commits = 0
        #: When a write last failed (clock s), to keep probes out of the way of real traffic.
        self.last_failure = -float("inf")

    def committed(self) -> None:
        """A batch committed: healthy from now on."""
        if not self.healthy:
            log.warning("storage recovered after %.1f s (%s)", self._clock() - self._since, self.reason)
            self.healthy, self.reason, self._since = True, None, self._clock()

    def failed(self, reason: str, batches: int = 1) -> None:
        """``batches`` batches could not be committed because of ``reason``: unhealthy."""
        self.failed_commits += batches
        self.last_failure = self._clock()
        if self.healthy:
            log.error("storage failing: %s; deliveries get 503 + Retry-After until it recovers", reason)
            self.healthy, self._since = False, self._clock()
        self.reason = reason

    def report(self) -> HealthReport:
        """The current state, for ``/healthz`` and ``/metrics``."""
        return HealthReport(self.healthy, self.reason, self._clock() - self._since, self.failed_commits)
