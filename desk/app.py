"""Build the desk's ASGI application (Starlette).

``create_app(config)`` is what tests, benchmarks and load tests use; ``create_app_from_env`` is
the zero-argument factory uvicorn workers call (``chirpdesk.desk.app:create_app_from_env``), reading the
``CHIRPDESK_*`` environment the CLI exported.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from chirpdesk.desk import routes_agent, routes_ops, routes_webhook
from chirpdesk.desk.config import DeskConfig, config_from_env
from chirpdesk.desk.http import (
    FastPostApp,
    Problem,
    http_exception_handler,
    problem_handler,
    server_error_handler,
)
from chirpdesk.desk.state import DeskState

log = logging.getLogger("desk")


def create_app(config: DeskConfig | None = None) -> Starlette:
    """The desk app for ``config`` (default: from the environment).

    The database is opened, and configured agents registered, when the ASGI lifespan starts;
    at shutdown the group-commit queue is flushed before the database closes.
    """
    config = (config or config_from_env()).validate()
    if not config.secret:
        config = config.ensure_secret()
        log.warning(
            "no CHIRPDESK_SECRET/--secret given: generated a random one, so X cannot sign "
            "deliveries for this server until you configure your app's consumer secret"
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state = DeskState(config)
        await state.start()
        app.state.desk = state
        try:
            yield
        finally:
            await state.stop()

    # POST /webhooks/twitter is served as plain ASGI ahead of the router (the hot path); the
    # rest is ordinary Starlette.
    app = FastPostApp(
        fast_path=routes_webhook.WEBHOOK_PATH,
        fast_handler=routes_webhook.deliver,
        routes=[*routes_webhook.routes, *routes_agent.routes, *routes_ops.routes],
        exception_handlers={
            Problem: problem_handler,
            HTTPException: http_exception_handler,
            Exception: server_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.config = config
    return app


def create_app_from_env() -> Starlette:
    """Zero-argument app factory for uvicorn (``--factory desk.app:create_app_from_env``).

    Only uvicorn's worker processes call it, so it also tunes their garbage collector
    (:func:`chirpdesk.desk.server.tune_garbage_collector`). Here that happens before the
    lifespan opens the database, so what the startup builds then is not frozen (a few objects);
    a single-process server tunes after its startup instead.
    """
    from chirpdesk.desk.server import tune_garbage_collector

    app = create_app(config_from_env())
    tune_garbage_collector()
    return app
