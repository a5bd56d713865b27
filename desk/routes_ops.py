"""Observability: ``/healthz``, ``/metrics`` (Prometheus), ``/stats`` and its drill-downs.

``/stats/first_responses`` and ``/stats/tweets`` are what the load-test tool reads to compare
measured first-response times with simulated ones and to check which tweets were stored.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chirpdesk.desk.http import RETRY, JSONResponse, Problem
from chirpdesk.desk.metrics import summarise
from chirpdesk.desk.state import DeskState
from chirpdesk.desk.storage_base import is_storage_fault


async def healthz(request: Request) -> Response:
    """200 ``{"status": "ok", ...}`` while commits succeed and the database answers; 503
    ``{"status": "unhealthy", "reason": ...}`` while commits fail (a full disk, a lost
    database, a commit process that is down) or the database does not answer."""
    state: DeskState = request.app.state.desk
    health = state.writer.health.report()
    body = {
        "backend": state.storage.backend,
        "write_queue_depth": state.writer.depth,
        "uptime_seconds": round(time.time() - state.started_at, 3),
        "failed_commits": health.failed_commits,
    }
    if not health.healthy:
        return JSONResponse({"status": "unhealthy", "reason": f"commits failing: {health.reason}",
                             "since_seconds": round(health.since_seconds, 3), **body},
                            status_code=503, headers=RETRY)
    try:
        await state.storage.read(state.storage.ping)
    except Exception as exc:  # noqa: BLE001 - any database failure means "unhealthy"
        return JSONResponse({"status": "unhealthy", "reason": f"database does not answer: {exc}", **body},
                            status_code=503, headers=RETRY)
    return JSONResponse({"status": "ok", **body})


async def metrics(request: Request) -> Response:
    """Prometheus text exposition of counters, queue depths and latency histograms.

    Answers even when the database does not (that is when it is needed most): the gauges read
    from the database are then left out and ``chirpdesk_storage_healthy`` is 0.
    """
    state: DeskState = request.app.state.desk
    healthy = state.writer.health.healthy
    try:
        summary = await state.storage.read(state.storage.summary, time.time() - state.config.sla_seconds)
        frts = await state.storage.read(state.storage.first_response_seconds)
    except Exception as exc:  # noqa: BLE001 - the process's own metrics are still worth serving
        if not is_storage_fault(exc):
            raise
        summary, frts, healthy = None, [], False
    text = state.metrics.render(state.writer.depth, summary and summary["by_status"],
                                summary and summary["escalations"], frts, storage_healthy=healthy)
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


async def stats(request: Request) -> Response:
    """Live first-response percentiles (seconds), SLA attainment, backlog and escalations."""
    state: DeskState = request.app.state.desk
    now = time.time()
    sla = state.config.sla_seconds
    summary = await state.storage.read(state.storage.summary, now - sla)
    frts: list[float] = await state.storage.read(state.storage.first_response_seconds)
    within = sum(1 for s in frts if s <= sla)
    by_status = summary["by_status"]
    oldest = summary["oldest_waiting_at"]
    body: dict[str, Any] = {
        "first_response_seconds": summarise(frts),
        "sla": {
            "threshold_seconds": sla,
            "answered": len(frts),
            "within": within,
            "attainment": within / len(frts) if frts else None,
            "waiting_over_threshold": summary["waiting_over_sla"],
        },
        "backlog": {
            "waiting": by_status["waiting"],
            "claimed": by_status["claimed"],
            "escalated": by_status["escalated"],
            "oldest_waiting_seconds": max(0.0, now - oldest) if oldest is not None else None,
            "write_queue_depth": state.writer.depth,
        },
        "conversations": by_status,
        "escalations": {"total": sum(summary["escalations"].values()), "by_target": summary["escalations"]},
        "stored": {"tweets": summary["tweets"], "direct_messages": summary["direct_messages"]},
        "process": {
            "deliveries": state.metrics.get("chirpdesk_deliveries_total"),
            "ingested": state.metrics.get("chirpdesk_ingested_total"),
            "duplicates": state.metrics.get("chirpdesk_duplicates_total"),
        },
    }
    return JSONResponse(body)


async def first_responses(request: Request) -> Response:
    """``{"count", "seconds": [...], "items": [...]}``: every first-response time, in order."""
    state: DeskState = request.app.state.desk
    items = await state.storage.read(state.storage.first_responses)
    return JSONResponse({"count": len(items), "seconds": [i["seconds"] for i in items], "items": items})


async def tweets(request: Request) -> Response:
    """``GET /stats/tweets?after=ID&limit=N``: stored tweet ids, paged in string order."""
    state: DeskState = request.app.state.desk
    after = request.query_params.get("after", "")
    raw_limit = request.query_params.get("limit", "1000")
    if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100_000:
        raise Problem(400, "limit must be an integer from 1 to 100000", "limit")
    if after and (not after.isascii() or not after.isdigit() or len(after) > 20):
        raise Problem(400, "after must be a tweet id", "after")
    ids = await state.storage.read(state.storage.tweet_ids, after, int(raw_limit))
    return JSONResponse({"ids": ids, "next": ids[-1] if len(ids) == int(raw_limit) else None})


#: The routes this module serves.
routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/stats", stats, methods=["GET"]),
    Route("/stats/first_responses", first_responses, methods=["GET"]),
    Route("/stats/tweets", tweets, methods=["GET"]),
]
