"""The detached search-index update that SessionEnd starts (``agent-journal search --update``).

The search index (`projections.search.index`) is never touched by PreToolUse or
PostToolUse: it is brought up to date lazily by ``search``, by the SessionStart render,
and by this job, which SessionEnd starts in the background so that the next session's
related sessions and searches find the index current. The hook only checks that no
index writer holds ``cache/search.lock`` and spawns; it never waits. Stdlib only.

The same detached process first refreshes the ``@import`` files of ``context.write_dir``
when that is set (`projections.read.memory_files.keep_fresh`), else renders the context the
next session of the project will be given (`hooks.render.write_next_context`, read back by
`hooks.context_cache`): one interpreter for all, and none at all in the hook.
"""

from __future__ import annotations

import os

from hooks.housekeeping import lock_held, start_cli
from journal.layout import join

TYPE_CHECKING = False  # no typing at run time: this runs in the hook
if TYPE_CHECKING:
    from typing import Callable

__all__ = ["start_index_update", "LOCK_FILE"]

#: The index's writer lock (the same name as `projections.search.index.LOCK_FILE`).
LOCK_FILE = "search.lock"
#: Run before the CLI in the detached process (``refresh_files`` never raises).
_REFRESH = """\
from hooks.index_job import refresh_files
refresh_files({root!r}, {project!r})
"""

#: Run before the CLI in the detached process (``write_next_context`` never raises).
_NEXT_CONTEXT = """\
from hooks.render import write_next_context
write_next_context({root!r}, {session!r})
"""


def refresh_files(root: str, project: str) -> None:
    """In the detached job: refresh the ``context.write_dir`` files of *project* (never raises)."""
    try:
        from journal import Journal
        from projections.read.memory_files import keep_fresh

        keep_fresh(Journal.open(root, create=False), project)
    except Exception as e:  # noqa: BLE001 - the index update still runs
        from journal.errorlog import log_error

        log_error(root, "memory_files_failed", f"{type(e).__name__}: {e}")


def start_index_update(root: str | os.PathLike[str], *, python: Callable[[], str | None],
                       code_root: str | os.PathLike[str], index: bool = True,
                       refresh_project: str | None = None, next_context_of: str | None = None) -> bool:
    """Start ``agent-journal --journal ROOT search --update`` detached (when *index*), after
    refreshing the ``context.write_dir`` files of *refresh_project* (when given), else storing
    the context of the next session in the project of session *next_context_of* (when given:
    `hooks.context_cache`); True if started.

    *python* finds an interpreter that can import msgspec and click (None: none yet).
    Never raises: a failure is one line in errors.log.
    """
    try:
        index = (index and not os.environ.get("AGENT_JOURNAL_NO_INDEX_JOB")
                 and not lock_held(join(os.fspath(root), "cache", LOCK_FILE)))
        if refresh_project:
            prelude = _REFRESH.format(root=os.fspath(root), project=refresh_project)
        elif next_context_of:
            prelude = _NEXT_CONTEXT.format(root=os.fspath(root), session=next_context_of)
        else:
            prelude = ""
        if not index and not prelude:
            return False
        interpreter = python()
        if interpreter is None:
            return False
        start_cli(root, ["search", "--update", "--quiet"], python=interpreter, code_root=code_root,
                  failure="index_update_failed", run=index, prelude=prelude)
        return True
    except Exception as e:  # noqa: BLE001 - a hook must never fail because of housekeeping
        try:
            from journal.errorlog import log_error

            log_error(root, "index_update_not_started", f"{type(e).__name__}: {e}")
        except Exception:
            pass
        return False
