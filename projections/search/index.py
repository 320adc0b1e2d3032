"""The search index: a projection of the journal into SQLite FTS5 (``cache/search.sqlite``).

Like every projection it is derived data, never the truth. It says which journal
(id, epoch) and which seq it covers; `ensure_index` brings it up to date by folding
only the events after that seq (`projections.search.docs.documents` is a pure
function of each event, so the incremental index equals a rebuild). Anything wrong
with the file (missing, not a database, malformed, another journal, an older schema,
a seq beyond the log's end, a compaction since: a new epoch) costs a rebuild, never
an error. A rebuild writes a new file beside the old one and renames it into place,
so a reader never sees half an index. Compacted events are indexed from ``archive/``
(the original history), so a compaction loses nothing searchable unless it dropped
the events.

Tables::

    meta(key, value)                     version, journal_id, epoch, seq
    sessions(id, sid, project)           one row per session, project from SessionStart
    docs(id, key, sess, agent, kind, tool, event, seq, ts, last_seq, last_ts, hits, path, text)
    fts(text, path, kind, sess, agent)   FTS5 over docs (external content, through the view
                                         fts_src), BM25 ranked on text and path; kind,
                                         sess ("s" + sessions.id) and agent are there so
                                         that filters are part of the match

A document repeated in one session (the same file read again, the same command run
again) is one row: ``key`` is a hash of (session, agent, kind, tool, text, path), ``seq``/``ts``
its first occurrence, ``last_seq``/``last_ts`` its latest and ``hits`` the count.

Writers (updates, rebuilds) hold ``cache/search.lock``; readers take no lock. Files are
0600 in the 0700 ``cache/`` directory. The index holds only text the journal holds.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import msgspec

from journal.errors import LockTimeout
from journal.storage.events import Event, typed_decoder
from journal.storage.locking import FileLock, deadline
from journal.layout import ensure_subdir, open_private, temp_path
from journal.storage.reader import Reader
from projections.errors import ProjectionError
from projections.search.docs import INDEXED_TYPES, PAYLOAD_TYPES, documents, view_documents
from projections.views import RAW_TYPES, VIEW_TYPES

if TYPE_CHECKING:
    from journal import Journal

__all__ = [
    "INDEX_FILE",
    "INDEX_VERSION",
    "IndexBusy",
    "SearchIndexError",
    "IndexStatus",
    "index_path",
    "ensure_index",
    "rebuild_index",
    "index_before_compaction",
    "carry_index",
    "connect",
]

INDEX_FILE = "search.sqlite"
LOCK_FILE = "search.lock"
#: Schema version of the index: bump it when tables or `documents` change meaning.
INDEX_VERSION = 2
_BATCH = 20_000

_TABLES = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE sessions(id INTEGER PRIMARY KEY, sid TEXT NOT NULL UNIQUE, project TEXT NOT NULL DEFAULT '');
CREATE TABLE docs(
  id INTEGER PRIMARY KEY, key INTEGER NOT NULL, sess INTEGER NOT NULL, agent TEXT NOT NULL,
  kind TEXT NOT NULL, tool TEXT NOT NULL, event TEXT NOT NULL, seq INTEGER NOT NULL, ts TEXT NOT NULL,
  last_seq INTEGER NOT NULL, last_ts TEXT NOT NULL, hits INTEGER NOT NULL, path TEXT NOT NULL,
  text TEXT NOT NULL);
CREATE VIEW fts_src AS SELECT id, text, path, kind, 's' || sess AS sess, agent FROM docs;
CREATE VIRTUAL TABLE fts USING fts5(text, path, kind, sess, agent, content='fts_src', content_rowid='id',
  tokenize='unicode61 remove_diacritics 2');
INSERT INTO fts(fts, rank) VALUES('rank', 'bm25(1.0, 1.0, 0.0, 0.0, 0.0)');
INSERT INTO fts(fts, rank) VALUES('automerge', 0);
"""
# automerge 0: FTS5's default (4) makes every small incremental transaction pay for part
# of merging the big segments a rebuild leaves (~200 ms per 1,000 events at 1M events,
# against ~30 ms without); segments of one level are still merged when there are 16 of
# them (crisismerge), so their number stays bounded.
# Made after a bulk load (an index built at the end is cheaper than one kept up row by row).
_INDEXES = (
    "CREATE UNIQUE INDEX docs_key ON docs(key)",
    "INSERT INTO fts(fts) VALUES('rebuild')",
    """CREATE TRIGGER docs_ai AFTER INSERT ON docs BEGIN
  INSERT INTO fts(rowid, text, path, kind, sess, agent)
  VALUES (new.id, new.text, new.path, new.kind, 's' || new.sess, new.agent);
END""",
)

_UPSERT = """
INSERT INTO docs(key, sess, agent, kind, tool, event, seq, ts, last_seq, last_ts, hits, path, text)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT(key) DO UPDATE SET last_seq = excluded.last_seq, last_ts = excluded.last_ts, hits = hits + 1
"""
_INSERT = "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_AGAIN = "UPDATE docs SET last_seq = ?, last_ts = ?, hits = hits + ? WHERE id = ?"


class SearchIndexError(ProjectionError):
    """The index cannot be built or read (disk full, a lock held too long)."""


class IndexBusy(SearchIndexError):
    """Another process holds the index's write lock."""


class _StartView(msgspec.Struct, gc=False):
    cwd: str = ""
    journal: dict[str, Any] | None = msgspec.field(default=None, name="_journal")


_START = msgspec.json.Decoder(_StartView)


class IndexStatus(msgspec.Struct):
    """What `ensure_index` did: the seq covered, events folded, and why it rebuilt."""

    seq: int = 0
    events: int = 0
    docs: int = 0
    rebuilt: str = ""
    stale: bool = False
    seconds: float = 0.0


def index_path(root: Path) -> Path:
    """Where the search index of the journal at *root* lives."""
    return root / "cache" / INDEX_FILE


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the index file at *path* (it must exist)."""
    uri = f"file:{path}?mode={'ro' if readonly else 'rw'}"
    conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA cache_size=-16000")
    # Sorts and temporary tables stay in memory: SQLite's temporary files would be
    # written outside the journal directory (privacy).
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def _meta(conn: sqlite3.Connection) -> dict[str, Any]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def _why_stale(conn: sqlite3.Connection, journal_id: str, epoch: int, last: int) -> str:
    """Why the index cannot be brought up to date incrementally ("" when it can)."""
    meta = _meta(conn)
    if meta.get("version") != INDEX_VERSION:
        return f"index schema {meta.get('version')} is not {INDEX_VERSION}"
    if meta.get("journal_id") != journal_id:
        return "index belongs to another journal"
    if meta.get("epoch") != epoch:
        return "the journal was compacted since"
    if not isinstance(meta.get("seq"), int) or meta["seq"] > last:
        return "index covers events the journal does not have"
    return ""


class _Lock:
    """``cache/search.lock``: one index writer at a time (flock, with a timeout)."""

    def __init__(self, root: Path, wait: float) -> None:
        self.path = ensure_subdir(root, "cache") / LOCK_FILE
        self.wait = wait
        self.lock = FileLock(self.path)

    def __enter__(self) -> _Lock:
        try:
            self.lock.lock(deadline(self.wait))
        except LockTimeout:
            self.lock.close()
            raise IndexBusy(f"the search index of {self.path.parent.parent} is being updated") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.unlock()
        self.lock.close()


class _Writer:
    """Folds events into open index tables, in batches.

    Incremental (the default): each document is upserted by its key, and a trigger
    indexes new rows. *bulk* (a rebuild into an empty file): documents are deduplicated
    here, inserted with their ids, and indexed once at the end (`_INDEXES`). Both give
    the same rows with the same ids: a row's id is the order of its first occurrence.
    """

    def __init__(self, conn: sqlite3.Connection, *, bulk: bool = False) -> None:
        self.conn = conn
        self.bulk = bulk
        self.sessions: dict[str, int] = dict(conn.execute("SELECT sid, id FROM sessions").fetchall())
        self.rows: list[tuple[Any, ...]] = []
        self.pending: dict[int, list[Any]] = {}  # bulk: id -> row not yet inserted
        self.again: dict[int, list[Any]] = {}  # bulk: id -> [last_seq, last_ts, more hits]
        self.ids: dict[int, int] = {}  # bulk: key -> id
        self.docs = 0

    def session(self, sid: str, project: str = "") -> int:
        sess = self.sessions.get(sid)
        if sess is None:
            sess = self.conn.execute("INSERT INTO sessions(sid, project) VALUES (?, ?)", (sid, project)).lastrowid
            assert sess is not None
            self.sessions[sid] = sess
        elif project:
            self.conn.execute("UPDATE sessions SET project = ? WHERE id = ? AND project = ''", (project, sess))
        return sess

    def fold(self, chunks: Iterator[list[Any]], progress: Callable[[int], None] | None = None) -> int:
        n = 0
        for chunk in chunks:
            n += len(chunk)
            typed = chunk[0].__class__ is not Event
            for event in chunk:
                type_ = event.type
                if type_ == "SessionStart":
                    if event.session:
                        self.session(event.session, _project(event.data))
                    continue
                if type_ not in INDEXED_TYPES:
                    continue
                if typed:
                    docs = view_documents(type_, event.data, event.agent)
                else:
                    docs = documents(type_, event.data, event.agent)
                if docs:
                    self.add(event, type_, docs)
            if len(self.rows) >= _BATCH or len(self.pending) >= _BATCH:
                self.flush()
            if progress is not None:
                progress(len(chunk))
        self.flush()
        return n

    def add(self, event: Any, type_: str, docs: list[Any]) -> None:
        sid = event.session or ""
        sess = self.sessions.get(sid) or self.session(sid)
        agent = event.agent or ""
        seq, ts = event.seq, event.ts
        blake = hashlib.blake2b
        for kind, text, path, tool in docs:
            key = int.from_bytes(blake(f"{sid}\x1f{agent}\x1f{kind}\x1f{tool}\x1f{text}\x1f{path}".encode(),
                                       digest_size=8).digest(), "little", signed=True)
            if not self.bulk:
                self.rows.append((key, sess, agent, kind, tool, type_, seq, ts, seq, ts, path, text))
                continue
            # Bulk: the first occurrence is a new row; later ones move its latest seq/ts.
            self.docs += 1
            rid = self.ids.get(key)
            if rid is None:
                rid = self.ids[key] = len(self.ids) + 1
                self.pending[rid] = [rid, key, sess, agent, kind, tool, type_, seq, ts, seq, ts, 1, path, text]
                continue
            row = self.pending.get(rid)
            if row is not None:
                row[9], row[10], row[11] = seq, ts, row[11] + 1
                continue
            later = self.again.get(rid)
            if later is None:
                self.again[rid] = [seq, ts, 1]
            else:
                later[0], later[1], later[2] = seq, ts, later[2] + 1

    def flush(self) -> None:
        if self.rows:
            self.conn.executemany(_UPSERT, self.rows)
            self.docs += len(self.rows)
            self.rows.clear()
        if self.pending:
            self.conn.executemany(_INSERT, self.pending.values())
            self.pending.clear()
        if self.again:
            self.conn.executemany(_AGAIN, [(s, t, k, rid) for rid, (s, t, k) in self.again.items()])
            self.again.clear()


def _project(data: Any) -> str:
    if data.__class__ is not _StartView:
        try:
            data = _START.decode(data)
        except msgspec.DecodeError:
            return ""
    notes = data.journal or {}
    project = notes.get("project_dir")
    return project if isinstance(project, str) and project else data.cwd


def _set_meta(conn: sqlite3.Connection, **values: Any) -> None:
    conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(values.items()))


@functools.lru_cache(maxsize=1)
def _typed() -> msgspec.json.Decoder[Any]:
    """Envelope and payload in one pass; types that make no document keep a raw payload."""
    raw = dict.fromkeys((*VIEW_TYPES, *RAW_TYPES, "PostToolBatch", "Notification"), msgspec.Raw)
    return typed_decoder({**raw, **PAYLOAD_TYPES, "SessionStart": _StartView})


def _events(journal: Journal, first: int, last: int, *, archived: bool) -> Iterator[list[Any]]:
    """The events ``first..last`` in chunks: typed where the decoder takes them, else `Event`s."""
    if archived and journal.manifest().archive:
        # Compacted events come back from archive/ in their place (slower, event by event).
        batch: list[Any] = []
        for event in journal.read(first, to_seq=last, archived=True):
            batch.append(event)
            if len(batch) >= 4096:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    yield from Reader(journal.root).chunks(first, last, decoder=_typed())


def _remove(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def _build(journal: Journal, journal_id: str, epoch: int, last: int,
           progress: Callable[[int], None] | None) -> IndexStatus:
    """Write a fresh index (temp file, then rename over the old one). Call with the lock held."""
    path = index_path(journal.root)
    tmp = temp_path(path)
    os.close(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL))  # 0600 before SQLite opens it
    t0 = time.process_time()
    try:
        conn = connect(tmp)
        try:
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.executescript(_TABLES)
            conn.execute("BEGIN")
            writer = _Writer(conn, bulk=True)
            n = writer.fold(_events(journal, 1, last, archived=True), progress) if last else 0
            for statement in _INDEXES:
                conn.execute(statement)
            _set_meta(conn, version=INDEX_VERSION, journal_id=journal_id, epoch=epoch, seq=last)
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        # A rollback journal left by a crashed writer of the old file must not be
        # replayed into the new one: the lock says no writer is running.
        _remove(path)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return IndexStatus(seq=last, events=n, docs=writer.docs, seconds=time.process_time() - t0)


def _update(conn: sqlite3.Connection, journal: Journal, last: int) -> IndexStatus:
    t0 = time.process_time()
    # No fsync: the rollback journal still makes a killed update roll back; only a power
    # loss could leave the file damaged, and a damaged index is rebuilt (derived data).
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN IMMEDIATE")
    try:
        seq = int(_meta(conn)["seq"])
        writer = _Writer(conn)
        n = writer.fold(_events(journal, seq + 1, last, archived=False)) if last > seq else 0
        _set_meta(conn, seq=last)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return IndexStatus(seq=last, events=n, docs=writer.docs, seconds=time.process_time() - t0)


def _open_checked(path: Path, journal_id: str, epoch: int, last: int) -> tuple[sqlite3.Connection | None, str]:
    """The index and "" if it can be updated in place, else (None, why it must be rebuilt)."""
    if not path.exists():
        return None, "no index yet"
    try:
        conn = connect(path)
    except sqlite3.Error as e:
        return None, f"cannot open the index: {e}"
    try:
        why = _why_stale(conn, journal_id, epoch, last)
    except sqlite3.Error as e:
        why = f"damaged index: {e}"
    if why:
        conn.close()
        return None, why
    return conn, ""


def _index_errors(what: str, root: Path) -> Any:
    """Turn SQLite's errors into one `SearchIndexError` naming the index file."""
    import contextlib

    @contextlib.contextmanager
    def scope() -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise SearchIndexError(f"cannot {what} the search index {index_path(root)}: {e} "
                                   "(`agent-journal search --rebuild` makes a new one)") from e

    return scope()


def ensure_index(
    journal: Journal,
    *,
    wait: float = 60.0,
    max_lag: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Path, IndexStatus]:
    """Bring the index up to the journal's last event; return its path and what was done.

    Waits up to *wait* seconds for another writer; if the index is usable, a busy lock
    (or more than *max_lag* events to fold) leaves it as it is (``stale``). Raises
    `IndexBusy` only when there is no usable index and the lock stays busy.
    """
    with _index_errors("update", journal.root):
        return _ensure(journal, wait, max_lag, progress)


def _ensure(journal: Journal, wait: float, max_lag: int | None,
            progress: Callable[[int], None] | None) -> tuple[Path, IndexStatus]:
    manifest = journal.manifest()
    journal_id, epoch = manifest.journal_id, manifest.epoch
    last = journal.last_seq()
    path = index_path(journal.root)
    conn, why = _open_checked(path, journal_id, epoch, last)
    if conn is not None:
        try:
            seq = int(_meta(conn)["seq"])
            if seq >= last:
                return path, IndexStatus(seq=seq)
            if max_lag is not None and last - seq > max_lag:
                return path, IndexStatus(seq=seq, stale=True)
            try:
                with _Lock(journal.root, 0.0 if wait <= 0 else min(wait, 5.0)):
                    return path, _update(conn, journal, last)
            except IndexBusy:
                return path, IndexStatus(seq=seq, stale=True)
            except sqlite3.DatabaseError as e:
                why = f"damaged index: {e}"
        finally:
            conn.close()
    if max_lag is not None and last > max_lag:
        raise IndexBusy(f"building the search index of {journal.root} would fold {last:,} events ({why})")
    with _Lock(journal.root, wait):
        # Another writer may have built it while we waited for the lock.
        conn, again = _open_checked(path, journal_id, epoch, last)
        if conn is not None:
            try:
                return path, _update(conn, journal, last)
            except sqlite3.DatabaseError as e:
                why = f"damaged index: {e}"
            finally:
                conn.close()
        status = _build(journal, journal_id, epoch, last, progress)
    status.rebuilt = why
    return path, status


def rebuild_index(journal: Journal, *, wait: float = 60.0,
                  progress: Callable[[int], None] | None = None) -> IndexStatus:
    """Rebuild the index from the whole log (``agent-journal rebuild``)."""
    manifest = journal.manifest()
    journal_id, epoch = manifest.journal_id, manifest.epoch
    with _Lock(journal.root, wait), _index_errors("rebuild", journal.root):
        status = _build(journal, journal_id, epoch, journal.last_seq(), progress)
    status.rebuilt = "asked"
    return status


def index_before_compaction(journal: Journal, *, archive: bool) -> int | None:
    """Before a compaction: bring the index up to date, so that `carry_index` can keep it.

    A compaction that drops events builds a missing index first (their text would
    otherwise be unsearchable); one that archives them only updates an existing index
    (a later rebuild reads the archive). Returns the epoch the index covers, or None.
    Never raises: the compaction matters more, and a stale index is only rebuilt.
    """
    try:
        if archive and not index_path(journal.root).exists():
            return None
        ensure_index(journal, wait=30.0)
        return journal.manifest().epoch
    except Exception as e:  # noqa: BLE001 - logged; the index is derived data
        journal.log_error("search_index_failed", f"cannot update the search index before compacting: {e}")
        return None


def carry_index(journal: Journal, old_epoch: int, new_epoch: int) -> bool:
    """After a compaction from *old_epoch* to *new_epoch*: the index stays valid (seqs keep
    their meaning, and it already holds the compacted events), so it moves to the new epoch."""
    path = index_path(journal.root)
    try:
        with _Lock(journal.root, 30.0):
            conn = connect(path)
            try:
                if _meta(conn).get("epoch") != old_epoch:
                    return False
                _set_meta(conn, epoch=new_epoch)
            finally:
                conn.close()
        return True
    except Exception as e:  # noqa: BLE001 - a stale index is rebuilt on next use
        journal.log_error("search_index_failed", f"cannot carry the search index to epoch {new_epoch}: {e}")
        return False
