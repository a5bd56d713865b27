"""Run the desk under uvicorn (uvloop + httptools when installed).

Graceful shutdown: on SIGTERM/SIGINT uvicorn stops accepting connections, lets in-flight
requests finish (up to ``graceful_seconds``), then runs the app's lifespan shutdown, which
flushes the group-commit queue and closes the database.
"""

from __future__ import annotations

import os
from typing import Any

from chirpdesk.desk.config import DeskConfig, config_to_env

#: Seconds uvicorn waits for in-flight requests at shutdown (X waits at most 10 s for an ack).
GRACEFUL_SECONDS = 15


def serve(
    config: DeskConfig, host: str = "127.0.0.1", port: int = 8080, workers: int = 1,
    log_level: str = "info", access_log: bool = False,
) -> None:
    """Serve the desk until interrupted. Blocks.

    With ``workers > 1`` uvicorn forks worker processes that build the app from the
    environment, so the config (including a generated secret) is exported first.
    """
    import uvicorn

    if workers > 1:
        os.environ.update(config_to_env(config))
        uvicorn.run(
            "chirpdesk.desk.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
            log_level=log_level, access_log=access_log, timeout_graceful_shutdown=GRACEFUL_SECONDS,
        )
        return
    from chirpdesk.desk.app import create_app

    run_app(create_app(config), host=host, port=port, log_level=log_level, access_log=access_log)


def run_app(
    app: Any, host: str = "127.0.0.1", port: int = 8080, log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve an ASGI ``app`` in this process with the desk's uvicorn settings. Blocks.

    The benchmark serves its bare "return 200" baseline through this too, so that both run on
    exactly the same server stack.
    """
    import uvicorn

    uvicorn.run(
        app, host=host, port=port, log_level=log_level, access_log=access_log,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
