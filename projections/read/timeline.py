"""One session's audit trail: every event in order, each with a one-line summary.

Not a cached fold (it would hold every event): it is read on demand from the
journal, over the seq ranges the sessions projection recorded for the session
(``SessionRecord.span_ranges``), so its cost is that session's span, not the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

from journal.storage.events import Event
from projections.folds.prompts import (
    HOOK,
    LOCAL_COMMAND,
    PROMPT,
    SLASH_COMMAND,
    classify_prompt,
    parse_task_notification,
)
from projections.folds.sessions import SessionRecord
from projections.text import first_line, one_line, parse_ts

if TYPE_CHECKING:
    from journal import Journal

__all__ = ["timeline", "summarise_event", "TimelineEntry"]

TimelineEntry = dict[str, Any]
_W = 120


def _tool_target(d: dict[str, Any]) -> str:
    from projections.text import summarise_tool
    from projections.views import ToolInput

    raw = d.get("tool_input")
    inp = None
    if isinstance(raw, dict):
        fields = {k: v for k, v in raw.items() if k in ToolInput.__struct_fields__ and isinstance(v, str)}
        inp = ToolInput(**fields)
    return summarise_tool(str(d.get("tool_name", "")), inp, _W)


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _start(d: dict[str, Any]) -> str:
    source = _s(d.get("source")) or "startup"
    words = {"startup": "session started", "resume": "session resumed", "clear": "session started after /clear",
             "compact": "context compacted, session continues", "fork": "session forked"}
    text = words.get(source, f"session started ({source})")
    raw = d.get("_journal")
    notes: dict[str, Any] = raw if isinstance(raw, dict) else {}
    extra = []
    if _s(notes.get("git_branch")):
        extra.append(f"branch {notes['git_branch']}")
    if _s(d.get("model")):
        extra.append(d["model"])
    proc = notes.get("process")
    if isinstance(proc, dict) and proc.get("pid"):
        extra.append(f"pid {proc['pid']}")
    return text + (f" ({', '.join(extra)})" if extra else "")


def _agent_stop(d: dict[str, Any], e: Event) -> str:
    who = _s(d.get("agent_id")) or e.agent or "?"
    kind = _s(d.get("agent_type")) or "internal"
    msg = one_line(_s(d.get("last_assistant_message")), 80)
    return f"agent {who[:8]} ({kind}) stopped" + (f": {msg}" if msg else "")


def _prompt(d: dict[str, Any]) -> str:
    """A user turn as what it is: a prompt, an agent reporting back, a slash command, hook text."""
    text = _s(d.get("prompt"))
    kind = classify_prompt(text)
    if kind == PROMPT:
        return 'prompt: "' + one_line(text, _W) + '"'
    note = parse_task_notification(text)
    if note is not None:
        who = f"agent {note.task_id[:8]}…" if note.task_id else "a background task"
        summary = f" ({one_line(note.summary, 80)})" if note.summary else ""
        return f"{who} finished: {note.status or 'no status'}{summary}"
    if kind == SLASH_COMMAND:
        return "slash command: " + one_line(text, _W)
    if kind == HOOK:
        return "hook text: " + one_line(text, _W)
    if kind == LOCAL_COMMAND:
        return "local command: " + one_line(text, _W)
    return f"{kind}: " + one_line(text, _W)


def _tool_done(d: dict[str, Any]) -> str:
    """A PostToolUse; an Agent call that only launched a background agent says so."""
    tool = d.get("tool_name", "?")
    response = d.get("tool_response")
    if tool in ("Agent", "Task") and isinstance(response, dict) and (
            response.get("status") == "async_launched" or response.get("isAsync") is True):
        agent = _s(response.get("agentId"))
        who = f" as agent {agent[:8]}…" if agent else ""
        return f"{tool} launched in the background{who} (still running): {_tool_target(d)}"
    duration = f" ({d['duration_ms']} ms)" if isinstance(d.get("duration_ms"), int) else ""
    return f"{tool} done: {_tool_target(d)}{duration}"


def _checkpoint(d: dict[str, Any]) -> str:
    progress = d.get("progress")
    pct = f" ({progress}%)" if isinstance(progress, int) else ""
    return "checkpoint saved: " + one_line(_s(d.get("objective")) or "(no objective)", _W) + pct


def _agent_update(d: dict[str, Any], e: Event) -> str:
    keys = [k for k in ("objective", "progress", "done", "blockers", "next", "files", "status") if k in d]
    status = f" status={d['status']}" if _s(d.get("status")) else ""
    progress = f" {d['progress']}%" if isinstance(d.get("progress"), int) else ""
    return f"agent {(e.agent or '?')[:8]} updated: {', '.join(keys) or 'nothing'}{progress}{status}"


_SUMMARIES: dict[str, Callable[[dict[str, Any], Event], str]] = {
    "SessionStart": lambda d, e: _start(d),
    "UserPromptSubmit": lambda d, e: _prompt(d),
    "PreToolUse": lambda d, e: f"{d.get('tool_name', '?')}: {_tool_target(d)}",
    "PostToolUse": lambda d, e: _tool_done(d),
    "PostToolUseFailure": lambda d, e: f"{d.get('tool_name', '?')} FAILED: {_tool_target(d)}: "
    + (first_line(_s(d.get("error")), 100) or ("interrupted" if d.get("is_interrupt") else "failed")),
    "PermissionRequest": lambda d, e: f"permission asked for {d.get('tool_name', '?')}: {_tool_target(d)}",
    "PermissionDenied": lambda d, e: f"permission denied for {d.get('tool_name', '?')}: {_tool_target(d)}",
    "Stop": lambda d, e: "turn ended" + (": " + one_line(_s(d.get("last_assistant_message")), 100)
                                         if _s(d.get("last_assistant_message")) else ""),
    "StopFailure": lambda d, e: "turn failed: " + one_line(_s(d.get("error")) or "API error", 100),
    "SubagentStart": lambda d, e: f"agent {(_s(d.get('agent_id')) or e.agent or '?')[:8]} started "
    f"({_s(d.get('agent_type')) or 'internal'})",
    "SubagentStop": _agent_stop,
    "PreCompact": lambda d, e: f"compaction starting ({_s(d.get('trigger')) or '?'})",
    "PostCompact": lambda d, e: f"compaction done ({_s(d.get('trigger')) or '?'})",
    "SessionEnd": lambda d, e: f"session ended ({_s(d.get('reason')) or '?'})",
    "Notification": lambda d, e: "notification: " + one_line(_s(d.get("message")), _W),
    "CwdChanged": lambda d, e: f"cwd changed to {_s(d.get('new_cwd'))}",
    "UserPromptExpansion":
        lambda d, e: f"slash command /{_s(d.get('command_name'))} {_s(d.get('command_args'))}".rstrip(),
    "journal.checkpoint": lambda d, e: _checkpoint(d),
    "journal.agent_update": _agent_update,
    "journal.resume_consumed": lambda d, e: f"resume request #{d.get('request_seq', '?')} injected at start",
    "journal.resume_requested": lambda d, e: f"resume of session {_s(d.get('session'))[:8]} requested",
    "journal.dismissed": lambda d, e: _dismissed(d),
    "journal.invalid_input": lambda d, e: "invalid hook input: " + one_line(_s(d.get("reason")), 100),
    # Left by `agent-journal compact --drop` (with the archive, the originals show instead).
    "journal.snapshot": lambda d, e: "earlier events compacted"
    + (f" ({d['group']['events']} events)" if isinstance(d.get("group"), dict) and "events" in d["group"] else ""),
}


def _dismissed(d: dict[str, Any]) -> str:
    ids = [_s(i)[:8] for i in (d.get("sessions") or []) + (d.get("agents") or []) if _s(i)]
    verb = "dismissal undone for" if d.get("undo") is True else "dismissed"
    reason = f": {one_line(_s(d.get('reason')), 80)}" if _s(d.get("reason")) else ""
    return f"{verb} {', '.join(ids) or 'nothing'}{reason}"


def summarise_event(event: Event, payload: dict[str, Any] | None = None) -> str:
    """One human line for *event*: the prompt, the tool and its target, the failure, ..."""
    d = event.payload() if payload is None else payload
    fn = _SUMMARIES.get(event.type)
    if fn is not None:
        try:
            return fn(d, event)
        except (TypeError, AttributeError, ValueError):
            pass
    keys = [k for k in d if k not in ("session_id", "transcript_path", "cwd", "hook_event_name", "_journal")]
    return event.type + (f" ({', '.join(keys[:4])})" if keys else "")


def _events(journal: Journal, rec: SessionRecord, to_seq: int | None) -> Iterator[Event]:
    for first, last in rec.span_ranges():
        if to_seq is not None:
            if first > to_seq:
                return
            last = min(last, to_seq)
        # archived=True: a compacted session's events come back from archive/ in place of
        # the journal.snapshot records that replaced them (projections/compaction/compact.py).
        for event in journal.read(first, to_seq=last, archived=True):
            if event.session == rec.id:
                yield event


def timeline(journal: Journal, rec: SessionRecord, *, to_seq: int | None = None,
             tail: int | None = None) -> list[TimelineEntry]:
    """The session's events in order: seq, ts, offset from its start, type, agent, summary."""
    start = parse_ts(rec.started or rec.first_ts)
    out: list[TimelineEntry] = []
    for event in _events(journal, rec, to_seq):
        out.append({
            "seq": event.seq,
            "ts": event.ts,
            "offset": round(parse_ts(event.ts) - start, 3),
            "type": event.type,
            "agent": event.agent or "",
            "summary": summarise_event(event),
        })
    if tail:
        out = out[-tail:]
    return out
