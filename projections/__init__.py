"""Projections: the journal folded into sessions, agents, the archive and resume requests.

Each projection is a pure fold ``(state, event) -> state`` (`projections.base`),
dispatched by event type over small payload views (`projections.views`), cached on
disk with the seq it covers (`projections.cache`) and brought up to date
incrementally (`projections.runner`). Read-side modules derive what depends on the
reading moment (`projections.read.liveness`), list and show (`projections.read.queries`),
trace one session (`projections.read.timeline`), rank related sessions
(`projections.read.related`) and write the recovery context (`projections.read.context`).
`projections.read.actions` appends Agent Journal's own events (checkpoints, agent
updates, resume requests, archiving).
"""

from __future__ import annotations

from projections.read.actions import archive, dismiss, plan_archive, request_resume, save_checkpoint, update_agent
from projections.folds.agents import AGENTS, AgentRecord
from projections.folds.archive import ARCHIVE
from projections.base import Projection, State, apply, fold, to_builtins
from projections.read.capture import precompact_capture
from projections.read.context import (
    DEFAULT_MAX_CHARS,
    compact_context,
    liveness_for,
    recovery_context,
    session_context,
    session_start_context,
)
from projections.errors import AmbiguousId, NothingToDo, ProjectionError, UnknownId
from projections.ids import resolve_prefix
from projections.read.liveness import DEFAULT_STALE_AFTER, Liveness, proc_probe, session_status
from projections.read.memory_files import context_files, write_context_files
from projections.read.queries import (
    agent_snapshot,
    agent_status,
    find_agent,
    find_session,
    list_agents,
    list_sessions,
    session_snapshot,
)
from projections.folds.prompts import classify_prompt
from projections.read.related import related_sessions
from projections.folds.resumes import RESUMES, pending_requests
from projections.runner import PROJECTIONS, Views, load_views, query, rebuild
from projections.folds.sessions import SESSIONS, SessionRecord
from projections.read.timeline import summarise_event, timeline
from projections.timeref import parse_duration, resolve_at

__all__ = [
    # the folds
    "Projection",
    "State",
    "apply",
    "fold",
    "to_builtins",
    "PROJECTIONS",
    "SESSIONS",
    "AGENTS",
    "ARCHIVE",
    "RESUMES",
    "SessionRecord",
    "AgentRecord",
    # running them
    "Views",
    "load_views",
    "query",
    "rebuild",
    "resolve_at",
    "parse_duration",
    # reading them
    "Liveness",
    "DEFAULT_STALE_AFTER",
    "proc_probe",
    "session_status",
    "list_sessions",
    "find_session",
    "session_snapshot",
    "list_agents",
    "find_agent",
    "agent_snapshot",
    "agent_status",
    "pending_requests",
    "related_sessions",
    "timeline",
    "summarise_event",
    "resolve_prefix",
    "classify_prompt",
    # the recovery context
    "DEFAULT_MAX_CHARS",
    "session_start_context",
    "recovery_context",
    "session_context",
    "compact_context",
    "liveness_for",
    "precompact_capture",
    "context_files",
    "write_context_files",
    # writing
    "save_checkpoint",
    "update_agent",
    "request_resume",
    "dismiss",
    "archive",
    "plan_archive",
    # errors
    "ProjectionError",
    "UnknownId",
    "AmbiguousId",
    "NothingToDo",
]
