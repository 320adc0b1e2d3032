"""Markdown files for people who ``@import`` the journal from CLAUDE.md.

``agent-journal context --write DIR`` writes three files, each under the context cap:

``last-session.md``     the full context of the most recent session that is not running;
``session-history.md``  one line per recent session, newest first;
``journal-status.md``   counts by status, sessions that crashed, running, orphaned and
                        blocked agents, pending resume requests.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from journal.layout import write_atomic
from projections.context import DEFAULT_MAX_CHARS, Packer, session_context
from projections.liveness import Liveness
from projections.markdown import agent_line, session_line
from projections.queries import agent_status, session_archived
from projections.resumes import pending_requests
from projections.runner import Views

__all__ = ["FILE_NAMES", "context_files", "write_context_files"]

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
    of event-derived text is (`journal.sanitizer`).
    """
    from journal.redaction import Redactor

    redactor = Redactor()
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in files.items():
        path = directory / name
        write_atomic(path, redactor.redact_text(text)[0].encode("utf-8"))
        out.append(path)
    return out
