"""Housekeeping that outlives a hook: the CLI started detached (compaction, shipping, search).

SessionEnd asks the journal's policies whether a run is due
(`journal.compaction.retention.compaction_due`, `journal.shipping.state.ship_due`),
then starts ``agent-journal ...`` in a new session with no stdin or stdout and never
waits for it. The journal knows nothing of this: the one way to start such a run and
the one way to ask whether a run already holds its lock live here, for every hook
(`hooks.index_job` too). Stdlib only: this runs in the hook.
"""

from __future__ import annotations

import os
import sys

from journal.errorlog import log_error
from journal.errors import JournalError
from journal.layout import COMPACT_LOCK, join, open_private

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's path
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    from journal.config import JournalConfig

__all__ = ["lock_held", "start_cli", "maybe_start_auto_compaction", "maybe_start_auto_ship"]

#: Started processes, never waited for; kept so that no "still running" warning fires.
_SPAWNED: list[Any] = []

#: The detached run: the CLI, and a line in errors.log if it cannot even start (no msgspec).
_BOOT = """\
import sys
sys.path.insert(0, {code!r})
sys.argv[0] = "agent-journal"
try:
    from cli.main import main
except Exception as e:
    from journal.errorlog import log_error
    log_error({root!r}, {failure!r}, f"cannot start: {{type(e).__name__}}: {{e}}")
    sys.exit(1)
{prelude}{run}
"""


def lock_held(path: str | os.PathLike[str]) -> bool:
    """True if another process holds the advisory lock on *path* (False if it does not exist)."""
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - Windows: the spawned run finds out itself
        return False
    from journal.storage.locking import FileLock

    lock = FileLock(path, opener=lambda p: open_private(p, os.O_RDONLY))  # never creates it
    try:
        if not lock.try_lock():
            return True
        lock.unlock()
    except (FileNotFoundError, JournalError):  # a planted link is refused where the journal is opened
        return False
    except OSError:
        return False
    finally:
        lock.close()
    return False


def start_cli(root: str | os.PathLike[str], args: list[str], *, python: str | None,
              code_root: str | os.PathLike[str] | None, failure: str, prelude: str = "", run: bool = True) -> None:
    """Start ``agent-journal --journal ROOT ARGS`` detached with *python* (default: this one).

    *code_root* holds ``cli/`` and ``journal/`` (default: the parent of ``hooks/``);
    *failure* is the errors.log kind written when the CLI cannot even be imported;
    *prelude* is Python run before it (and *run* False skips the CLI itself).
    """
    if code_root is None:  # (realpath stats every component: only when needed)
        code_root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    code = os.fspath(code_root)
    boot = _BOOT.format(code=code, root=os.fspath(root), failure=failure, prelude=prelude,
                        run="main()" if run else "")
    argv = [python or sys.executable, "-I", "-c", boot, "--journal", os.fspath(root), *args]
    if _spawn(argv):
        return
    import subprocess  # only where posix_spawn cannot do it: it costs a hook ~5 ms to import

    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives the hook; Claude Code does not wait for it
        close_fds=True,
    )
    _SPAWNED.append(proc)


def _spawn(argv: list[str]) -> bool:
    """Start *argv* as `start_cli` wants it (new session, /dev/null for stdio, no other
    descriptor of ours) with ``posix_spawn``; False where that is not possible here."""
    if not hasattr(os, "posix_spawn") or not os.path.isabs(argv[0]) or not os.path.isdir("/proc/self/fd"):
        return False
    actions: list[tuple[Any, ...]] = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    listing = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        # Close every descriptor the child would inherit (close_fds=True): one it kept of
        # Claude Code's would keep a pipe open after the hook exits.
        for name in os.listdir(listing):
            fd = int(name)
            if fd > 2 and fd != listing and _inheritable(fd):
                actions.append((os.POSIX_SPAWN_CLOSE, fd))
    finally:
        os.close(listing)
    os.posix_spawn(argv[0], argv, os.environ, file_actions=actions, setsid=True)
    return True


def _inheritable(fd: int) -> bool:
    try:
        return os.get_inheritable(fd)
    except OSError:
        return False


def maybe_start_auto_compaction(
    journal_root: str | os.PathLike[str],
    *,
    config: JournalConfig | None = None,
    python: str | Callable[[], str | None] | None = None,
    code_root: str | os.PathLike[str] | None = None,
    now: float | None = None,
) -> bool:
    """Start ``agent-journal compact --auto`` in the background if the retention policy says a run is due.

    For the SessionEnd hook: cheap (a few stats), never raises, never waits. *python*
    is an interpreter that can import msgspec and click (default: this one), or a
    function finding one, called only when a run is due (None: none yet, no run);
    *code_root* is the directory holding ``cli/`` and ``journal/`` (default: the parent
    of ``hooks/``). Returns True if a process was started.
    """
    root = os.fspath(journal_root)  # strings: the hook never imports pathlib
    try:
        from journal.compaction.retention import compaction_due, retention_policy
        from journal.config import load_config

        config = load_config(root) if config is None else config
        if compaction_due(root, retention_policy(config), now=now) is None:
            return False
        return _start(root, join(root, COMPACT_LOCK), ["compact", "--auto"], python, code_root,
                      "auto_compaction_failed")
    except Exception as e:  # noqa: BLE001 - a hook must never fail because of housekeeping
        log_error(root, "auto_compaction_not_started", f"{type(e).__name__}: {e}")
        return False


def maybe_start_auto_ship(
    journal_root: str | os.PathLike[str],
    *,
    config: JournalConfig | None = None,
    python: str | Callable[[], str | None] | None = None,
    code_root: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    now: float | None = None,
) -> bool:
    """Start ``agent-journal ship --auto`` detached if shipping is configured and due (`ship_due`).

    For the SessionEnd hook: a config lookup and two stats, never raises, never
    waits; *python* and *code_root* are as for `maybe_start_auto_compaction`.
    Returns True if a process started.
    """
    root = os.fspath(journal_root)  # strings: the hook never imports pathlib
    try:
        from journal.config import load_config
        from journal.shipping.state import SHIP_LOCK, ship_due  # only where shipping is set up

        config = load_config(root) if config is None else config
        if ship_due(root, config, environ=environ, now=now) is None:
            return False
        return _start(root, join(root, SHIP_LOCK), ["ship", "--auto"], python, code_root, "auto_ship_failed")
    except Exception as e:  # noqa: BLE001 - a hook must never fail because of housekeeping
        log_error(root, "auto_ship_not_started", f"{type(e).__name__}: {e}")
        return False


def _start(root: str, lock: str, args: list[str], python: str | Callable[[], str | None] | None,
           code_root: str | os.PathLike[str] | None, failure: str) -> bool:
    """Start a due run unless one holds *lock*; its mtime, touched first, is the time of the last start."""
    if lock_held(lock):
        return False
    if callable(python):
        python = python()
        if python is None:
            return False  # no interpreter with msgspec yet (the plugin is still setting one up)
    # Touch the lock before starting, so that a burst of SessionEnds starts one run, not one each.
    fd = open_private(lock, os.O_WRONLY | os.O_CREAT)
    try:
        os.utime(fd)
    finally:
        os.close(fd)
    start_cli(root, args, python=python, code_root=code_root, failure=failure)
    return True
