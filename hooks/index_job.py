"""The detached search-index update that SessionEnd starts (``agent-journal search --update``).

The search index (`projections.search_index`) is never touched by PreToolUse or
PostToolUse: it is brought up to date lazily by ``search``, by the SessionStart render,
and by this job, which SessionEnd starts in the background so that the next session's
related sessions and searches find the index current. The hook only checks that no
index writer holds ``cache/search.lock`` and spawns; it never waits. Stdlib only.

The same detached process first refreshes the ``@import`` files of ``context.write_dir``
when that is set (`projections.memory_files.keep_fresh`): one interpreter for both, and
none at all in the hook.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TYPE_CHECKING = False  # no typing at run time: this runs in the hook
if TYPE_CHECKING:
    from typing import Any, Callable

__all__ = ["start_index_update", "LOCK_FILE"]

#: The index's writer lock (the same name as `projections.search_index.LOCK_FILE`).
LOCK_FILE = "search.lock"
_SPAWNED: list[Any] = []

_BOOT = """\
import sys
sys.path.insert(0, {code!r})
sys.argv[0] = "agent-journal"
try:
    from cli.main import main
except Exception as e:
    from pathlib import Path
    from journal.layout import log_error
    log_error(Path({root!r}), "index_update_failed", f"cannot start: {{type(e).__name__}}: {{e}}")
    sys.exit(1)
if {project!r}:
    from hooks.index_job import refresh_files
    refresh_files({root!r}, {project!r})
if {index!r}:
    main()
"""


def _busy(path: Path) -> bool:
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def refresh_files(root: str, project: str) -> None:
    """In the detached job: refresh the ``context.write_dir`` files of *project* (never raises)."""
    try:
        from journal import Journal
        from projections.memory_files import keep_fresh

        keep_fresh(Journal.open(root, create=False), project)
    except Exception as e:  # noqa: BLE001 - the index update still runs
        from journal.layout import log_error

        log_error(Path(root), "memory_files_failed", f"{type(e).__name__}: {e}")


def start_index_update(root: Path, *, python: Callable[[], str | None], code_root: Path, index: bool = True,
                       refresh_project: str | None = None) -> bool:
    """Start ``agent-journal --journal ROOT search --update`` detached (when *index*), after
    refreshing the ``context.write_dir`` files of *refresh_project* (when given); True if started.

    *python* finds an interpreter that can import msgspec and click (None: none yet).
    Never raises: a failure is one line in errors.log.
    """
    try:
        index = index and not os.environ.get("AGENT_JOURNAL_NO_INDEX_JOB") and not _busy(root / "cache" / LOCK_FILE)
        if not index and not refresh_project:
            return False
        interpreter = python()
        if interpreter is None:
            return False
        boot = _BOOT.format(code=str(code_root), root=str(root), project=refresh_project or "", index=index)
        proc = subprocess.Popen(
            [interpreter, "-I", "-c", boot, "--journal", str(root), "search", "--update", "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives the hook; Claude Code does not wait for it
            close_fds=True,
        )
        _SPAWNED.append(proc)  # never waited for
        return True
    except Exception as e:  # noqa: BLE001 - a hook must never fail because of housekeeping
        try:
            from journal.layout import log_error

            log_error(root, "index_update_not_started", f"{type(e).__name__}: {e}")
        except Exception:
            pass
        return False
