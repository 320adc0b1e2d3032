"""Small typed views of event payloads: decode only the fields a projection reads.

A hook payload can be tens of kilobytes (``tool_response``, file contents), but a
fold needs a handful of short fields. Each event type gets one view Struct and one
module-level decoder; msgspec skips every field a view does not name without
building Python objects for it (msgspec perf tips: "Reuse Encoders/Decoders",
"Avoid decoding unused fields").

Payloads are written by other programs, so a view never rejects one: when a field
has an unexpected type the payload is decoded again field by field and the
offending fields are dropped (`decode_view`), and a payload that is not a JSON
object reads as an empty view.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Union

import msgspec

__all__ = [
    "ProcessInfo",
    "Digest",
    "Annotations",
    "ToolInput",
    "SessionStartView",
    "PromptView",
    "PreView",
    "ToolView",
    "LandedInput",
    "LandedView",
    "AgentResponseView",
    "StopView",
    "SubagentView",
    "SessionEndView",
    "CompactView",
    "CwdView",
    "NotificationView",
    "CheckpointView",
    "AgentUpdateView",
    "ArchivedView",
    "ResumeView",
    "PermissionRequestView",
    "ExpansionView",
    "DismissedView",
    "VIEW_TYPES",
    "RAW_TYPES",
    "decode_view",
    "decoder_for",
    "agent_response",
    "tool_agent_id",
]


class ProcessInfo(msgspec.Struct, gc=False):
    """``_journal.process``: the Claude Code process recorded at SessionStart."""

    pid: int = 0
    start: str | None = None
    via: str = ""


class Digest(msgspec.Struct, gc=False):
    """``_journal.digest`` on Stop: what the transcript says the session is doing."""

    working_on: str = ""
    decisions: list[str] = []
    topics: list[str] = []


class Annotations(msgspec.Struct, gc=False):
    """Agent Journal's own ``_journal`` annotations (only the parts folds read)."""

    process: ProcessInfo | None = None
    git_branch: str | None = None
    project_dir: str | None = None
    digest: Digest | None = None


_NULL = msgspec.Raw(b"null")


def _annotations() -> Any:
    return msgspec.field(default=None, name="_journal")


class ToolInput(msgspec.Struct, gc=False):
    """The parts of ``tool_input`` that name a tool call's target."""

    command: str | None = None
    file_path: str | None = None
    notebook_path: str | None = None
    path: str | None = None
    pattern: str | None = None
    url: str | None = None
    query: str | None = None
    description: str | None = None
    prompt: str | None = None
    subagent_type: str | None = None
    skill: str | None = None


class SessionStartView(msgspec.Struct, gc=False):
    source: str = ""
    cwd: str = ""
    transcript_path: str = ""
    model: str | None = None
    journal: Annotations | None = _annotations()


class PromptView(msgspec.Struct, gc=False):
    prompt: str = ""


class PreView(msgspec.Struct, gc=False):
    """PreToolUse (41% of a busy log): the `ToolView` fields its folds read, no more.

    A view costs most for the payload keys it does not name: msgspec compares each of
    them with every field of the Struct, and a PreToolUse has a dozen: with 3 fields
    instead of `ToolView`'s 7, a rebuild runs 1.3% fewer instructions (cachegrind, 60k
    events: 23,537 -> 23,229 per event).
    """

    tool_name: str = ""
    tool_input: ToolInput | None = None
    tool_use_id: str = ""


class ToolView(msgspec.Struct, gc=False):
    """PostToolUseFailure and PermissionDenied (PreToolUse: `PreView`, PostToolUse: `LandedView`)."""

    tool_name: str = ""
    tool_use_id: str = ""
    tool_input: ToolInput | None = None
    error: str | None = None
    reason: str | None = None
    is_interrupt: bool = False
    #: Kept raw (only an Agent call's is ever read: `tool_agent_id`).
    tool_response: msgspec.Raw = _NULL


class LandedInput(msgspec.Struct, gc=False):
    """The parts of a finished call's ``tool_input`` the folds read: the file it edited,
    and an Agent call's task (a Bash command, a search pattern are not decoded)."""

    file_path: str | None = None
    notebook_path: str | None = None
    description: str | None = None
    prompt: str | None = None
    subagent_type: str | None = None


class LandedView(msgspec.Struct, gc=False):
    """PostToolUse (40% of a busy log): the `ToolView` fields its folds read, no more.

    Only where a call ran is told by its PreToolUse (`summarise_tool`); its PostToolUse
    needs the id, the tool, an edited file and an Agent call's task and response.
    """

    tool_name: str = ""
    tool_use_id: str = ""
    tool_input: LandedInput | None = None
    #: Kept raw (only an Agent call's is ever read: `tool_agent_id`).
    tool_response: msgspec.Raw = _NULL


class _AgentToolResponse(msgspec.Struct, gc=False):
    agentId: str = ""
    status: str = ""


class _Decision(msgspec.Struct, gc=False):
    behavior: str = ""


class PermissionRequestView(msgspec.Struct, gc=False):
    """PermissionRequest: which call asks (it has no ``tool_use_id``), and a decision if one is recorded."""

    tool_name: str = ""
    tool_input: ToolInput | None = None
    decision: _Decision | None = None

    @property
    def denied(self) -> bool:
        return self.decision is not None and self.decision.behavior == "deny"


class ExpansionView(msgspec.Struct, gc=False):
    """UserPromptExpansion: the slash command a typed prompt expanded."""

    expansion_type: str = ""
    command_name: str = ""
    command_args: str = ""


class DismissedView(msgspec.Struct, gc=False):
    """``journal.dismissed``: sessions and agents whose unfinished state is handled (or, undo, not)."""

    sessions: list[str] = []
    agents: list[str] = []
    undo: bool = False
    reason: str = ""


class AgentResponseView(msgspec.Struct, gc=False):
    """The ``tool_response`` of an Agent PostToolUse: which agent the call started."""

    tool_response: _AgentToolResponse | None = None


class StopView(msgspec.Struct, gc=False):
    """Stop and StopFailure."""

    last_assistant_message: str | None = None
    error: str | None = None
    journal: Annotations | None = _annotations()


class SubagentView(msgspec.Struct, gc=False):
    """SubagentStart and SubagentStop."""

    agent_id: str = ""
    agent_type: str = ""
    agent_transcript_path: str = ""
    last_assistant_message: str | None = None


class SessionEndView(msgspec.Struct, gc=False):
    reason: str = ""


class CompactView(msgspec.Struct, gc=False):
    """PreCompact and PostCompact."""

    trigger: str = ""


class CwdView(msgspec.Struct, gc=False):
    new_cwd: str = ""


class NotificationView(msgspec.Struct, gc=False):
    message: str = ""


class CheckpointView(msgspec.Struct, gc=False):
    """``journal.checkpoint``: the explicit save of where the work stands."""

    objective: str = ""
    done: list[str] = []
    blockers: list[str] = []
    next: list[str] = []
    files: list[str] = []
    notes: list[str] = []
    progress: int | None = None


class AgentUpdateView(msgspec.Struct, gc=False):
    """``journal.agent_update``: any subset of an agent's declared state."""

    objective: str | None = None
    progress: int | None = None
    done: list[str] | None = None
    blockers: list[str] | None = None
    next: list[str] | None = None
    files: list[str] | None = None
    status: str | None = None


class ArchivedView(msgspec.Struct, gc=False):
    sessions: list[str] = []
    agents: list[str] = []
    older_than: str = ""


class ResumeView(msgspec.Struct, gc=False):
    """``journal.resume_requested`` and ``journal.resume_consumed``."""

    session: str = ""
    request_seq: int = 0


#: The view each event type decodes to; types not listed have no view (``None``).
VIEW_TYPES: dict[str, type[msgspec.Struct]] = {
    "SessionStart": SessionStartView,
    "UserPromptSubmit": PromptView,
    "PreToolUse": PreView,
    "PostToolUse": LandedView,
    "PostToolUseFailure": ToolView,
    "PermissionDenied": ToolView,
    "Stop": StopView,
    "StopFailure": StopView,
    "SubagentStart": SubagentView,
    "SubagentStop": SubagentView,
    "SessionEnd": SessionEndView,
    "PreCompact": CompactView,
    "PostCompact": CompactView,
    "CwdChanged": CwdView,
    "Notification": NotificationView,
    "journal.checkpoint": CheckpointView,
    "journal.agent_update": AgentUpdateView,
    "journal.archived": ArchivedView,
    "journal.resume_requested": ResumeView,
    "journal.resume_consumed": ResumeView,
    "journal.dismissed": DismissedView,
    "PermissionRequest": PermissionRequestView,
    "UserPromptExpansion": ExpansionView,
}

#: Types folded without a view (their handlers get ``None``), named so that the typed
#: decode of a chunk (`projections.runner`) does not stop at them; it learns others.
RAW_TYPES = ("journal.snapshot", "journal.invalid_input")

_DECODERS: dict[type, msgspec.json.Decoder[Any]] = {}


def decoder_for(view: type[msgspec.Struct]) -> msgspec.json.Decoder[Any]:
    """The shared decoder of *view* (one per view type, made once)."""
    dec = _DECODERS.get(view)
    if dec is None:
        dec = _DECODERS[view] = msgspec.json.Decoder(view)
    return dec


for _view in VIEW_TYPES.values():
    decoder_for(_view)
_ANY = msgspec.json.Decoder()
_AGENT_RESPONSE = decoder_for(AgentResponseView)


def _struct_in(tp: Any) -> type[msgspec.Struct] | None:
    """The Struct type inside an annotation like ``X | None``, if any."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return tp
    if typing.get_origin(tp) in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
                return arg
    return None


def _lenient(view: type[msgspec.Struct], value: Any) -> Any:
    """Build *view* from a decoded object, dropping fields whose type is wrong."""
    if not isinstance(value, dict):
        return view()
    kwargs: dict[str, Any] = {}
    for f in msgspec.structs.fields(view):
        if f.encode_name not in value:
            continue
        raw = value[f.encode_name]
        if f.type is msgspec.Raw:
            kwargs[f.name] = msgspec.Raw(msgspec.json.encode(raw))
            continue
        try:
            kwargs[f.name] = msgspec.convert(raw, f.type)
        except msgspec.ValidationError:
            nested = _struct_in(f.type)
            if nested is not None and isinstance(raw, dict):
                kwargs[f.name] = _lenient(nested, raw)
    return view(**kwargs)


def decode_view(view: type[msgspec.Struct], data: msgspec.Raw | bytes) -> Any:
    """Decode *data* as *view*; a payload with odd field types still yields a view."""
    try:
        return decoder_for(view).decode(data)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError:
        return view()
    try:
        return _lenient(view, _ANY.decode(data))
    except msgspec.DecodeError:
        return view()


def agent_response(data: msgspec.Raw | bytes) -> str:
    """The agent id an Agent PostToolUse started (``tool_response.agentId``), or ``""``."""
    try:
        resp = _AGENT_RESPONSE.decode(data).tool_response
    except msgspec.DecodeError:  # includes ValidationError: a response of another shape
        return ""
    return resp.agentId if resp is not None else ""


_TOOL_RESPONSE = msgspec.json.Decoder(Union[_AgentToolResponse, None])


def tool_agent_id(view: ToolView | LandedView) -> str:
    """`agent_response` of the payload *view* was decoded from (its ``tool_response``)."""
    try:
        resp = _TOOL_RESPONSE.decode(view.tool_response)
    except msgspec.DecodeError:
        return ""
    return resp.agentId if resp is not None else ""
