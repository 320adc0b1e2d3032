"""The commands that add to the journal: checkpoints, agent updates, resume requests,
dismissals, archiving.

Each one resolves ids against the current projections, validates its input, and
appends one of Agent Journal's own events (docs/EVENTS.md), returning its seq.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from projections.folds.archive import agent_key, is_archived, session_key
from projections.errors import AmbiguousId, NothingToDo, ProjectionError, UnknownId
from projections.ids import resolve_prefix
from projections.read.liveness import Liveness
from projections.read.queries import agent_status, find_agent, find_session, interrupted, running_elsewhere
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
    "dismiss",
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
            active: str = rec.id
            return active
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


def _target(views: Views, ident: str) -> tuple[str, str]:
    """``("session"|"agent", full id)`` for an id or unique prefix of either kind."""
    found: list[tuple[str, str]] = []
    for kind, records in (("session", views.sessions.records), ("agent", views.agents.records)):
        try:
            found.append((kind, resolve_prefix(ident, records, kind)))
        except UnknownId:
            continue
    exact = [f for f in found if f[1] == ident.strip()]
    if exact:
        return exact[0]
    if not found:
        raise UnknownId(f"no session or agent matches {ident!r} (list them with `agent-journal sessions --all` "
                        "or `agent-journal agents --all`)")
    if len(found) > 1:
        raise AmbiguousId(f"{ident!r} matches session {found[0][1][:12]}… and agent {found[1][1][:12]}…; "
                          "give more characters")
    return found[0]


def _check_dismissable(views: Views, live: Liveness, kind: str, ident: str, undo: bool) -> str:
    """Why *ident* cannot be dismissed (or un-dismissed), or "" if it can."""
    if kind == "session":
        rec = views.sessions.records.record(ident)
        status = live.status(rec)
        if undo:
            return "" if rec.handed else f"session {ident[:8]} is not dismissed or picked up; nothing to undo"
        if running_elsewhere(rec, status):
            return f"session {ident[:8]} is running now (Claude Code pid {rec.pid}); there is no crash to dismiss"
        if rec.handed:
            return f"session {ident[:8]} is already {'dismissed' if rec.handed == 'dismissed' else 'picked up'}"
        if not interrupted(rec, status):
            return f"session {ident[:8]} is {status} and was not interrupted; there is nothing to dismiss"
        return ""
    agent = views.agents.records.record(ident)
    if undo:
        return "" if agent.dismissed_seq else f"agent {ident[:8]} is not dismissed; nothing to undo"
    if agent.dismissed_seq:
        return f"agent {ident[:8]} is already dismissed"
    status = agent_status(views, agent, live)
    if status in ("completed", "archived"):
        return f"agent {ident[:8]} is {status}; there is nothing to dismiss"
    return ""


def dismiss(
    journal: Journal,
    idents: Sequence[str],
    *,
    undo: bool = False,
    reason: str = "",
    live: Liveness | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Append a ``journal.dismissed``: these crashed sessions or unfinished agents are handled.

    Later recovery contexts stop reporting them (``sessions`` and ``agents`` still list
    them, marked). With *undo* the dismissal is withdrawn and they are reported again.
    Returns ``{"seq", "sessions", "agents", "undo"}``; raises `NothingToDo` when an id
    names something with nothing to dismiss (a running or cleanly ended session).
    """
    if not idents:
        raise ProjectionError("name at least one session or agent (id or unique prefix)")
    clock = live or Liveness()

    def plan(views: Views) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"sessions": [], "agents": []}
        for ident in idents:
            kind, full = _target(views, ident)
            problem = _check_dismissable(views, clock, kind, full, undo)
            if problem:
                raise NothingToDo(problem)
            bucket = out[kind + "s"]
            if full not in bucket:
                bucket.append(full)
        return out

    targets = query(journal, plan)
    env = os.environ if environ is None else environ
    asked_in = next((env[n] for n in SESSION_ENV if env.get(n)), None)
    data: dict[str, Any] = {k: v for k, v in targets.items() if v}
    if undo:
        data["undo"] = True
    if reason and reason.strip():
        data["reason"] = " ".join(reason.split())[:300]
    seq = journal.append("journal.dismissed", data, session=asked_in)
    return {"seq": seq, **targets, "undo": undo}


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
