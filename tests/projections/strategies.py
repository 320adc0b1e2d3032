"""Hypothesis strategies: realistic, messy journals of Claude Code hook events.

`journals()` draws a list of `Draft` events (type, session, agent, data, ts) that
imitate several interleaved sessions (docs/EVENTS.md shapes, Claude Code 2.1.x
payloads), including what real logs contain and folds must survive: SubagentStop
with no SubagentStart and an empty type, PostToolUse with no PreToolUse, tool calls
left in flight, resumed and compacted sessions, unknown event types, unknown
fields, fields of the wrong type, and Agent Journal's own events (checkpoints,
agent updates, archiving, resume requests and their consumption).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from journal.storage.codec import now_ts
from journal.storage.events import Event
from journal.storage.writer import NewEvent

__all__ = ["Draft", "journals", "to_events", "to_new_events", "SESSION_IDS", "BASE_NS", "PROJECT"]

SESSION_IDS = (
    "77447ded-3a63-4e7b-b57f-7751b953796d",
    "771073e4-3bc9-4a24-877a-c2ae25a1ed36",
    "29c6df8d-2e2c-4bd7-875d-92d4408ff2fc",
    "7a1b2c3d-0000-4000-8000-000000000004",
    "b0b0b0b0-1111-4111-8111-000000000005",
)
AGENT_IDS = ("ad1967d713ff61a6d", "a2f91b95b69a7cf7c", "a8d0016ee3b310072", "ab12ab12ab12ab120", "ac0ffee0000000001")
AGENT_TYPES = ("general-purpose", "Explore", "Plan", "")
TOOLS = ("Bash", "Write", "Edit", "Read", "MultiEdit", "NotebookEdit", "Grep", "WebFetch", "mcp__x__y")
FILES = ("/home/dev/src/shop/greet.py", "/home/dev/src/shop/docs.md", "/home/dev/src/shop/cart/api.py",
         "/home/dev/src/shop/tests/test_cart.py", "/home/dev/src/other/x.py")
WORDS = ("cart", "checkout", "greeting", "docs", "journal", "cache", "invoice", "tests", "refactor", "deploy")
PROJECT = "/home/dev/src/shop"
BASE_NS = 1_764_072_000 * 1_000_000_000  # 2025-11-25T12:00:00Z


@dataclass
class Draft:
    """One event before it gets a seq."""

    type: str
    data: dict[str, Any]
    session: str | None = None
    agent: str | None = None
    ts: str = ""


@dataclass
class _World:
    """What the generator knows so far, so follow-up events can refer back."""

    pending_tools: dict[str, list[tuple[str, str, str | None]]] = field(default_factory=dict)
    spawns: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    running: dict[str, str] = field(default_factory=dict)
    requests: list[int] = field(default_factory=list)
    n_tool: int = 0


def _base(sid: str, name: str, agent: tuple[str, str] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"session_id": sid, "transcript_path": f"/home/dev/.claude/projects/-x/{sid}.jsonl",
                         "cwd": PROJECT, "hook_event_name": name}
    if agent is not None:
        d["agent_id"], d["agent_type"] = agent
    return d


_text = st.text(alphabet=st.sampled_from("abc xyz\n\t\"\\é✓"), max_size=12)
_prompt = st.builds(lambda ws, extra: " ".join(ws) + extra, st.lists(st.sampled_from(WORDS), max_size=6), _text)


def _tool_input(draw: Any, tool: str) -> dict[str, Any]:
    if tool == "Bash":
        return {"command": draw(st.sampled_from(("pytest -q", "python3 -c 'import time; time.sleep(20)'",
                                                  "false", "git status\n--short", ""))), "description": "run"}
    if tool in ("Write", "Edit", "MultiEdit", "Read"):
        return {"file_path": draw(st.sampled_from(FILES)), "content": draw(_text)}
    if tool == "NotebookEdit":
        return {"notebook_path": "/home/dev/src/shop/nb.ipynb", "new_source": "x"}
    if tool == "Grep":
        return {"pattern": "def ", "path": PROJECT}
    return {"url": "https://example.com", "prompt": draw(_text)}


@st.composite
def _step(draw: Any, world: _World, seq: int) -> list[Draft]:
    sid = draw(st.sampled_from(SESSION_IDS[: draw(st.integers(1, len(SESSION_IDS)))]))
    kind = draw(st.sampled_from((
        "start", "prompt", "prompt", "pre", "pre", "post", "post", "post_orphan", "fail", "denied", "spawn",
        "sub_start", "agent_tool", "sub_stop", "sub_stop_internal", "agent_post", "stop", "compact", "end",
        "checkpoint", "agent_update", "archive", "resume_req", "resume_used", "notification", "unknown", "odd",
        "cwd", "no_session", "perm_request", "synthetic", "expansion", "dismiss",
    )))
    out: list[Draft] = []
    if kind == "start":
        d = _base(sid, "SessionStart")
        d["source"] = draw(st.sampled_from(("startup", "resume", "clear", "compact", "fork")))
        if draw(st.booleans()):
            d["_journal"] = {"process": {"pid": draw(st.integers(1, 50)), "start": draw(st.sampled_from(("100", "200"))),
                                         "via": "CLAUDE_PID"},
                             "git_branch": draw(st.sampled_from(("main", "feature/cart", "docs"))),
                             "project_dir": draw(st.sampled_from((PROJECT, PROJECT, "/home/dev/src/other")))}
        out.append(Draft("SessionStart", d, sid))
    elif kind == "prompt":
        d = _base(sid, "UserPromptSubmit")
        d["prompt"] = draw(_prompt)
        out.append(Draft("UserPromptSubmit", d, sid))
    elif kind in ("pre", "agent_tool"):
        agent = None
        if kind == "agent_tool" and world.running:
            aid = draw(st.sampled_from(sorted(world.running)))
            agent = (aid, world.running[aid])
        tool = draw(st.sampled_from(TOOLS))
        world.n_tool += 1
        tid = f"toolu_{world.n_tool}"
        d = _base(sid, "PreToolUse", agent)
        d.update(tool_name=tool, tool_input=_tool_input(draw, tool), tool_use_id=tid)
        world.pending_tools.setdefault(sid, []).append((tid, tool, agent[0] if agent else None))
        out.append(Draft("PreToolUse", d, sid, agent[0] if agent else None))
        if agent is not None and draw(st.booleans()):
            post = dict(d, hook_event_name="PostToolUse", tool_response={"ok": True, "content": "x" * 50})
            world.pending_tools[sid].pop()
            out.append(Draft("PostToolUse", post, sid, agent[0]))
    elif kind in ("post", "fail", "denied"):
        pending = world.pending_tools.get(sid) or []
        if not pending:
            return out
        tid, tool, agent_id = pending.pop(draw(st.integers(0, len(pending) - 1)))
        name = {"post": "PostToolUse", "fail": "PostToolUseFailure", "denied": "PermissionDenied"}[kind]
        d = _base(sid, name, (agent_id, world.running.get(agent_id, "")) if agent_id else None)
        d.update(tool_name=tool, tool_input=_tool_input(draw, tool), tool_use_id=tid)
        if kind == "post":
            d["tool_response"] = {"stdout": draw(_text), "structuredPatch": [], "nested": {"tool_use_id": "decoy"}}
        elif kind == "fail":
            d.update(error=draw(st.sampled_from(("Exit code 1", "Exit code 2\nmore", ""))), is_interrupt=draw(st.booleans()))
        else:
            d["reason"] = "user said no"
        out.append(Draft(name, d, sid, agent_id))
    elif kind == "post_orphan":
        tool = draw(st.sampled_from(TOOLS))
        d = _base(sid, "PostToolUse")
        d.update(tool_name=tool, tool_input=_tool_input(draw, tool), tool_use_id="toolu_orphan", tool_response={})
        out.append(Draft("PostToolUse", d, sid))
    elif kind == "spawn":
        world.n_tool += 1
        tid = f"toolu_{world.n_tool}"
        atype = draw(st.sampled_from(AGENT_TYPES[:3]))
        d = _base(sid, "PreToolUse")
        d.update(tool_name="Agent", tool_use_id=tid,
                 tool_input={"description": draw(_prompt), "prompt": draw(_prompt), "subagent_type": atype})
        world.spawns.setdefault(sid, []).append((tid, atype, d["tool_input"]["description"]))
        out.append(Draft("PreToolUse", d, sid))
    elif kind == "sub_start":
        aid = draw(st.sampled_from(AGENT_IDS))
        atype = draw(st.sampled_from(AGENT_TYPES))
        world.running[aid] = atype
        out.append(Draft("SubagentStart", _base(sid, "SubagentStart", (aid, atype)), sid, aid))
    elif kind in ("sub_stop", "sub_stop_internal"):
        if kind == "sub_stop" and world.running:
            aid = draw(st.sampled_from(sorted(world.running)))
            atype = world.running.pop(aid)
        else:
            aid, atype = draw(st.sampled_from(AGENT_IDS)), ""
        d = _base(sid, "SubagentStop", (aid, atype))
        d.update(stop_hook_active=False, agent_transcript_path=f"/t/{aid}.jsonl", last_assistant_message=draw(_text))
        out.append(Draft("SubagentStop", d, sid, aid))
    elif kind == "agent_post":
        spawns = world.spawns.get(sid) or []
        if not spawns:
            return out
        tid, atype, desc = spawns.pop(0)
        d = _base(sid, "PostToolUse")
        d.update(tool_name="Agent", tool_use_id=tid, tool_input={"description": desc, "subagent_type": atype},
                 tool_response={"status": draw(st.sampled_from(("completed", "async_launched"))),
                                "agentId": draw(st.sampled_from(AGENT_IDS)), "content": [{"type": "text"}]})
        out.append(Draft("PostToolUse", d, sid))
    elif kind == "stop":
        d = _base(sid, draw(st.sampled_from(("Stop", "Stop", "StopFailure"))))
        d["last_assistant_message"] = draw(_text)
        d["error"] = "overloaded"
        if draw(st.booleans()):
            d["_journal"] = {"digest": {"working_on": draw(_prompt), "decisions": draw(st.lists(_prompt, max_size=3)),
                                        "files": [], "topics": draw(st.lists(st.sampled_from(WORDS), max_size=4))}}
        out.append(Draft(d["hook_event_name"], d, sid))
    elif kind == "compact":
        pre = _base(sid, "PreCompact")
        pre["trigger"] = "manual"
        if draw(st.booleans()):
            pre["_journal"] = {"capture": {"last_prompts": [draw(_prompt)], "files": [FILES[0]],
                                           "tool_in_flight": None, "last_checkpoint": None, "ts": now_ts(BASE_NS)}}
        out.append(Draft("PreCompact", pre, sid))
        stop = _base(sid, "SubagentStop", (draw(st.sampled_from(AGENT_IDS)), ""))
        out.append(Draft("SubagentStop", stop, sid, stop["agent_id"]))
        start = _base(sid, "SessionStart")
        start["source"] = "compact"
        out.append(Draft("SessionStart", start, sid))
    elif kind == "end":
        d = _base(sid, "SessionEnd")
        d["reason"] = draw(st.sampled_from(("other", "clear", "prompt_input_exit", "logout")))
        out.append(Draft("SessionEnd", d, sid))
    elif kind == "checkpoint":
        d = {"objective": draw(_prompt), "done": draw(st.lists(_prompt, max_size=3)), "blockers": [],
             "next": draw(st.lists(_prompt, max_size=2)), "files": [FILES[1]], "notes": [],
             "progress": draw(st.integers(-5, 120))}
        out.append(Draft("journal.checkpoint", d, sid))
    elif kind == "agent_update":
        aid = draw(st.sampled_from(AGENT_IDS))
        d: dict[str, Any] = {}
        for key, strat in (("objective", _prompt), ("progress", st.integers(0, 100)),
                           ("done", st.lists(_prompt, max_size=2)), ("next", st.lists(_prompt, max_size=2)),
                           ("files", st.lists(st.sampled_from(FILES), max_size=2)),
                           ("status", st.sampled_from(("running", "completed", "blocked", "archived")))):
            if draw(st.booleans()):
                d[key] = draw(strat)
        out.append(Draft("journal.agent_update", d, draw(st.sampled_from((sid, None))), aid))
    elif kind == "archive":
        d = {"sessions": draw(st.lists(st.sampled_from(SESSION_IDS), max_size=2)),
             "agents": draw(st.lists(st.sampled_from(AGENT_IDS), max_size=2)), "older_than": "7d"}
        out.append(Draft("journal.archived", d))
    elif kind == "resume_req":
        world.requests.append(seq)
        out.append(Draft("journal.resume_requested", {"session": sid}, None))
    elif kind == "resume_used":
        if world.requests:
            req = world.requests.pop(draw(st.integers(0, len(world.requests) - 1)))
            out.append(Draft("journal.resume_consumed", {"request_seq": req}, sid))
    elif kind == "notification":
        d = _base(sid, "Notification")
        d["message"] = "Claude is waiting for your input"
        out.append(Draft("Notification", d, sid))
    elif kind == "unknown":
        name = draw(st.sampled_from(("FutureHookEvent", "TaskCreated", "journal.snapshot", "PostToolBatch")))
        d = _base(sid, name)
        d["something_new"] = {"nested": [1, 2, draw(_text)]}
        out.append(Draft(name, d, draw(st.sampled_from((sid, None)))))
    elif kind == "odd":
        # Known types, unexpected shapes: every fold must shrug these off.
        name = draw(st.sampled_from(("UserPromptSubmit", "PreToolUse", "SessionStart", "Stop", "SubagentStop",
                                     "journal.checkpoint", "journal.archived", "PostToolUse")))
        d = _base(sid, name)
        d.update(prompt=draw(st.sampled_from((7, None, ["x"]))), tool_name=draw(st.sampled_from((3, "Bash"))),
                 tool_input=draw(st.sampled_from(([1], "cmd", {"command": 5}))), source=draw(st.sampled_from((1, "resume"))),
                 _journal=draw(st.sampled_from(({"process": "x"}, {"process": {"pid": "12"}}, 5))),
                 sessions="notalist", agent_id=draw(st.sampled_from((None, 5, AGENT_IDS[0]))), progress="half",
                 unknown_field=True)
        out.append(Draft(name, d, sid, draw(st.sampled_from((None, AGENT_IDS[1])))))
    elif kind == "cwd":
        d = _base(sid, "CwdChanged")
        d.update(old_cwd=PROJECT, new_cwd=PROJECT + "/sub")
        out.append(Draft("CwdChanged", d, sid))
    elif kind == "perm_request":
        # No tool_use_id (Claude Code 2.1.328): matched to the thread's call by tool and target.
        pending = world.pending_tools.get(sid) or []
        if not pending:
            return out
        tid, tool, agent_id = pending[draw(st.integers(0, len(pending) - 1))]
        d = _base(sid, "PermissionRequest", (agent_id, world.running.get(agent_id, "")) if agent_id else None)
        d.update(tool_name=tool, tool_input=_tool_input(draw, tool),
                 permission_suggestions=[{"type": "setMode", "mode": "acceptEdits"}])
        if draw(st.booleans()):
            d["decision"] = {"behavior": draw(st.sampled_from(("deny", "allow")))}
        out.append(Draft("PermissionRequest", d, sid, agent_id))
    elif kind == "synthetic":
        d = _base(sid, "UserPromptSubmit")
        d["prompt"] = draw(st.sampled_from((
            f"<task-notification>\n<task-id>{AGENT_IDS[0]}</task-id>\n<status>completed</status>\n"
            "<summary>Agent \"x\" finished</summary>\n</task-notification>",
            "/probe:failing", "<system-reminder>hook said so</system-reminder>", "<bash-input>ls</bash-input>",
            f"/agent-journal:resume {draw(st.sampled_from(SESSION_IDS))[:8]}")))
        out.append(Draft("UserPromptSubmit", d, sid))
    elif kind == "expansion":
        d = _base(sid, "UserPromptExpansion")
        target = draw(st.sampled_from(SESSION_IDS))[: draw(st.sampled_from((4, 8, 36)))]
        d.update(expansion_type="slash_command", command_name=draw(st.sampled_from(("agent-journal:resume", "x:y"))),
                 command_args=target, command_source="plugin", prompt=f"/agent-journal:resume {target}")
        out.append(Draft("UserPromptExpansion", d, sid))
    elif kind == "dismiss":
        d = {"sessions": draw(st.lists(st.sampled_from(SESSION_IDS), max_size=2)),
             "agents": draw(st.lists(st.sampled_from(AGENT_IDS), max_size=2))}
        if draw(st.booleans()):
            d["undo"] = True
        out.append(Draft("journal.dismissed", d, draw(st.sampled_from((sid, None)))))
    elif kind == "no_session":
        out.append(Draft(draw(st.sampled_from(("PreToolUse", "Notification", "SessionStart"))), {"x": 1}))
    return out


@st.composite
def journals(draw: Any, max_steps: int = 40) -> list[Draft]:
    """A journal's worth of draft events, timestamps increasing (sometimes equal)."""
    world = _World()
    drafts: list[Draft] = []
    ns = BASE_NS
    for _ in range(draw(st.integers(0, max_steps))):
        for d in draw(_step(world, len(drafts) + 1)):
            ns += draw(st.sampled_from((0, 1_000_000, 5_000_000_000, 90_000_000_000, 4_000_000_000_000)))
            d.ts = now_ts(ns)
            drafts.append(d)
    return drafts


def to_new_events(drafts: list[Draft]) -> list[NewEvent]:
    """The drafts as `journal.NewEvent`s for `Journal.append_many`."""
    return [NewEvent(d.type, d.data, d.session, d.agent, d.ts) for d in drafts]


def to_events(drafts: list[Draft]) -> list[Event]:
    """The drafts as read-back `Event`s, seq 1..n (no journal needed)."""
    import msgspec

    from journal.storage.codec import encode_data

    return [
        Event(seq=i + 1, ts=d.ts, type=d.type, data=msgspec.Raw(encode_data(d.data)), session=d.session, agent=d.agent)
        for i, d in enumerate(drafts)
    ]
