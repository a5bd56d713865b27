"""Test helpers for the desk: a real server in a subprocess, payload builders, signing.

Nothing here is mocked: :class:`DeskServer` runs ``python -m chirpdesk.desk serve`` (uvicorn) on a free
loopback port against a real SQLite file or PostgreSQL schema.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from chirpdesk.desk.signature import sign

REPO = Path(__file__).resolve().parents[2]
SECRET = "test-consumer-secret"
ADMIN = "test-admin-token"
BRAND_ID = "9000"
BRAND_NAME = "AcmeHelp"
PG_ENV = "CHIRPDESK_TEST_PG_DSN"

_ids = itertools.count(int(time.time() * 1000) * 1000)


def next_id() -> str:
    """A fresh numeric tweet/DM id string, unique within the test run."""
    return str(next(_ids))


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody is listening on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def x_time(epoch: float) -> str:
    """X's ``created_at`` text for an epoch time."""
    return time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime(epoch))


def tweet(
    text: str = "hello", *, id_str: str | None = None, user_id: str = "100", screen_name: str = "cust",
    followers: int = 10, reply_to: str | None = None, created: float | None = None,
) -> dict[str, Any]:
    """A ``tweet_create_events`` entry with X's real field names."""
    created = time.time() if created is None else created
    return {
        "id_str": id_str or next_id(),
        "text": text,
        "created_at": x_time(created),
        "timestamp_ms": str(int(created * 1000)),
        "user": {"id_str": user_id, "screen_name": screen_name, "followers_count": followers},
        "in_reply_to_status_id_str": reply_to,
    }


def dm(text: str, *, sender: str, recipient: str, created: float | None = None) -> dict[str, Any]:
    """A ``direct_message_events`` ``message_create`` entry."""
    created = time.time() if created is None else created
    return {
        "type": "message_create",
        "id": next_id(),
        "created_timestamp": str(int(created * 1000)),
        "message_create": {
            "target": {"recipient_id": recipient},
            "sender_id": sender,
            "message_data": {"text": text},
        },
    }


def delivery(tweets: list[dict[str, Any]] = (), dms: list[dict[str, Any]] = ()) -> bytes:  # type: ignore[assignment]
    """A webhook body for the brand account."""
    body: dict[str, Any] = {"for_user_id": BRAND_ID, "tweet_create_events": list(tweets)}
    if dms:
        body["direct_message_events"] = list(dms)
    return json.dumps(body).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """Headers carrying X's signature of ``body``."""
    return {"x-twitter-webhooks-signature": sign(secret, body), "content-type": "application/json"}


class DeskServer:
    """``python -m chirpdesk.desk serve`` in a subprocess on a free port; kill -9 and restart capable."""

    def __init__(self, db: str, env: dict[str, str] | None = None, log: Path | None = None,
                 args: list[str] | None = None, python: str = sys.executable) -> None:
        self.db = db
        self.python = python  # the interpreter to serve with (another venv's, for the wheel test)
        self.env = env or {}
        self.args = list(args or [])  # extra ``serve`` flags
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> DeskServer:
        """Start the server and wait until ``/healthz`` answers 200."""
        env = {**os.environ, **self.env}
        cmd = [
            self.python, "-m", "chirpdesk.desk", "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--db", self.db, "--secret", SECRET, "--admin-token", ADMIN,
            "--brand-user-id", BRAND_ID, "--brand-screen-name", BRAND_NAME, "--log-level", "warning",
            *self.args,
        ]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"desk server exited with {self.proc.returncode}; log: {self.log}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("desk server did not become healthy in time")

    def stop(self, timeout: float = 20.0) -> int:
        """Graceful stop (SIGTERM); returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def kill(self) -> None:
        """``kill -9`` the server: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


class Desk:
    """A synchronous client bound to a server, with agent helpers."""

    def __init__(self, server: DeskServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=15)

    def deliver(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST a webhook body, signed unless ``headers`` are given."""
        return self.http.post("/webhooks/twitter", content=body, headers=headers or signed(body))

    def create_agent(self, name: str) -> dict[str, str]:
        """Create an agent through the admin API; returns ``{"id", "name", "token"}``."""
        r = self.http.post("/admin/agents", json={"name": name}, headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 201, r.text
        return r.json()

    @staticmethod
    def auth(agent: dict[str, str]) -> dict[str, str]:
        """Authorization header for an agent."""
        return {"Authorization": f"Bearer {agent['token']}"}

    def conversation_of(self, tweet_id: str, agent: dict[str, str]) -> dict[str, Any]:
        """The conversation that holds ``tweet_id`` (searched through the agent API)."""
        r = self.http.get("/agent/conversations", params={"limit": 1000}, headers=self.auth(agent))
        assert r.status_code == 200, r.text
        for conv in r.json()["conversations"]:
            detail = self.http.get(f"/agent/conversations/{conv['id']}", headers=self.auth(agent)).json()
            if any(t["id_str"] == tweet_id for t in detail["tweets"]):
                return detail
        raise AssertionError(f"tweet {tweet_id} is in no conversation")

    def tweet_ids(self) -> list[str]:
        """Every stored tweet id (via ``/stats/tweets`` paging)."""
        ids: list[str] = []
        after = ""
        while True:
            page = self.http.get("/stats/tweets", params={"after": after, "limit": 5000}).json()
            ids.extend(page["ids"])
            if not page["next"]:
                return ids
            after = page["next"]

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()
