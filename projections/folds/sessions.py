"""The sessions projection: one bounded snapshot per Claude Code session.

Folded from the hook events (docs/EVENTS.md) and ``journal.checkpoint``. Every list
in a record is capped, so a record stays a few kilobytes however long the session
runs: the last `PROMPTS_KEPT` prompts, `FILES_KEPT` files (with a count of the rest),
`IN_FLIGHT_KEPT` calls in flight, the last `FAILURES_KEPT` failures.

Records are kept in order of last activity (a session moves to the end when an event
of it follows another session's), which is what "recent sessions" reads. Whether a
session is alive is not folded: it depends on the reading moment and is computed by
`projections.read.liveness`.

A ``SessionStart`` of a known id (``--resume`` keeps the id) starts a new segment of
activity in the same record: new process, in-flight calls of the old process moved
to ``interrupted``, an earlier hand-over forgotten (a new run can crash anew).

Lifecycle rules (issue 11): a tool call is in flight only until its PostToolUse,
PostToolUseFailure or PermissionDenied, a PermissionRequest whose thread moved on
without it (denied), or the end of what ran it: its agent's SubagentStop, the turn's
Stop/StopFailure, the session's SessionEnd. Only real prompts count as prompts
(`projections.folds.prompts.classify_prompt`): task notifications, slash commands and hook
text open a turn but are not shown as something the user asked. Agent Journal's own
notes about a session (a checkpoint, an agent update, a dismissal) never move the time
of its last activity, which for a crashed session is when it died. A crash is *handed
over* (``handed``) once ``agent-journal resume`` of it was used by a later session,
``/agent-journal:resume`` of it ran, or ``agent-journal dismiss`` named it. ``spans`` lists
the seq ranges of the session's activity (a new span opens after a gap of `SPAN_GAP`
events), so a timeline reads only those ranges.
"""

from __future__ import annotations

from typing import Any

import msgspec

from journal.storage.events import Event
from projections.base import Projection, State
from projections.folds.prompts import PROMPT, SLASH_COMMAND, classify_prompt
from projections.text import EDIT_TOOLS, clip, first_line, summarise_tool
from projections.views import LandedView, PermissionRequestView, PreView, ToolView

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
    "RESUME_COMMAND",
    "substantive",
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
#: The plugin's slash command that injects an earlier session's context (hands its crash over).
RESUME_COMMAND = "agent-journal:resume"
# Replies of up to three words that say nothing about the work ("yes", "go on", "thanks!").
_TRIVIAL_CHARS = 40
_TRIVIAL = frozenset("""yes y no n ok okay k sure go continue proceed next thanks thank you thx done
    please do it that fine great good perfect right correct lgtm ship on ahead again retry""".split())


class ToolCall(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    """A tool call: its tool, its summarised target, when it started, which agent made it."""

    tool: str
    target: str
    seq: int
    ts: str
    agent: str = ""
    #: A PermissionRequest was raised for it: if its thread moves on without it, it was denied.
    asked: bool = False


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
    #: Something ran (a tool call, an agent) since the last user turn opened.
    turn_ran: bool = False
    #: Some call in flight has ``asked`` set (spares the hot path a scan when none has).
    asking: bool = False
    #: How the crash of the current run was handed over ("dismissed", "resumed"), by whom, when.
    handed: str = ""
    handed_seq: int = 0
    handed_ts: str = ""
    handed_by: str = ""

    def in_flight_call(self) -> ToolCall | None:
        """The most recent call still in flight (main thread first), if any."""
        calls = list(self.in_flight.values())
        main = [c for c in calls if not c.agent]
        best = main or calls
        return best[-1] if best else None

    def objective(self) -> str:
        """What the session was working on: its latest checkpoint's objective, else its first
        substantive prompt (never an assistant's closing reply)."""
        if self.checkpoint is not None and self.checkpoint.objective:
            return self.checkpoint.objective
        return self.first_prompt

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
    #: Pending ``journal.resume_requested`` seqs (as text) -> the session asked for.
    requests: dict[str, str] = {}


def _touch(state: State, event: Event) -> SessionRecord | None:
    """The record of the event's session (created on first sight), marked active."""
    return _touch_at(state, event.session, event.seq, event.ts)


def _touch_at(state: State, sid: str | None, seq: int, ts: str) -> SessionRecord | None:
    """`_touch` given the event's session, seq and ts.

    The hot handlers read those three themselves: each handler sees one or two event
    classes (`journal.storage.events.TypedEvent`), so its attribute reads stay specialised.
    """
    if sid is None:
        return None
    records = state.records
    rec: SessionRecord | None = records.get(sid)
    if rec is None:
        rec = SessionRecord(sid, seq, seq, ts, ts, spans=[[seq, 0]])
        records[sid] = rec
        state.meta.last = sid
        state.meta.open[sid] = None
        return rec
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
        rec.turn_open = rec.turn_ran = False
        rec.handed, rec.handed_seq, rec.handed_ts, rec.handed_by = "", 0, "", ""
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
    rec.turn_open, rec.turn_ran = True, False
    kind = classify_prompt(view.prompt)
    if kind != PROMPT:  # a task notification, slash command or hook text: a turn, not a prompt
        if kind == SLASH_COMMAND:
            _slash_resume(state, rec, event, view.prompt.strip()[1:])
        return
    text = clip(view.prompt, PROMPT_CHARS)
    rec.prompts += 1
    if not rec.first_prompt or (not substantive(rec.first_prompt) and substantive(text)):  # usually one call
        rec.first_prompt = text
    prompts = rec.last_prompts
    prompts.append(text)
    if len(prompts) > PROMPTS_KEPT:
        del prompts[0]
    rec.last_prompt_ts = event.ts


def substantive(prompt: str) -> bool:
    """True unless *prompt* is a bare acknowledgement ("yes", "continue", "thanks!")."""
    if len(prompt) > _TRIVIAL_CHARS:
        return True  # the common case, decided without splitting words
    words = [w.strip(".,!?;:'\"()").lower() for w in prompt.split()]
    words = [w for w in words if w]
    return bool(words) and not (len(words) <= 3 and all(w in _TRIVIAL for w in words))


def _slash_resume(state: State, rec: SessionRecord, event: Event, command: str) -> None:
    """``/agent-journal:resume ID`` typed in *rec*: the session ID names is handed over."""
    name, _, args = command.partition(" ")
    prefix = args.strip().split(" ", 1)[0] if args.strip() else ""
    if name != RESUME_COMMAND or len(prefix) < 4 or prefix == rec.id:
        return
    records = state.records
    if prefix in records:
        target = prefix
    else:  # a unique prefix, as the command itself accepts (rare: a scan of the ids is fine)
        found = [sid for sid in records if sid.startswith(prefix)]
        if len(found) != 1:
            return
        target = found[0]
    if target != rec.id:
        _hand_over(records.record(target), "resumed", event, rec.id)


def _hand_over(rec: SessionRecord | None, how: str, event: Event, by: str) -> None:
    if rec is not None:
        rec.handed, rec.handed_seq, rec.handed_ts, rec.handed_by = how, event.seq, event.ts, by


def _on_pre_tool(state: State, event: Event, view: PreView) -> None:
    rec = _touch_at(state, event.session, event.seq, event.ts)
    if rec is None:
        return
    tool = view.tool_name
    agent = event.agent or ""
    rec.turn_ran = True
    if not agent:
        rec.tool_calls += 1
        tools = rec.tools
        tools[tool] = tools.get(tool, 0) + 1
    if rec.ended:
        return  # a hook that lost the race with SessionEnd: the session is over, nothing flies
    flying = rec.in_flight
    if rec.asking:
        for key in [k for k, c in flying.items() if c.asked and c.agent == agent]:
            del flying[key]  # its thread moved on without it: the permission was denied
        rec.asking = any(c.asked for c in flying.values())
    flying[view.tool_use_id] = ToolCall(tool, summarise_tool(tool, view.tool_input), event.seq, event.ts, agent)
    if len(flying) > IN_FLIGHT_KEPT:
        del flying[next(iter(flying))]


def _on_call(state: State, pre: Event, view: PreView, post: Event, landed: LandedView) -> bool:
    """A main-thread PreToolUse and, next in the log, its PostToolUse (`projections.base.PairHandler`).

    Folded one after the other, the call is put in flight and taken out again at once,
    leaving ``in_flight`` as it was, so only the counts, the touch and the edited file
    remain. Whenever putting it in flight would do more (the session is new or over, a
    call is asking, the id is already flying, the list is full), False: the handlers run.
    """
    sid = pre.session
    tool_use_id = view.tool_use_id
    if sid is None or post.session != sid or pre.agent or post.agent or landed.tool_use_id != tool_use_id:
        return False
    records = state.records
    rec: SessionRecord | None = records.get(sid)
    if rec is None or rec.ended or rec.asking:
        return False
    flying = rec.in_flight
    if flying and (len(flying) >= IN_FLIGHT_KEPT or tool_use_id in flying):  # usually none is flying
        return False
    seq = pre.seq
    end = post.seq
    if seq - rec.last_seq > SPAN_GAP or end - seq > SPAN_GAP:
        _touch_at(state, sid, seq, pre.ts)
        _touch_at(state, sid, end, post.ts)
    else:  # both touches, when neither opens a span: the record moves to the end once
        meta = state.meta
        if meta.last != sid:
            del records[sid]
            records[sid] = rec
            meta.last = sid
        rec.last_seq = end
        rec.last_ts = post.ts
        rec.events += 2
    if not rec.turn_ran:  # usually set by the turn's previous call: a Struct field costs more to set than to read
        rec.turn_ran = True
    rec.tool_calls += 1
    tools = rec.tools
    tool = view.tool_name
    tools[tool] = tools.get(tool, 0) + 1
    if landed.tool_name in EDIT_TOOLS:
        count_edited_file(rec, landed)
    return True


def _on_permission_request(state: State, event: Event, view: PermissionRequestView) -> None:
    """A permission was asked for: mark the newest matching call of that thread (no tool_use_id)."""
    rec = _touch(state, event)
    if rec is None or not rec.in_flight:
        return
    agent = event.agent or ""
    target = summarise_tool(view.tool_name, view.tool_input)
    for key in reversed(list(rec.in_flight)):
        call = rec.in_flight[key]
        if call.agent == agent and call.tool == view.tool_name and call.target == target and not call.asked:
            if view.denied:
                del rec.in_flight[key]
            else:
                call.asked = rec.asking = True
            return


def _landed(rec: SessionRecord, event: Event, view: ToolView | LandedView) -> None:
    """A tool call finished (either way): no longer in flight; counted if its start was missed."""
    if rec.in_flight.pop(view.tool_use_id, None) is None and not event.agent:
        rec.tool_calls += 1
        tools = rec.tools
        tools[view.tool_name] = tools.get(view.tool_name, 0) + 1


def _on_post_tool(state: State, event: Event, view: LandedView) -> None:
    rec = _touch_at(state, event.session, event.seq, event.ts)
    if rec is None:
        return
    _landed(rec, event, view)
    if view.tool_name in EDIT_TOOLS:  # most calls edit nothing: spare them the call
        count_edited_file(rec, view)


def count_edited_file(rec: Any, view: PreView | ToolView | LandedView) -> None:
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
        if len(item) > ITEM_CHARS:
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
    rec.turn_ran = False
    if view.error and event.type == "StopFailure":  # a Stop has no error: its type is not read
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
        rec.turn_ran = True


def _on_subagent_stop(state: State, event: Event, view: Any) -> None:
    rec = _touch(state, event)
    agent = view.agent_id or event.agent
    if rec is not None and agent and rec.in_flight:
        rec.in_flight = {k: c for k, c in rec.in_flight.items() if c.agent != agent}


def _on_end(state: State, event: Event, view: Any) -> None:
    rec = _touch(state, event)
    if rec is None:
        return
    rec.ended, rec.end_reason, rec.end_seq = event.ts, view.reason or "other", event.seq
    state.meta.open.pop(rec.id, None)
    if rec.in_flight:  # the session is over: so is every call it ran
        rec.in_flight = {}


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


def _note(state: State, event: Event) -> SessionRecord | None:
    """The record an Agent Journal note (checkpoint, agent update) is about, its span extended.

    A note is not activity of the session: its last event time (for a crashed session,
    when it died) and its place in the recency order stay as they were.
    """
    sid = event.session
    if sid is None:
        return None
    rec: SessionRecord | None = state.records.record(sid)
    if rec is None:
        return _touch(state, event)
    if event.seq - rec.last_seq > SPAN_GAP:
        rec.spans[-1][1] = rec.last_seq
        rec.spans.append([event.seq, 0])
        if len(rec.spans) > SPANS_KEPT:
            rec.spans[0:2] = [[rec.spans[0][0], rec.spans[1][1]]]
    rec.last_seq = max(rec.last_seq, event.seq)
    rec.events += 1
    return rec


def _on_note(state: State, event: Event, view: Any) -> None:
    _note(state, event)


def _on_requested(state: State, event: Event, view: Any) -> None:
    _note(state, event)
    if view.session:
        state.meta.requests[str(event.seq)] = view.session


def _on_consumed(state: State, event: Event, view: Any) -> None:
    _note(state, event)
    sid = state.meta.requests.pop(str(view.request_seq), None)
    if sid is not None and sid != event.session:
        _hand_over(state.records.record(sid), "resumed", event, event.session or "")


def _on_expansion(state: State, event: Event, view: Any) -> None:
    rec = _touch(state, event)
    if rec is not None and view.command_name:
        _slash_resume(state, rec, event, f"{view.command_name} {view.command_args}")


def _on_dismissed(state: State, event: Event, view: Any) -> None:
    """``journal.dismissed``: the named sessions' crashes are handed over (or, with undo, not)."""
    for sid in view.sessions:
        rec = state.records.record(sid)
        if rec is None:
            continue
        if view.undo:
            rec.handed, rec.handed_seq, rec.handed_ts, rec.handed_by = "", 0, "", ""
        else:
            _hand_over(rec, "dismissed", event, event.session or "")


def _on_checkpoint(state: State, event: Event, view: Any) -> None:
    rec = _note(state, event)
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
    version=3,
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
        "SubagentStop": _on_subagent_stop,
        "PermissionRequest": _on_permission_request,
        "UserPromptExpansion": _on_expansion,
        "SessionEnd": _on_end,
        "PreCompact": _on_precompact,
        "CwdChanged": _on_cwd,
        "journal.checkpoint": _on_checkpoint,
        "journal.agent_update": _on_note,
        "journal.resume_requested": _on_requested,
        "journal.resume_consumed": _on_consumed,
        "journal.dismissed": _on_dismissed,
    },
    default=_on_any,
    pairs={("PreToolUse", "PostToolUse"): _on_call},
)
