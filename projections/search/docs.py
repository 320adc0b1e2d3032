"""What the search index holds: the searchable text of each event, as documents.

A pure function of one event (`documents`): no I/O, no state, so the index built
incrementally equals the one rebuilt from scratch. Each document has a *kind* (what
``search --type`` filters on):

=============  ==========================================================================
``prompt``     a user prompt (only real ones: `projections.folds.prompts.classify_prompt`;
               task notifications, slash-command expansions, hook and local-command
               turns are not prompts and are not indexed)
``reply``      the last assistant message of a turn (Stop), and the turn's transcript
               digest (what it was working on, decisions, topics)
``file``       a file path a tool touched (Read, Write, Edit, MultiEdit, NotebookEdit,
               and the path and pattern of Grep/Glob), with the tool's name; the
               path is in ``path``, not ``text``
``command``    a Bash command
``failure``    a failed tool call: the tool, its target and the error message
``checkpoint`` a ``journal.checkpoint``: objective, done, blockers, next, notes, files
``agent``      a subagent's task (the Agent tool's description and prompt), its result
               (SubagentStop), and ``journal.agent_update`` progress notes
``compaction`` what the PreCompact capture kept (last prompts, working on, decisions)
=============  ==========================================================================

Texts are the journal's own strings (already redacted by the hook), cut to
`TEXT_CHARS`; nothing else is derived from them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from projections.folds.prompts import classify_prompt
from projections.views import SubagentView, ToolInput, decode_view, decoder_for

__all__ = ["KINDS", "TEXT_CHARS", "Doc", "documents", "view_documents", "INDEXED_TYPES", "PAYLOAD_TYPES"]

#: Every document kind, in the order ``--help`` lists them.
KINDS = ("prompt", "reply", "file", "command", "failure", "checkpoint", "agent", "compaction")
#: The longest text kept per document (the head of a longer one).
TEXT_CHARS = 2000

#: Tools whose input names a file, and the field naming it.
_FILE_TOOLS = {"Read": "file_path", "Write": "file_path", "Edit": "file_path", "MultiEdit": "file_path",
               "NotebookEdit": "notebook_path", "Grep": "path", "Glob": "path"}
_AGENT_TOOLS = ("Agent", "Task")


class Doc(NamedTuple):
    """One searchable document made from one event."""

    kind: str
    text: str
    path: str = ""
    tool: str = ""


class _Tool(msgspec.Struct, gc=False):
    """PreToolUse and PostToolUseFailure (without the response, which is never indexed)."""

    tool_name: str = ""
    tool_input: ToolInput | None = None
    error: str | None = None
    is_interrupt: bool = False


class _Digest(msgspec.Struct, gc=False):
    working_on: str = ""
    decisions: list[str] = []
    topics: list[str] = []


class _StopNotes(msgspec.Struct, gc=False):
    digest: _Digest | None = None


class _Stop(msgspec.Struct, gc=False):
    last_assistant_message: str | None = None
    journal: _StopNotes | None = msgspec.field(default=None, name="_journal")


class _Capture(msgspec.Struct, gc=False):
    last_prompts: list[str] = []
    working_on: str = ""
    decisions: list[str] = []


class _CaptureNotes(msgspec.Struct, gc=False):
    capture: _Capture | None = None


class _PreCompact(msgspec.Struct, gc=False):
    journal: _CaptureNotes | None = msgspec.field(default=None, name="_journal")


class _Prompt(msgspec.Struct, gc=False):
    prompt: str = ""


class _Checkpoint(msgspec.Struct, gc=False):
    objective: str = ""
    done: list[str] = []
    blockers: list[str] = []
    next: list[str] = []
    files: list[str] = []
    notes: list[str] = []


class _AgentUpdate(msgspec.Struct, gc=False):
    objective: str | None = None
    done: list[str] | None = None
    blockers: list[str] | None = None
    next: list[str] | None = None


def _cut(text: str) -> str:
    text = text.strip()
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS]


def _lines(*parts: Any) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            if part.strip():
                out.append(part.strip())
        elif isinstance(part, list):
            out.extend(p.strip() for p in part if isinstance(p, str) and p.strip())
    return _cut("\n".join(out))


def _prompt(view: _Prompt) -> list[Doc]:
    text = view.prompt
    if not text.strip() or classify_prompt(text) != "prompt":
        return []
    return [Doc("prompt", _cut(text))]


def _tool_target(view: _Tool) -> tuple[str, str, str]:
    """``(kind, text, path)`` of a tool call, or ``("", "", "")`` if it names nothing searchable."""
    tool, inp = view.tool_name, view.tool_input
    if inp is None:
        return "", "", ""
    if tool == "Bash":
        return ("command", _cut(inp.command), "") if inp.command else ("", "", "")
    field = _FILE_TOOLS.get(tool)
    if field is not None:
        path = getattr(inp, field) or ""
        if tool in ("Grep", "Glob") and inp.pattern:
            return "file", _cut(inp.pattern), path
        return ("file", "", path) if path else ("", "", "")
    if tool in _AGENT_TOOLS:
        kind = f"[{inp.subagent_type}]" if inp.subagent_type else ""
        return "agent", _lines(" ".join(x for x in (kind, inp.description or "") if x), inp.prompt or ""), ""
    return "", "", ""


def _pre_tool(view: _Tool) -> list[Doc]:
    kind, text, path = _tool_target(view)
    return [Doc(kind, text, path, view.tool_name)] if kind and (text or path) else []


def _failure(view: _Tool) -> list[Doc]:
    _, target, path = _tool_target(view)
    error = (view.error or "").strip() or ("interrupted" if view.is_interrupt else "failed")
    return [Doc("failure", _lines(f"{view.tool_name}: {target}" if target else view.tool_name, error),
                path, view.tool_name)]


def _stop(view: _Stop) -> list[Doc]:
    digest = view.journal.digest if view.journal is not None else None
    parts: list[Any] = [view.last_assistant_message or ""]
    if digest is not None:
        parts += [digest.working_on, digest.decisions, " ".join(digest.topics)]
    text = _lines(*parts)
    return [Doc("reply", text)] if text else []


def _subagent_stop(view: SubagentView) -> list[Doc]:
    text = _lines(view.last_assistant_message or "")
    return [Doc("agent", text, "", view.agent_type)] if text else []


def _checkpoint(view: _Checkpoint) -> list[Doc]:
    text = _lines(view.objective, view.done, view.blockers, view.next, view.notes, view.files)
    return [Doc("checkpoint", text)] if text else []


def _agent_update(view: _AgentUpdate) -> list[Doc]:
    text = _lines(view.objective or "", view.done or [], view.blockers or [], view.next or [])
    return [Doc("agent", text)] if text else []


def _precompact(view: _PreCompact) -> list[Doc]:
    capture = view.journal.capture if view.journal is not None else None
    if capture is None:
        return []
    text = _lines(capture.working_on, capture.decisions, capture.last_prompts)
    return [Doc("compaction", text)] if text else []


# Subagent tool calls are indexed too (they carry the agent id); a Stop fired inside a
# subagent is not a turn of the session, and SubagentStop holds the agent's result.
_HANDLERS: dict[str, tuple[type[msgspec.Struct], Any]] = {
    "UserPromptSubmit": (_Prompt, _prompt),
    "PreToolUse": (_Tool, _pre_tool),
    "PostToolUseFailure": (_Tool, _failure),
    "Stop": (_Stop, _stop),
    "SubagentStop": (SubagentView, _subagent_stop),
    "journal.checkpoint": (_Checkpoint, _checkpoint),
    "journal.agent_update": (_AgentUpdate, _agent_update),
    "PreCompact": (_PreCompact, _precompact),
}
_DECODE = {type_: (decoder_for(view).decode, view, fn) for type_, (view, fn) in _HANDLERS.items()}

#: The event types that can make documents.
INDEXED_TYPES = frozenset(_HANDLERS)
#: The payload view of each indexed type (for a reader's typed decoder).
PAYLOAD_TYPES: dict[str, type[msgspec.Struct]] = {type_: view for type_, (view, _) in _HANDLERS.items()}


def documents(type_: str, data: Any, agent: str | None = None) -> list[Doc]:
    """The documents of one event of *type_* with payload bytes *data* (``[]`` for most)."""
    entry = _DECODE.get(type_)
    if entry is None or (agent and type_ == "Stop"):
        return []
    decode, view_type, fn = entry
    try:
        view = decode(data)
    except msgspec.DecodeError:
        view = decode_view(view_type, data)
    return fn(view)  # type: ignore[no-any-return]


def view_documents(type_: str, view: Any, agent: str | None = None) -> list[Doc]:
    """`documents` of an event whose payload is already decoded as ``PAYLOAD_TYPES[type_]``."""
    if agent and type_ == "Stop":
        return []
    return _HANDLERS[type_][1](view)  # type: ignore[no-any-return]
