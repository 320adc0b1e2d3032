"""The agent registry: every subagent a session started, and what it did.

Sources, in the order they usually arrive:

* a main-thread ``PreToolUse`` of the ``Agent`` tool (``Task`` before 2.1): its
  description, prompt and ``subagent_type`` wait as a pending *spawn*;
* ``SubagentStart`` (``agent_id``, ``agent_type``): the agent starts and claims the
  oldest pending spawn of its session with the same type;
* tool events carrying ``agent_id``: its tool calls, failures and files;
* ``SubagentStop``: it completed (transcript path, last message);
* the ``Agent`` call's ``PostToolUse``, whose ``tool_response.agentId`` names the agent
  for certain: it corrects the spawn an agent claimed, and registers background
  agents whose ``SubagentStart`` has not been seen yet;
* ``journal.agent_update``: declared objective, progress, done, blockers, next,
  files and status (``done`` and ``files`` accumulate, the others replace).

Status as folded: ``running`` after a start, ``completed`` after a stop, or the last
declared status. A declared status that is not an end (``blocked``, ``failed``,
``waiting``...) keeps the agent in ``AgentsMeta.declared`` so the recovery context
shows it until it is finished, archived or dismissed (``journal.dismissed``, undone by
``undo``; ``dismissed_seq`` is cleared when the agent starts again). ``orphaned`` (running
while its session ended, crashed or was restarted) and ``archived`` depend on other
projections and the reading moment, so `projections.read.queries` derives them. An agent
with neither a ``SubagentStart`` nor a spawn (Claude Code's internal agents, e.g. compaction
workers, with an empty type) is ``internal`` and hidden from listings unless asked for.
"""

from __future__ import annotations

from typing import Any

import msgspec

from journal.storage.events import Event
from projections.base import Projection, State
from projections.folds.sessions import ITEM_CHARS, ITEMS_KEPT, MESSAGE_CHARS, ToolCall, count_edited_file
from projections.text import clip, one_line, summarise_tool
from projections.views import LandedView, PreView, ToolView, tool_agent_id

__all__ = ["AGENTS", "AgentRecord", "AgentsMeta", "Spawn", "AGENT_TOOLS", "FINISHED_STATUSES"]

#: The tool that starts a subagent (``Task`` in Claude Code before 2.1).
AGENT_TOOLS = frozenset({"Agent", "Task"})
PROMPT_CHARS = 1000
SPAWNS_PER_SESSION = 8
SPAWN_SESSIONS = 64
IN_FLIGHT_KEPT = 4
#: Declared statuses that mean the agent needs nothing more.
FINISHED_STATUSES = frozenset({"completed", "archived", "done", "finished", "cancelled", "canceled",
                               "abandoned", "dismissed"})


class Spawn(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    """An ``Agent`` tool call: what the agent was asked to do."""

    tool_use_id: str
    description: str = ""
    prompt: str = ""
    subagent_type: str = ""
    seq: int = 0


class AgentRecord(msgspec.Struct, array_like=True, omit_defaults=True):
    """One subagent (bounded like a session record)."""

    id: str
    first_seq: int
    last_seq: int
    first_ts: str
    last_ts: str
    parent: str = ""
    type: str = ""
    status: str = "running"
    description: str = ""
    prompt: str = ""
    spawn_tool: str = ""
    started: str = ""
    start_seq: int = 0
    stopped: str = ""
    stop_seq: int = 0
    transcript: str = ""
    last_message: str = ""
    tool_calls: int = 0
    tools: dict[str, int] = {}
    failed: int = 0
    in_flight: dict[str, ToolCall] = {}
    files: dict[str, int] = {}
    files_more: int = 0
    objective: str = ""
    progress: int | None = None
    done: list[str] = []
    blockers: list[str] = []
    next: list[str] = []
    key_files: list[str] = []
    updates: int = 0
    update_seq: int = 0
    #: Seq of the ``journal.dismissed`` that handed this agent over (0: not dismissed).
    dismissed_seq: int = 0

    @property
    def internal(self) -> bool:
        """Started by Claude Code itself (no SubagentStart, no Agent call): hidden by default."""
        return not self.start_seq and not self.spawn_tool and not self.updates


class AgentsMeta(msgspec.Struct):
    """Registry-wide state: recency, and Agent calls waiting for their agent."""

    last: str = ""
    spawns: dict[str, list[Spawn]] = {}
    #: Agents whose folded status is ``running``, in the order they became so.
    running: dict[str, None] = {}
    #: Agents with a declared unfinished status (``blocked``, ``failed``...), in that order.
    declared: dict[str, None] = {}


def _set_status(state: State, rec: AgentRecord, status: str) -> None:
    rec.status = status
    running = state.meta.running
    declared = state.meta.declared
    running.pop(rec.id, None)
    declared.pop(rec.id, None)
    if status == "running":
        running[rec.id] = None
    elif status not in FINISHED_STATUSES:
        declared[rec.id] = None


def _agent(state: State, event: Event, agent_id: str) -> AgentRecord:
    """The record of *agent_id* (created on first sight), marked active."""
    records = state.records
    rec: AgentRecord | None = records.get(agent_id)
    if rec is None:
        rec = AgentRecord(agent_id, event.seq, event.seq, event.ts, event.ts, parent=event.session or "")
        records[agent_id] = rec
        state.meta.last = agent_id
        state.meta.running[agent_id] = None
        return rec
    if state.meta.last != agent_id:
        del records[agent_id]
        records[agent_id] = rec
        state.meta.last = agent_id
    rec.last_seq = event.seq
    rec.last_ts = event.ts
    if not rec.parent and event.session:
        rec.parent = event.session
    return rec


def _apply_spawn(rec: AgentRecord, spawn: Spawn) -> None:
    rec.spawn_tool = spawn.tool_use_id
    rec.description = spawn.description
    rec.prompt = spawn.prompt
    if not rec.type and spawn.subagent_type:
        rec.type = spawn.subagent_type


def _take_spawn(meta: AgentsMeta, session: str, agent_type: str, tool_use_id: str = "") -> Spawn | None:
    """Remove and return a pending spawn of *session*: by tool_use_id, else the oldest of the type."""
    pending = meta.spawns.get(session)
    if not pending:
        return None
    index = None
    for i, spawn in enumerate(pending):
        if tool_use_id and spawn.tool_use_id == tool_use_id:
            index = i
            break
        if not tool_use_id and index is None and (spawn.subagent_type or "general-purpose") == (
            agent_type or "general-purpose"
        ):
            index = i
    if index is None:
        if tool_use_id:
            return None
        index = 0
    spawn = pending.pop(index)
    if not pending:
        del meta.spawns[session]
    return spawn


def _on_pre_tool(state: State, event: Event, view: PreView) -> None:
    if event.agent:
        rec = _agent(state, event, event.agent)
        rec.tool_calls += 1
        rec.tools[view.tool_name] = rec.tools.get(view.tool_name, 0) + 1
        flying = rec.in_flight
        flying[view.tool_use_id] = ToolCall(
            view.tool_name, summarise_tool(view.tool_name, view.tool_input), event.seq, event.ts, event.agent
        )
        if len(flying) > IN_FLIGHT_KEPT:
            del flying[next(iter(flying))]
    if view.tool_name in AGENT_TOOLS and event.session is not None:
        inp = view.tool_input
        spawn = Spawn(
            view.tool_use_id,
            one_line(inp.description, 200) if inp else "",
            clip(inp.prompt, PROMPT_CHARS) if inp else "",
            (inp.subagent_type or "") if inp else "",
            event.seq,
        )
        spawns = state.meta.spawns
        pending = spawns.get(event.session)
        if pending is None:
            pending = spawns[event.session] = []
            if len(spawns) > SPAWN_SESSIONS:
                del spawns[next(iter(spawns))]
        pending.append(spawn)
        if len(pending) > SPAWNS_PER_SESSION:
            del pending[0]


def _on_post_tool(state: State, event: Event, view: ToolView | LandedView) -> None:
    if event.agent:
        rec = _agent(state, event, event.agent)
        if rec.in_flight.pop(view.tool_use_id, None) is None:
            rec.tool_calls += 1
            rec.tools[view.tool_name] = rec.tools.get(view.tool_name, 0) + 1
        if event.type == "PostToolUseFailure":
            rec.failed += 1
        else:
            count_edited_file(rec, view)
    if view.tool_name not in AGENT_TOOLS or event.session is None:
        return
    spawn = _take_spawn(state.meta, event.session, "", view.tool_use_id)
    agent_id = tool_agent_id(view) if event.type == "PostToolUse" else ""
    if not agent_id:
        return
    rec = state.records.record(agent_id)
    if rec is not None and rec.spawn_tool == view.tool_use_id:
        return
    rec = _agent(state, event, agent_id)
    if spawn is None:  # the agent claimed it (maybe wrongly): rebuild it from this call
        inp = view.tool_input
        spawn = Spawn(view.tool_use_id, one_line(inp.description, 200) if inp else "",
                      clip(inp.prompt, PROMPT_CHARS) if inp else "", (inp.subagent_type or "") if inp else "")
    _apply_spawn(rec, spawn)


def _on_call(state: State, pre: Event, view: PreView, post: Event, landed: LandedView) -> bool:
    """A PreToolUse and the PostToolUse next to it (`projections.base.PairHandler`): when
    neither is an agent's nor an Agent call, both handlers do nothing, and neither does this."""
    return not (pre.agent or post.agent or view.tool_name in AGENT_TOOLS or landed.tool_name in AGENT_TOOLS)


def _on_subagent_start(state: State, event: Event, view: Any) -> None:
    agent_id = view.agent_id or event.agent
    if not agent_id:
        return
    rec = _agent(state, event, agent_id)
    if view.agent_type:
        rec.type = view.agent_type
    rec.started, rec.start_seq = event.ts, event.seq
    rec.dismissed_seq = 0
    _set_status(state, rec, "running")
    if not rec.spawn_tool and event.session is not None:
        spawn = _take_spawn(state.meta, event.session, view.agent_type)
        if spawn is not None:
            _apply_spawn(rec, spawn)


def _on_subagent_stop(state: State, event: Event, view: Any) -> None:
    agent_id = view.agent_id or event.agent
    if not agent_id:
        return
    rec = _agent(state, event, agent_id)
    if view.agent_type and not rec.type:
        rec.type = view.agent_type
    rec.stopped, rec.stop_seq = event.ts, event.seq
    _set_status(state, rec, "completed")
    if view.agent_transcript_path:
        rec.transcript = view.agent_transcript_path
    if view.last_assistant_message:
        rec.last_message = clip(view.last_assistant_message, MESSAGE_CHARS)
    rec.in_flight = {}


def _merge(items: list[str], new: list[str]) -> None:
    for item in new:
        item = clip(item, ITEM_CHARS)
        if item and item not in items:
            items.append(item)
    if len(items) > 2 * ITEMS_KEPT:
        del items[: len(items) - 2 * ITEMS_KEPT]


def _on_update(state: State, event: Event, view: Any) -> None:
    if not event.agent:
        return
    rec = _agent(state, event, event.agent)
    rec.updates += 1
    rec.update_seq = event.seq
    if view.objective is not None:
        rec.objective = clip(view.objective, ITEM_CHARS)
    if view.progress is not None and 0 <= view.progress <= 100:
        rec.progress = view.progress
    if view.done is not None:
        _merge(rec.done, view.done)
    if view.files is not None:
        _merge(rec.key_files, view.files)
    if view.blockers is not None:
        rec.blockers = [clip(b, ITEM_CHARS) for b in view.blockers[:ITEMS_KEPT] if b]
    if view.next is not None:
        rec.next = [clip(n, ITEM_CHARS) for n in view.next[:ITEMS_KEPT] if n]
    if view.status:
        _set_status(state, rec, clip(view.status, 40))


def _on_dismissed(state: State, event: Event, view: Any) -> None:
    for aid in view.agents:
        rec = state.records.record(aid)
        if rec is not None:
            rec.dismissed_seq = 0 if view.undo else event.seq


def _on_any(state: State, event: Event, view: Any) -> None:
    if event.agent:
        _agent(state, event, event.agent)


AGENTS = Projection(
    name="agents",
    version=2,
    record_type=AgentRecord,
    meta_type=AgentsMeta,
    handlers={
        "PreToolUse": _on_pre_tool,
        "PostToolUse": _on_post_tool,
        "PostToolUseFailure": _on_post_tool,
        "PermissionDenied": _on_post_tool,
        "SubagentStart": _on_subagent_start,
        "SubagentStop": _on_subagent_stop,
        "journal.agent_update": _on_update,
        "journal.dismissed": _on_dismissed,
    },
    default=_on_any,
    pairs={("PreToolUse", "PostToolUse"): _on_call},
)
