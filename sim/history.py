"""A brand's tweet history, read from what real exports look like: one columnar table for
calibration (:mod:`chirpdesk.sim.calibrate`).

Three sources, each a real format:

- ``twcs``: the public "Customer Support on Twitter" corpus (twcs.csv: ``tweet_id, author_id,
  inbound, created_at, text, response_tweet_id, in_response_to_tweet_id``; ``created_at`` like
  ``Tue Oct 31 22:10:47 +0000 2017``). Read with pyarrow's streaming CSV reader, block by block:
  the 2.8M-row file never sits in memory as Python objects (pyarrow because it is already a
  dependency, reads CSV in parallel in C++, parses the dates vectorised, and needs no second
  data-frame library);
- ``x-v2``: JSON lines of X API v2 tweet objects (``id, author_id, created_at`` ISO 8601,
  ``conversation_id``, ``in_reply_to_user_id``, ``referenced_tweets``);
- ``desk``: what ``chirpdesk serve`` stored (SQLite path or PostgreSQL DSN).

Real copies are messy: an extra unnamed index column in front, empty fields, ids written as
floats (``3.0``), unparseable dates. Every row that cannot be used is counted in
:attr:`History.rejected` by reason, never silently dropped; replies whose parent is not in the
file (threads cut at the file's edge) are kept and counted by the calibration.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.vocabulary import DM_REQUEST_WORDS

#: History formats :func:`read_history` reads.
FORMATS: tuple[str, ...] = ("twcs", "x-v2", "desk")
#: twcs.csv's documented columns.
TWCS_COLUMNS: tuple[str, ...] = ("tweet_id", "author_id", "inbound", "created_at", "text",
                                 "response_tweet_id", "in_response_to_tweet_id")
#: twcs.csv's date format.
TWCS_TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"
#: Bytes per block of the streaming CSV reader.
BLOCK_BYTES = 16 << 20


@dataclass
class History:
    """Tweets as columns (one entry per usable row), times in epoch seconds.

    ``tweet_id`` int64; ``author`` int32 codes into ``names`` (the authors' ids or handles: a
    few hundred thousand strings rather than one per row); ``inbound`` True for a customer's
    tweet, False for a brand's; ``created`` float64; ``parent`` the id of the tweet it answers
    (-1: none). The text itself is not kept (a 2.8M-row history then fits in well under 1 GB),
    only what calibration reads from it: ``asks_dm`` (the text asks for a private channel,
    :data:`DM_PATTERN`) and ``mention`` (int32 code into ``mention_names`` of the first
    ``@handle`` the tweet addresses, lower-case; -1: none). ``rows_read`` counts every data row
    seen, ``rejected`` the rows left out by reason.
    """

    tweet_id: np.ndarray
    author: np.ndarray
    names: np.ndarray
    inbound: np.ndarray
    created: np.ndarray
    parent: np.ndarray
    asks_dm: np.ndarray
    mention: np.ndarray
    mention_names: np.ndarray
    source: str
    format: str
    rows_read: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def __len__(self) -> int:
        return int(self.tweet_id.size)

    def code(self, name: str) -> int:
        """The author code of ``name`` (-1 when absent)."""
        hit = np.flatnonzero(self.names == name)
        return int(hit[0]) if hit.size else -1

    def mention_code(self, name: str) -> int:
        """The mention code of ``@name`` (any case; -1 when nobody mentions it)."""
        hit = np.flatnonzero(self.mention_names == name.lower().lstrip("@"))
        return int(hit[0]) if hit.size else -1

    def reordered(self, order: np.ndarray, **changes: object) -> History:
        """The rows in ``order`` (and any field replaced by ``changes``)."""
        fields_ = {"tweet_id": self.tweet_id[order], "author": self.author[order], "names": self.names,
                   "inbound": self.inbound[order], "created": self.created[order], "parent": self.parent[order],
                   "asks_dm": self.asks_dm[order], "mention": self.mention[order],
                   "mention_names": self.mention_names, "source": self.source, "format": self.format,
                   "rows_read": self.rows_read, "rejected": self.rejected}
        fields_.update(changes)
        return History(**fields_)  # type: ignore[arg-type]


#: A brand reply asking to move to a private channel (:data:`DM_REQUEST_WORDS`), as a regular
#: expression both Python's ``re`` and pyarrow's RE2 read (case-insensitive, word-bounded).
DM_PATTERN = r"(?i)(^|[^\w@])(" + "|".join(re.escape(w) for w in DM_REQUEST_WORDS) + r")($|[^\w])"
#: The handles a tweet mentions.
MENTION_PATTERN = r"@(?P<handle>[A-Za-z0-9_]+)"
_DM_RE = re.compile(DM_PATTERN)
_MENTION_RE = re.compile(MENTION_PATTERN)


def text_facts(texts: list[str], addressed: list[str | None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``asks_dm``, ``mention`` codes and ``mention_names`` of Python texts (the small readers);
    ``addressed`` (one per text, or None) overrides the first @mention."""
    asks = np.fromiter((bool(_DM_RE.search(t)) for t in texts), bool, len(texts))
    first = []
    for i, t in enumerate(texts):
        who = addressed[i] if addressed is not None else None
        if not who:
            m = _MENTION_RE.search(t)
            who = m.group("handle") if m else None
        first.append(who.lower() if who else "")
    names, codes = np.unique(np.asarray(first, dtype=object).astype(str), return_inverse=True)
    codes = codes.astype(np.int32)
    if "" in set(names.tolist()):
        blank = int(np.flatnonzero(names == "")[0])
        codes = np.where(codes == blank, -1, codes).astype(np.int32)
    return asks, codes, names.astype(object)

def _codes(authors: list[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    names, codes = np.unique(np.asarray(authors, dtype=object).astype(str), return_inverse=True)
    return codes.astype(np.int32), names.astype(object)


def detect_format(path: str) -> str:
    """``desk`` for a database (``postgresql://``, ``sqlite:``, ``.sqlite3``/``.db``), ``x-v2`` for
    ``.jsonl``/``.json``/``.ndjson``, else ``twcs``."""
    lower = path.lower()
    if lower.startswith(("postgresql://", "postgres://", "sqlite:")) or lower.endswith((".sqlite3", ".sqlite", ".db")):
        return "desk"
    if lower.endswith((".jsonl", ".json", ".ndjson")):
        return "x-v2"
    return "twcs"


def read_history(path: str, fmt: str | None = None, progress: Callable[[int, int], None] | None = None) -> History:
    """Read a history in ``fmt`` (default: :func:`detect_format`); ``progress(done, total)`` is
    called as it goes (bytes for files). Raises :class:`ChirpdeskError` naming the file and
    what was expected when it cannot be read at all."""
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ChirpdeskError(f"--format: got {fmt!r}, expected one of {', '.join(FORMATS)}")
    if fmt == "desk":
        return read_desk(path)
    if not Path(path).is_file():
        raise ChirpdeskError(f"{path}: no such file (a {fmt} history export was expected)")
    return read_twcs(path, progress) if fmt == "twcs" else read_x_v2(path, progress)


# -- twcs ---------------------------------------------------------------------------------------

def read_twcs(path: str, progress: Callable[[int, int], None] | None = None) -> History:
    """Stream a twcs.csv file (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    total = Path(path).stat().st_size
    with open(path, "rb") as f:
        header = f.readline().decode("utf-8", "replace").strip().split(",")
    names = [h.strip().strip('"') for h in header]
    missing = [c for c in TWCS_COLUMNS if c not in names]
    if missing:
        raise ChirpdeskError(f"{path}: not a twcs.csv export: missing column(s) {', '.join(missing)} "
                             f"(expected {', '.join(TWCS_COLUMNS)}; found {', '.join(names) or 'nothing'})")
    # Every column as text: ids may be written "3.0", booleans "True"/"true", fields empty.
    types = {n: pa.string() for n in names}
    rejected: Counter[str] = Counter()
    pool = pa.default_memory_pool()
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=_count_invalid(rejected)),
        convert_options=pacsv.ConvertOptions(column_types=types, include_columns=list(TWCS_COLUMNS),
                                             strings_can_be_null=True),
    )
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("id", "author", "inbound", "created", "parent",
                                                          "asks_dm", "mention")}
    code_of: dict[str, int] = {}
    mention_of: dict[str, int] = {}
    rows = 0
    done = 0
    for batch in reader:
        rows += batch.num_rows
        tid = _ids(batch.column("tweet_id"))
        created = pc.strptime(batch.column("created_at"), format=TWCS_TIME_FORMAT, unit="s", error_is_null=True)
        created_s = pc.cast(created, pa.int64()).to_numpy(zero_copy_only=False).astype(float) if len(created) else np.zeros(0)
        created_ok = ~np.asarray(pc.is_null(created).to_numpy(zero_copy_only=False), dtype=bool)
        inbound_raw = pc.utf8_lower(pc.utf8_trim_whitespace(batch.column("inbound")))
        is_true = np.asarray(pc.equal(inbound_raw, "true").fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        is_false = np.asarray(pc.equal(inbound_raw, "false").fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        author = batch.column("author_id")
        author_ok = ~np.asarray(pc.is_null(author).to_numpy(zero_copy_only=False), dtype=bool)
        parent = _ids(batch.column("in_response_to_tweet_id"))
        ok = np.ones(batch.num_rows, dtype=bool)
        for reason, good in (("tweet_id missing or not a number", tid >= 0), ("created_at not a twcs date", created_ok),
                             ("inbound not True/False", is_true | is_false), ("author_id missing", author_ok)):
            bad = ok & ~good
            if bad.any():
                rejected[reason] += int(bad.sum())
            ok &= good
        parent_raw = batch.column("in_response_to_tweet_id")
        bad_parent = ok & (parent < 0) & ~np.asarray(pc.is_null(parent_raw).to_numpy(zero_copy_only=False), dtype=bool)
        if bad_parent.any():  # a parent that is there but not an id: the row is unusable as a reply
            rejected["in_response_to_tweet_id not a number"] += int(bad_parent.sum())
            ok &= ~bad_parent
        idx = np.flatnonzero(ok)
        parts["id"].append(tid[idx])
        encoded = pc.dictionary_encode(author.fill_null(""))
        local = [code_of.setdefault(name, len(code_of)) for name in encoded.dictionary.to_pylist()]
        parts["author"].append(np.asarray(local, dtype=np.int32)[encoded.indices.to_numpy(zero_copy_only=False)[idx]])
        parts["inbound"].append(is_true[idx])
        parts["created"].append(created_s[idx])
        parts["parent"].append(parent[idx])
        # What calibration reads from the text, computed here in C++: the text is not kept.
        text = batch.column("text").fill_null("")
        asks = pc.match_substring_regex(text, DM_PATTERN).fill_null(False)
        parts["asks_dm"].append(np.asarray(asks.to_numpy(zero_copy_only=False), dtype=bool)[idx])
        handle = pc.utf8_lower(pc.struct_field(pc.extract_regex(text, MENTION_PATTERN), [0]).fill_null(""))
        enc = pc.dictionary_encode(handle)
        handles = np.asarray([-1 if not h else mention_of.setdefault(h, len(mention_of))
                              for h in enc.dictionary.to_pylist()], dtype=np.int32)
        parts["mention"].append(handles[enc.indices.to_numpy(zero_copy_only=False)[idx]] if handles.size
                                else np.full(idx.size, -1, np.int32))
        pool.release_unused()  # hand freed blocks back: the reader would keep every block's peak
        done = min(total, done + BLOCK_BYTES)
        if progress is not None:
            progress(done, total)
    rows += sum(v for k, v in rejected.items() if k.startswith("malformed row"))
    empty = {"id": np.int64, "author": np.int32, "inbound": bool, "created": float, "parent": np.int64,
             "asks_dm": bool, "mention": np.int32}
    col = {k: np.concatenate(parts[k]) if parts[k] else np.zeros(0, dtype=empty[k]) for k in parts}
    hist = History(col["id"], col["author"], _names(code_of), col["inbound"], col["created"], col["parent"],
                   col["asks_dm"], col["mention"], _names(mention_of), source=path, format="twcs", rows_read=rows,
                   rejected=rejected)
    return _dedupe(hist)


def _names(code_of: dict[str, int]) -> np.ndarray:
    names = np.empty(len(code_of), dtype=object)
    names[list(code_of.values())] = list(code_of.keys())
    return names


def _count_invalid(counter: Counter[str]) -> Callable[[object], str]:
    def handler(row: object) -> str:
        counter["malformed row (wrong number of fields)"] += 1
        return "skip"
    return handler


def _ids(column: object) -> np.ndarray:
    """A text column of ids as int64 (-1 where empty or not a number; ``3.0`` is 3)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_trim_whitespace(column)  # type: ignore[arg-type]
    numeric = pc.match_substring_regex(text, r"^[0-9]+(\.0*)?([eE]\+?[0-9]+)?$").fill_null(False)
    cleaned = pc.if_else(numeric, text, pa.scalar(None, pa.string()))
    values = pc.cast(cleaned, pa.float64()).fill_null(-1.0).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64).astype(np.int64)


def _dedupe(h: History) -> History:
    """Keep the first row of each tweet id (exports repeat rows); count the rest."""
    _, first = np.unique(h.tweet_id, return_index=True)
    if first.size == len(h):
        order = np.argsort(h.tweet_id, kind="stable")
    else:
        h.rejected["duplicate tweet_id"] += len(h) - int(first.size)
        order = np.sort(first)
        order = order[np.argsort(h.tweet_id[order], kind="stable")]
    return h.reordered(order)


# -- X API v2 -----------------------------------------------------------------------------------

def read_x_v2(path: str, progress: Callable[[int, int], None] | None = None) -> History:
    """Read JSON lines of X API v2 tweets. A tweet is a brand's when its author is the brand
    (``--brand``, matched later) — here every tweet is kept with ``inbound`` unknown (True) and
    settled by :func:`chirpdesk.sim.calibrate.calibrate`, which knows the brand's id."""
    from datetime import datetime

    total = Path(path).stat().st_size
    ids, authors, created, parents, texts = [], [], [], [], []
    addressed_first: list[str | None] = []
    rejected: Counter[str] = Counter()
    rows = 0
    done = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            done += len(line)
            if not line.strip():
                continue
            rows += 1
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                rejected["not a JSON object"] += 1
                continue
            if isinstance(obj, dict) and isinstance(obj.get("data"), dict):
                obj = obj["data"]  # a streamed {"data": {...}} envelope
            if not isinstance(obj, dict):
                rejected["not a JSON object"] += 1
                continue
            try:
                tid = int(str(obj["id"]))
            except (KeyError, ValueError):
                rejected["id missing or not a number"] += 1
                continue
            author = obj.get("author_id")
            if not author:
                rejected["author_id missing"] += 1
                continue
            try:
                at = datetime.fromisoformat(str(obj["created_at"]).replace("Z", "+00:00")).timestamp()
            except (KeyError, ValueError):
                rejected["created_at not ISO 8601"] += 1
                continue
            parent = -1
            for ref in obj.get("referenced_tweets") or ():
                if isinstance(ref, dict) and ref.get("type") == "replied_to":
                    try:
                        parent = int(str(ref.get("id")))
                    except ValueError:
                        parent = -1
            ids.append(tid)
            authors.append(str(author))
            created.append(at)
            parents.append(parent)
            # Who the tweet addresses (X v2 gives ids, not only handles), so that an unanswered
            # thread is attributed to the brand it was written to.
            raw_entities = obj.get("entities")
            entities: dict[str, Any] = raw_entities if isinstance(raw_entities, dict) else {}
            mentioned = [m.get("id") for m in entities.get("mentions") or () if isinstance(m, dict)]
            who = obj.get("in_reply_to_user_id") or next((m for m in mentioned if m), None)
            addressed_first.append(str(who) if who else None)
            texts.append(str(obj.get("text") or ""))
            if progress is not None and rows % 100_000 == 0:
                progress(done, total)
    if progress is not None:
        progress(total, total)
    codes, names = _codes(authors)
    asks, mention, mention_names = text_facts(texts, addressed_first)
    hist = History(np.asarray(ids, dtype=np.int64), codes, names, np.ones(len(ids), dtype=bool),
                   np.asarray(created, dtype=float), np.asarray(parents, dtype=np.int64), asks, mention, mention_names,
                   source=path, format="x-v2", rows_read=rows, rejected=rejected)
    return _dedupe(hist)


# -- the desk's own database -------------------------------------------------------------------

def read_desk(db: str) -> History:
    """What ``chirpdesk serve`` stored: customers' tweets and the brand's (``is_brand``), with
    their reply links. The brand's answers through the agent API are stored as replies of the
    conversation: each becomes a brand tweet answering the conversation's first tweet."""
    from chirpdesk.desk.config import DeskConfig
    from chirpdesk.desk.storage import describe_db, open_storage

    try:
        backend, target = describe_db(db)
    except Exception as exc:  # noqa: BLE001
        raise ChirpdeskError(f"{db}: not a database URL or SQLite path ({exc})") from None
    if backend == "sqlite" and not Path(target).is_file():
        raise ChirpdeskError(f"{db}: no such SQLite file (the desk's database, as `chirpdesk serve --db` wrote it)")
    try:
        storage = open_storage(DeskConfig(db=db, secret="calibrate"))
        storage.open()
    except Exception as exc:  # noqa: BLE001 - any failure to open is one clear line
        raise ChirpdeskError(f"{db}: cannot open the desk's database ({type(exc).__name__}: {exc})") from None
    try:
        def fetch(conn: object) -> tuple[list[tuple], list[tuple]]:
            tweets = conn.execute(  # type: ignore[attr-defined]
                "SELECT id_str, author_id, is_brand, created_at, in_reply_to_status_id_str, text FROM tweets").fetchall()
            replies = conn.execute(  # type: ignore[attr-defined]
                "SELECT r.id, c.first_tweet_id, r.created_at, r.text, r.channel FROM replies r"
                " JOIN conversations c ON c.id = r.conversation_id WHERE c.first_tweet_id IS NOT NULL").fetchall()
            return tweets, replies

        tweets, replies = storage.write_sync(fetch)  # on this thread's own connection; reads only
    except Exception as exc:  # noqa: BLE001
        raise ChirpdeskError(f"{db}: not a chirpdesk desk database ({type(exc).__name__}: {exc})") from None
    finally:
        storage.close()
    rejected: Counter[str] = Counter()
    ids, authors, inbound, created, parents, texts = [], [], [], [], [], []
    for tid, author, is_brand, at, reply_to, text in tweets:
        ids.append(int(tid))
        authors.append(str(author))
        inbound.append(not bool(is_brand))
        created.append(float(at))
        parents.append(int(reply_to) if reply_to else -1)
        texts.append(text or "")
    # Agent replies have no tweet id of their own: number them past every stored id.
    next_id = (max(ids) + 1) if ids else 1
    for _rid, first_tweet, at, text, channel in replies:
        ids.append(next_id)
        next_id += 1
        authors.append("brand")
        inbound.append(False)
        created.append(float(at))
        parents.append(int(first_tweet))
        texts.append(("dm " if channel == "dm" else "") + (text or ""))
    codes, names = _codes(authors)
    # Every conversation in the desk's database is the brand's: its customers addressed it.
    asks, _, _ = text_facts(texts)
    mention = np.zeros(len(ids), dtype=np.int32)
    hist = History(np.asarray(ids, dtype=np.int64), codes, names, np.asarray(inbound, dtype=bool),
                   np.asarray(created, dtype=float), np.asarray(parents, dtype=np.int64), asks, mention,
                   np.asarray(["brand"], dtype=object), source=db, format="desk", rows_read=len(ids), rejected=rejected)
    return _dedupe(hist)

