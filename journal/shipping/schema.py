"""The PostgreSQL side of shipping: the ``agent_journal`` schema and how it is migrated.

The core tables belong to the engine and know nothing of Claude Code:

* ``journals``: one row per journal (stable id, host, user, project, path, the shipped
  mark ``shipped_seq`` that each batch advances in its own transaction);
* ``events``: one row per event, primary key ``(journal_id, seq)``, typed envelope
  columns and the payload as ``jsonb``; indexes on session, type and time (ids
  compare bytewise, ``COLLATE "C"``: they are ids, not words, and it is cheaper);
* ``gaps``: the journal's lost and compacted seq ranges;
* ``late_records``: records a compaction put below the shipped mark (see
  `journal.shipping.replicate`).

Layers above add their own `Migration` (views, more indexes). Each has a name and a
version in ``migrations``; ``migrate`` applies what the database lacks, in one
transaction under an advisory lock, and never downgrades.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ["SCHEMA", "Migration", "CORE_MIGRATION", "BATCH_TABLE", "COLUMNS", "migrate", "versions"]

SCHEMA = "agent_journal"


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
            journal_id    text COLLATE "C" PRIMARY KEY,
            host          text NOT NULL,
            user_name     text NOT NULL,
            project       text NOT NULL,
            path          text NOT NULL,
            first_shipped timestamptz NOT NULL DEFAULT now(),
            last_shipped  timestamptz,
            shipped_seq   bigint NOT NULL DEFAULT 0,
            events        bigint NOT NULL DEFAULT 0)""",
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.events (
            journal_id text COLLATE "C" NOT NULL,
            seq        bigint NOT NULL,
            ts         timestamptz,
            type       text NOT NULL,
            session    text COLLATE "C",
            agent      text COLLATE "C",
            v          integer NOT NULL,
            crc        text NOT NULL,
            data       jsonb NOT NULL,
            PRIMARY KEY (journal_id, seq))""",
        # lz4 where the server has it (PostgreSQL 14+ built with it): a third less CPU per
        # row than the default pglz for payloads long enough to be compressed.
        f"""DO $$ BEGIN ALTER TABLE {SCHEMA}.events ALTER COLUMN data SET COMPRESSION lz4;
            EXCEPTION WHEN others THEN NULL; END $$""",
        f"CREATE INDEX IF NOT EXISTS events_session ON {SCHEMA}.events (session)",
        # On type alone: few distinct values, so btree deduplication keeps it small and cheap
        # to insert into; "type X in a time range" combines it with the BRIN index below.
        f"CREATE INDEX IF NOT EXISTS events_type ON {SCHEMA}.events (type)",
        # Time rises with seq within a journal, so a BRIN index answers time ranges at
        # almost no cost per row (a btree on ts cost a sixth of the insert time).
        f"CREATE INDEX IF NOT EXISTS events_ts ON {SCHEMA}.events USING brin (ts)",
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.gaps (
            journal_id text COLLATE "C" NOT NULL,
            kind       text NOT NULL CHECK (kind IN ('lost', 'compacted')),
            first_seq  bigint NOT NULL,
            last_seq   bigint NOT NULL,
            noted      timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (journal_id, kind, first_seq, last_seq))""",
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.late_records (
            journal_id text COLLATE "C" NOT NULL,
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

BATCH_TABLE = "agent_journal_ship_batch"
COLUMNS = "journal_id, seq, ts, type, session, agent, v, crc, data"



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


def versions(migrations: Sequence[Migration]) -> str:
    """``core:1,views:1``: what a database migrated by *migrations* holds."""
    return ",".join(f"{m.name}:{m.version}" for m in (CORE_MIGRATION, *migrations))
