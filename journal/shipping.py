"""Replicate a journal into PostgreSQL, exactly once.

Every event goes to ``agent_journal.events``, keyed by ``(journal_id, seq)``: the
journal's stable id (`journal.layout.ensure_journal_id`) and the event's seq. A run:

1. takes ``ship.lock`` (one run per journal at a time on this machine);
2. creates or migrates the schema (`Migration`s: the core tables here, views from
   the layers above), under a transaction-scoped advisory lock;
3. registers the journal in ``agent_journal.journals`` (host, user, project, path)
   and notes the manifest's lost and compacted seq ranges in ``agent_journal.gaps``;
4. ships batches in seq order from the journal's shipped mark *as the database
   records it* (``journals.shipped_seq``, read ``FOR UPDATE``): each batch is one
   transaction that COPYs the events into a temporary table, inserts them with
   ``ON CONFLICT (journal_id, seq) DO NOTHING`` and advances ``shipped_seq``;
5. only after each commit, writes the mark to ``ship.json`` (`journal.ship_state`).

So a kill at any moment, a dropped connection or a database restart loses nothing and
duplicates nothing: an uncommitted batch is rolled back and shipped again, a batch
committed before its mark reached ``ship.json`` is skipped because the database's own
mark says so (and ``ON CONFLICT`` would drop it anyway). The local mark is for
``ship --status`` and for the no-work case, which never connects.

What ships is the live journal: a range compacted before it shipped ships as its
``journal.snapshot`` records; a range shipped before compaction keeps its raw events.
The reader runs in ``point-in-time`` mode: a damaged record stops shipping there
(with an error naming ``agent-journal verify --repair``), never skips silently. A
connection error is retried a few times with a fresh connection before giving up.

The database password never leaves the DSN: messages, ``ship.json`` and
``errors.log`` carry the DSN without it (`journal.ship_state.redact_url`), and any
text that contains the password is scrubbed before it is written anywhere.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import msgspec

from journal.archive import crash_point
from journal.codec import now_ts
from journal.layout import ensure_journal_id, read_manifest
from journal.ship_state import (
    SHIP_LOCK,
    ShipError,
    note_attempt,
    read_ship_state,
    redact_url,
    target_key,
    write_ship_state,
)

if TYPE_CHECKING:
    from journal.store import Journal

__all__ = [
    "Migration",
    "CORE_MIGRATION",
    "ShipBusy",
    "ShipReport",
    "ShipStatus",
    "ship",
    "ship_status",
    "require_driver",
    "INSTALL_HINT",
]

SCHEMA = "agent_journal"
INSTALL_HINT = "shipping needs psycopg 3: pip install 'agent-journal[postgres]' (or: pip install 'psycopg[binary]>=3.1')"
#: Batches stop at this many bytes of payload too, so one huge stretch never makes a huge transaction.
BATCH_BYTES = 32 * 1024 * 1024
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)


class ShipBusy(ShipError):
    """Another ``ship`` of this journal holds ``ship.lock``."""


@dataclass(frozen=True)
class Migration:
    """A named, versioned set of SQL statements: applied when the database has an older version.

    Statements must be safe to run again at the same version (``IF NOT EXISTS``,
    ``CREATE OR REPLACE``): a migration that committed is never run twice, but one
    that was interrupted is run again whole.
    """

    name: str
    version: int
    statements: tuple[str, ...]


CORE_MIGRATION = Migration(
    "core",
    1,
    (
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.journals (
            journal_id    text PRIMARY KEY,
            host          text NOT NULL,
            user_name     text NOT NULL,
            project       text NOT NULL,
            path          text NOT NULL,
            first_shipped timestamptz NOT NULL DEFAULT now(),
            last_shipped  timestamptz,
            shipped_seq   bigint NOT NULL DEFAULT 0,
            events        bigint NOT NULL DEFAULT 0)""",
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.events (
            journal_id text NOT NULL,
            seq        bigint NOT NULL,
            ts         timestamptz,
            type       text NOT NULL,
            session    text,
            agent      text,
            v          integer NOT NULL,
            crc        text NOT NULL,
            data       jsonb NOT NULL,
            PRIMARY KEY (journal_id, seq))""",
        f"CREATE INDEX IF NOT EXISTS events_session ON {SCHEMA}.events (session, journal_id)",
        f"CREATE INDEX IF NOT EXISTS events_type_ts ON {SCHEMA}.events (type, ts)",
        f"CREATE INDEX IF NOT EXISTS events_ts ON {SCHEMA}.events (ts)",
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.gaps (
            journal_id text NOT NULL,
            kind       text NOT NULL CHECK (kind IN ('lost', 'compacted')),
            first_seq  bigint NOT NULL,
            last_seq   bigint NOT NULL,
            noted      timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (journal_id, kind, first_seq, last_seq))""",
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.late_records (
            journal_id text NOT NULL,
            seq        bigint NOT NULL,
            crc        text NOT NULL,
            ts         timestamptz,
            type       text NOT NULL,
            session    text,
            agent      text,
            v          integer NOT NULL,
            data       jsonb NOT NULL,
            epoch      bigint NOT NULL,
            PRIMARY KEY (journal_id, seq, crc))""",
    ),
)

_BATCH_TABLE = "agent_journal_ship_batch"
_COLUMNS = "journal_id, seq, ts, type, session, agent, v, crc, data"


@dataclass
class ShipReport:
    """What one run did."""

    journal_id: str
    target: str
    from_seq: int
    shipped_seq: int
    events: int = 0
    inserted: int = 0
    batches: int = 0
    gaps: int = 0
    late: int = 0
    retries: int = 0
    seconds: float = 0.0
    connected: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ShipStatus:
    """``ship --status``: where this journal stands against a target, from local state only."""

    journal_id: str
    target: str | None
    last_seq: int
    shipped_seq: int
    pending: int
    last_ship: str | None
    last_attempt: str | None
    last_error: dict[str, Any] | None
    shipped_events: int = 0
    targets: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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


def _pending(root: Path, manifest: dict[str, Any], shipped: int, last: int) -> int:
    """Seqs after *shipped* up to *last* that hold events (compacted and lost ranges do not)."""
    if last <= shipped:
        return 0
    count = last - shipped
    for first, end in _merged_holes(manifest):
        lo, hi = max(first, shipped + 1), min(end, last)
        if lo <= hi:
            count -= hi - lo + 1
    return max(count, 0)


def _merged_holes(manifest: dict[str, Any]) -> list[tuple[int, int]]:
    ranges = sorted((int(r[0]), int(r[1])) for r in manifest.get("compacted", []) + manifest.get("lost", []))
    merged: list[tuple[int, int]] = []
    for first, last in ranges:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def ship_status(journal: Journal, url: str | None) -> ShipStatus:
    """Pending events, last ship and last error for *url* (or the last target used), without connecting."""
    root = journal.root
    state = read_ship_state(root)
    manifest = read_manifest(root)
    key = target_key(url) if url else state.get("last_target")
    target = state["targets"].get(key, {}) if key else {}
    shipped = int(target.get("seq", 0))
    last = journal.last_seq()
    return ShipStatus(
        journal_id=str(state.get("journal_id") or manifest.get("journal_id") or ""),
        target=key,
        last_seq=last,
        shipped_seq=shipped,
        pending=_pending(root, manifest, shipped, last),
        last_ship=target.get("at"),
        last_attempt=state.get("last_attempt"),
        last_error=state.get("last_error"),
        shipped_events=int(target.get("events", 0)),
        targets={k: v for k, v in state["targets"].items()},
    )


# -- the lock ------------------------------------------------------------------------


class _ShipLock:
    """``ship.lock``: held for a whole run; its mtime is touched so SessionEnd sees a recent start."""

    def __init__(self, root: Path, timeout: float) -> None:
        self.path = root / SHIP_LOCK
        self.timeout = timeout
        self.fd: int | None = None

    def __enter__(self) -> _ShipLock:
        import fcntl

        from journal.layout import open_private

        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise ShipBusy(f"another `agent-journal ship` of this journal is running ({self.path} is locked)") from None
                time.sleep(0.05)
        os.utime(fd)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# -- rows ----------------------------------------------------------------------------

_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_fromiso = _dt.datetime.fromisoformat
_PAYLOAD = msgspec.json.Decoder()


def _text(value: str | None) -> bytes:
    """A COPY text-format field."""
    if value is None:
        return b"\\N"
    return value.translate(_TEXT_ESCAPES).encode("utf-8", "replace")


def _clean_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean_nul(k): _clean_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_nul(v) for v in value]
    return value


def _payload(data: bytes) -> bytes:
    """The payload as a COPY field: jsonb has no U+0000, so those become U+FFFD (rare path)."""
    if b"\\u0000" in data:
        try:
            data = msgspec.json.encode(_clean_nul(_PAYLOAD.decode(data)))
        except msgspec.DecodeError:
            pass
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    return data


def _ts(ts: str) -> bytes:
    """The timestamp, or NULL if PostgreSQL could not read it (a hand-made ``append --ts``)."""
    if len(ts) == 27 and ts[4] == "-" and ts[10] == "T" and ts[26] == "Z":
        try:
            _fromiso(ts)  # checks month, day, hour ranges too
            return ts.encode("ascii")
        except ValueError:
            return b"\\N"
    try:
        parsed = _fromiso(ts)
    except ValueError:
        return b"\\N"
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.isoformat().encode("ascii")


def _rows(journal_id: str, events: list[Any]) -> bytes:
    """COPY text rows for *events* (all columns of `_COLUMNS`, in order)."""
    jid = journal_id.encode("ascii")
    out = []
    append = out.append
    for e in events:
        session = e.session
        agent = e.agent
        append(
            b"%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n"
            % (
                jid,
                e.seq,
                _ts(e.ts),
                _text(e.type),
                b"\\N" if session is None else _text(session),
                b"\\N" if agent is None else _text(agent),
                e.v,
                e.crc.encode("ascii", "replace") if e.crc else b"",
                _payload(bytes(e.data)),
            )
        )
    return b"".join(out)


# -- the database side ---------------------------------------------------------------


def migrate(conn: Any, migrations: Sequence[Migration]) -> None:
    """Bring the schema to each migration's version (one transaction, one migrator at a time)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('agent_journal.migrate'))")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.migrations ("
            "name text PRIMARY KEY, version integer NOT NULL, applied timestamptz NOT NULL DEFAULT now())"
        )
        have = dict(conn.execute(f"SELECT name, version FROM {SCHEMA}.migrations").fetchall())
        for migration in (CORE_MIGRATION, *migrations):
            if have.get(migration.name, 0) >= migration.version:
                continue  # a newer `agent-journal` may have gone further: never downgrade
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                f"INSERT INTO {SCHEMA}.migrations (name, version) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, applied = now()",
                (migration.name, migration.version),
            )


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


def _note_gaps(conn: Any, journal_id: str, manifest: dict[str, Any]) -> int:
    rows = [(journal_id, kind, int(r[0]), int(r[1])) for kind in ("lost", "compacted") for r in manifest.get(kind, [])]
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


def _ship_late(conn: Any, journal: Journal, journal_id: str, mark: int, manifest: dict[str, Any],
               late_types: Sequence[str]) -> int:
    """Records of *late_types* that a compaction put at seqs the database already has (as the raw
    events they replaced) go to ``late_records``; returns how many were new.

    A compaction after a partial ship can replace events on both sides of the mark and
    put the restoring record below it, where the seq-ordered stream never looks again.
    """
    starts = [int(r[0]) for r in manifest.get("compacted", []) if int(r[0]) <= mark]
    if not starts or not late_types:
        return 0
    from journal.reader import Reader

    wanted = set(late_types)
    found = [e for e in Reader(journal.root, "tolerate").events(min(starts), mark) if e.type in wanted]
    if not found:
        return 0
    epoch = int(manifest.get("epoch", 0))
    with conn.transaction():
        with conn.cursor() as cur:
            with cur.copy(f"COPY {_BATCH_TABLE} ({_COLUMNS}) FROM STDIN") as copy:
                copy.write(_rows(journal_id, found))
            cur.execute(
                f"INSERT INTO {SCHEMA}.late_records (journal_id, seq, crc, ts, type, session, agent, v, data, epoch) "
                f"SELECT journal_id, seq, crc, ts, type, session, agent, v, data, %s FROM {_BATCH_TABLE} "
                "ON CONFLICT DO NOTHING",
                (epoch,),
            )
            return int(cur.rowcount)


def _batches(journal: Journal, after: int, size: int, damage: list[Any], to_seq: int | None = None
             ) -> Iterator[list[Any]]:
    """Events after seq *after*, in lists of at most *size* events (and about `BATCH_BYTES`)."""
    from journal.reader import Reader

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


def _ship_batch(conn: Any, journal_id: str, events: list[Any]) -> tuple[int, int]:
    """One transaction: the batch in, the database's mark moved. Returns (inserted, new mark)."""
    last = events[-1].seq
    with conn.transaction():
        row = conn.execute(
            f"SELECT shipped_seq FROM {SCHEMA}.journals WHERE journal_id = %s FOR UPDATE", (journal_id,)
        ).fetchone()
        mark = int(row[0])
        fresh = [e for e in events if e.seq > mark] if events[0].seq <= mark else events
        inserted = 0
        if fresh:
            with conn.cursor() as cur:
                with cur.copy(f"COPY {_BATCH_TABLE} ({_COLUMNS}) FROM STDIN") as copy:
                    copy.write(_rows(journal_id, fresh))
                cur.execute(
                    f"INSERT INTO {SCHEMA}.events ({_COLUMNS}) SELECT {_COLUMNS} FROM {_BATCH_TABLE} "
                    "ON CONFLICT (journal_id, seq) DO NOTHING"
                )
                inserted = cur.rowcount
        crash_point("ship_copied")  # in the transaction, before its commit
        new_mark = max(mark, last)
        conn.execute(
            f"UPDATE {SCHEMA}.journals SET shipped_seq = %s, events = events + %s, last_shipped = now() "
            "WHERE journal_id = %s",
            (new_mark, inserted, journal_id),
        )
    return inserted, new_mark


def _connect(psycopg: Any, url: str) -> Any:
    conn = psycopg.connect(url, connect_timeout=10, application_name="agent-journal ship", autocommit=True)
    # ship.json may only say what the database has made durable: a server set to
    # synchronous_commit=off would acknowledge commits that a crash then takes back.
    conn.execute("SET synchronous_commit TO on")
    return conn


def _default_project(root: Path) -> str:
    """``<project>`` for ``<project>/.claude/journal``, else the journal directory itself."""
    if root.name == "journal" and root.parent.name == ".claude":
        return str(root.parent.parent)
    return str(root)


def ship(
    journal: Journal,
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
    the events it removes (the layer above knows them); *to_seq* stops early (tests). *on_batch(events, mark)* is called after each batch's mark is written.
    Errors are `ShipError`s with the password scrubbed; the outcome is noted in ``ship.json``.
    """
    if not url:
        raise ShipError("no database to ship to: pass --to postgresql://..., set AGENT_JOURNAL_SHIP_URL, "
                        "or set ship.url in the journal's config.json")
    psycopg = require_driver()
    root = journal.root
    key = target_key(url)
    started = time.monotonic()
    with _ShipLock(root, wait):
        state = read_ship_state(root)
        manifest = read_manifest(root)
        journal_id = str(state.get("journal_id") or ensure_journal_id(root, journal.config.lock_timeout))
        state["journal_id"] = journal_id
        mine = state["targets"].setdefault(key, {"seq": 0, "events": 0})
        report = ShipReport(journal_id, key, int(mine.get("seq", 0)), int(mine.get("seq", 0)))
        try:
            _run(psycopg, journal, url, state, mine, report, migrations, batch,
                 project or _default_project(root), retries, on_batch, late_types, to_seq)
        except ShipError as e:
            note_attempt(root, state, error=str(e), target=key)
            raise
        except Exception as e:  # noqa: BLE001 - every database failure becomes one redacted line
            message = _scrub(f"shipping to {key} failed: {type(e).__name__}: {e}", url)
            note_attempt(root, state, error=message, target=key)
            raise ShipError(message) from None
        note_attempt(root, state, error=None, target=key)
    report.seconds = time.monotonic() - started
    return report


def _run(
    psycopg: Any,
    journal: Journal,
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
    epoch = int(read_manifest(root).get("epoch", 0))
    if (int(mine.get("seq", 0)) >= journal.last_seq() and mine.get("migrated") == _versions(migrations)
            and mine.get("late_epoch", 0) == epoch):
        report.connected = False
        return  # nothing pending: no connection at all (the cost of an idle auto-ship)
    attempt = 0
    while True:
        damage: list[Any] = []
        try:
            with _connect(psycopg, url) as conn:
                migrate(conn, migrations)
                conn.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {_BATCH_TABLE} (LIKE {SCHEMA}.events) ON COMMIT DELETE ROWS"
                )
                mark = _register(conn, journal_id, root, project)
                manifest = read_manifest(root)
                report.gaps = _note_gaps(conn, journal_id, manifest)
                if mine.get("late_epoch", 0) != int(manifest.get("epoch", 0)):
                    report.late = _ship_late(conn, journal, journal_id, mark, manifest, late_types)
                    mine["late_epoch"] = int(manifest.get("epoch", 0))
                mine["migrated"] = _versions(migrations)
                for events in _batches(journal, mark, batch, damage, to_seq):
                    inserted, mark = _ship_batch(conn, journal_id, events)
                    crash_point("ship_committed")  # committed, not yet in ship.json
                    report.events += len(events)
                    report.inserted += inserted
                    report.batches += 1
                    _advance(root, state, mine, report, mark, inserted)
                    crash_point("ship_marked")
                    if on_batch is not None:
                        on_batch(len(events), mark)
                _advance(root, state, mine, report, mark, 0)
        except psycopg.OperationalError as e:
            if attempt >= retries:
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


def _versions(migrations: Sequence[Migration]) -> str:
    return ",".join(f"{m.name}:{m.version}" for m in (CORE_MIGRATION, *migrations))


def _advance(root: Path, state: dict[str, Any], mine: dict[str, Any], report: ShipReport, mark: int,
             inserted: int) -> None:
    """The database committed up to *mark*: now, and only now, ``ship.json`` says so."""
    mine["seq"] = mark
    mine["events"] = int(mine.get("events", 0)) + inserted
    mine["at"] = now_ts()
    report.shipped_seq = mark
    write_ship_state(root, state)
