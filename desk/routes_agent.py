"""The agent desk API (``/agent/...``) and agent administration (``/admin/agents``).

Agents authenticate with ``Authorization: Bearer <token>``: no/blank header is 401, a token no
agent holds is 403. State conflicts (conversation taken by someone else, closed, not claimed
first) are 409; unknown conversations 404.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chirpdesk.desk.http import JSONResponse, Problem, parse_json, read_body
from chirpdesk.desk.schema import InvalidInput, optional_text, require_text
from chirpdesk.desk.state import DeskState, token_hash
from chirpdesk.desk.storage_base import STATUSES, Conflict, NotFound
from chirpdesk.sim.vocabulary import ESCALATION_TARGETS

#: Longest public reply (X's tweet limit) and DM, characters.
MAX_REPLY = 280
MAX_DM = 10_000
#: Largest conversation id accepted (64-bit signed, as stored).
MAX_ID = 2**63 - 1

Agent = tuple[int, str]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "bearer token required", "authorization", {"WWW-Authenticate": "Bearer"})
    return token.strip()


async def authenticate(request: Request) -> Agent:
    """The ``(id, name)`` of the calling agent; raises 401/403 problems."""
    state: DeskState = request.app.state.desk
    agent = await state.agent_for(_bearer(request))
    if agent is None:
        raise Problem(403, "unknown agent token", "authorization")
    return agent


def _conversation_id(request: Request) -> int:
    value = int(request.path_params["conversation_id"])
    if value > MAX_ID:
        raise Problem(404, f"conversation {value} does not exist", "conversation_id")
    return value


async def _json_body(request: Request) -> Any:
    state: DeskState = request.app.state.desk
    return parse_json(await read_body(request, state.config.max_body_bytes))


async def _storage_call(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
    """Run a storage method on the pool, mapping domain errors to 404/409."""
    try:
        return await request.app.state.desk.storage.read(fn, *args)
    except NotFound as exc:
        raise Problem(404, str(exc), "conversation_id") from None
    except Conflict as exc:
        raise Problem(409, str(exc), "conversation_id") from None


def _with_agent(
    handler: Callable[[Request, DeskState, Agent], Awaitable[Any]], status: int = 200
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        agent = await authenticate(request)
        try:
            result = await handler(request, request.app.state.desk, agent)
        except InvalidInput as exc:
            raise Problem(400, exc.problem, exc.field) from None
        return JSONResponse(result, status_code=status)

    endpoint.__doc__ = handler.__doc__
    return endpoint


async def me(request: Request, state: DeskState, agent: Agent) -> Any:
    """``GET /agent/me``: who the token belongs to."""
    return {"id": agent[0], "name": agent[1]}


async def claim_next(request: Request, state: DeskState, agent: Agent) -> Any:
    """``POST /agent/claim``: take the most urgent waiting conversation, or ``null``."""
    conv = await _storage_call(request, state.storage.claim_next, agent[0], time.time())
    return {"conversation": conv}


async def claim(request: Request, state: DeskState, agent: Agent) -> Any:
    """``POST /agent/conversations/{id}/claim``: take a given conversation (409 if taken)."""
    conv = await _storage_call(
        request, state.storage.claim, _conversation_id(request), agent[0], time.time()
    )
    return {"conversation": conv}


async def list_conversations(request: Request, state: DeskState, agent: Agent) -> Any:
    """``GET /agent/conversations?status=waiting&limit=50``: the queue, most urgent first."""
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        raise Problem(400, f"status must be one of {', '.join(STATUSES)}", "status")
    raw_limit = request.query_params.get("limit", "50")
    if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise Problem(400, "limit must be an integer from 1 to 1000", "limit")
    rows = await _storage_call(request, state.storage.list_conversations, status, int(raw_limit))
    return {"conversations": rows}


async def detail(request: Request, state: DeskState, agent: Agent) -> Any:
    """``GET /agent/conversations/{id}``: the conversation with its messages and tickets."""
    return await _storage_call(request, state.storage.conversation_detail, _conversation_id(request))


async def reply(request: Request, state: DeskState, agent: Agent) -> Any:
    """``POST /agent/conversations/{id}/reply {"text"}``: public reply; first one sets the FRT."""
    conv_id = _conversation_id(request)
    text = require_text(await _json_body(request), "text", MAX_REPLY)
    return await _storage_call(
        request, state.storage.reply, conv_id, agent[0], agent[1], text, "public", time.time()
    )


async def move_to_dm(request: Request, state: DeskState, agent: Agent) -> Any:
    """``POST /agent/conversations/{id}/dm {"text"}``: continue in direct messages."""
    conv_id = _conversation_id(request)
    text = require_text(await _json_body(request), "text", MAX_DM)
    return await _storage_call(
        request, state.storage.reply, conv_id, agent[0], agent[1], text, "dm", time.time()
    )


async def escalate(request: Request, state: DeskState, agent: Agent) -> Any:
    """``POST /agent/conversations/{id}/escalate {"target", "note"?}``: open a ticket."""
    conv_id = _conversation_id(request)
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise Problem(400, "expected a JSON object", "body")
    target = body.get("target")
    if target not in ESCALATION_TARGETS:
        raise Problem(400, f"target must be one of {', '.join(ESCALATION_TARGETS)}", "target")
    note = optional_text(body, "note")
    return await _storage_call(
        request, state.storage.escalate, conv_id, agent[0], target, note, time.time()
    )


async def resolve(request: Request, state: DeskState, agent: Agent) -> Any:
    """``POST /agent/conversations/{id}/resolve``: close the conversation."""
    conv = await _storage_call(
        request, state.storage.resolve, _conversation_id(request), agent[0], time.time()
    )
    return {"conversation": conv}


async def release(request: Request, state: DeskState, agent: Agent) -> Any:
    """``POST /agent/conversations/{id}/release``: give it back to the queue."""
    conv = await _storage_call(
        request, state.storage.release, _conversation_id(request), agent[0], time.time()
    )
    return {"conversation": conv}


def _require_admin(request: Request, state: DeskState) -> None:
    expected = state.config.admin_token
    if not expected:
        raise Problem(403, "admin API disabled: set CHIRPDESK_ADMIN_TOKEN", "authorization")
    given = _bearer(request)
    if not hmac.compare_digest(token_hash(given), token_hash(expected)):
        raise Problem(403, "wrong admin token", "authorization")


async def create_agent(request: Request) -> Response:
    """``POST /admin/agents {"name", "token"?}``: create an agent (or reset its token).

    Answers 201 ``{"id", "name", "token"}``; the token is generated when not given and is shown
    only here (the database keeps its SHA-256).
    """
    state: DeskState = request.app.state.desk
    _require_admin(request, state)
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise Problem(400, "expected a JSON object", "body")
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 64 or "\x00" in name:
        raise Problem(400, "name must be a string of 1-64 characters", "name")
    token = body.get("token")
    if token is None:
        token = secrets.token_urlsafe(24)
    elif not isinstance(token, str) or not 8 <= len(token) <= 256 or not token.isprintable():
        raise Problem(400, "token must be a printable string of 8-256 characters", "token")
    agent_id = await state.storage.read(
        state.storage.upsert_agent, name.strip(), token_hash(token), time.time()
    )
    state.agents.clear()  # a reset token must stop working at once in this process
    return JSONResponse({"id": agent_id, "name": name.strip(), "token": token}, status_code=201)


async def list_agents(request: Request) -> Response:
    """``GET /admin/agents``: every agent's id, name and creation time."""
    state: DeskState = request.app.state.desk
    _require_admin(request, state)
    return JSONResponse({"agents": await state.storage.read(state.storage.list_agents)})


_ID = "/agent/conversations/{conversation_id:int}"

#: The routes this module serves.
routes = [
    Route("/agent/me", _with_agent(me), methods=["GET"]),
    Route("/agent/claim", _with_agent(claim_next), methods=["POST"]),
    Route("/agent/conversations", _with_agent(list_conversations), methods=["GET"]),
    Route(_ID, _with_agent(detail), methods=["GET"]),
    Route(_ID + "/claim", _with_agent(claim), methods=["POST"]),
    Route(_ID + "/reply", _with_agent(reply), methods=["POST"]),
    Route(_ID + "/dm", _with_agent(move_to_dm), methods=["POST"]),
    Route(_ID + "/escalate", _with_agent(escalate), methods=["POST"]),
    Route(_ID + "/resolve", _with_agent(resolve), methods=["POST"]),
    Route(_ID + "/release", _with_agent(release), methods=["POST"]),
    Route("/admin/agents", create_agent, methods=["POST"]),
    Route("/admin/agents", list_agents, methods=["GET"]),
]
