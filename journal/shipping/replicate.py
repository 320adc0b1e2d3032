"""Replicate a journal into PostgreSQL, exactly once.

Every event goes to ``agent_journal.events``, keyed by ``(journal_id, seq)``: the
journal's stable id (`journal.shipping.state.ensure_journal_id`) and the event's seq. A run:

1. takes ``ship.lock`` (one run per journal at a time on this machine);
2. creates or migrates the schema (`Migration`s: the core tables here, views from
   the layers above), under a transaction-scoped advisory lock;
3. registers the journal in ``agent_journal.journals`` (host, user, project, path)
   and notes the manifest's lost and compacted seq ranges in ``agent_journal.gaps``;
4. ships batches in seq order from the journal's shipped mark *as the database
   records it* (``journals.shipped_seq``, read ``FOR UPDATE``): each batch is one
   transaction that COPYs the events after the mark into ``events`` and advances
   ``shipped_seq`` (rows already there, which only a writer outside this protocol can
   put, make the batch go again through ``INSERT ... ON CONFLICT (journal_id, seq) DO
   NOTHING``); the next batch is read and encoded in a thread meanwhile;
5. only after each commit, writes the mark to ``ship.json`` (`journal.shipping.state`).

So a kill at any moment, a dropped connection or a database restart loses nothing and
duplicates nothing: an uncommitted batch is rolled back and shipped again, a batch
committed before its mark reached ``ship.json`` is skipped because the database's own
mark says so (and the primary key would refuse it anyway). The local mark is for
``ship --status`` and for the no-work case, which never connects.

What ships is the live journal: a range compacted before it shipped ships as the
records that replaced it (``journal.snapshot``); a range shipped before compaction
keeps its raw events. A compaction after a partial ship may put a replacing record
below the mark: those records (*late_types*) go to ``late_records`` when the
manifest's epoch changes. The journal id comes from ``ship.json`` once a run has
recorded it there, so a manifest rebuilt by ``verify --repair`` (which makes a new id)
does not make the database see a new journal.
The reader runs in ``point-in-time`` mode: a damaged record stops shipping there
(with an error naming ``agent-journal verify --repair``), never skips silently. A
connection error is retried a few times with a fresh connection before giving up.

The database password never leaves the DSN: messages, ``ship.json`` and
``errors.log`` carry the DSN without it (`journal.shipping.state.redact_url`), and any
text that contains the password is scrubbed before it is written anywhere.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from journal._faults import crash_point
from journal.storage.codec import now_ts
from journal.shipping.rows import COPY_OPTIONS, copy_rows
from journal.storage.manifest import Manifest, load_manifest
from journal.shipping.schema import BATCH_TABLE, COLUMNS, CORE_MIGRATION, SCHEMA, Migration, migrate, versions
from journal.shipping.state import (
    SHIP_LOCK,
    ShipError,
    ShipReport,
    ShipStatus,
    ensure_journal_id,
    idle_report,
    note_attempt,
    read_ship_state,
    redact_url,
    ship_status,
    target_key,
    write_ship_state,
)

if TYPE_CHECKING:
    from journal.shipping.state import Shippable

__all__ = [
    "Migration",
    "CORE_MIGRATION",
    "ShipBusy",
    "ShipReport",
    "ShipStatus",
    "ShipError",
    "SCHEMA",
    "ship",
    "ship_status",
    "require_driver",
    "INSTALL_HINT",
]

INSTALL_HINT = ("shipping needs psycopg 3: pip install 'agent-journal[postgres]'"
                " (or: pip install 'psycopg[binary]>=3.1')")
#: Batches stop at this many bytes of payload too, so one huge stretch never makes a huge transaction.
BATCH_BYTES = 32 * 1024 * 1024
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)


class ShipBusy(ShipError):
    """Another ``ship`` of this journal holds ``ship.lock``."""


def require_driver() -> Any:
    """The ``psycopg`` module, or a `ShipError` saying exactly what to install."""
    try:
        import psycopg
    except ImportError as e:
        raise ShipError(INSTALL_HINT) from e
    return psycopg


def _password(url: str) -> str | None:
    """The password inside *url* (to scrub it from messages), if any."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        value = conninfo_to_dict(url).get("password")
        return str(value) if value else None
    except Exception:  # noqa: BLE001 - unparsable: psycopg will say so, redacted
        return None


def _scrub(text: str, url: str) -> str:
    secret = _password(url)
    text = text.replace(url, redact_url(url))
    if secret:
        text = text.replace(secret, "***")
    return " ".join(text.split())


# -- the lock ------------------------------------------------------------------------


class _ShipLock:
    """``ship.lock``: held for a whole run; its mtime is touched so SessionEnd sees a recent start."""

    def __init__(self, root: Path, timeout: float) -> None:
        from journal.storage.locking import FileLock

        self.path = root / SHIP_LOCK
        self.timeout = timeout
        self.lock = FileLock(self.path)

    def __enter__(self) -> _ShipLock:
        from journal.errors import LockTimeout
        from journal.storage.locking import deadline

        try:
            self.lock.lock(deadline(self.timeout))
        except LockTimeout:
            self.lock.close()
            raise ShipBusy(f"another `agent-journal ship` of this journal is running ({self.path} is locked)") from None
        try:
            os.utime(self.lock.fileno())
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.unlock()
        self.lock.close()


# -- rows ----------------------------------------------------------------------------

# -- the database side ---------------------------------------------------------------


def _who() -> tuple[str, str]:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container): the uid will do
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return socket.gethostname(), user


def _register(conn: Any, journal_id: str, root: Path, project: str) -> int:
    """Upsert the journal's row; return the shipped mark the database holds for it."""
    host, user = _who()
    with conn.transaction():
        conn.execute(
            f"INSERT INTO {SCHEMA}.journals (journal_id, host, user_name, project, path) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (journal_id) DO UPDATE SET host = EXCLUDED.host, user_name = EXCLUDED.user_name, "
            "project = EXCLUDED.project, path = EXCLUDED.path",
            (journal_id, host, user, project, str(root)),
        )
        row = conn.execute(f"SELECT shipped_seq FROM {SCHEMA}.journals WHERE journal_id = %s", (journal_id,)).fetchone()
    return int(row[0])


def _note_gaps(conn: Any, journal_id: str, manifest: Manifest) -> int:
    kinds = (("lost", manifest.lost), ("compacted", manifest.compacted))
    rows = [(journal_id, kind, r[0], r[1]) for kind, ranges in kinds for r in ranges]
    if not rows:
        return 0
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {SCHEMA}.gaps (journal_id, kind, first_seq, last_seq) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                rows,
            )
    return len(rows)


def _ship_late(conn: Any, journal: Shippable, journal_id: str, mark: int, manifest: Manifest,
               late_types: Sequence[str]) -> int:
    """Records of *late_types* that a compaction put at seqs the database already has (as the raw
    events they replaced) go to ``late_records``; returns how many were new.

    A compaction after a partial ship can replace events on both sides of the mark and
    put the restoring record below it, where the seq-ordered stream never looks again.
    """
    starts = [r[0] for r in manifest.compacted if r[0] <= mark]
    if not starts or not late_types:
        return 0
    from journal.storage.reader import Reader

    wanted = set(late_types)
    found = [e for e in Reader(journal.root, "tolerate").events(min(starts), mark) if e.type in wanted]
    if not found:
        return 0
    epoch = manifest.epoch
    with conn.transaction():
        with conn.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {BATCH_TABLE} (LIKE {SCHEMA}.events) ON COMMIT DELETE ROWS")
            with cur.copy(f"COPY {BATCH_TABLE} ({COLUMNS}) FROM STDIN {COPY_OPTIONS}") as copy:
                copy.write(copy_rows(journal_id, found))
            cur.execute(
                f"INSERT INTO {SCHEMA}.late_records (journal_id, seq, crc, ts, type, session, agent, v, data, epoch) "
                f"SELECT journal_id, seq, crc, ts, type, session, agent, v, data, %s FROM {BATCH_TABLE} "
                "ON CONFLICT DO NOTHING",
                (epoch,),
            )
            return int(cur.rowcount)


def _batches(journal: Shippable, after: int, size: int, damage: list[Any], to_seq: int | None = None
             ) -> Iterator[list[Any]]:
    """Events after seq *after*, in lists of at most *size* events (and about `BATCH_BYTES`)."""
    from journal.storage.reader import Reader

    reader = Reader(journal.root, "point-in-time", damage.append)
    batch: list[Any] = []
    nbytes = 0
    for chunk in reader.chunks(after + 1, to_seq):
        for event in chunk:
            if event.seq <= after:
                continue
            batch.append(event)
            nbytes += len(event.data)
            if len(batch) >= size or nbytes >= BATCH_BYTES:
                yield batch
                batch, nbytes = [], 0
    if batch:
        yield batch


def _ship_batch(psycopg: Any, conn: Any, journal_id: str, events: list[Any], rows: bytes) -> tuple[int, int]:
    """One transaction: the batch in, the database's mark moved. Returns (inserted, new mark).

    The journal's row is locked and its mark read first, so only events after the mark
    are sent, straight into ``events`` with COPY (one pass: the fast path). Rows past
    the mark can only exist if something other than this protocol wrote them (another
    copy of this journal shipping under the same id): COPY then fails on the primary key,
    and the batch is sent again through a temporary table and ``INSERT ... ON CONFLICT
    (journal_id, seq) DO NOTHING``, which keeps whatever is there.
    """
    last = events[-1].seq
    try:
        return _copy_batch(conn, journal_id, events, rows, last, forgiving=False)
    except psycopg.errors.UniqueViolation:
        return _copy_batch(conn, journal_id, events, rows, last, forgiving=True)


def _copy_batch(conn: Any, journal_id: str, events: list[Any], rows: bytes, last: int, *,
                forgiving: bool) -> tuple[int, int]:
    with conn.transaction():
        row = conn.execute(
            f"SELECT shipped_seq FROM {SCHEMA}.journals WHERE journal_id = %s FOR UPDATE", (journal_id,)
        ).fetchone()
        mark = int(row[0])
        if events[0].seq <= mark:  # another run got further meanwhile: send only the rest
            events = [e for e in events if e.seq > mark]
            rows = copy_rows(journal_id, events)
        inserted = 0
        if events:
            with conn.cursor() as cur:
                if not forgiving:
                    with cur.copy(f"COPY {SCHEMA}.events ({COLUMNS}) FROM STDIN {COPY_OPTIONS}") as copy:
                        copy.write(rows)
                    inserted = len(events)
                else:
                    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {BATCH_TABLE} (LIKE {SCHEMA}.events) "
                                "ON COMMIT DELETE ROWS")
                    with cur.copy(f"COPY {BATCH_TABLE} ({COLUMNS}) FROM STDIN {COPY_OPTIONS}") as copy:
                        copy.write(rows)
                    cur.execute(f"INSERT INTO {SCHEMA}.events ({COLUMNS}) SELECT {COLUMNS} FROM {BATCH_TABLE} "
                                "ON CONFLICT (journal_id, seq) DO NOTHING")
                    inserted = cur.rowcount
        crash_point("ship_copied")  # in the transaction, before its commit
        new_mark = max(mark, last)
        conn.execute(
            f"UPDATE {SCHEMA}.journals SET shipped_seq = %s, events = events + %s, last_shipped = now() "
            "WHERE journal_id = %s",
            (new_mark, inserted, journal_id),
        )
    return inserted, new_mark


class _Producer:
    """Reads and encodes the next batches in a thread while the database takes the current one.

    Reading and encoding are Python work; sending and committing mostly wait on the
    server, with the GIL released. Two batches at most are ready ahead.
    """

    def __init__(self, journal: Shippable, journal_id: str, after: int, size: int, damage: list[Any],
                 to_seq: int | None) -> None:
        import queue
        import threading

        self._queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._args = (journal, journal_id, after, size, damage, to_seq)
        self._thread = threading.Thread(target=self._run, name="ship-reader", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        journal, journal_id, after, size, damage, to_seq = self._args
        try:
            for events in _batches(journal, after, size, damage, to_seq):
                if not self._put((events, copy_rows(journal_id, events))):
                    return
            self._put(None)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(e)

    def __iter__(self) -> Iterator[tuple[list[Any], bytes]]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _connect(psycopg: Any, url: str) -> Any:
    conn = psycopg.connect(url, connect_timeout=10, application_name="agent-journal ship", autocommit=True)
    # ship.json may only say what the database has made durable: a server set to
    # synchronous_commit=off would acknowledge commits that a crash then takes back.
    conn.execute("SET synchronous_commit TO on")
    return conn


def _transient(error: Exception) -> bool:
    """Worth another try: no answer from a server (refused, reset, timed out), or one that is
    shutting down or starting (SQLSTATE classes 08 and 57P); not a missing database or a
    wrong password."""
    state = getattr(error, "sqlstate", None)
    return state is None or state.startswith("08") or state.startswith("57P")


def _default_project(root: Path) -> str:
    """``<project>`` for ``<project>/.claude/journal``, else the journal directory itself."""
    if root.name == "journal" and root.parent.name == ".claude":
        return str(root.parent.parent)
    return str(root)


def ship(
    journal: Shippable,
    url: str,
    *,
    migrations: Sequence[Migration] = (),
    batch: int = 20000,
    project: str | None = None,
    wait: float = 0.0,
    retries: int = len(RETRY_DELAYS),
    on_batch: Callable[[int, int], None] | None = None,
    late_types: Sequence[str] = (),
    to_seq: int | None = None,
) -> ShipReport:
    """Ship every event of *journal* not yet in the database at *url*; see the module docstring.

    *wait* is how long to wait for another run's ``ship.lock`` (0: fail at once with
    `ShipBusy`). *late_types* are the types of the records compaction puts in place of
    the events it removes (the layer above knows them); *to_seq* stops early (tests).
    *on_batch(events, mark)* is called after each batch's mark is written.
    Errors are `ShipError`s with the password scrubbed; the outcome is noted in ``ship.json``.
    """
    if not url:
        raise ShipError("no database to ship to: pass --to postgresql://..., set AGENT_JOURNAL_SHIP_URL, "
                        "or set ship.url in the journal's config.json")
    root = journal.root
    key = target_key(url)
    started = time.monotonic()
    with _ShipLock(root, wait):
        state = read_ship_state(root)
        journal_id = str(state.get("journal_id") or ensure_journal_id(root, journal.config.lock_timeout))
        state["journal_id"] = journal_id
        mine = state["targets"].setdefault(key, {"seq": 0, "events": 0})
        report = ShipReport(journal_id, key, int(mine.get("seq", 0)), int(mine.get("seq", 0)))
        try:
            idle = idle_report(journal, url, versions(migrations), state)
            if idle is not None:  # nothing pending: no connection, not even the driver
                report = idle
            else:
                _run(journal, url, state, mine, report, migrations, batch,
                     project or _default_project(root), retries, on_batch, late_types, to_seq)
        except ShipError as e:
            note_attempt(root, state, error=str(e), target=key)
            raise
        except Exception as e:  # noqa: BLE001 - every database failure becomes one redacted line
            message = _scrub(f"shipping to {key} failed: {type(e).__name__}: {e}", url)
            note_attempt(root, state, error=message, target=key)
            raise ShipError(message) from None
        if report.connected or state.get("last_error") or state.get("last_target") != key:
            note_attempt(root, state, error=None, target=key)  # an idle run changes nothing: no write
    report.seconds = time.monotonic() - started
    return report


def _run(
    journal: Shippable,
    url: str,
    state: dict[str, Any],
    mine: dict[str, Any],
    report: ShipReport,
    migrations: Sequence[Migration],
    batch: int,
    project: str,
    retries: int,
    on_batch: Callable[[int, int], None] | None,
    late_types: Sequence[str],
    to_seq: int | None,
) -> None:
    root = journal.root
    journal_id = report.journal_id
    psycopg = require_driver()
    attempt = 0
    while True:
        damage: list[Any] = []
        try:
            with _connect(psycopg, url) as conn:
                migrate(conn, migrations)
                mark = _register(conn, journal_id, root, project)
                if attempt == 0:
                    report.from_seq = mark  # the database's mark, not ship.json's, says where this run starts
                manifest = load_manifest(root)
                report.gaps = _note_gaps(conn, journal_id, manifest)
                if mine.get("late_epoch", 0) != manifest.epoch:
                    report.late = _ship_late(conn, journal, journal_id, mark, manifest, late_types)
                    mine["late_epoch"] = manifest.epoch
                mine["migrated"] = versions(migrations)
                producer = _Producer(journal, journal_id, mark, batch, damage, to_seq)
                try:
                    for events, rows in producer:
                        inserted, mark = _ship_batch(psycopg, conn, journal_id, events, rows)
                        crash_point("ship_committed")  # committed, not yet in ship.json
                        report.events += len(events)
                        report.inserted += inserted
                        report.batches += 1
                        _advance(root, state, mine, report, mark, inserted)
                        crash_point("ship_marked")
                        if on_batch is not None:
                            on_batch(len(events), mark)
                finally:
                    producer.close()
                _advance(root, state, mine, report, mark, 0)
        except psycopg.OperationalError as e:
            if attempt >= retries or not _transient(e):
                raise ShipError(_scrub(f"shipping to {report.target} failed after {attempt + 1} attempts "
                                       f"(shipped up to seq {report.shipped_seq}): {e}", url)) from None
            time.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
            attempt += 1
            report.retries += 1
            continue
        break
    bad = [d for d in damage if d.kind not in ("torn_tail", "nul_bytes")]
    if bad:
        raise ShipError(f"shipped up to seq {report.shipped_seq}, then stopped at damage: {bad[0]}; "
                        "run `agent-journal verify`, then `agent-journal verify --repair tolerate` and ship again")


def _advance(root: Path, state: dict[str, Any], mine: dict[str, Any], report: ShipReport, mark: int,
             inserted: int) -> None:
    """The database committed up to *mark*: now, and only now, ``ship.json`` says so."""
    mine["seq"] = mark
    mine["events"] = int(mine.get("events", 0)) + inserted
    mine["at"] = now_ts()
    report.shipped_seq = mark
    write_ship_state(root, state)
