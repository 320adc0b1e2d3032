"""A real PostgreSQL server for the shipping tests, started from the machine's binaries.

Session-scoped: ``initdb`` into a temporary directory, ``pg_ctl start`` listening only
on a Unix socket in that directory (no port to collide on), stopped at the end. The
binaries are looked for in ``/usr/lib/postgresql/*/bin`` (Debian's ``postgresql``
package; ``.ci/run`` installs it when ``initdb`` is missing), then on ``PATH``. Without
them the tests fail, saying so: shipping is never silently untested.

PostgreSQL refuses to run as root, so as root the server runs as ``postgres`` (or
``nobody``) via ``runuser``, in a directory made theirs.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (newest version first)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                        if Path(p).parent.name.isdigit() else 0, reverse=True)
    for directory in candidates:
        if all(os.access(Path(directory) / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return Path(directory)
    initdb = shutil.which("initdb")
    if initdb:
        directory = Path(os.path.realpath(initdb)).parent
        if (directory / "pg_ctl").exists() and (directory / "postgres").exists():
            return directory
    return None


class PgServer:
    """One running test server: a DSN per database, restart, stop."""

    def __init__(self, bin_dir: Path, base: Path, run_as: str | None) -> None:
        self.bin_dir = bin_dir
        self.base = base
        self.data = base / "data"
        self.socket_dir = base
        self.run_as = run_as
        self.port = 5432
        self._databases = 0

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def _run(self, *args: str, timeout: float = 120) -> None:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout,
                              cwd=str(self.base), env={**os.environ, "LC_ALL": "C"})
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {proc.stdout}\n{proc.stderr}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "journal", "--auth=trust", "-E", "UTF8",
                  "--no-instructions")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(
                "\nlisten_addresses = ''\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                f"port = {self.port}\n"
                # A test server: durability against OS crashes is not what is tested here
                # (a kill of the server process still loses nothing: the page cache holds it).
                "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
                "shared_buffers = 64MB\nmax_connections = 40\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://journal@/{dbname}?host={self.socket_dir}&port={self.port}"

    def new_database(self) -> str:
        """A fresh, empty database; its DSN."""
        import psycopg

        self._databases += 1
        name = f"t{os.getpid()}_{self._databases}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)


def _unprivileged() -> tuple[str, int, int] | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return name, entry.pw_uid, entry.pw_gid
    pytest.fail("running as root, and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as")


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """The session's PostgreSQL server (fails, never skips, without the binaries)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.fail(
            "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and for initdb on PATH); "
            "install them: apt-get install postgresql (.ci/run does this when initdb is missing)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("psycopg is not installed: pip install '.[test]' (it is in the test extra)")
    user = _unprivileged()
    base = Path(tempfile.mkdtemp(prefix="aj-pg-", dir="/tmp"))
    if user is not None:
        os.chown(base, user[1], user[2])
    os.chmod(base, 0o700)
    server = PgServer(bin_dir, base, user[0] if user else None)
    try:
        server.init()
        server.start()
    except Exception as e:
        log = base / "server.log"
        extra = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start the test PostgreSQL from {bin_dir}: {e}\n{extra}")
    try:
        yield server
    finally:
        try:
            server.stop("immediate")
        except Exception:
            pass
        shutil.rmtree(base, ignore_errors=True)


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
    jid = journal.manifest()["journal_id"]
    parts = [f"{jid}:{e.seq}:{e.crc}" for e in journal.read(mode="strict")]
    return len(parts), hashlib.md5(",".join(parts).encode()).hexdigest()


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)
