"""A real PostgreSQL server for the shipping tests, started from the machine's binaries.

Session-scoped: ``initdb`` into a temporary directory, ``pg_ctl start`` listening only
on a Unix socket in that directory (no port to collide on), stopped at the end. The
binaries (found by ``bench/_pg.py``) are looked for in ``/usr/lib/postgresql/*/bin``
(Debian's ``postgresql`` package; ``.ci/run`` installs it when ``initdb`` is missing), then on ``PATH``. Without
them the tests fail, saying so: shipping is never silently untested.

PostgreSQL refuses to run as root, so as root the server runs as ``postgres`` (or
``nobody``) via ``runuser``, in a directory made theirs.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
try:
    from _pg import PgServer, start_server  # noqa: E402  (bench/_pg.py: shared with bench/ship.py)
finally:
    sys.path.pop(0)


#: A test server: durability against OS crashes is not what is tested here (a killed
#: server process still loses nothing that was committed: the page cache holds it).
TEST_SETTINGS = "fsync = off\nfull_page_writes = off\nshared_buffers = 64MB"


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """The session's PostgreSQL server (fails, never skips, without the binaries)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("psycopg is not installed: pip install '.[test]' (it is in the test extra)")
    try:
        server = start_server(TEST_SETTINGS)
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        yield server
    finally:
        try:
            server.stop("immediate")
        except Exception:
            pass
        shutil.rmtree(server.base, ignore_errors=True)


@pytest.fixture
def dsn(pg: PgServer) -> str:
    """A fresh database on the session's server."""
    return pg.new_database()


def generate(root: Path, n: int, *, seed: int = 1, sessions: int | None = None, segment_bytes: int = 64 * 1024,
             ended_fraction: float = 0.9) -> dict[str, Any]:
    """A realistic journal from bench/_gen.py."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        import _gen
    finally:
        sys.path.pop(0)
    return _gen.generate(root, n, sessions=sessions, seed=seed, segment_bytes=segment_bytes,
                         ended_fraction=ended_fraction)


def rows(dsn: str, journal_id: str) -> tuple[int, str]:
    """(row count, md5 of the ordered (journal_id, seq, crc)) of a journal's events in the database."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        count, digest = conn.execute(
            "SELECT count(*), md5(coalesce(string_agg(journal_id || ':' || seq || ':' || crc, ',' ORDER BY seq), '')) "
            "FROM agent_journal.events WHERE journal_id = %s",
            (journal_id,),
        ).fetchone()
    return int(count), str(digest)


def journal_rows(root: Path) -> tuple[int, str]:
    """The same (count, md5) computed from the journal itself."""
    import hashlib

    from journal import Journal

    journal = Journal.open(root, create=False)
    jid = journal.manifest().journal_id
    parts = [f"{jid}:{e.seq}:{e.crc}" for e in journal.read(mode="strict")]
    return len(parts), hashlib.md5(",".join(parts).encode()).hexdigest()


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)
