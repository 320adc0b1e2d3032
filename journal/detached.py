"""Housekeeping that outlives a hook: the CLI started detached (compaction, shipping, search).

SessionEnd decides cheaply whether a run is due, then starts ``agent-journal ...`` in
a new session with no stdin or stdout and never waits for it. The one way to start
such a run and the one way to ask whether a run already holds its lock live here, for
every caller. Stdlib only: this runs in the hook.
"""

from __future__ import annotations

import os
import sys

from journal.errors import JournalError
from journal.layout import open_private

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["lock_held", "start_cli"]

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
    from journal.layout import log_error
    log_error({root!r}, {failure!r}, f"cannot start: {{type(e).__name__}}: {{e}}")
    sys.exit(1)
{prelude}{run}
"""


def lock_held(path: str | os.PathLike[str]) -> bool:
    """True if another process holds the advisory lock on *path* (False if it does not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the spawned run finds out itself
        return False
    try:
        fd = open_private(path, os.O_RDONLY)
    except (FileNotFoundError, JournalError):  # a planted link is refused where the journal is opened
        return False
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases a lock we may have taken
    return False


def start_cli(root: str | os.PathLike[str], args: list[str], *, python: str | None,
              code_root: str | os.PathLike[str] | None, failure: str, prelude: str = "", run: bool = True) -> None:
    """Start ``agent-journal --journal ROOT ARGS`` detached with *python* (default: this one).

    *code_root* holds ``cli/`` and ``journal/`` (default: this package's parent);
    *failure* is the errors.log kind written when the CLI cannot even be imported;
    *prelude* is Python run before it (and *run* False skips the CLI itself).
    """
    here = os.path.dirname(os.path.realpath(__file__))
    code = os.fspath(code_root) if code_root is not None else os.path.dirname(here)
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
