"""Locust users: the open-arrival tweet dispatcher and the agents (imports Locust: load it only
from a locustfile, never from the chirpdesk CLI).

* :class:`TweetUser` is not a "user" in the closed-loop sense: one instance per Locust process
  runs a dispatcher greenlet that walks the scenario's arrival schedule and, at each intended
  time, hands the send to a bounded greenlet pool. Sends never wait for earlier answers, so a slow
  endpoint cannot slow the arrival process down; if the pool itself is full (the generator is
  saturated), the wait shows up as schedule lag (actual send time - intended time), which is
  recorded for every send and reported, never hidden.
* :class:`AgentUser` is one agent: it claims the next conversation, reads it, "composes" for the
  scenario's compose time (divided by the speedup), replies, and escalates or resolves as the
  scenario's probabilities say; multi-turn conversations are released after each reply and come
  back when the simulated customer's follow-up tweet (replying to the brand's tweet) arrives.
  Agents take new work only while the scenario's shifts have them on shift.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import random
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.pool
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import MasterRunner, WorkerRunner

from chirpdesk.loadtests.payloads import Payloads
from chirpdesk.loadtests.plan import (
    LEAD_S,
    MALFORMED,
    LoadPlan,
    Send,
    Settings,
    build_plan,
    parse_tweet_id,
    settings_from_env,
    tweet_id,
)
from chirpdesk.loadtests.report import RECORD_COLUMNS

log = logging.getLogger("chirpdesk.loadtest")

#: Custom Locust message carrying the run set-up from the master to its workers.
SETUP_MESSAGE = "chirpdesk_setup"
#: Master -> worker "are your handlers registered?" and the worker's answer. Locust counts a
#: worker as ready when its runner connects, *before* the worker's ``init`` event has run (where
#: the locustfile registers its message handlers); a custom message reaching a worker in between
#: is dropped ("Unknown message type received"). The master therefore pings every worker until it
#: answers, and only then sends the set-up.
PING_MESSAGE = "chirpdesk_ping"
PONG_MESSAGE = "chirpdesk_pong"
#: Worker -> master: set-up received and dispatcher started (with the worker's records file name).
SETUP_ACK_MESSAGE = "chirpdesk_setup_ack"
#: Seconds the master waits for every worker to answer the ping, then for the set-up acks.
HANDSHAKE_TIMEOUT_S = 20.0
SETUP_ACK_TIMEOUT_S = 10.0
#: The master's record of which worker sends which share (``loadgen/processes.json``).
PROCESSES_FILE = "processes.json"


@dataclass(frozen=True)
class Setup:
    """What every process of one run must share: start time ``t0`` (epoch seconds of the first
    intended send), ``run_id`` (makes tweet ids unique), this process's ``index`` among ``count``
    sending processes, and the shape kind."""

    t0: float
    run_id: int
    index: int
    count: int
    shape: str


class RunState:
    """Per-process state of the current run (Locust may run several tests in one process)."""

    def __init__(self) -> None:
        self.options: Any = None
        self.shape_kind: str | None = None
        self._settings: Settings | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the previous test (called at each test start)."""
        self.setup: Setup | None = None
        self.ready = gevent.event.Event()
        self.plan: LoadPlan | None = None
        self.payloads: Payloads | None = None
        self.records: list[tuple[Any, ...]] = []
        self.cpu: list[float] = []
        self.dispatching = False
        self.dispatcher: gevent.Greenlet | None = None
        self.send_pool: gevent.pool.Pool | None = None
        self.agents_started = 0
        self.bodies: dict[int, bytes] = {}
        self.pool_full_waits = 0
        self.customers = gevent.pool.Group()

    @property
    def settings(self) -> Settings:
        """Settings from Locust custom arguments, falling back to ``CHIRPDESK_*`` variables."""
        if self._settings is None:
            opts = self.options
            given = {}
            if opts is not None:
                for name in ("scenario", "secret", "speedup", "duration", "shape", "seed"):
                    given[name] = getattr(opts, f"chirpdesk_{name}", None)
            self._settings = settings_from_env(**given)
        return self._settings

    def plan_for(self, shape: str | None) -> LoadPlan:
        """The plan of this run for ``shape`` (cached per shape)."""
        if self.plan is None or (shape is not None and self.plan.shape != shape):
            s = self.settings
            if shape is not None:
                from dataclasses import replace

                s = replace(s, shape=shape)
            self.plan = build_plan(s)
        return self.plan

    def begin(self, setup: Setup) -> None:
        """Install the run set-up (from the test start or the master's message)."""
        self.setup = setup
        plan = self.plan_for(setup.shape)
        s = self.settings
        self.payloads = Payloads(s.secret, setup.run_id, plan.seed, s.brand_id, s.brand_name)
        self.ready.set()

    def wait(self, timeout: float = 30.0) -> Setup:
        """Block (this greenlet) until the run set-up is known."""
        if not self.ready.wait(timeout) or self.setup is None:
            raise RuntimeError("chirpdesk: no run set-up from the master within 30 s")
        return self.setup

    # -- records ------------------------------------------------------------------------------
    def record(self, name: str, context: dict[str, Any], start: float, latency_ms: float,
               status: int, ok: bool) -> None:
        """Keep one request's outcome (the request event listener calls this)."""
        self.records.append((name, context.get("what", ""), context.get("intended", math.nan), start,
                             latency_ms, status, int(ok), context.get("expected", ""),
                             context.get("tweet_id", "")))

    def write(self) -> Path | None:
        """Write this process's records and meta into the output folder (if any); returns the
        records path. Called when the dispatcher has sent its share, at test stop and again at
        quit (the latest write is the most complete). Each file is replaced atomically, so a
        process killed while writing leaves the previous complete file, never a truncated one."""
        out = self.settings.out
        if not out or self.setup is None or not (self.records or self.dispatching):
            return None
        folder = Path(out) / "loadgen"
        folder.mkdir(parents=True, exist_ok=True)
        records, meta_name = process_files()
        path = folder / records
        tmp = folder / f".{records}.tmp"
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(RECORD_COLUMNS)
            w.writerows(list(self.records))
        os.replace(tmp, path)
        s = self.setup
        meta = {"t0": s.t0, "run_id": s.run_id, "index": s.index, "count": s.count, "shape": s.shape,
                "cpu_percent": self.cpu, "pool_full_waits": self.pool_full_waits,
                "dispatcher": self.dispatching, "pid": os.getpid(), "records": records}
        tmp = folder / f".{meta_name}.tmp"
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, folder / meta_name)
        return path


RUN = RunState()


def process_files() -> tuple[str, str]:
    """This process's records and meta file names in ``loadgen/``."""
    tag = f"{socket.gethostname()}-{os.getpid()}"
    return f"records-{tag}.csv", f"meta-{tag}.json"


class Coordinator:
    """The master's side of the set-up hand-shake (see :data:`PING_MESSAGE`).

    :meth:`distribute` (called at the master's test start, before any user is spawned) pings
    the connected workers until each has answered (its handlers are registered), gives the ones
    that answered their index, count, ``t0`` and run id, waits for their acks, and records the
    assignment in ``loadgen/processes.json`` so that the analysis can name a process whose
    records are missing. Both waits are bounded.
    """

    def __init__(self) -> None:
        self.token = 0
        self.pongs: set[str] = set()
        self.acks: dict[str, dict[str, Any]] = {}
        self.changed = gevent.event.Event()

    def on_pong(self, environment: Any, msg: Any, **_: Any) -> None:
        if isinstance(msg.data, dict) and msg.data.get("token") == self.token:
            self.pongs.add(msg.node_id)
            self.changed.set()

    def on_ack(self, environment: Any, msg: Any, **_: Any) -> None:
        if isinstance(msg.data, dict) and msg.data.get("token") == self.token:
            self.acks[msg.node_id] = dict(msg.data)
            self.changed.set()

    def distribute(self, runner: Any, shape: str) -> Setup | None:
        """Hand the run set-up to every responsive worker; ``None`` when none answered."""
        self.token = random.randint(1, 2**31)
        self.pongs, self.acks = set(), {}
        options = RUN.options
        expected = max(int(getattr(options, "expect_workers", 0) or 0), 1)
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT_S
        while True:
            connected = sorted(runner.clients.keys())
            waiting = [c for c in connected if c not in self.pongs]
            if len(self.pongs) >= expected and not waiting:
                break
            if time.monotonic() > deadline:
                break
            for client_id in waiting:  # a worker still in start-up drops it: ask again
                runner.send_message(PING_MESSAGE, {"token": self.token}, client_id)
            self.changed.clear()
            self.changed.wait(0.25)
        workers = sorted(self.pongs)
        if len(workers) < expected:
            log.error("chirpdesk: %d of %d expected workers answered the set-up within %g s",
                      len(workers), expected, HANDSHAKE_TIMEOUT_S)
        if not workers:
            return None
        # Workers start sending together, a little later than a local run (messages travel).
        base = new_setup(shape, 0, len(workers), LEAD_S + 0.5)
        for index, client_id in enumerate(workers):
            data = {"t0": base.t0, "run_id": base.run_id, "index": index, "count": len(workers),
                    "shape": shape, "token": self.token}
            runner.send_message(SETUP_MESSAGE, data, client_id)
        deadline = time.monotonic() + SETUP_ACK_TIMEOUT_S
        while len(self.acks) < len(workers) and time.monotonic() < deadline:
            self.changed.clear()
            self.changed.wait(0.25)
        missing = [c for c in workers if c not in self.acks]
        if missing:
            log.error("chirpdesk: no set-up ack from worker(s) %s within %g s", ", ".join(missing),
                      SETUP_ACK_TIMEOUT_S)
        self._record(base, expected, workers)
        return base

    def _record(self, base: Setup, expected: int, workers: list[str]) -> None:
        out = RUN.settings.out
        if not out:
            return
        folder = Path(out) / "loadgen"
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for index, client_id in enumerate(workers):
            ack = self.acks.get(client_id, {})
            rows.append({"index": index, "client_id": client_id, "acknowledged": bool(ack),
                         "pid": ack.get("pid"), "records": ack.get("records"), "meta": ack.get("meta")})
        doc = {"t0": base.t0, "run_id": base.run_id, "count": len(workers), "expected": expected,
               "shape": base.shape, "workers": rows}
        (folder / PROCESSES_FILE).write_text(json.dumps(doc, indent=2))


COORDINATOR = Coordinator()


def register_worker_handlers(environment: Any) -> None:
    """Worker side of the hand-shake: answer pings, take the set-up, start the dispatcher, ack."""
    runner = environment.runner

    def on_ping(environment: Any, msg: Any, **_: Any) -> None:
        runner.send_message(PONG_MESSAGE, {"token": msg.data.get("token")})

    def on_setup(environment: Any, msg: Any, **_: Any) -> None:
        data = dict(msg.data)
        token = data.pop("token", None)
        current = RUN.setup
        if current is None or current.run_id != data["run_id"] or not RUN.dispatching:
            RUN.reset()
            RUN.begin(Setup(**data))
            start_dispatcher(environment)
        records, meta = process_files()
        runner.send_message(SETUP_ACK_MESSAGE, {"token": token, "index": data["index"], "pid": os.getpid(),
                                                "records": records, "meta": meta})

    runner.register_message(PING_MESSAGE, on_ping)
    runner.register_message(SETUP_MESSAGE, on_setup)


def register_master_handlers(environment: Any) -> None:
    """Master side of the hand-shake (see :class:`Coordinator`)."""
    environment.runner.register_message(PONG_MESSAGE, COORDINATOR.on_pong)
    environment.runner.register_message(SETUP_ACK_MESSAGE, COORDINATOR.on_ack)


def new_setup(shape: str, index: int = 0, count: int = 1, lead: float = LEAD_S) -> Setup:
    """A fresh set-up: first intended send ``lead`` seconds from now, a random run id."""
    return Setup(time.time() + lead, random.randint(100_000, 999_999), index, count, shape)


def cpu_monitor() -> None:
    """Sample this process's CPU use once a second (a saturated generator shows ~100%)."""
    import psutil

    proc = psutil.Process()
    proc.cpu_percent(None)
    while True:
        gevent.sleep(1.0)
        RUN.cpu.append(proc.cpu_percent(None))


class TweetUser(FastHttpUser):
    """The open-arrival dispatcher: sends this process's share of the arrival schedule at the
    intended times through a bounded greenlet pool (see module docstring).

    Exactly one runs per sending Locust process, started by :func:`start_dispatcher` when the
    run set-up arrives, rather than spawned by the shape: Locust spreads users over workers as it
    likes (two could land on one worker and none on another), while the schedule is split by
    process index, so each process must run exactly one dispatcher.
    """

    abstract = True  # never spawned by the runner; see start_dispatcher()
    # In-flight sends share this user's connection pool; as large as the greenlet pool so that
    # a send never queues for a connection behind a slow one.
    concurrency = 512
    network_timeout = 10.0  # X gives up on a webhook after 10 s
    connection_timeout = 10.0

    def dispatch(self) -> None:
        """Walk this process's share of the schedule; each send gets its own greenlet."""
        setup = RUN.wait()
        plan = RUN.plan_for(setup.shape)
        sends = plan.share(setup.index, setup.count)
        redelivered = {s.index for s in sends if s.what == "redelivery"}
        pool = RUN.send_pool = gevent.pool.Pool(RUN.settings.pool)
        for send in sends:
            target = setup.t0 + send.at
            delay = target - time.time()
            if delay > 0:
                gevent.sleep(delay)
            if pool.full():
                RUN.pool_full_waits += 1  # the wait below becomes visible schedule lag
            pool.spawn(self._send, plan, send, target, send.index in redelivered)
        pool.join(timeout=15.0)
        RUN.write()  # this process's share is on file even if it is killed before test stop

    def _send(self, plan: LoadPlan, send: Send, target: float, cache: bool) -> None:
        pl = RUN.payloads
        assert pl is not None and RUN.setup is not None
        arr = plan.arrivals
        i = send.index
        ctx: dict[str, Any] = {"chirpdesk": 1, "what": send.what, "intended": target}
        if send.what in ("tweet", "redelivery"):
            body = RUN.bodies.get(i)
            if body is None:
                created = RUN.setup.t0 + float(plan.real_times[i])
                body = pl.arrival(i, arr.kinds[int(arr.kind[i])], bool(arr.fail[i]),
                                  int(arr.followers[i]), created)
                if cache:
                    RUN.bodies[i] = body
            headers = pl.headers(body)
            expect, name = 200, ("webhook" if send.what == "tweet" else "redelivery")
            ctx["tweet_id"] = tweet_id(RUN.setup.run_id, i)
        elif send.what == "malformed":
            reason, expect = MALFORMED[send.variant]
            body, headers = pl.malformed(i, reason, target)
            name = "malformed"
            ctx["expected"] = reason
        else:
            body, headers = pl.oversized(i, RUN.settings.oversized_bytes, target)
            expect, name = 413, "oversized"
            ctx["expected"] = "oversized"
        with self.client.post("/webhooks/twitter", data=body, headers=headers, name=name,
                              catch_response=True, context=ctx) as resp:
            if resp.status_code == expect:
                resp.success()
            elif send.what == "oversized" and resp.status_code == 0:
                # The endpoint may answer 413 and close before reading the whole body; the
                # client then sees the connection drop mid-upload: still the expected refusal.
                resp.success()
            else:
                resp.failure(f"{name}: HTTP {resp.status_code}, expected {expect}")


class AgentUser(FastHttpUser):
    """One desk agent following the scenario's handling (see module docstring)."""

    fixed_count = 0
    wait_time = constant(0)
    concurrency = 16
    network_timeout = 10.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        """Take an agent identity: number ``k * count + index`` across all processes."""
        setup = RUN.wait()
        self.plan = RUN.plan_for(setup.shape)
        self.number = RUN.agents_started * setup.count + setup.index
        RUN.agents_started += 1
        tokens = RUN.settings.agents
        self.auth = {"authorization": f"Bearer {tokens[self.number % len(tokens)]}"} if tokens else {}
        self.slots = self.plan.scenario.agents.concurrency
        self.active = 0
        # Set when a slot frees up: a full agent claims again at once, as the model's agent takes
        # the next waiting conversation the moment it finishes one (no polling delay).
        self.slot_freed = gevent.event.Event()
        self.conversations = gevent.pool.Group()

    def on_stop(self) -> None:
        """Stop composing (the test is over)."""
        self.conversations.kill(block=False)

    def _post(self, path: str, name: str, payload: dict[str, Any] | None = None) -> Any:
        with self.client.post(path, json=payload, headers=self.auth, name=name, catch_response=True,
                              context={"chirpdesk": 1, "what": name}) as resp:
            if resp.status_code != 200:
                resp.failure(f"{name}: HTTP {resp.status_code}")
                return None
            return resp.json()

    @task
    def work(self) -> None:
        """One step of the agent loop: take a conversation when on shift with a free slot."""
        setup = RUN.setup
        assert setup is not None
        now = time.time()
        if now < setup.t0:
            gevent.sleep(min(setup.t0 - now, 0.5))
            return
        if not self.auth or self.active >= self.slots or self.number >= self.plan.agents_at(now - setup.t0):
            self._idle(self.active >= self.slots)
            return
        taken = time.time()
        answer = self._post("/agent/claim", "claim")
        conv = answer.get("conversation") if answer else None
        if not conv:
            gevent.sleep(self.plan.poll_s)
            return
        self.active += 1
        self.conversations.spawn(self._handle, conv, taken, self.active)

    def _idle(self, full: bool) -> None:
        """Wait before asking for work again: a full agent until one of its slots frees up (or
        the poll interval passes: shifts change too), otherwise the poll interval."""
        if full:
            self.slot_freed.clear()
            self.slot_freed.wait(self.plan.poll_s)
        else:
            gevent.sleep(self.plan.poll_s)

    def _free_slot(self, slot: list[bool]) -> None:
        """Give a conversation's slot back (once), and wake the claim loop."""
        if slot[0]:
            slot[0] = False
            self.active -= 1
            self.slot_freed.set()

    def _handle(self, conv: dict[str, Any], taken: float, load: int) -> None:
        slot = [True]
        try:
            self._converse(conv, taken, load, slot)
        finally:
            self._free_slot(slot)

    def _converse(self, conv: dict[str, Any], taken: float, load: int, slot: list[bool]) -> None:
        """Work one turn of a claimed conversation, as the model's agent does.

        The model's agent takes a conversation at ``taken`` (when the claim was sent), replies
        ``compose x (1 + slowdown x (load - 1))`` later (``load``: conversations it holds,
        counted when it took this one), and frees the slot at that reply, or after the hand-off
        work when the conversation leaves the timeline. The API calls around that (reading the
        conversation, echoing the brand's tweet, release, escalate, resolve) are overlapped with
        the compose time or made after the slot is free, so that they do not slow the agents
        down compared with the model (at 240x, 10 ms of requests per turn would be 2.4 simulated
        seconds of extra handle time).
        """
        plan, setup, pl = self.plan, RUN.setup, RUN.payloads
        assert setup is not None and pl is not None
        cid = conv["id"]
        base = f"/agent/conversations/{cid}"
        ours = parse_tweet_id(conv.get("first_tweet_id"), setup.run_id)
        if ours is None:  # not one of this run's customers: answer once and close
            self._post(base + "/reply", "reply", {"text": "Thanks for reaching out, we're on it."})
            self._post(base + "/resolve", "resolve")
            return
        i = ours[0]
        cp = plan.conversation(i)
        # On the first turn (nobody has answered yet): praise, feedback... need no answer, and a
        # customer whose patience ran out is gone (the model never queues the first and drops
        # the second from its queue). With patience_until = first_response a customer may also
        # leave while the reply is being written: checked once it is written, below.
        first_turn = conv.get("first_response_at") is None
        gone = (taken - conv["first_tweet_at"]) * plan.speedup > cp.patience
        if first_turn and (not cp.needs_reply or gone):
            self._free_slot(slot)
            self._post(base + "/resolve", "resolve")
            return
        with self.client.get(base, headers=self.auth, name="conversation", catch_response=True,
                             context={"chirpdesk": 1, "what": "conversation"}) as resp:
            if resp.status_code != 200:
                resp.failure(f"conversation: HTTP {resp.status_code}")
                return
            detail = resp.json()
        turn = sum(1 for r in detail.get("replies", []) if r.get("channel") == "public")
        # Compose: the scenario's time for this turn, slower with more conversations at once,
        # counted from the moment the agent took the conversation.
        slow = 1.0 + plan.scenario.agents.slowdown * max(load - 1, 0)
        compose = cp.compose[min(turn, len(cp.compose) - 1)] * slow / plan.speedup
        gevent.sleep(max(0.0, taken + compose - time.time()))
        if (first_turn and plan.scenario.customers.patience_until == "first_response"
                and (taken + compose - conv["first_tweet_at"]) * plan.speedup > cp.patience):
            # The reply is written but the customer left before it could be posted: as in the
            # model, the agent's time is spent and nobody gets an answer.
            self._free_slot(slot)
            self._post(base + "/resolve", "resolve")
            return
        text = f"Hi @{pl.screen_name(i)}, sorry about that - we're looking into it (ref {cid})."
        if self._post(base + "/reply", "reply", {"text": text}) is None:
            return
        replied = time.time()
        turn += 1
        leaving = plan.scenario.mix.private_target if (turn == 1 and cp.private) else None
        if leaving is None and turn < cp.turns:
            self._free_slot(slot)
            self._next_turn(i, cid, turn, text, detail, replied)
            return
        leaving = leaving or cp.target
        if leaving is not None and cp.work:
            gevent.sleep(max(0.0, replied + cp.work / plan.speedup - time.time()))
        self._free_slot(slot)
        if leaving is not None:
            self._post(base + "/escalate", "escalate", {"target": leaving, "note": "load test"})
        self._post(base + "/resolve", "resolve")

    def _next_turn(self, i: int, cid: int, turn: int, text: str, detail: dict[str, Any],
                   replied: float) -> None:
        """Echo the brand's reply as X would deliver it, hand the conversation back, and let the
        customer answer it the scenario's think time after the reply."""
        plan, setup, pl = self.plan, RUN.setup, RUN.payloads
        assert setup is not None and pl is not None
        customer = [t for t in detail.get("tweets", []) if not t.get("is_brand")]
        last = customer[-1]["id_str"] if customer else tweet_id(setup.run_id, i, turn - 1)
        brand = pl.delivery(pl.brand_tweet(i, turn, text, replied, last))
        self._webhook(brand, "brand_tweet")
        self._post(f"/agent/conversations/{cid}/release", "release")
        at = replied + plan.conversation(i).think[turn - 1] / plan.speedup
        RUN.customers.spawn(self._follow_up, i, turn, at)

    def _follow_up(self, i: int, turn: int, at: float) -> None:
        gevent.sleep(max(0.0, at - time.time()))
        plan, setup, pl = self.plan, RUN.setup, RUN.payloads
        assert setup is not None and pl is not None
        arr = plan.arrivals
        body = pl.followup(i, arr.kinds[int(arr.kind[i])], turn, int(arr.followers[i]), time.time(),
                           tweet_id(setup.run_id, i, 50 + turn))
        self._webhook(body, "followup")

    def _webhook(self, body: bytes, name: str) -> None:
        pl = RUN.payloads
        assert pl is not None
        with self.client.post("/webhooks/twitter", data=body, headers=pl.headers(body), name=name,
                              catch_response=True, context={"chirpdesk": 1, "what": name}) as resp:
            if resp.status_code != 200:
                resp.failure(f"{name}: HTTP {resp.status_code}")


def start_dispatcher(environment: Any) -> None:
    """Start this process's dispatcher (a :class:`TweetUser` outside the runner's user count)."""
    RUN.dispatching = True
    # Locust copies --host only onto the classes it spawns; this one it does not spawn.
    TweetUser.host = environment.host
    user = TweetUser(environment)
    RUN.dispatcher = gevent.spawn(user.dispatch)


def stop_dispatcher() -> None:
    """Stop sending (test over); in-flight requests get a moment to finish and be recorded."""
    if RUN.dispatcher is not None:
        RUN.dispatcher.kill(block=False)
    if RUN.send_pool is not None:
        RUN.send_pool.join(timeout=2.0)


def on_request(request_type: str, name: str, response_time: float, response_length: int,
               response: Any = None, context: dict[str, Any] | None = None,
               exception: BaseException | None = None, start_time: float | None = None,
               **_: Any) -> None:
    """Locust request listener: record every chirpdesk request with its intended time."""
    if not context or "chirpdesk" not in context:
        return
    status = int(getattr(response, "status_code", 0) or 0) if response is not None else 0
    start = start_time if start_time is not None else time.time() - response_time / 1000.0
    RUN.record(name, context, start, response_time, status, exception is None)


def is_master(runner: Any) -> bool:
    """True on a distributed master (which sends no requests itself)."""
    return isinstance(runner, MasterRunner)


def is_worker(runner: Any, environment: Any = None) -> bool:
    """True on a distributed worker. With ``environment``, also while the worker's runner is
    still being constructed (``environment.runner`` is not set yet, but Locust can already
    deliver messages and fire ``test_start``): ``--worker`` (set on ``--processes`` children)."""
    if isinstance(runner, WorkerRunner):
        return True
    options = getattr(environment, "parsed_options", None) if environment is not None else None
    return runner is None and bool(getattr(options, "worker", False))
