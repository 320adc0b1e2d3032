"""Housekeeping that outlives a hook: the CLI started detached (compaction, shipping, search).

SessionEnd decides cheaply whether a run is due, then starts ``agent-journal ...`` in
a new session with no stdin or stdout and never waits for it. The one way to start
such a run and the one way to ask whether a run already holds its lock live here, for
every caller. Stdlib only: this runs in the hook.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
    from pathlib import Path
    from journal.layout import log_error
    log_error(Path({root!r}), {failure!r}, f"cannot start: {{type(e).__name__}}: {{e}}")
    sys.exit(1)
{prelude}{run}
"""


def lock_held(path: Path) -> bool:
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


def start_cli(root: Path, args: list[str], *, python: str | None, code_root: str | os.PathLike[str] | None,
              failure: str, prelude: str = "", run: bool = True) -> None:
    """Start ``agent-journal --journal ROOT ARGS`` detached with *python* (default: this one).

    *code_root* holds ``cli/`` and ``journal/`` (default: this package's parent);
    *failure* is the errors.log kind written when the CLI cannot even be imported;
    *prelude* is Python run before it (and *run* False skips the CLI itself).
    """
    import subprocess  # only now: it costs a hook ~5 ms to import

    code = Path(code_root) if code_root is not None else Path(__file__).resolve().parent.parent
    boot = _BOOT.format(code=str(code), root=str(root), failure=failure, prelude=prelude,
                        run="main()" if run else "")
    proc = subprocess.Popen(
        [python or sys.executable, "-I", "-c", boot, "--journal", str(root), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives the hook; Claude Code does not wait for it
        close_fds=True,
    )
    _SPAWNED.append(proc)
