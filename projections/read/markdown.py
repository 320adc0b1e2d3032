"""Markdown pieces of the recovery context: a session, an agent, a list line.

Each renderer returns whole lines (a list of str, no newlines inside), so the packer
in `projections.read.context` can keep or drop them without ever cutting a line. Long
values are clipped here, with an ellipsis, to keep any one line short.
"""

from __future__ import annotations

from typing import Any

from projections.folds.agents import AgentRecord
from projections.folds.sessions import Checkpoint, SessionRecord, ToolCall
from projections.text import clip, format_ts, one_line, short_path, since

__all__ = [
    "session_heading",
    "session_block",
    "running_block",
    "handed_phrase",
    "session_line",
    "call_line",
    "agent_line",
    "related_line",
    "capture_block",
    "status_phrase",
    "resume_commands",
]

FILES_SHOWN = 15
LINE = 300


def _q(text: str, limit: int = 240) -> str:
    return '"' + one_line(text, limit) + '"'


def _short(sid: str) -> str:
    return sid[:8]


def handed_phrase(rec: SessionRecord) -> str:
    """How a crash was handed over ("" if it was not)."""
    if not rec.handed:
        return ""
    by = f" by session {_short(rec.handed_by)}" if rec.handed_by else ""
    when = format_ts(rec.handed_ts)
    if rec.handed == "dismissed":
        return f"dismissed{by} at {when} UTC (`agent-journal dismiss --undo {_short(rec.id)}` to show it again)"
    return f"picked up{by} at {when} UTC"


def status_phrase(rec: SessionRecord, status: str, now: float) -> str:
    """Why a session has its status, in words."""
    handed = f"; {handed_phrase(rec)}" if rec.handed else ""
    if status == "crashed":
        proc = f"pid {rec.pid}" if rec.pid else "process"
        ago = since(now, rec.last_ts)
        return f"crashed {ago} ago: no SessionEnd, and its Claude Code process ({proc}) is gone{handed}"
    if status == "stale":
        idle = since(now, rec.last_ts)
        return f"stale: no SessionEnd and no event for {idle} (no process was recorded to check){handed}"
    if status == "ended":
        if rec.turn_open and rec.turn_ran:
            return f"ended ({rec.end_reason}) in the middle of a turn, before answering its last prompt{handed}"
        return f"ended ({rec.end_reason})"
    if rec.pid > 0:
        return f"running now in another window (Claude Code pid {rec.pid} is alive)"
    idle = since(now, rec.last_ts)
    return f"active: no SessionEnd, last event {idle} ago (no process was recorded to check)"


def resume_commands(sid: str, *, here: bool = True) -> str:
    """The exact ways to continue a session (*here*: also the slash command, for another session)."""
    slash = f", or `/agent-journal:resume {_short(sid)}` here" if here else ""
    return (f"Continue it: `claude --resume {sid}` in a terminal{slash}; "
            f"every event: `agent-journal timeline {_short(sid)}`.")


def session_heading(rec: SessionRecord, label: str) -> str:
    started = format_ts(rec.started or rec.first_ts)
    return f"## {label} {_short(rec.id)} (started {started} UTC, last event {format_ts(rec.last_ts)} UTC)"


def call_line(call: ToolCall, base: str) -> str:
    """A tool call in a line: tool, target, agent, since when."""
    target = short_path(call.target, base) if call.target else ""
    who = f" in agent {call.agent[:8]}" if call.agent else ""
    return f"{call.tool} `{one_line(target, 200)}`{who} (since {format_ts(call.ts)[11:]})" if target else \
        f"{call.tool}{who} (since {format_ts(call.ts)[11:]})"


def _files(files: list[str], more: int, base: str) -> str:
    shown = [short_path(p, base) for p in files[-FILES_SHOWN:]]
    extra = len(files) - len(shown) + more
    return ", ".join(shown) + (f" (+{extra} more)" if extra else "")


def _checkpoint_lines(cp: Checkpoint, base: str) -> list[str]:
    pct = f", {cp.progress}%" if cp.progress is not None else ""
    out = [f"- Last checkpoint ({format_ts(cp.ts)}{pct}): {one_line(cp.objective, 240) or '(no objective)'}"]
    for label, items in (("Done", cp.done), ("Blockers", cp.blockers), ("Next", cp.next), ("Notes", cp.notes)):
        if items:
            out.append(f"  - {label}: " + clip("; ".join(one_line(i, 200) for i in items), LINE))
    if cp.files:
        out.append("  - Key files: " + clip(", ".join(short_path(f, base) for f in cp.files), LINE))
    return out


def _agents_line(agents: list[tuple[AgentRecord, str]]) -> str:
    shown = ", ".join(f"{a.id[:8]} ({a.type or 'internal'}, {st})" for a, st in agents[:6])
    return f"- Agents: {shown}" + (f" (+{len(agents) - 6} more)" if len(agents) > 6 else "")


def running_block(rec: SessionRecord, now: float, *,
                  agents: list[tuple[AgentRecord, str]] | None = None) -> list[str]:
    """A session whose Claude Code process is alive: someone is working in it right now."""
    base = rec.project_dir
    lines = [f"## Running now in another window: session {_short(rec.id)} (Claude Code pid {rec.pid}, "
             f"started {format_ts(rec.last_start or rec.started or rec.first_ts)} UTC, "
             f"last event {format_ts(rec.last_ts)} UTC)"]
    objective = rec.objective()
    if objective:
        lines.append("- Working on: " + one_line(objective, LINE))
    if rec.last_prompts:
        lines.append("- Its latest prompt: " + _q(rec.last_prompts[-1]))
    call = rec.in_flight_call()
    if call is not None:
        lines.append("- Running now: " + call_line(call, base))
    if rec.files:
        lines.append(f"- Files it is editing ({len(rec.files) + rec.files_more}): "
                     + clip(_files(list(rec.files), rec.files_more, base), 600)
                     + ". Don't edit these without coordinating with that window.")
    else:
        lines.append("- It has not edited files yet; coordinate before working on the same thing.")
    if agents:
        lines.append(_agents_line(agents))
    lines.append(f"- Its events so far: `agent-journal timeline {_short(rec.id)}`.")
    return lines


def session_block(rec: SessionRecord, status: str, now: float, *, label: str,
                  agents: list[tuple[AgentRecord, str]] | None = None, full: bool = True,
                  resume_here: bool = True) -> list[str]:
    """A session's recovery block: status, prompts, tool in flight, files, checkpoint, next step.

    A session still running (alive process) gets `running_block` instead: it is nobody's
    unfinished work. *resume_here* False leaves out the ``/agent-journal:resume`` hint
    (for the text that command itself injects).
    """
    if status == "active" and rec.pid > 0:
        return running_block(rec, now, agents=agents)
    base = rec.project_dir
    lines = [session_heading(rec, label), f"- Status: {status_phrase(rec, status, now)}."]
    where = [f"project {rec.project_dir}" if rec.project_dir else "", f"branch {rec.branch}" if rec.branch else ""]
    counts = f"{rec.prompts} prompt{'s' * (rec.prompts != 1)}, {rec.tool_calls} tool call{'s' * (rec.tool_calls != 1)}"
    if rec.failed:
        counts += f" ({rec.failed} failed)"
    if rec.compactions:
        counts += f", {rec.compactions} compaction{'s' * (rec.compactions != 1)}"
    lines.append("- " + ", ".join([w for w in where if w] + [counts]) + ".")
    objective = rec.objective()
    if objective:
        lines.append("- Working on: " + one_line(objective, LINE))
    if rec.last_prompts:
        lines.append("- Last prompts (oldest first):")
        prompts = rec.last_prompts if full else rec.last_prompts[-1:]
        lines += [f"  - {_q(p)}" for p in prompts]
    call = rec.in_flight_call() if status != "ended" else None
    if call is not None:
        lines.append("- Tool call in flight when it stopped: " + call_line(call, base))
    if rec.failures and full:
        f = rec.failures[-1]
        target = one_line(short_path(f.target, base), 120)
        lines.append(f"- Last failure: {f.tool} `{target}`: {one_line(f.error, 120)}")
    if rec.files:
        lines.append(f"- Files created or edited ({len(rec.files) + rec.files_more}): "
                     + clip(_files(list(rec.files), rec.files_more, base), 600))
    if rec.checkpoint is not None:
        lines += _checkpoint_lines(rec.checkpoint, base) if full else [
            f"- Last checkpoint: {one_line(rec.checkpoint.objective, 200)}"]
    if rec.decisions:
        kept = rec.decisions[-5:] if full else rec.decisions[-3:]
        lines.append("- Decisions: " + clip("; ".join(one_line(d, 150) for d in kept), LINE))
    if rec.last_message:
        lines.append("- Last assistant message: " + _q(rec.last_message, 300 if full else 200))
    if agents:
        lines.append(_agents_line(agents))
    lines.append("- " + resume_commands(rec.id, here=resume_here))
    return lines


def session_line(rec: SessionRecord, status: str) -> str:
    """One line for a list of sessions."""
    prompt = _q(rec.last_prompts[-1], 100) if rec.last_prompts else "(no prompt)"
    files = len(rec.files) + rec.files_more
    state = f"{status} ({rec.end_reason})" if status == "ended" and rec.end_reason else status
    if status == "active" and rec.pid > 0:
        state = f"running now (pid {rec.pid})"
    elif rec.handed and status != "ended":
        state += ", " + ("dismissed" if rec.handed == "dismissed" else "picked up")
    named = f" ({clip(_files(list(rec.files)[-3:], files - min(3, len(rec.files)), rec.project_dir), 200)})" \
        if rec.files else ""
    return (f"- {_short(rec.id)} {state}, started {format_ts(rec.started or rec.first_ts)}, "
            f"{rec.prompts} prompt{'s' * (rec.prompts != 1)}, {files} file{'s' * (files != 1)}{named}: {prompt}")


def agent_line(rec: AgentRecord, status: str, parent_status: str) -> str:
    """One line for an agent, with its progress and how to look at it."""
    what = one_line(rec.objective or rec.description or rec.prompt, 120) or "(no description)"
    marked = f" [{status}]" if status not in ("orphaned", "running", "completed") else ""
    parts = [f"- {rec.id[:8]} ({rec.type or 'internal'}){marked} {_q(what, 120)}, "
             f"session {rec.parent[:8]} ({parent_status})"]
    if rec.progress is not None:
        parts.append(f"progress {rec.progress}%")
    if rec.next:
        parts.append("next: " + one_line("; ".join(rec.next), 120))
    if rec.blockers:
        parts.append("blockers: " + one_line("; ".join(rec.blockers), 100))
    files = len(rec.files) + rec.files_more
    parts.append(f"{rec.tool_calls} tool call{'s' * (rec.tool_calls != 1)}, {files} file{'s' * (files != 1)}")
    parts.append(f"details: `agent-journal agent show {rec.id[:8]}`")
    return clip("; ".join(parts), 500)


def related_line(item: dict[str, Any]) -> str:
    """One line for a related session."""
    prompt = _q(item["last_prompt"], 100) if item["last_prompt"] else ""
    return f"- {item['id'][:8]} ({'; '.join(item['reasons'])}), started {format_ts(item['started'])}" + (
        f": {prompt}" if prompt else "")


def capture_block(capture: dict[str, Any], rec: SessionRecord, when: str) -> list[str]:
    """The state captured just before compaction (``data._journal.capture`` of PreCompact)."""
    base = rec.project_dir

    def strings(key: str) -> list[str]:
        value = capture.get(key)
        return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []

    lines = [f"## Before compaction ({format_ts(when)} UTC): where session {_short(rec.id)} stood"]
    working = capture.get("working_on")
    if isinstance(working, str) and working:
        lines.append("- Working on: " + one_line(working, LINE))
    prompts = strings("last_prompts")
    if prompts:
        lines.append("- Last prompts (oldest first):")
        lines += [f"  - {_q(p)}" for p in prompts[-5:]]
    call = capture.get("tool_in_flight")
    if isinstance(call, dict) and call.get("tool"):
        lines.append(f"- Tool call in flight: {call.get('tool')} `{one_line(str(call.get('target', '')), 200)}`")
    files = strings("files")
    if files:
        lines.append(f"- Files created or edited ({len(files)}): " + clip(_files(files, 0, base), 600))
    cp = capture.get("last_checkpoint")
    if isinstance(cp, dict) and cp.get("objective"):
        pct = f", {cp['progress']}%" if isinstance(cp.get("progress"), int) else ""
        lines.append(f"- Last checkpoint{pct}: {one_line(str(cp['objective']), 240)}")
        for label, key in (("Done", "done"), ("Blockers", "blockers"), ("Next", "next")):
            items = [i for i in cp.get(key) or [] if isinstance(i, str)]
            if items:
                lines.append(f"  - {label}: " + clip("; ".join(one_line(i, 200) for i in items), LINE))
    decisions = strings("decisions")
    if decisions:
        lines.append("- Decisions: " + clip("; ".join(one_line(d, 150) for d in decisions[-5:]), LINE))
    message = capture.get("last_assistant_message")
    if isinstance(message, str) and message:
        lines.append("- Last assistant message: " + _q(message, 300))
    return lines
