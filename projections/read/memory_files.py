"""Markdown files for people who ``@import`` the journal from CLAUDE.md.

``agent-journal context --write DIR`` writes three files, each under the context cap:

``last-session.md``     the full context of the most recent session that is not running;
``session-history.md``  one line per recent session, newest first;
``journal-status.md``   counts by status, sessions that crashed, running, orphaned and
                        blocked agents, pending resume requests.

With ``context.write_dir`` set in the journal's config (a directory relative to the
project), the hooks keep them fresh (`keep_fresh`): the SessionStart render refreshes
them from the views it already folded, and SessionEnd's detached job after the session
ended. The value comes from a file a cloned repository can ship, so the directory must
stay inside the project: ``journal.config.check_write_dir`` refuses absolute paths and
``..``, and here every component is ``lstat``-checked (no symbolic link, ours) before
anything is written. A file is replaced atomically (0600, ``O_NOFOLLOW``) and only when
its text changed. A failure is one line in errors.log, never an exception.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from journal.config import check_write_dir
from journal.errors import ConfigError, JournalError, JournalPermissionError
from journal.layout import ensure_subdir, read_private, write_atomic
from projections.read.context import DEFAULT_MAX_CHARS, Packer, liveness_for, max_chars_of, session_context
from projections.read.liveness import Liveness
from projections.read.markdown import agent_line, session_line
from projections.read.queries import agent_status, session_archived
from projections.folds.resumes import pending_requests
from projections.runner import Views, query

if TYPE_CHECKING:
    from journal import Journal

__all__ = ["FILE_NAMES", "WRITE_DIR_KEY", "context_files", "write_context_files", "write_dir_of",
           "refresh_context_files", "keep_fresh"]

#: The config key that turns the refresh on (``{"context": {"write_dir": ".claude/memory"}}``).
WRITE_DIR_KEY = "context.write_dir"

FILE_NAMES = ("last-session.md", "session-history.md", "journal-status.md")
HISTORY = 30


def _last_session(views: Views, live: Liveness, max_chars: int) -> str:
    for _, rec in views.sessions.records.records_reversed():
        if not session_archived(views, rec) and live.status(rec) != "active":
            return session_context(views, live, rec, max_chars=max_chars)
    return "# Agent Journal: last session\nNo finished session recorded yet.\n"


def _history(views: Views, live: Liveness, max_chars: int) -> str:
    packer = Packer(max_chars)
    packer.add(["# Agent Journal: session history", "Most recently active first; "
                "`agent-journal show <id>` for one session, `agent-journal sessions --all` for all.", ""])
    items = []
    for _, rec in views.sessions.records.records_reversed():
        if session_archived(views, rec):
            continue
        items.append((session_line(rec, live.status(rec)), rec.id))
        if len(items) >= HISTORY:
            break
    if items:
        packer.add_list([], items, noun="sessions")
    else:
        packer.add(["No session recorded yet."])
    return packer.text()


def _status(views: Views, live: Liveness, max_chars: int) -> str:
    counts: Counter[str] = Counter()
    crashed = []
    for _, rec in views.sessions.records.records_reversed():
        if session_archived(views, rec):
            counts["archived"] += 1
            continue
        status = live.status(rec)
        counts[status] += 1
        if status in ("crashed", "stale"):
            crashed.append((session_line(rec, status), rec.id))
    agents = []
    meta = views.agents.meta
    for aid in [*reversed(list(meta.running)), *(a for a in reversed(list(meta.declared)) if a not in meta.running)]:
        rec = views.agents.records.record(aid)
        if rec is None or rec.internal:
            continue
        status = agent_status(views, rec, live)
        parent = views.sessions.records.record(rec.parent) if rec.parent else None
        agents.append((agent_line(rec, status, live.status(parent) if parent else "unknown")
                       .replace("- ", f"- [{status}] ", 1), rec.id))
    packer = Packer(max_chars)
    summary = ", ".join(f"{counts[k]} {k}" for k in ("active", "ended", "crashed", "stale", "archived") if counts[k])
    packer.add(["# Agent Journal: status", f"Journal up to event {views.seq}: {summary or 'no sessions'}."])
    packer.add_list(["", "## Sessions that may have crashed"], crashed, noun="crashed sessions")
    packer.add_list(["", "## Running, orphaned and blocked agents"], agents, noun="agents")
    requests = [(f"- session {r.session[:8]}, requested {r.ts[:19].replace('T', ' ')} (request {r.seq})", str(r.seq))
                for r in pending_requests(views.resumes)]
    packer.add_list(["", "## Pending resume requests"], requests, noun="resume requests")
    return packer.text()


def context_files(views: Views, live: Liveness, *, max_chars: int = DEFAULT_MAX_CHARS) -> dict[str, str]:
    """The three documents, by file name."""
    return {
        "last-session.md": _last_session(views, live, max_chars),
        "session-history.md": _history(views, live, max_chars),
        "journal-status.md": _status(views, live, max_chars),
    }


def write_context_files(directory: Path, files: dict[str, str]) -> list[Path]:
    """Write *files* into *directory* (created if needed), each atomically; return the paths.

    The text comes from events that were sanitised when they were appended; it is redacted
    once more all the same (a legacy record, text joined from two fields), as every writer
    of event-derived text is (`journal.privacy.sanitizer`).
    """
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in files.items():
        path = directory / name
        write_atomic(path, _redacted(text))
        out.append(path)
    return out


def _redacted(text: str) -> bytes:
    from journal.privacy.redaction import Redactor

    return Redactor().redact_text(text)[0].encode("utf-8")


def write_dir_of(extra: Mapping[str, Any]) -> str | None:
    """``context.write_dir`` of a journal's config sections, or None when it is not set."""
    section = extra.get("context")
    value = section.get("write_dir") if isinstance(section, Mapping) else None
    return value if isinstance(value, str) and value else None


def _target_dir(project_dir: Path, write_dir: str) -> Path:
    """``project_dir/write_dir``, each missing component made (0700), each existing one
    checked: a real directory of ours, never a symbolic link. The project directory itself
    is the user's, not the config's, and is taken as it is."""
    problem = check_write_dir(write_dir)
    if problem:
        raise ConfigError(problem)
    path = project_dir
    for part in Path(write_dir).parts:
        try:
            # Tolerated race: a component swapped for a link between this check and the
            # write below; only someone who can already write the project can do that.
            path = ensure_subdir(path, part)
        except (JournalError, OSError) as e:
            raise JournalPermissionError(f'"{WRITE_DIR_KEY}" ({write_dir}): {e}') from e
    return path


def refresh_context_files(project_dir: Path, write_dir: str, views: Views, live: Liveness, *,
                          max_chars: int = DEFAULT_MAX_CHARS) -> list[Path]:
    """Bring the three files in ``project_dir/write_dir`` up to date; return those rewritten.

    A file whose text is unchanged is left alone (no write, no fsync). An existing file
    that is a symbolic link or not ours is refused (`JournalPermissionError` naming the key).
    """
    directory = _target_dir(project_dir, write_dir)
    written = []
    for name, text in context_files(views, live, max_chars=max_chars).items():
        path, data = directory / name, _redacted(text)
        try:
            if read_private(path) == data:  # O_NOFOLLOW: a planted link is refused here
                continue
        except FileNotFoundError:
            pass
        except (JournalError, OSError) as e:
            raise JournalPermissionError(f'"{WRITE_DIR_KEY}" ({write_dir}): {e}') from e
        write_atomic(path, data)
        written.append(path)
    return written


def keep_fresh(journal: Journal, project_dir: str | Path | None, views: Views | None = None,
               live: Liveness | None = None) -> list[Path]:
    """What the hooks call: refresh the files if ``context.write_dir`` is set (from *views*
    if given, else from a fold of *journal*); return those rewritten. Never raises: a
    failure is one ``memory_files_failed`` line in the journal's errors.log."""
    write_dir = write_dir_of(journal.config.extra)
    if write_dir is None or not project_dir or journal.config_problem is not None:
        return []
    try:
        live = live or liveness_for(journal)
        max_chars = max_chars_of(journal.config.extra)
        if views is not None:
            return refresh_context_files(Path(project_dir), write_dir, views, live, max_chars=max_chars)
        return query(journal, lambda v: refresh_context_files(Path(project_dir), write_dir, v, live,
                                                              max_chars=max_chars))
    except Exception as e:  # noqa: BLE001 - these files must never cost an event or a context
        journal.log_error("memory_files_failed", f"cannot refresh the {WRITE_DIR_KEY} files: {e}",
                          write_dir=write_dir)
        return []
