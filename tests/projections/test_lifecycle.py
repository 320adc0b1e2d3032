"""The session lifecycle (issue 11): when calls, turns and sessions end; hand-overs; what
the recovery context says about crashed, running and cleanly ended sessions.

Event shapes are Claude Code 2.1.328's, as a probe run recorded them: a denied call in
``-p`` mode is a PreToolUse then a PermissionRequest (no tool_use_id) and nothing else; a
background agent reports back through a ``<task-notification>`` UserPromptSubmit; a slash
command whose shell step fails leaves UserPromptSubmit, UserPromptExpansion, SessionEnd.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journal.storage.codec import encode_data
from journal.storage.events import Event
from projections.base import fold
from projections.read.context import recovery_context, session_context
from projections.read.liveness import Liveness
from projections.read.queries import interrupted, list_sessions
from projections.runner import PROJECTIONS, Views, fold_events
from projections.folds.sessions import SESSIONS
from projections.timeref import ts_text
from tests.profiles import examples

NOW = 1_764_072_000.0 + 3600
PROJECT = "/home/dev/src/shop"
DEAD, ALIVE = 4000, 4001  # probe(): odd pids are alive


def probe(pid: int) -> str | None:
    return "100" if pid % 2 else None


def live(now: float = NOW) -> Liveness:
    return Liveness(now=now, probe=probe, stale_after=1800)


class Log:
    """A journal in memory: events appended with increasing seq and ts, folded on demand."""

    def __init__(self, start: float = NOW - 3000) -> None:
        self.events: list[Event] = []
        self.clock = start

    def add(self, type_: str, sid: str | None = None, agent: str | None = None, *, at: float | None = None,
            **data: Any) -> int:
        self.clock = at if at is not None else self.clock + 1
        seq = len(self.events) + 1
        self.events.append(Event(seq=seq, ts=ts_text(self.clock), type=type_, data=msgspec.Raw(encode_data(data)),
                                 session=sid, agent=agent))
        return seq

    def start(self, sid: str, pid: int = DEAD, source: str = "startup", **kw: Any) -> int:
        return self.add("SessionStart", sid, source=source, cwd=PROJECT,
                        _journal={"process": {"pid": pid, "start": "100"}, "project_dir": PROJECT}, **kw)

    def prompt(self, sid: str, text: str) -> int:
        return self.add("UserPromptSubmit", sid, prompt=text)

    def pre(self, sid: str, tid: str, tool: str = "Bash", agent: str | None = None, **inp: Any) -> int:
        return self.add("PreToolUse", sid, agent, tool_name=tool, tool_use_id=tid, tool_input=inp or {"command": tid})

    def post(self, sid: str, tid: str, tool: str = "Bash", agent: str | None = None, **extra: Any) -> int:
        return self.add("PostToolUse", sid, agent, tool_name=tool, tool_use_id=tid,
                        tool_input=extra.pop("tool_input", {"command": tid}), **extra)

    def views(self) -> Views:
        pairs = [(p, p.initial()) for p in PROJECTIONS]
        fold_events(pairs, self.events)
        return Views({p.name: s for p, s in pairs}, len(self.events))

    def session(self, sid: str) -> Any:
        return self.views().sessions.records.record(sid)


def context(log: Log, current: str | None = "new", now: float = NOW) -> str:
    views = log.views()
    return recovery_context(views, live(now), session_id=current, max_chars=20_000)[0]


# --------------------------------------------------------------------------- section 2


def test_a_subagents_denied_call_ends_with_the_subagent_and_the_session_is_clean() -> None:
    log = Log()
    log.start("s1")
    log.prompt("s1", "delegate the port of the cart")
    log.pre("s1", "t1", "Agent", description="port", prompt="port it", subagent_type="general-purpose",
            run_in_background=False)
    log.add("SubagentStart", "s1", "a1", agent_id="a1", agent_type="general-purpose")
    log.pre("s1", "t2", "Bash", "a1", command="curl http://example.invalid")
    log.add("PermissionRequest", "s1", "a1", tool_name="Bash", tool_input={"command": "curl http://example.invalid"})
    assert "t2" in log.session("s1").in_flight
    log.add("SubagentStop", "s1", "a1", agent_id="a1", last_assistant_message="Sub could not.")
    assert "t2" not in log.session("s1").in_flight
    log.post("s1", "t1", "Agent", tool_response={"status": "completed", "agentId": "a1"})
    log.add("Stop", "s1", last_assistant_message="Parent done.")
    log.add("SessionEnd", "s1", reason="other")
    rec = log.session("s1")
    assert rec.in_flight == {} and not interrupted(rec, "ended")
    text = context(log)
    assert "Interrupted" not in text and "in flight" not in text
    assert "Nothing was left unfinished" in text and "## Previous session here s1" in text


def test_a_denied_main_thread_call_ends_when_the_thread_moves_on() -> None:
    log = Log()
    log.start("s1")
    log.prompt("s1", "clean up tmp")
    log.pre("s1", "t1", command="rm -rf /tmp/nothing-here")
    log.add("PermissionRequest", "s1", tool_name="Bash", tool_input={"command": "rm -rf /tmp/nothing-here"})
    log.pre("s1", "t2", "Write", file_path="/p/a.txt")
    assert list(log.session("s1").in_flight) == ["t2"]
    log.add("PermissionRequest", "s1", tool_name="Write", tool_input={"file_path": "/p/a.txt"},
            decision={"behavior": "deny"})
    assert log.session("s1").in_flight == {}


def test_session_end_ends_every_call_and_a_late_pre_tool_use_does_not_fly() -> None:
    log = Log()
    log.start("s1")
    log.prompt("s1", "long job")
    log.pre("s1", "t1")
    log.add("SessionEnd", "s1", reason="prompt_input_exit")
    log.pre("s1", "t2", agent="a9")  # a background agent's hook that lost the race
    rec = log.session("s1")
    assert rec.in_flight == {}
    # the turn ran a tool and never got its Stop: the user left mid-turn, that is unfinished
    assert interrupted(rec, "ended")


def test_a_slash_command_that_failed_before_running_is_not_unfinished_work() -> None:
    log = Log()
    log.start("s1")
    log.prompt("s1", "/probe:failing")
    log.add("UserPromptExpansion", "s1", expansion_type="slash_command", command_name="probe:failing",
            command_args="", command_source="plugin", prompt="/probe:failing")
    log.add("SessionEnd", "s1", reason="other")
    rec = log.session("s1")
    assert rec.prompts == 0 and rec.last_prompts == [] and not interrupted(rec, "ended")
    views = log.views()
    assert list_sessions(views, live(), status="interrupted") == []
    assert "unfinished work" not in context(log)


def test_synthetic_turns_are_not_prompts_and_the_timeline_says_what_they_are(tmp_path: Any) -> None:
    from journal import Journal, NewEvent
    from projections.runner import load_views
    from projections.read.timeline import timeline

    note = ("<task-notification>\n<task-id>a142134c459993fd1</task-id>\n<tool-use-id>toolu_1</tool-use-id>\n"
            "<status>completed</status>\n<summary>Agent \"bg work\" finished</summary>\n<result>Sub done.</result>\n"
            "</task-notification>")
    journal = Journal.open(tmp_path / "j", durability="flush")
    agent_call = {"tool_name": "Agent", "tool_use_id": "toolu_1",
                  "tool_input": {"description": "bg work", "prompt": "BGSUB", "subagent_type": "general-purpose",
                                 "run_in_background": True}}
    journal.append_many([
        NewEvent("SessionStart", {"source": "startup", "cwd": PROJECT}, "s1"),
        NewEvent("UserPromptSubmit", {"prompt": "BGPARENT delegate in background"}, "s1"),
        NewEvent("PreToolUse", agent_call, "s1"),
        NewEvent("SubagentStart", {"agent_id": "a142134c459993fd1", "agent_type": "general-purpose"}, "s1",
                 "a142134c459993fd1"),
        NewEvent("PostToolUse", {**agent_call, "tool_response": {"isAsync": True, "status": "async_launched",
                                                                 "agentId": "a142134c459993fd1"}}, "s1"),
        NewEvent("Stop", {"last_assistant_message": "Launched."}, "s1"),
        NewEvent("SubagentStop", {"agent_id": "a142134c459993fd1", "last_assistant_message": "Sub done."}, "s1",
                 "a142134c459993fd1"),
        NewEvent("UserPromptSubmit", {"prompt": note}, "s1"),
        NewEvent("Stop", {"last_assistant_message": "Agent reported back."}, "s1"),
        NewEvent("UserPromptSubmit", {"prompt": "/agent-journal:sessions"}, "s1"),
        NewEvent("UserPromptSubmit", {"prompt": "<system-reminder>PostToolUse hook said hi</system-reminder>"}, "s1"),
        NewEvent("Stop", {"last_assistant_message": "ok"}, "s1"),
        NewEvent("SessionEnd", {"reason": "other"}, "s1"),
    ])
    views = load_views(journal)
    rec = views.sessions.records.record("s1")
    assert rec.prompts == 1 and rec.last_prompts == ["BGPARENT delegate in background"]
    summaries = [e["summary"] for e in timeline(journal, rec)]
    launched = summaries[4]
    assert "launched in the background" in launched and "done" not in launched, launched
    assert summaries[7] == 'agent a142134c… finished: completed (Agent "bg work" finished)'
    assert summaries[9] == "slash command: /agent-journal:sessions"
    assert summaries[10].startswith("hook text: ")
    text = recovery_context(views, live(), session_id="new", max_chars=20_000)[0]
    assert "task-notification" not in text and "/agent-journal:sessions" not in text
    assert '"BGPARENT delegate in background"' in text


# --------------------------------------------------------------------------- property


_THREADS = (None, "a1", "a2")


@st.composite
def _lifecycle(draw: Any) -> list[tuple[str, str | None, str]]:
    """Any interleaving of tool, permission, agent, turn and session events of two sessions."""
    steps = []
    n = 0
    for _ in range(draw(st.integers(1, 60))):
        sid = draw(st.sampled_from(("s1", "s2")))
        kind = draw(st.sampled_from(("pre", "pre", "post", "fail", "denied", "perm", "perm_deny", "sub_start",
                                     "sub_stop", "stop", "stop_failure", "prompt", "note", "start", "resume",
                                     "compact", "end")))
        agent = draw(st.sampled_from(_THREADS))
        tid = f"t{draw(st.integers(0, n))}"
        if kind == "pre":
            n += 1
            tid = f"t{n}"
        steps.append((kind, sid, agent, tid))
    return steps


def _play(steps: list[Any]) -> Log:
    log = Log()
    for kind, sid, agent, tid in steps:
        if kind == "pre":
            log.pre(sid, tid, agent=agent, command="x")
        elif kind in ("post", "fail", "denied"):
            name = {"post": "PostToolUse", "fail": "PostToolUseFailure", "denied": "PermissionDenied"}[kind]
            log.add(name, sid, agent, tool_name="Bash", tool_use_id=tid, tool_input={"command": "x"})
        elif kind in ("perm", "perm_deny"):
            extra = {"decision": {"behavior": "deny"}} if kind == "perm_deny" else {}
            log.add("PermissionRequest", sid, agent, tool_name="Bash", tool_input={"command": "x"}, **extra)
        elif kind == "sub_start" and agent:
            log.add("SubagentStart", sid, agent, agent_id=agent, agent_type="Explore")
        elif kind == "sub_stop" and agent:
            log.add("SubagentStop", sid, agent, agent_id=agent)
        elif kind in ("stop", "stop_failure"):
            log.add("Stop" if kind == "stop" else "StopFailure", sid, agent, last_assistant_message="ok")
        elif kind in ("prompt", "note"):
            log.prompt(sid, "do the thing" if kind == "prompt" else "<task-notification><status>completed"
                       "</status></task-notification>")
        elif kind in ("start", "resume", "compact"):
            log.start(sid, source={"start": "startup"}.get(kind, kind))
        elif kind == "end":
            log.add("SessionEnd", sid, reason="other")
    return log


@given(steps=_lifecycle())
@settings(max_examples=examples(300), deadline=None)
def test_no_call_is_in_flight_after_its_session_ended_cleanly(steps: list[Any]) -> None:
    log = _play(steps)
    state = fold(SESSIONS, SESSIONS.initial(), log.events)
    for sid in ("s1", "s2"):
        rec = state.records.record(sid)
        if rec is None:
            continue
        mine = [e for e in log.events if e.session == sid]
        life = [e for e in mine if e.type == "SessionEnd" or (e.type == "SessionStart" and b"compact" not in bytes(e.data))]
        ended_cleanly = bool(life) and life[-1].type == "SessionEnd"
        if ended_cleanly:
            assert rec.in_flight == {}, (sid, rec.in_flight)
            assert rec.ended
        for tid, call in rec.in_flight.items():
            after = [e for e in mine if e.seq > call.seq]
            # nothing that ends it came after its start
            assert not any(e.type in ("PostToolUse", "PostToolUseFailure", "PermissionDenied")
                           and msgspec.json.decode(e.data).get("tool_use_id") == tid for e in after)
            assert not any(e.type == "SubagentStop" and e.agent == call.agent and call.agent for e in after)
            assert not any(e.type in ("Stop", "StopFailure") and not e.agent and not call.agent for e in after)


# --------------------------------------------------------------------------- section 3


def _crash(log: Log, sid: str, prompt: str = "port the cart to the new API", at: float | None = None) -> None:
    log.start(sid, pid=DEAD) if at is None else log.add(
        "SessionStart", sid, at=at, source="startup", cwd=PROJECT,
        _journal={"process": {"pid": DEAD, "start": "100"}, "project_dir": PROJECT})
    log.prompt(sid, prompt)
    log.pre(sid, f"{sid}-t", "Edit", file_path=f"{PROJECT}/cart.py")


def test_a_crash_is_reported_until_a_later_session_uses_its_resume_request() -> None:
    log = Log()
    _crash(log, "c1")
    assert "## Crashed session c1" in context(log)
    req = log.add("journal.resume_requested", session="c1")
    log.add("journal.resume_consumed", "s-next", request_seq=req)
    rec = log.session("c1")
    assert (rec.handed, rec.handed_by) == ("resumed", "s-next")
    text = context(log, current="s-later")
    assert "## Crashed session c1" not in text and "Previous session here c1" not in text
    rows = {r["id"]: r for r in list_sessions(log.views(), live())}
    assert rows["c1"]["status"] == "crashed" and rows["c1"]["handed_over"]["how"] == "resumed"


def test_the_resume_slash_command_hands_the_crash_over() -> None:
    log = Log()
    _crash(log, "c1aa0000-0000")
    log.start("s2", pid=ALIVE)
    log.prompt("s2", "/agent-journal:resume c1aa")
    log.add("UserPromptExpansion", "s2", expansion_type="slash_command", command_name="agent-journal:resume",
            command_args="c1aa", prompt="/agent-journal:resume c1aa")
    assert log.session("c1aa0000-0000").handed == "resumed"
    assert "Crashed session c1aa" not in context(log, current="s3")


def test_dismiss_then_undo_then_a_new_crash_after_claude_resume() -> None:
    log = Log()
    _crash(log, "c1")
    log.add("journal.dismissed", "s9", sessions=["c1"])
    assert log.session("c1").handed == "dismissed"
    assert "c1" not in context(log).split("## Recent sessions")[0]
    log.add("journal.dismissed", sessions=["c1"], undo=True)
    assert "## Crashed session c1" in context(log)
    log.add("journal.dismissed", sessions=["c1"])
    # `claude --resume c1` (same id): a new run, which crashes again: reported again
    log.start("c1", pid=DEAD, source="resume")
    log.prompt("c1", "carry on")
    assert log.session("c1").handed == ""
    assert "## Crashed session c1" in context(log)


def test_old_crashes_get_one_line_and_the_last_line_counts_what_was_left_out() -> None:
    log = Log(start=NOW - 40 * 86400)
    for i in range(30):
        _crash(log, f"old{i:02d}", prompt=f"old task {i}", at=NOW - (40 - i) * 86400)
    for i in range(4):
        _crash(log, f"new{i}", prompt=f"fresh task {i}", at=NOW - 3000 + i * 10)
    text = context(log)
    assert text.count("## Crashed session") == 3  # the newest, full
    lines = text.splitlines()
    listed = [line for line in lines if line.startswith("- old") or line.startswith("- new")]
    assert len(listed) == 10  # one line each, a bounded list
    assert any("last event" in line and "ago" in line for line in listed if line.startswith("- old"))
    assert lines[-1].startswith("_Left out: 21 more interrupted sessions")
    assert "`agent-journal sessions --status interrupted`" in lines[-1]


def test_old_crash_age_is_configurable() -> None:
    from projections.read.liveness import old_after_from

    assert old_after_from({}, {}) == 7 * 86400
    assert old_after_from({"context": {"old_crash_after": "2d"}}, {}) == 2 * 86400
    assert old_after_from({"context": {"old_crash_after": "2d"}}, {"AGENT_JOURNAL_OLD_CRASH_AFTER": "1h"}) == 3600
    assert old_after_from({"context": {"old_crash_after": "soon"}}, {}) == 7 * 86400
    log = Log()
    _crash(log, "c1")
    views = log.views()
    short = Liveness(now=NOW, probe=probe, old_after=60)
    text = recovery_context(views, short, session_id="new", max_chars=20_000)[0]
    assert "## Crashed session" not in text and "- c1 crashed" in text


def test_cli_notes_about_a_crashed_session_do_not_move_when_it_died() -> None:
    log = Log()
    _crash(log, "c1")
    log.add("SubagentStart", "c1", "a1", agent_id="a1", agent_type="Plan")
    log.start("s2", pid=ALIVE)
    before = log.session("c1")
    died, order = before.last_ts, list(log.views().sessions.records)
    log.clock += 3600
    log.add("journal.checkpoint", "c1", objective="finish the cart port", progress=40)
    log.add("journal.agent_update", "c1", "a1", status="blocked", blockers=["needs the API key"])
    after = log.session("c1")
    assert after.last_ts == died and after.checkpoint.objective == "finish the cart port"
    assert list(log.views().sessions.records) == order
    assert after.last_seq == len(log.events)  # the timeline still reaches the notes


# --------------------------------------------------------------------------- section 4


def test_a_session_running_in_another_window_is_not_offered_for_takeover() -> None:
    log = Log()
    log.start("w1", pid=ALIVE)
    log.prompt("w1", "refactor the checkout flow")
    log.pre("w1", "e1", "Edit", file_path=f"{PROJECT}/checkout.py")
    log.post("w1", "e1", "Edit", tool_input={"file_path": f"{PROJECT}/checkout.py"})
    log.pre("w1", "b1", command="pytest -q")
    text = context(log, current="w2")
    block = text.split("## Running now in another window: session w1")[1].split("\n## ")[0]
    assert f"pid {ALIVE}" in text.split("## Running now in another window")[1].splitlines()[0]
    assert '"refactor the checkout flow"' in block and "checkout.py" in block
    assert "Don't edit these without coordinating" in block and "pytest -q" in block
    for wrong in ("Continue it", "when it stopped", "claude --resume", "unfinished work"):
        assert wrong not in text, wrong
    assert "Another Claude Code session is working in this project right now" in text
    single = session_context(log.views(), live(), log.session("w1"), max_chars=20_000)
    assert "Running now in another window" in single and "Continue it" not in single


# --------------------------------------------------------------------------- section 6


def test_working_on_comes_from_the_checkpoint_else_the_first_substantive_prompt() -> None:
    log = Log()
    log.start("s1")
    log.prompt("s1", "yes")
    log.prompt("s1", "add a discount field to the invoice model")
    log.prompt("s1", "ok thanks")
    log.add("Stop", "s1", last_assistant_message="Done.",
            _journal={"digest": {"working_on": "Done.", "decisions": ["We will use Decimal for money"]}})
    log.add("SessionEnd", "s1", reason="other")
    text = context(log)
    assert "- Working on: add a discount field to the invoice model" in text
    assert "Working on: Done." not in text
    assert 'Last assistant message: "Done."' in text  # its own closing words, as what they are
    assert "Decisions: We will use Decimal for money" in text
    log.add("journal.checkpoint", "s1", objective="ship invoices v2")
    assert "- Working on: ship invoices v2" in context(log)


def test_a_blocked_agent_is_shown_with_its_progress_blockers_and_next_steps() -> None:
    log = Log()
    log.start("s1")
    log.prompt("s1", "port the cart")
    log.pre("s1", "t1", "Agent", description="port cart", prompt="port it", subagent_type="Plan")
    log.add("SubagentStart", "s1", "ab1", agent_id="ab1", agent_type="Plan")
    log.add("journal.agent_update", "s1", "ab1", status="blocked", progress=60, blockers=["no API key"],
            next=["ask for the key"])
    log.add("SubagentStop", "s1", "ab1", agent_id="ab1")
    log.add("journal.agent_update", "s1", "ab1", status="blocked")
    log.add("Stop", "s1", last_assistant_message="Waiting on the key.")
    log.add("SessionEnd", "s1", reason="other")
    text = context(log)
    line = next(line for line in text.splitlines() if line.startswith("- ab1"))
    assert "[blocked]" in line and "progress 60%" in line and "no API key" in line and "ask for the key" in line
    log.add("journal.dismissed", agents=["ab1"])
    assert "- ab1" not in context(log)


def test_no_unfinished_claim_no_event_numbers_and_resume_does_not_recurse() -> None:
    log = Log()
    log.start("s1")
    log.prompt("s1", "write the changelog")
    log.add("Stop", "s1", last_assistant_message="Changelog written.")
    log.add("SessionEnd", "s1", reason="other")
    text = context(log)
    assert "unfinished work" not in text.lower().replace("nothing was left unfinished", "")
    assert "journal event" not in text
    single = session_context(log.views(), live(), log.session("s1"), max_chars=20_000)
    assert "/agent-journal:resume" not in single and "claude --resume s1" in single


@pytest.mark.parametrize("status", ["crashed", "ended"])
def test_the_interrupted_rule(status: str) -> None:
    log = Log()
    log.start("s1")
    log.prompt("s1", "go")
    rec = log.session("s1")
    assert interrupted(rec, status) == (status == "crashed")


def test_the_last_line_counts_the_sessions_it_does_not_name() -> None:
    log = Log(start=NOW - 20 * 86400)
    for i in range(18):
        sid = f"sess{i:02d}x"
        log.start(sid, pid=DEAD, at=NOW - (20 - i) * 86400)
        log.prompt(sid, f"task {i}")
        log.add("SessionEnd", sid, reason="other")
    text = context(log)
    named = [i for i in range(18) if f"sess{i:02d}x" in text]
    last = text.splitlines()[-1]
    assert f"{18 - len(named)} more earlier sessions" in last, last
    assert "`agent-journal sessions --all`" in last
