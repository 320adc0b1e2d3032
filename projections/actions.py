"""The commands that add to the journal: checkpoints, agent updates, resume requests, archiving.

Each one resolves ids against the current projections, validates its input, and
appends one of Agent Journal's own events (docs/EVENTS.md), returning its seq.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from projections.archive import agent_key, is_archived, session_key
from projections.errors import NothingToDo, ProjectionError
from projections.ids import resolve_prefix
from projections.liveness import Liveness
from projections.queries import agent_status, find_agent, find_session
from projections.runner import Views, query
from projections.text import parse_ts
from projections.timeref import parse_duration

if TYPE_CHECKING:
    from journal import Journal

__all__ = [
    "SESSION_ENV",
    "default_session",
    "save_checkpoint",
    "update_agent",
    "request_resume",
    "plan_archive",
    "archive",
]

#: Environment variables that may name the running Claude Code session.
SESSION_ENV = ("CLAUDE_CODE_SESSION_ID", "CLAUDE_SESSION_ID")
DEFAULT_OLDER_THAN = "7d"


def _clean(items: Sequence[str] | None) -> list[str]:
    return [" ".join(i.split()) for i in items or () if i and i.strip()]


def _progress(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= 100:
        raise ProjectionError(f"progress must be between 0 and 100, got {value}")
    return value


def default_session(views: Views, live: Liveness, environ: Mapping[str, str] | None = None) -> str:
    """The session a checkpoint belongs to when none is named.

    The session in ``$CLAUDE_CODE_SESSION_ID`` if the journal knows it, else the most
    recently active session whose status is ``active``.
    """
    env = os.environ if environ is None else environ
    for name in SESSION_ENV:
        sid = env.get(name, "")
        if sid and views.sessions.records.record(sid) is not None:
            return sid
    for _, rec in views.sessions.records.records_reversed():
        if live.status(rec) == "active":
            return rec.id
    raise NothingToDo("no active session to save a checkpoint for; name one with --session ID")


def save_checkpoint(
    journal: Journal,
    *,
    objective: str,
    session: str | None = None,
    done: Sequence[str] = (),
    blockers: Sequence[str] = (),
    next: Sequence[str] = (),
    files: Sequence[str] = (),
    notes: Sequence[str] = (),
    progress: int | None = None,
    live: Liveness | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Append a ``journal.checkpoint`` and return ``(seq, session id)``."""
    if not objective or not objective.strip():
        raise ProjectionError("a checkpoint needs an objective (--objective)")
    clock = live or Liveness()

    def pick(views: Views) -> str:
        if session:
            return find_session(views, session).id
        return default_session(views, clock, environ)

    sid = query(journal, pick)
    data: dict[str, Any] = {
        "objective": " ".join(objective.split()),
        "done": _clean(done),
        "blockers": _clean(blockers),
        "next": _clean(next),
        "files": _clean(files),
        "notes": _clean(notes),
    }
    if _progress(progress) is not None:
        data["progress"] = progress
    return journal.append("journal.checkpoint", data, session=sid), sid


def update_agent(
    journal: Journal,
    agent: str,
    *,
    objective: str | None = None,
    progress: int | None = None,
    done: Sequence[str] = (),
    blockers: Sequence[str] = (),
    next: Sequence[str] = (),
    files: Sequence[str] = (),
    status: str | None = None,
) -> tuple[int, str]:
    """Append a ``journal.agent_update`` for *agent* (id or unique prefix); return ``(seq, agent id)``.

    ``done`` and ``files`` add to what the agent has; ``blockers`` and ``next`` replace.
    """
    data: dict[str, Any] = {}
    if objective is not None:
        data["objective"] = " ".join(objective.split())
    if _progress(progress) is not None:
        data["progress"] = progress
    for key, values in (("done", done), ("blockers", blockers), ("next", next), ("files", files)):
        if values:
            data[key] = _clean(values)
    if status:
        data["status"] = status
    if not data:
        raise ProjectionError("nothing to update: give --objective, --progress, --done, --blocker, --next, "
                              "--file or --status")
    rec = query(journal, lambda views: find_agent(views, agent))
    return journal.append("journal.agent_update", data, session=rec.parent or None, agent=rec.id), rec.id


def request_resume(journal: Journal, session: str, *, environ: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Append a ``journal.resume_requested`` for *session*; return ``(seq, session id)``."""
    sid = query(journal, lambda views: resolve_prefix(session, views.sessions.records, "session"))
    env = os.environ if environ is None else environ
    asked_in = next((env[n] for n in SESSION_ENV if env.get(n)), None)
    return journal.append("journal.resume_requested", {"session": sid}, session=asked_in), sid


def plan_archive(views: Views, live: Liveness, older_than: float) -> dict[str, list[str]]:
    """Ended sessions and completed agents whose last event is older than *older_than* seconds."""
    cutoff = live.now - older_than
    sessions = []
    for _, rec in views.sessions.records.records():
        if is_archived(views.archive, session_key(rec.id), rec.last_seq):
            continue
        if live.status(rec) == "ended" and parse_ts(rec.last_ts) < cutoff:
            sessions.append(rec.id)
    agents = []
    for _, rec in views.agents.records.records():
        if is_archived(views.archive, agent_key(rec.id), rec.last_seq):
            continue
        if agent_status(views, rec, live) == "completed" and parse_ts(rec.last_ts) < cutoff:
            agents.append(rec.id)
    return {"sessions": sorted(sessions), "agents": sorted(agents)}


def archive(
    journal: Journal,
    *,
    older_than: str = DEFAULT_OLDER_THAN,
    live: Liveness | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Archive ended sessions and completed agents idle for longer than *older_than*.

    Returns ``{"sessions": [...], "agents": [...], "older_than": ..., "seq": seq or None}``.
    """
    seconds = parse_duration(older_than)
    clock = live or Liveness()
    plan = query(journal, lambda views: plan_archive(views, clock, seconds))
    seq = None
    if not dry_run and (plan["sessions"] or plan["agents"]):
        seq = journal.append("journal.archived", {**plan, "older_than": older_than})
    return {**plan, "older_than": older_than, "seq": seq}
