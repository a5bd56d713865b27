"""Run the desk under uvicorn (uvloop + httptools when installed).

Graceful shutdown, bounded: on SIGTERM/SIGINT uvicorn stops accepting connections and lets
in-flight requests finish (up to :data:`GRACEFUL_SECONDS`; a delivery waits for its commit at
most ``ack_timeout``, then gets 503), then the app's lifespan shutdown commits what is queued
(up to :data:`chirpdesk.desk.state.DRAIN_SECONDS`, the rest answered 503) and closes the commit
process and the database. Whatever the storage does (a full disk, a database that is gone), the
process exits within :data:`SHUTDOWN_SECONDS` of the signal: past that, a watchdog thread ends
it. A 200 was only ever sent for a committed delivery, so nothing acknowledged is lost either
way. A clean stop exits 0.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import threading
from types import FrameType
from typing import Any

from chirpdesk.desk.config import DeskConfig, config_to_env
from chirpdesk.desk.connections import ConnectionLimits, GuardedHttpTools

#: Seconds uvicorn waits for in-flight requests at shutdown (X waits at most 10 s for an ack).
GRACEFUL_SECONDS = 10
#: Seconds from SIGTERM to the process's exit, at most (graceful requests, queue drain, commit
#: process and database close, with room to spare).
SHUTDOWN_SECONDS = 30
#: Exit code when the watchdog had to end a shutdown that overran :data:`SHUTDOWN_SECONDS`.
EXIT_SHUTDOWN_OVERRAN = 70
#: Net new container objects between two young-generation collections in a serving process
#: (Python's default is 700 up to 3.13). A delivery served through the ASGI app holds about 50 while
#: in flight (its ASGI scope, task, coroutines, futures; one read whole holds a few, see
#: chirpdesk.desk.connections); with the default, every young collection found hundreds of deliveries
#: still alive, promoted them, and so set off full collections over the whole heap: at 512
#: connections the process spent about a fifth of its CPU in the collector and the cost of an
#: answer rose from 41 to 70 us (docs/desk.md, "Overload"). 50,000 covers
#: ``max_in_flight`` x 50 with room. Serving leaves next to no cyclic garbage to wait for it:
#: 1,200 deliveries of 900 KB whose clients hung up (whole or half-sent) set off no collection
#: and moved RSS from 115 to 134 MB.
YOUNG_COLLECTION_THRESHOLD = 50_000

log = logging.getLogger("desk")


def serve(
    config: DeskConfig, host: str = "127.0.0.1", port: int = 8080, workers: int = 1,
    log_level: str = "info", access_log: bool = False,
) -> None:
    """Serve the desk until interrupted. Blocks.

    With ``workers > 1`` uvicorn forks worker processes that build the app from the
    environment, so the config (including a generated secret) is exported first.
    """
    import uvicorn

    limits = ConnectionLimits.of(config)
    if workers > 1:
        os.environ.update(config_to_env(config))
        uvicorn.run(
            "chirpdesk.desk.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
            log_level=log_level, access_log=access_log, **_server_settings(limits),
        )
        return
    from chirpdesk.desk.app import create_app

    run_app(create_app(config), host=host, port=port, log_level=log_level, access_log=access_log,
            limits=limits)


def run_app(
    app: Any, host: str = "127.0.0.1", port: int = 8080, log_level: str = "info",
    access_log: bool = False, limits: ConnectionLimits | None = None,
) -> None:
    """Serve an ASGI ``app`` in this process with the desk's uvicorn settings and connection
    ``limits`` (default: a default :class:`DeskConfig`'s). Blocks.

    The benchmark serves its bare "return 200" baseline through this too, so that both run on
    exactly the same server stack.
    """
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=access_log,
        **_server_settings(limits or ConnectionLimits.of(DeskConfig())),
    )
    _bounded_server(config).run()


def _server_settings(limits: ConnectionLimits) -> dict[str, Any]:
    """uvicorn settings shared by both ways of serving: the guarded protocol, keep-alive."""
    return {
        "http": functools.partial(GuardedHttpTools, limits=limits),
        "timeout_keep_alive": limits.idle_timeout,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
    }


def tune_garbage_collector() -> None:
    """Set the collector up for a serving process. Call once it has imported and built
    everything long-lived.

    Everything alive now (modules, the app, the server) is moved out of the collector's sight
    (``gc.freeze``), so a full collection walks only what serving created, and the young
    generation is collected every :data:`YOUNG_COLLECTION_THRESHOLD` net allocations instead of
    Python's default (700 up to 3.13). Process-wide, so only the desk's own server processes call it.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


def _overran() -> None:
    log.error("shutdown took longer than %d s; exiting now", SHUTDOWN_SECONDS)
    logging.shutdown()
    os._exit(EXIT_SHUTDOWN_OVERRAN)


def _bounded_server(config: Any) -> Any:
    """uvicorn's server, with a bound on how long a shutdown may take and exit code 0 for a
    clean one (uvicorn re-raises the signal after its shutdown, which exits -15)."""
    import uvicorn

    class BoundedServer(uvicorn.Server):
        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets=sockets)
            tune_garbage_collector()  # after the app's lifespan startup: all it built is frozen

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if not self.should_exit:  # the first signal starts the clock
                timer = threading.Timer(SHUTDOWN_SECONDS, _overran)
                timer.daemon = True
                timer.start()
            super().handle_exit(sig, frame)
            self._captured_signals.clear()  # handled here: exit normally once drained

    return BoundedServer(config)
