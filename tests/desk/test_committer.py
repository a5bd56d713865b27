"""The commit process and the shared ingest step: real SQLite, real child processes, real kills."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from chirpdesk.desk.committer import CommitProcess, CommitProcessLost, decode_batch, encode_batch
from chirpdesk.desk.config import DeskConfig
from chirpdesk.desk.ingest import (
    CommitError,
    Results,
    Transaction,
    decode_results,
    encode_results,
    store_bodies,
)
from chirpdesk.desk.metrics import Metrics
from chirpdesk.desk.schema import InvalidInput
from chirpdesk.desk.storage import open_storage
from chirpdesk.desk.storage_base import Brand, IngestResult
from chirpdesk.desk.writer import GroupCommitWriter
from deskkit import BRAND_ID, DeskServer, delivery, signed, tweet

#: The event type of a tweet delivery, as results carry it.
TWEETS = "tweet_create_events"


def _config(tmp_path: Path, **overrides: object) -> DeskConfig:
    config = DeskConfig(db=str(tmp_path / "desk.sqlite3"), secret="s", **overrides)  # type: ignore[arg-type]
    storage = open_storage(config)
    storage.open()  # the desk creates the schema before its commit process starts
    storage.close()
    return config


def _stored_ids(config: DeskConfig) -> list[str]:
    with sqlite3.connect(config.db) as conn:
        return [row[0] for row in conn.execute("SELECT id_str FROM tweets ORDER BY id_str")]


def test_batch_frames_round_trip_and_reject_garbage() -> None:
    bodies = [b"", b"{}", b"x" * 70_000, "\u00e9t\u00e9".encode()]
    decoded, now = decode_batch(encode_batch(bodies, 1234.5))
    assert [bytes(b) for b in decoded] == bodies and now == 1234.5
    with pytest.raises(ValueError, match="holds"):
        decode_batch(encode_batch(bodies, 1.0) + b"extra")


def test_results_round_trip_without_pickling_exceptions() -> None:
    results: Results = [IngestResult(1, 0, TWEETS), InvalidInput("tweet_create_events[0].id_str", "expected an id"),
                        sqlite3.OperationalError("disk I/O error"), IngestResult(0, 2)]
    back, transaction = decode_results(encode_results(results, (7, 0.25)))
    assert transaction == (7, 0.25)
    assert back[0] == IngestResult(1, 0, TWEETS) and back[3] == IngestResult(0, 2)
    assert isinstance(back[1], InvalidInput)
    assert (back[1].field, back[1].problem) == ("tweet_create_events[0].id_str", "expected an id")
    assert isinstance(back[2], CommitError) and str(back[2]) == "OperationalError: disk I/O error"
    assert decode_results(encode_results([]))[1] is None


def test_store_bodies_answers_each_body_and_stores_each_tweet_once(tmp_path: Path) -> None:
    config = _config(tmp_path)
    storage = open_storage(config)
    first, second = tweet("where is my parcel?"), tweet("still nothing #fail")
    follows = b'{"for_user_id": "%s", "follow_events": [{"type": "follow"}]}' % BRAND_ID.encode()
    batches = [
        ([delivery([first]), b"{not json", follows], 100.0),
        # The same tweet again in a later batch of the same transaction: a duplicate.
        ([delivery([first, second]), b'{"for_user_id": "x"}'], 101.0),
    ]
    try:
        answers = store_bodies(storage, batches, Brand(BRAND_ID, None), 10_000)
    finally:
        storage.close()
    assert [len(a) for a in answers] == [3, 2]
    assert answers[0][0] == IngestResult(1, 0, TWEETS)
    assert isinstance(answers[0][1], InvalidInput) and answers[0][1].field == "body"
    assert answers[0][2] == IngestResult(0, 0, "follow_events")  # acknowledged, nothing to store
    assert answers[1][0] == IngestResult(1, 1, TWEETS)
    assert isinstance(answers[1][1], InvalidInput) and answers[1][1].field == "for_user_id"
    assert _stored_ids(config) == sorted([first["id_str"], second["id_str"]])


class _Collector:
    """Receives a committer's answers on the loop, in order."""

    def __init__(self) -> None:
        self.answers: list[tuple[Results, Transaction | None]] = []
        self.changed = asyncio.Event()

    def __call__(self, results: Results, transaction: Transaction | None) -> None:
        self.answers.append((results, transaction))
        self.changed.set()

    async def wait_for(self, count: int, timeout: float = 20.0) -> None:
        async def wait() -> None:
            while len(self.answers) < count:
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), timeout)


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # reap it if it is our child and already a zombie
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def test_commit_process_answers_pipelined_batches_in_order(tmp_path: Path) -> None:
    config = _config(tmp_path)
    tweets = [tweet(f"help {i}", user_id=f"77{i}") for i in range(6)]

    async def run() -> tuple[list[tuple[Results, Transaction | None]], int | None]:
        collector = _Collector()
        committer = CommitProcess(config)
        await committer.start(asyncio.get_running_loop(), collector)
        pid = committer.pid
        # Three batches handed over at once, as the writer does while a commit runs.
        committer.commit([delivery([tweets[0]]), delivery([tweets[1]])], time.time())
        committer.commit([delivery([tweets[2]]), b"[]"], time.time())
        committer.commit([delivery(tweets[3:])], time.time())
        await collector.wait_for(3)
        await committer.close()
        return collector.answers, pid

    answers, pid = asyncio.run(run())
    assert [r for r, _ in answers][0] == [IngestResult(1, 0, TWEETS), IngestResult(1, 0, TWEETS)]
    assert answers[1][0][0] == IngestResult(1, 0, TWEETS) and isinstance(answers[1][0][1], InvalidInput)
    assert answers[2][0] == [IngestResult(3, 0, TWEETS)]
    # Every batch is covered by exactly one reported transaction, ending on its last batch.
    assert answers[-1][1] is not None
    assert sum(t[0] for _, t in answers if t is not None) == 5
    assert _stored_ids(config) == sorted(t["id_str"] for t in tweets)
    assert pid is not None and _wait_gone(pid), "the commit process outlived close()"


def test_a_dead_commit_process_fails_its_batch_and_is_replaced(tmp_path: Path) -> None:
    # Each commit takes 1 s, so the kill lands while the child holds the batch.
    config = _config(tmp_path, write_delay=1.0)
    lost, kept = tweet("lost with the child", user_id="8801"), tweet("after the restart", user_id="8802")

    async def run() -> tuple[Results, Results, int | None, int | None]:
        collector = _Collector()
        committer = CommitProcess(config)
        await committer.start(asyncio.get_running_loop(), collector)
        first_pid = committer.pid
        committer.commit([delivery([lost]), delivery([lost])], time.time())
        await asyncio.sleep(0.3)
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        await collector.wait_for(1)
        committer.commit([delivery([kept])], time.time())  # starts a new child
        await collector.wait_for(2)
        second_pid = committer.pid
        await committer.close()
        return collector.answers[0][0], collector.answers[1][0], first_pid, second_pid

    failed, ok, first_pid, second_pid = asyncio.run(run())
    assert len(failed) == 2 and all(isinstance(r, CommitProcessLost) for r in failed)
    assert ok == [IngestResult(1, 0, TWEETS)]
    assert second_pid is not None and second_pid != first_pid
    assert kept["id_str"] in _stored_ids(config)


def test_commit_process_that_cannot_start_fails_start_up(tmp_path: Path) -> None:
    # A database path that is a directory: the child cannot open it and exits.
    config = DeskConfig(db=str(tmp_path), secret="s")

    async def run() -> None:
        committer = CommitProcess(config, ready_timeout=30)
        await committer.start(asyncio.get_running_loop(), _Collector())

    with pytest.raises(CommitProcessLost, match="did not start"):
        asyncio.run(run())


def test_kill_dash_nine_of_the_desk_ends_its_commit_process(
    make_db: Callable[[str], str], tmp_path: Path
) -> None:
    server = DeskServer(make_db("sqlite"), log=tmp_path / "server.log").start()
    try:
        assert server.proc is not None
        children = [int(c) for c in Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
                    .read_text().split()]
        assert len(children) == 1, "one commit process per desk process"
        t = tweet("acked before the kill")
        body = delivery([t])
        assert httpx.post(server.url + "/webhooks/twitter", content=body, headers=signed(body)).status_code == 200
    finally:
        server.kill()
    assert _wait_gone(children[0]), "the commit process must exit when the desk dies"
    with sqlite3.connect(server.db) as conn:
        assert conn.execute("SELECT count(*) FROM tweets WHERE id_str = ?", (t["id_str"],)).fetchone() == (1,)


def test_writer_setting_is_checked() -> None:
    from chirpdesk.desk.config import config_from_env
    from chirpdesk.sim.errors import ChirpdeskError

    assert config_from_env({"CHIRPDESK_WRITER": "thread"}).writer == "thread"
    with pytest.raises(ChirpdeskError, match="CHIRPDESK_WRITER.*process, thread"):
        config_from_env({"CHIRPDESK_WRITER": "fork"})


@pytest.mark.parametrize("pipeline", [1, 8])
def test_after_a_child_dies_every_later_batch_gets_its_own_answer(tmp_path: Path, pipeline: int) -> None:
    # Each commit sleeps 1 s first: the kill lands while the child holds one batch. With a
    # pipeline the next batch waits in the child's socket and fails too; without one it waits in
    # the writer and goes, like everything after it, to a new child, answered in order.
    config = _config(tmp_path, write_delay=1.0)
    held, queued = tweet("held by the child", user_id="8901"), tweet("queued behind it", user_id="8902")
    after = tweet("sent after the death", user_id="8903")

    async def run() -> list[object]:
        committer = CommitProcess(config)
        writer = GroupCommitWriter(committer, Metrics(), pipeline=pipeline)
        await writer.start()
        first = writer.submit(delivery([held]))
        await asyncio.sleep(0.3)
        second = writer.submit(delivery([queued]))
        await asyncio.sleep(0.05)
        assert committer.pid is not None
        os.kill(committer.pid, signal.SIGKILL)
        outcomes: list[object] = []
        for future in (first, second):
            try:
                outcomes.append(await future)
            except CommitProcessLost as exc:
                outcomes.append(exc)
        bad, good = writer.submit(b"not JSON at all"), writer.submit(delivery([after]))
        try:
            outcomes.append(await bad)
        except InvalidInput as exc:
            outcomes.append(exc)
        outcomes.append(await good)
        assert writer.depth == 0
        await writer.stop()
        return outcomes

    lost, second, bad, good = asyncio.run(asyncio.wait_for(run(), 60))
    assert isinstance(lost, CommitProcessLost)
    assert isinstance(bad, InvalidInput) and bad.field == "body"
    assert good == IngestResult(1, 0, TWEETS)
    if pipeline == 1:
        assert second == IngestResult(1, 0, TWEETS)
        assert _stored_ids(config) == sorted([queued["id_str"], after["id_str"]])
    else:
        assert isinstance(second, CommitProcessLost)
        assert _stored_ids(config) == [after["id_str"]]


def test_an_answer_that_does_not_match_its_batch_fails_the_batch() -> None:
    class ShortAnswers:
        """A committer with a bug: one result too few."""

        async def start(self, loop: asyncio.AbstractEventLoop, done: Callable[..., None]) -> None:
            self.loop, self.done = loop, done

        def commit(self, bodies: list[bytes], now: float) -> None:
            self.loop.call_soon(self.done, [IngestResult(1, 0)] * (len(bodies) - 1), None)

        async def close(self) -> None:
            pass

        alive = True

    async def run() -> list[BaseException | None]:
        writer = GroupCommitWriter(ShortAnswers(), Metrics(), ack_timeout=5)
        await writer.start()
        futures = [writer.submit(b"{}"), writer.submit(b"{}")]
        await asyncio.wait(futures, timeout=2)
        assert writer.depth == 0
        await writer.stop()
        return [f.exception() if f.done() else None for f in futures]

    errors = asyncio.run(asyncio.wait_for(run(), 60))
    assert all(isinstance(e, CommitError) for e in errors), errors


@pytest.mark.parametrize("pipeline", [2, 64])
def test_a_full_batch_is_handed_over_at_once_and_the_pipeline_caps_the_batches_in_hand(
    tmp_path: Path, pipeline: int
) -> None:
    # 40 requests submit within one loop iteration: every 16th hands its batch to the committer
    # right away (so the child starts while the loop reads on), the rest go at the iteration's
    # end; with room for only 2 batches the last 8 wait for the first answer instead. (Checked
    # on asyncio's own loop: the end-of-iteration flush and this task's wake-up were both ready
    # before the loop polls for the child's answer, so they run first.)
    config = _config(tmp_path)
    tweets = [tweet(f"burst {i}", user_id=f"66{i}") for i in range(40)]

    class Recording(CommitProcess):
        """The real commit process, noting the size of each batch it is handed."""

        sizes: list[int] = []

        def commit(self, bodies: list[bytes], now: float) -> None:
            self.sizes.append(len(bodies))
            super().commit(bodies, now)

    async def run() -> tuple[list[int], list[int], list[int], list[IngestResult]]:
        committer = Recording(config)
        committer.sizes = []
        writer = GroupCommitWriter(committer, Metrics(), pipeline=pipeline, flush_at=16)
        await writer.start()
        futures = [writer.submit(delivery([t])) for t in tweets]
        handed_at_once = list(committer.sizes)
        await asyncio.sleep(0)  # the end-of-iteration flush runs
        after_iteration = list(committer.sizes)
        results = list(await asyncio.gather(*futures))
        assert writer.depth == 0
        await writer.stop()
        return handed_at_once, after_iteration, committer.sizes, results

    at_once, after_iteration, sizes, results = asyncio.run(asyncio.wait_for(run(), 60))
    assert at_once == [16, 16]
    assert after_iteration == ([16, 16] if pipeline == 2 else [16, 16, 8])
    assert sizes == [16, 16, 8]
    assert results == [IngestResult(1, 0, TWEETS)] * 40
    assert _stored_ids(config) == sorted(t["id_str"] for t in tweets)


@pytest.mark.parametrize(("pipeline", "flush_at"), [(0, 16), (64, 0)])
def test_a_writer_that_could_never_hand_over_is_refused(pipeline: int, flush_at: int) -> None:
    with pytest.raises(ValueError, match="pipeline and flush_at must be >= 1"):
        # A commit process that is never started: nothing is spawned by constructing it.
        GroupCommitWriter(CommitProcess(DeskConfig()), Metrics(), pipeline=pipeline, flush_at=flush_at)
