"""Reading the projections: session and agent listings and snapshots as plain data.

Everything here takes loaded `Views` (see `projections.runner`) and a `Liveness`
(the reading moment), and returns JSON-ready dicts, so the CLI only renders. Derived
facts live here, not in the folds: a session's status and whether it was
interrupted, an agent's ``orphaned``/``archived`` status, what is archived.
"""

from __future__ import annotations

from typing import Any, Iterator

from projections.folds.agents import AgentRecord
from projections.base import plain
from projections.folds.archive import agent_key, is_archived, session_key
from projections.errors import UnknownId
from projections.ids import resolve_prefix
from projections.read.liveness import Liveness
from projections.runner import Views
from projections.folds.sessions import SessionRecord

__all__ = [
    "SESSION_FILTERS",
    "AGENT_STATUSES",
    "session_info",
    "iter_sessions",
    "PAGE",
    "page_sessions",
    "list_sessions",
    "find_session",
    "session_snapshot",
    "agent_status",
    "agent_info",
    "page_agents",
    "list_agents",
    "find_agent",
    "agent_snapshot",
    "session_archived",
    "agent_archived",
    "interrupted",
    "unfinished",
    "running_elsewhere",
    "handed_over",
]

#: What ``sessions --status`` accepts.
SESSION_FILTERS = ("active", "ended", "crashed", "stale", "interrupted", "archived")
AGENT_STATUSES = ("running", "completed", "orphaned", "archived")


def session_archived(views: Views, rec: SessionRecord) -> bool:
    """True if *rec* was archived after its last event."""
    return is_archived(views.archive, session_key(rec.id), rec.last_seq)


def agent_archived(views: Views, rec: AgentRecord) -> bool:
    """True if *rec* was archived (by ``archive`` or a declared status) after its last event."""
    return rec.status == "archived" or is_archived(views.archive, agent_key(rec.id), rec.last_seq)


def interrupted(rec: SessionRecord, status: str) -> bool:
    """Crashed, or ended in the middle of a turn that had started working.

    A SessionEnd ends every tool call, so an ended session is interrupted only when its
    last turn ran something and never got its Stop; a prompt that failed before running
    (a slash command whose shell step failed) is not unfinished work.
    """
    if status in ("crashed", "stale"):
        return True
    return status == "ended" and rec.turn_open and rec.turn_ran


def unfinished(rec: SessionRecord, status: str) -> bool:
    """Interrupted and not handed over (resumed elsewhere or dismissed): worth reporting."""
    return not rec.handed and interrupted(rec, status)


def running_elsewhere(rec: SessionRecord, status: str) -> bool:
    """Its Claude Code process is alive: someone is working in it now."""
    return status == "active" and rec.pid > 0


def handed_over(rec: SessionRecord) -> dict[str, Any] | None:
    """How the current run's crash was handed over, or None."""
    if not rec.handed:
        return None
    return {"how": rec.handed, "seq": rec.handed_seq, "ts": rec.handed_ts, "by": rec.handed_by}


def session_info(views: Views, rec: SessionRecord, live: Liveness) -> dict[str, Any]:
    """The one-row summary of a session (what ``sessions`` lists)."""
    status = live.status(rec)
    return {
        "id": rec.id,
        "started": rec.started or rec.first_ts,
        "last_event": rec.last_ts,
        "status": status,
        "archived": session_archived(views, rec),
        "interrupted": interrupted(rec, status),
        "handed_over": handed_over(rec),
        "running": running_elsewhere(rec, status),
        "source": rec.source,
        "end_reason": rec.end_reason,
        "project_dir": rec.project_dir,
        "branch": rec.branch,
        "prompts": rec.prompts,
        "working_on": rec.objective(),
        "last_prompt": rec.last_prompts[-1] if rec.last_prompts else "",
        "tool_calls": rec.tool_calls,
        "failed": rec.failed,
        "files": len(rec.files) + rec.files_more,
        "compactions": rec.compactions,
        "checkpoints": rec.checkpoints,
        "agents": rec.agents,
        "events": rec.events,
    }


def iter_sessions(views: Views, *, newest_first: bool = False) -> Iterator[SessionRecord]:
    """Every session record (in order of last activity, or the reverse)."""
    items = views.sessions.records.records_reversed() if newest_first else views.sessions.records.records()
    for _, rec in items:
        yield rec


#: How many rows ``sessions`` and ``agents`` show by default (the most recently active).
PAGE = 20
_OPEN_STATUSES = frozenset({"active", "crashed", "stale"})


def page_sessions(
    views: Views, live: Liveness, *, include_archived: bool = False, status: str | None = None,
    limit: int | None = None, offset: int = 0,
) -> tuple[list[dict[str, Any]], bool]:
    """One page of session summaries, and whether older matching sessions remain.

    The page holds the *limit* most recently active sessions that match (all of them
    when *limit* is None), after skipping the *offset* most recent ones; it is sorted
    oldest start first. Sessions are read newest first and only until the page is
    full, so the cost follows the page, not the journal. *status* filters: a status,
    ``interrupted``, or ``archived`` (implies archived ones); archived sessions are
    left out unless *include_archived*.
    """
    records = views.sessions.records
    # A session is active, crashed or stale only while it has no SessionEnd (the fold's
    # ``open`` set): for those filters the others are skipped without being decoded.
    open_only = views.sessions.meta.open if status in _OPEN_STATUSES else None

    def matching() -> Iterator[dict[str, Any]]:
        for sid in list(reversed(records)):
            if open_only is not None and sid not in open_only:
                continue
            rec: SessionRecord = records[sid]
            info = session_info(views, rec, live)
            if status == "archived":
                if not info["archived"]:
                    continue
            elif info["archived"] and not include_archived:
                continue
            if status == "interrupted" and not info["interrupted"]:
                continue
            if status in ("active", "ended", "crashed", "stale") and info["status"] != status:
                continue
            yield info

    return _page(matching(), limit, offset)


def _page(rows: Iterator[dict[str, Any]], limit: int | None, offset: int) -> tuple[list[dict[str, Any]], bool]:
    """Rows *offset* to *offset* + *limit* of *rows* (newest first), oldest start first, and
    whether more remain; *rows* is read only that far."""
    for _ in zip(range(offset), rows, strict=False):
        pass
    page = list(rows) if limit is None else [row for _, row in zip(range(limit), rows, strict=False)]
    more = limit is not None and next(rows, None) is not None
    page.sort(key=lambda r: (r["started"], r["id"]))
    return page, more


def list_sessions(
    views: Views, live: Liveness, *, include_archived: bool = False, status: str | None = None,
    limit: int | None = None, offset: int = 0,
) -> list[dict[str, Any]]:
    """Session summaries, oldest start first (`page_sessions` without the "more" flag).

    *limit* keeps the most recently active ones, after skipping *offset* of them.
    """
    return page_sessions(views, live, include_archived=include_archived, status=status, limit=limit,
                         offset=offset)[0]


def find_session(views: Views, prefix: str) -> SessionRecord:
    """The session whose id is *prefix* or uniquely starts with it."""
    sid = resolve_prefix(prefix, views.sessions.records, "session")
    rec: SessionRecord = views.sessions.records.record(sid)
    return rec




def session_snapshot(views: Views, rec: SessionRecord, live: Liveness) -> dict[str, Any]:
    """Everything about one session: its record, status, agents and in-flight call."""
    info = session_info(views, rec, live)
    record = plain(rec)
    record.pop("id", None)
    in_flight = rec.in_flight_call()
    agents = [agent_info(views, a, live) for a in _session_agents(views, rec)]
    return {
        **info,
        "in_flight": plain(in_flight) if in_flight else None,
        "record": record,
        "agent_list": agents,
        "process": {"pid": rec.pid, "start": rec.pstart, "via": rec.pvia} if rec.pid else None,
    }


def _session_agents(views: Views, session: SessionRecord) -> list[AgentRecord]:
    """The agents *session* started, oldest activity first.

    Agents are kept in order of last activity and an agent's events are its session's,
    so the scan runs newest first and stops at the first agent last active before the
    session began: it reads the agents since then, not every agent of the journal.
    """
    out = []
    for _, agent in views.agents.records.records_reversed():
        if agent.last_seq < session.first_seq:
            break
        if agent.parent == session.id:
            out.append(agent)
    out.reverse()
    return out


def agent_status(views: Views, rec: AgentRecord, live: Liveness) -> str:
    """``running``, ``completed``, ``orphaned``, ``archived`` or a declared status."""
    if agent_archived(views, rec):
        return "archived"
    if rec.status != "running":
        return rec.status
    parent = views.sessions.records.record(rec.parent) if rec.parent else None
    if parent is None:
        return "running"
    if live.status(parent) in ("ended", "crashed"):
        return "orphaned"
    if parent.start_seq > max(rec.start_seq, rec.first_seq):
        return "orphaned"  # its session was restarted (resumed) after it started
    return "running"


def agent_info(views: Views, rec: AgentRecord, live: Liveness) -> dict[str, Any]:
    """The one-row summary of an agent (what ``agents`` lists)."""
    return {
        "id": rec.id,
        "type": rec.type,
        "status": agent_status(views, rec, live),
        "internal": rec.internal,
        "dismissed": rec.dismissed_seq > 0,
        "parent": rec.parent,
        "description": rec.description,
        "objective": rec.objective,
        "progress": rec.progress,
        "started": rec.started or rec.first_ts,
        "stopped": rec.stopped,
        "last_event": rec.last_ts,
        "tool_calls": rec.tool_calls,
        "failed": rec.failed,
        "files": len(rec.files) + rec.files_more,
    }


def page_agents(views: Views, live: Liveness, *, include_all: bool = False, status: str | None = None,
                limit: int | None = None, offset: int = 0) -> tuple[list[dict[str, Any]], bool]:
    """One page of agent summaries (like `page_sessions`), oldest start first, and whether
    older matching agents remain; internal and archived ones only with *include_all*."""
    records = views.agents.records
    # Running and orphaned agents are the ones the fold still has as running.
    running_only = views.agents.meta.running if status in ("running", "orphaned") else None

    def matching() -> Iterator[dict[str, Any]]:
        for aid in list(reversed(records)):
            if running_only is not None and aid not in running_only:
                continue
            agent: AgentRecord = records[aid]
            info = agent_info(views, agent, live)
            if not include_all and (info["internal"] or info["status"] == "archived") and status != "archived":
                continue
            if status and info["status"] != status:
                continue
            yield info

    return _page(matching(), limit, offset)


def list_agents(views: Views, live: Liveness, *, include_all: bool = False,
                status: str | None = None, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Agent summaries, oldest start first; internal and archived ones only with *include_all*."""
    return page_agents(views, live, include_all=include_all, status=status, limit=limit, offset=offset)[0]


def find_agent(views: Views, prefix: str) -> AgentRecord:
    """The agent whose id is *prefix* or uniquely starts with it."""
    aid = resolve_prefix(prefix, views.agents.records, "agent")
    rec: AgentRecord | None = views.agents.records.record(aid)
    if rec is None:  # pragma: no cover - resolve_prefix only returns known ids
        raise UnknownId(f"no agent {aid!r}")
    return rec


def agent_snapshot(views: Views, rec: AgentRecord, live: Liveness) -> dict[str, Any]:
    """Everything about one agent, and how to continue it if it is unfinished."""
    info = agent_info(views, rec, live)
    record = plain(rec)
    record.pop("id", None)
    info["record"] = record
    info["resume"] = resume_hint(info)
    return info


def resume_hint(info: dict[str, Any]) -> str:
    """How Claude continues an unfinished agent (empty for a completed one)."""
    if info["status"] in ("completed", "archived") or info.get("dismissed"):
        return ""
    return f"/agent-journal:resume-agents {info['id']}"
