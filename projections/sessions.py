"""The sessions projection: one bounded snapshot per Claude Code session.

Folded from the hook events (docs/EVENTS.md) and ``journal.checkpoint``. Every list
in a record is capped, so a record stays a few kilobytes however long the session
runs: the last `PROMPTS_KEPT` prompts, `FILES_KEPT` files (with a count of the rest),
`IN_FLIGHT_KEPT` calls in flight, the last `FAILURES_KEPT` failures.

Records are kept in order of last activity (a session moves to the end when an event
of it follows another session's), which is what "recent sessions" reads. Whether a
session is alive is not folded: it depends on the reading moment and is computed by
`projections.liveness`.

A ``SessionStart`` of a known id (``--resume`` keeps the id) starts a new segment of
activity in the same record: new process, in-flight calls of the old process moved
to ``interrupted``. ``spans`` lists the seq ranges of the session's activity (a new
span opens after a gap of `SPAN_GAP` events), so a timeline reads only those ranges.
"""

from __future__ import annotations

from typing import Any

import msgspec

from journal.events import Event
from projections.base import Projection, State
from projections.text import EDIT_TOOLS, clip, first_line, summarise_tool
from projections.views import ToolView

__all__ = [
    "SESSIONS",
    "SessionRecord",
    "SessionsMeta",
    "ToolCall",
    "Failure",
    "Checkpoint",
    "PROMPTS_KEPT",
    "FILES_KEPT",
    "count_edited_file",
    "SPAN_GAP",
]

PROMPTS_KEPT = 5
PROMPT_CHARS = 500
MESSAGE_CHARS = 500
FILES_KEPT = 200
IN_FLIGHT_KEPT = 16
FAILURES_KEPT = 3
DECISIONS_KEPT = 10
TOPICS_KEPT = 20
ITEMS_KEPT = 20
ITEM_CHARS = 300
SPANS_KEPT = 32
#: A session's events more than this many seqs after its previous one open a new span.
SPAN_GAP = 2000


class ToolCall(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    """A tool call: its tool, its summarised target, when it started, which agent made it."""

    tool: str
    target: str
    seq: int
    ts: str
    agent: str = ""


class Failure(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    """A failed tool call and the first line of its error."""

    tool: str
    target: str
    error: str
    seq: int
    ts: str
    agent: str = ""


class Checkpoint(msgspec.Struct, array_like=True, omit_defaults=True):
    """A saved checkpoint (``journal.checkpoint``)."""

    seq: int
    ts: str
    objective: str = ""
    done: list[str] = []
    blockers: list[str] = []
    next: list[str] = []
    files: list[str] = []
    notes: list[str] = []
    progress: int | None = None


class SessionRecord(msgspec.Struct, array_like=True, omit_defaults=True):
    """Everything the journal knows about one session (bounded; see the module docs)."""

    id: str
    first_seq: int
    last_seq: int
    first_ts: str
    last_ts: str
    events: int = 1
    started: str = ""
    source: str = ""
    start_seq: int = 0
    last_start: str = ""
    last_source: str = ""
    starts: int = 0
    ended: str = ""
    end_reason: str = ""
    end_seq: int = 0
    project_dir: str = ""
    cwd: str = ""
    transcript: str = ""
    branch: str = ""
    model: str = ""
    pid: int = 0
    pstart: str = ""
    pvia: str = ""
    prompts: int = 0
    first_prompt: str = ""
    last_prompts: list[str] = []
    last_prompt_ts: str = ""
    turn_open: bool = False
    last_message: str = ""
    tool_calls: int = 0
    tools: dict[str, int] = {}
    failed: int = 0
    denied: int = 0
    failures: list[Failure] = []
    in_flight: dict[str, ToolCall] = {}
    interrupted: ToolCall | None = None
    resumed_after: str = ""
    files: dict[str, int] = {}
    files_more: int = 0
    compactions: int = 0
    precompact_seq: int = 0
    checkpoints: int = 0
    checkpoint: Checkpoint | None = None
    working_on: str = ""
    decisions: list[str] = []
    topics: list[str] = []
    agents: int = 0
    spans: list[list[int]] = []

    def in_flight_call(self) -> ToolCall | None:
        """The most recent call still in flight (main thread first), if any."""
        calls = list(self.in_flight.values())
        main = [c for c in calls if not c.agent]
        best = main or calls
        return best[-1] if best else None

    def span_ranges(self) -> list[tuple[int, int]]:
        """The inclusive seq ranges holding this session's events."""
        out = []
        for first, last in self.spans:
            out.append((first, last or self.last_seq))
        return out or [(self.first_seq, self.last_seq)]


class SessionsMeta(msgspec.Struct):
    """The projection-wide part of the state: which session was touched last."""

    last: str = ""
    #: Sessions with no SessionEnd after their last start, in the order they (re)started.
    open: dict[str, None] = {}


def _touch(state: State, event: Event) -> SessionRecord | None:
    """The record of the event's session (created on first sight), marked active."""
    return _touch_at(state, event.session, event.seq, event.ts)


def _touch_at(state: State, sid: str | None, seq: int, ts: str) -> SessionRecord | None:
    """`_touch` given the event's session, seq and ts.

    The hot handlers read those three themselves: each handler sees one or two event
    classes (`journal.events.TypedEvent`), so its attribute reads stay specialised.
    """
    if sid is None:
        return None
    records = state.records
    rec = records.get(sid)
    if rec is None:
        rec = SessionRecord(sid, seq, seq, ts, ts, spans=[[seq, 0]])
        records[sid] = rec
        state.meta.last = sid
        state.meta.open[sid] = None
        return rec
    if rec.__class__ is int:
        rec = records.load(sid, rec)
    if state.meta.last != sid:
        del records[sid]
        records[sid] = rec
        state.meta.last = sid
    if seq - rec.last_seq > SPAN_GAP:
        spans = rec.spans
        spans[-1][1] = rec.last_seq
        spans.append([seq, 0])
        if len(spans) > SPANS_KEPT:
            spans[0:2] = [[spans[0][0], spans[1][1]]]
    rec.last_seq = seq
    rec.last_ts = ts
    rec.events += 1
    return rec


def _on_any(state: State, event: Event, view: Any) -> None:
    _touch(state, event)


def _on_start(state: State, event: Event, view: Any) -> None:
    rec = _touch(state, event)
    if rec is None:
        return
    source = view.source or "startup"
    rec.starts += 1
    if source == "compact":
        rec.compactions += 1
    else:
        if not rec.started:
            rec.started, rec.source = event.ts, source
        else:  # a restart of a known session (``claude --resume`` keeps the id)
            rec.resumed_after = rec.end_reason or "no-end"
            if rec.in_flight:
                rec.interrupted = rec.in_flight_call()
        if rec.in_flight:
            rec.in_flight = {}
        rec.start_seq = event.seq
        rec.last_start, rec.last_source = event.ts, source
        rec.turn_open = False
        if rec.ended:
            rec.ended, rec.end_reason, rec.end_seq = "", "", 0
            state.meta.open[rec.id] = None
        rec.pid, rec.pstart, rec.pvia = 0, "", ""
    if view.cwd:
        rec.cwd = view.cwd
        if not rec.project_dir:
            rec.project_dir = view.cwd
    if view.transcript_path:
        rec.transcript = view.transcript_path
    if view.model:
        rec.model = view.model
    notes = view.journal
    if notes is not None:
        if notes.project_dir:
            rec.project_dir = notes.project_dir
        if notes.git_branch:
            rec.branch = notes.git_branch
        proc = notes.process
        if proc is not None and proc.pid > 0:
            rec.pid, rec.pstart, rec.pvia = proc.pid, proc.start or "", proc.via


def _on_prompt(state: State, event: Event, view: Any) -> None:
    rec = _touch_at(state, event.session, event.seq, event.ts)
    if rec is None:
        return
    text = clip(view.prompt, PROMPT_CHARS)
    rec.prompts += 1
    if not rec.first_prompt:
        rec.first_prompt = text
    prompts = rec.last_prompts
    prompts.append(text)
    if len(prompts) > PROMPTS_KEPT:
        del prompts[0]
    rec.last_prompt_ts = event.ts
    rec.turn_open = True


def _on_pre_tool(state: State, event: Event, view: ToolView) -> None:
    rec = _touch_at(state, event.session, event.seq, event.ts)
    if rec is None:
        return
    tool = view.tool_name
    agent = event.agent or ""
    if not agent:
        rec.tool_calls += 1
        tools = rec.tools
        tools[tool] = tools.get(tool, 0) + 1
    flying = rec.in_flight
    flying[view.tool_use_id] = ToolCall(tool, summarise_tool(tool, view.tool_input), event.seq, event.ts, agent)
    if len(flying) > IN_FLIGHT_KEPT:
        del flying[next(iter(flying))]


def _landed(rec: SessionRecord, event: Event, view: ToolView) -> None:
    """A tool call finished (either way): no longer in flight; counted if its start was missed."""
    if rec.in_flight.pop(view.tool_use_id, None) is None and not event.agent:
        rec.tool_calls += 1
        tools = rec.tools
        tools[view.tool_name] = tools.get(view.tool_name, 0) + 1


def _on_post_tool(state: State, event: Event, view: ToolView) -> None:
    rec = _touch_at(state, event.session, event.seq, event.ts)
    if rec is None:
        return
    _landed(rec, event, view)
    if view.tool_name in EDIT_TOOLS:  # most calls edit nothing: spare them the call
        count_edited_file(rec, view)


def count_edited_file(rec: Any, view: ToolView) -> None:
    """Count the file a successful Write/Edit/MultiEdit/NotebookEdit touched (sessions and agents).

    *rec* has ``files`` (path -> edits, at most `FILES_KEPT` paths) and ``files_more``.
    """
    field = EDIT_TOOLS.get(view.tool_name)
    if field is None or view.tool_input is None:
        return
    path = getattr(view.tool_input, field)
    if path:
        files = rec.files
        if path in files:
            files[path] += 1
        elif len(files) < FILES_KEPT:
            files[path] = 1
        else:
            rec.files_more += 1


def _on_tool_failure(state: State, event: Event, view: ToolView) -> None:
    rec = _touch(state, event)
    if rec is None:
        return
    _landed(rec, event, view)
    rec.failed += 1
    error = first_line(view.error, 200) or ("interrupted" if view.is_interrupt else "failed")
    failures = rec.failures
    failures.append(Failure(view.tool_name, summarise_tool(view.tool_name, view.tool_input), error,
                            event.seq, event.ts, event.agent or ""))
    if len(failures) > FAILURES_KEPT:
        del failures[0]


def _on_denied(state: State, event: Event, view: ToolView) -> None:
    rec = _touch(state, event)
    if rec is None:
        return
    _landed(rec, event, view)
    rec.denied += 1


def _merge_capped(items: list[str], new: list[str], cap: int) -> None:
    for item in new:
        item = clip(item, ITEM_CHARS)
        if item and item not in items:
            items.append(item)
    if len(items) > cap:
        del items[: len(items) - cap]


def _on_stop(state: State, event: Event, view: Any) -> None:
    rec = _touch_at(state, event.session, event.seq, event.ts)
    if rec is None:
        return
    if event.agent:
        return  # a Stop fired inside a subagent says nothing about the main turn
    if event.type == "StopFailure" and view.error:
        rec.last_message = clip("API error: " + view.error, MESSAGE_CHARS)
    elif view.last_assistant_message:
        rec.last_message = clip(view.last_assistant_message, MESSAGE_CHARS)
    rec.turn_open = False
    if rec.in_flight:
        rec.in_flight = {k: c for k, c in rec.in_flight.items() if c.agent}
    notes = view.journal
    if notes is not None and notes.digest is not None:
        digest = notes.digest
        if digest.working_on:
            rec.working_on = clip(digest.working_on, ITEM_CHARS)
        _merge_capped(rec.decisions, digest.decisions, DECISIONS_KEPT)
        _merge_capped(rec.topics, digest.topics, TOPICS_KEPT)


def _on_subagent_start(state: State, event: Event, view: Any) -> None:
    rec = _touch(state, event)
    if rec is not None:
        rec.agents += 1


def _on_end(state: State, event: Event, view: Any) -> None:
    rec = _touch(state, event)
    if rec is None:
        return
    rec.ended, rec.end_reason, rec.end_seq = event.ts, view.reason or "other", event.seq
    state.meta.open.pop(rec.id, None)


def _on_precompact(state: State, event: Event, view: Any) -> None:
    rec = _touch(state, event)
    if rec is not None:
        rec.precompact_seq = event.seq


def _on_cwd(state: State, event: Event, view: Any) -> None:
    rec = _touch(state, event)
    if rec is not None and view.new_cwd:
        rec.cwd = view.new_cwd


def _items(values: list[str]) -> list[str]:
    return [clip(v, ITEM_CHARS) for v in values[:ITEMS_KEPT] if v]


def _on_checkpoint(state: State, event: Event, view: Any) -> None:
    rec = _touch(state, event)
    if rec is None:
        return
    rec.checkpoints += 1
    progress = view.progress if view.progress is not None and 0 <= view.progress <= 100 else None
    rec.checkpoint = Checkpoint(
        event.seq, event.ts, clip(view.objective, ITEM_CHARS), _items(view.done), _items(view.blockers),
        _items(view.next), _items(view.files), _items(view.notes), progress,
    )


SESSIONS = Projection(
    name="sessions",
    version=1,
    record_type=SessionRecord,
    meta_type=SessionsMeta,
    handlers={
        "SessionStart": _on_start,
        "UserPromptSubmit": _on_prompt,
        "PreToolUse": _on_pre_tool,
        "PostToolUse": _on_post_tool,
        "PostToolUseFailure": _on_tool_failure,
        "PermissionDenied": _on_denied,
        "Stop": _on_stop,
        "StopFailure": _on_stop,
        "SubagentStart": _on_subagent_start,
        "SessionEnd": _on_end,
        "PreCompact": _on_precompact,
        "CwdChanged": _on_cwd,
        "journal.checkpoint": _on_checkpoint,
    },
    default=_on_any,
)
