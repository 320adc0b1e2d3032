"""A throw-away PostgreSQL server from the machine's binaries (tests/ship and bench/ship.py).

``initdb`` into a directory, ``pg_ctl start`` listening only on a Unix socket in that
directory (no port to collide on), superuser ``journal`` with trust authentication.
PostgreSQL refuses to run as root: as root, the server runs as ``postgres`` (or
``nobody``) through ``runuser``, in a directory made theirs.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["find_bin_dir", "PgServer", "start_server", "run_as_user"]


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

    def init(self, settings: str = "") -> None:
        self._run("initdb", "-D", str(self.data), "-U", "journal", "--auth=trust", "-E", "UTF8",
                  "--no-instructions")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(
                "\nlisten_addresses = ''\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                f"port = {self.port}\n"
                "max_connections = 40\n" + settings + "\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def cpu_seconds(self) -> float:
        """CPU time used by the whole server so far: the postmaster, its live processes, and the
        exited ones it has reaped (a closed connection's backend counts too). Linux only."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        tick = os.sysconf("SC_CLK_TCK")

        def fields(p: int | str) -> list[str]:
            raw = Path(f"/proc/{p}/stat").read_text()
            return raw[raw.rfind(")") + 2:].split()

        main = fields(pid)
        total = sum(int(x) for x in main[11:15])  # utime, stime, cutime, cstime
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    f = fields(entry)
                except OSError:
                    continue
                if int(f[1]) == pid:
                    total += int(f[11]) + int(f[12])
        return total / tick

    def backend_cpu(self, title: str) -> dict[int, float]:
        """CPU seconds of each live server process whose title contains *title* (e.g. a
        client's ``journal bench [local]``), by pid. Linux only."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            f = raw[raw.rfind(")") + 2:].split()
            if int(f[1]) == pid and title in cmd:
                out[int(entry)] = (int(f[11]) + int(f[12])) / tick
        return out

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


def run_as_user() -> tuple[str, int, int] | None:
    """(name, uid, gid) of the user to run the server as, None if not root; raises if root has none."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return name, entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root, and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as")


def start_server(settings: str = "", *, bin_dir: Path | None = None) -> PgServer:
    """A new, running server in a fresh directory under /tmp (``server.stop()``, then remove ``server.base``)."""
    bin_dir = bin_dir or find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and for initdb on PATH); "
            "install them: apt-get install postgresql (.ci/run does this when initdb is missing)"
        )
    user = run_as_user()
    base = Path(tempfile.mkdtemp(prefix="aj-pg-", dir="/tmp"))
    if user is not None:
        os.chown(base, user[1], user[2])
    os.chmod(base, 0o700)
    server = PgServer(bin_dir, base, user[0] if user else None)
    try:
        server.init(settings)
        server.start()
    except Exception as e:
        log = base / "server.log"
        extra = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL from {bin_dir}: {e}\n{extra}") from e
    return server
