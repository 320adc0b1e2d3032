"""The projections over real Claude Code 2.1.328 hook payloads, recorded the way the hook records them."""

from __future__ import annotations

from typing import Any

from projections.read.capture import precompact_capture
from projections.read.context import recovery_context, session_context, session_start_context
from projections.read.liveness import Liveness
from projections.read.queries import (
    agent_snapshot,
    find_agent,
    find_session,
    list_agents,
    list_sessions,
    session_snapshot,
)
from projections.runner import load_views
from projections.read.timeline import timeline
from tests.projections.conftest import (
    AGENT,
    BASE,
    CRASHED,
    INTERNAL,
    NORMAL,
    PIDS,
    WITH_AGENT,
    alive_probe,
    dead_probe,
)

NOW = BASE + 3600


def live(probe: Any = dead_probe) -> Liveness:
    return Liveness(now=NOW, probe=probe)


def test_statuses_crashed_ended_and_active(fixture_journal: Any) -> None:
    views = load_views(fixture_journal)
    rows = {r["id"]: r for r in list_sessions(views, live())}
    assert rows[CRASHED]["status"] == "crashed"
    assert rows[CRASHED]["interrupted"] is True
    assert rows[NORMAL]["status"] == "ended" and rows[NORMAL]["interrupted"] is False
    assert rows[WITH_AGENT]["status"] == "ended"
    # the same process still running: active
    assert {r["id"]: r["status"] for r in list_sessions(views, live(alive_probe))}[CRASHED] == "active"


def test_a_reused_pid_is_not_the_session_process(fixture_journal: Any) -> None:
    views = load_views(fixture_journal)
    pid, start = PIDS[CRASHED]
    reused = Liveness(now=NOW, probe=lambda p: "999999" if p == pid else None)
    assert find_session(views, CRASHED[:6]) is not None
    assert reused.status(views.sessions.records.record(CRASHED)) == "crashed"
    unknown_start = Liveness(now=NOW, probe=lambda p: "" if p == pid else None)
    assert unknown_start.status(views.sessions.records.record(CRASHED)) == "active"


def test_crashed_session_snapshot_has_its_bash_call_in_flight_and_last_prompt(fixture_journal: Any) -> None:
    views = load_views(fixture_journal)
    snap = session_snapshot(views, find_session(views, "7710"), live())
    assert snap["in_flight"]["tool"] == "Bash"
    assert snap["in_flight"]["target"] == "python3 -c 'import time; time.sleep(20)'"
    assert snap["last_prompt"] == "run the long job"
    assert snap["record"]["pid"] == PIDS[CRASHED][0]


def test_normal_session_counts_tools_failures_and_files(fixture_journal: Any) -> None:
    views = load_views(fixture_journal)
    rec = views.sessions.records.record(NORMAL)
    assert rec.tools == {"Write": 1, "Bash": 2}
    assert rec.failed == 1 and rec.failures[-1].error == "Exit code 1" and rec.failures[-1].target == "false"
    assert list(rec.files) == ["/home/dev/src/shop/greet.py"]
    assert rec.in_flight == {}
    assert rec.last_message == "Decided to keep greet.py minimal. Done."
    assert rec.end_reason == "other" and rec.prompts == 1


def test_resumed_session_keeps_one_record_and_counts_its_compaction(fixture_journal: Any) -> None:
    views = load_views(fixture_journal)
    rec = views.sessions.records.record(WITH_AGENT)
    assert rec.starts == 3  # startup, resume, compact
    assert rec.compactions == 1
    assert rec.last_source == "resume" and rec.resumed_after == "other"
    assert rec.precompact_seq > 0
    assert rec.ended  # the last SessionEnd closes the resumed segment
    assert len([r for r in list_sessions(views, live()) if r["id"] == WITH_AGENT]) == 1


def test_subagent_in_registry_with_its_spawn_tools_and_files(fixture_journal: Any) -> None:
    views = load_views(fixture_journal)
    snap = agent_snapshot(views, find_agent(views, "ad19"), live())
    assert snap["id"] == AGENT
    assert snap["type"] == "general-purpose"
    assert snap["status"] == "completed"
    assert snap["parent"] == WITH_AGENT
    assert snap["description"] == "Write docs"
    assert snap["record"]["prompt"] == "SUBTASK-DOCS write docs.md"
    assert snap["record"]["tools"] == {"Write": 1}
    assert list(snap["record"]["files"]) == ["/home/dev/src/shop/docs.md"]
    assert snap["record"]["transcript"].endswith("agent-ad1967d713ff61a6d.jsonl")
    assert snap["resume"] == ""


def test_internal_agents_are_recorded_but_hidden_unless_asked(fixture_journal: Any) -> None:
    views = load_views(fixture_journal)
    shown = [a["id"] for a in list_agents(views, live())]
    assert shown == [AGENT]
    everything = {a["id"]: a for a in list_agents(views, live(), include_all=True)}
    assert set(everything) == {AGENT, *INTERNAL}
    for aid in INTERNAL:
        assert everything[aid]["internal"] and everything[aid]["type"] == ""


def test_timeline_has_a_line_for_each_event(fixture_journal: Any) -> None:
    views = load_views(fixture_journal)
    lines = timeline(fixture_journal, views.sessions.records.record(WITH_AGENT))
    assert len(lines) == 16
    summaries = [e["summary"] for e in lines]
    assert summaries[0].startswith("session started")
    assert 'prompt: "delegate the docs"' in summaries
    assert "Agent: [general-purpose] Write docs" in summaries
    assert "agent ad1967d7 started (general-purpose)" in summaries
    assert "Write done: /home/dev/src/shop/docs.md (7 ms)" in summaries
    assert any(s.startswith("agent a2f91b95 (internal) stopped") for s in summaries)
    assert "compaction starting (manual)" in summaries
    assert summaries[-1] == "session ended (other)"
    assert lines[0]["offset"] == 0 and lines[1]["offset"] == 10
    crashed = timeline(fixture_journal, views.sessions.records.record(CRASHED))
    assert [e["type"] for e in crashed] == ["SessionStart", "UserPromptSubmit", "PreToolUse"]
    assert crashed[-1]["summary"] == "Bash: python3 -c 'import time; time.sleep(20)'"
    normal = timeline(fixture_journal, views.sessions.records.record(NORMAL))
    assert "Bash FAILED: false: Exit code 1" in [e["summary"] for e in normal]


def test_recovery_context_names_the_crash_first(fixture_journal: Any) -> None:
    views = load_views(fixture_journal)
    text, consumed = recovery_context(views, live(), max_chars=9000)
    assert consumed == []
    crash = text.index("## Crashed session 771073e4")
    assert crash < text.index("## Recent sessions")
    assert "python3 -c 'import time; time.sleep(20)'" in text
    assert '"run the long job"' in text
    assert f"claude --resume {CRASHED}" in text and "/agent-journal:resume 771073e4" in text
    assert len(text) <= 9000
    assert text == recovery_context(load_views(fixture_journal), live(), max_chars=9000)[0]


def test_session_start_hook_api(fixture_journal: Any) -> None:
    text, consumed = session_start_context(fixture_journal, "new-session", "startup", now=NOW, probe=dead_probe)
    assert "Crashed session 771073e4" in text and consumed == []
    # nothing unfinished: only the previous session here (what it did, its files), no alarm
    quiet, _ = session_start_context(fixture_journal, "new-session", "startup", now=NOW, probe=alive_probe)
    assert "Crashed session" not in quiet and "## Previous session here" in quiet
    assert quiet.count("## Previous session here") == 1
    # compact: this session's own state from before the compaction
    compact, used = session_start_context(fixture_journal, WITH_AGENT, "compact", now=NOW, probe=dead_probe)
    assert used == [] and '"delegate the docs"' in compact and "docs.md" in compact
    assert "Crashed session" not in compact


def test_resume_request_is_injected_once(fixture_journal: Any) -> None:
    seq = fixture_journal.append("journal.resume_requested", {"session": NORMAL})
    text, consumed = session_start_context(fixture_journal, "s-next", "startup", now=NOW, probe=alive_probe)
    assert consumed == [seq]
    assert "Resume requested: session 77447ded" in text and '"make the greeting"' in text
    fixture_journal.append("journal.resume_consumed", {"request_seq": seq}, session="s-next")
    again, consumed = session_start_context(fixture_journal, "s-next2", "startup", now=NOW, probe=alive_probe)
    assert consumed == [] and "Resume requested" not in again


def test_precompact_capture_is_what_compact_context_reinjects(fixture_journal: Any) -> None:
    capture = precompact_capture(fixture_journal, WITH_AGENT)
    assert capture["last_prompts"] == ["delegate the docs"]
    assert capture["files"] == ["/home/dev/src/shop/docs.md"]
    assert capture["tool_in_flight"] is None
    crashed = precompact_capture(fixture_journal, CRASHED)
    assert crashed["tool_in_flight"]["tool"] == "Bash"
    assert precompact_capture(fixture_journal, "unknown") == {}
    # stored the way the hook stores it, it is what the compact SessionStart shows
    fixture_journal.append("PreCompact", {"trigger": "auto", "_journal": {"capture": {**crashed, "working_on": "the long job"}}},
                           session=CRASHED)
    fixture_journal.append("SessionStart", {"source": "compact"}, session=CRASHED)
    text, _ = session_start_context(fixture_journal, CRASHED, "compact", now=NOW, probe=dead_probe)
    assert "Working on: the long job" in text and "Tool call in flight: Bash" in text


def test_session_context_for_one_session(fixture_journal: Any) -> None:
    views = load_views(fixture_journal)
    text = session_context(views, live(), find_session(views, "29c6"), max_chars=9000)
    assert "docs.md" in text and '"delegate the docs"' in text
    assert "ad1967d7" not in text or "completed" in text


def test_orphaned_agent_when_its_session_crashes(fixture_journal: Any) -> None:
    from journal import NewEvent

    sid = "c0ffee00-0000-4000-8000-000000000001"
    fixture_journal.append_many([
        NewEvent("SessionStart", {"source": "startup", "cwd": "/home/dev/src/shop",
                                  "_journal": {"process": {"pid": 4242, "start": "1"}, "project_dir": "/home/dev/src/shop"}},
                 sid),
        NewEvent("PreToolUse", {"tool_name": "Agent", "tool_use_id": "t1",
                                "tool_input": {"description": "Port the cart", "prompt": "port it", "subagent_type": "Plan"}},
                 sid),
        NewEvent("SubagentStart", {"agent_id": "aorphan000000001", "agent_type": "Plan"}, sid, "aorphan000000001"),
        NewEvent("journal.agent_update", {"progress": 40, "next": ["write tests"]}, sid, "aorphan000000001"),
    ])
    views = load_views(fixture_journal)
    alive = Liveness(now=NOW, probe=lambda p: "1" if p == 4242 else None)
    assert agent_snapshot(views, find_agent(views, "aorph"), alive)["status"] == "running"
    snap = agent_snapshot(views, find_agent(views, "aorph"), live())
    assert snap["status"] == "orphaned"
    assert snap["description"] == "Port the cart" and snap["progress"] == 40
    assert snap["resume"] == "/agent-journal:resume-agents aorphan000000001"
    text, _ = session_start_context(fixture_journal, "next", "startup", now=NOW, probe=dead_probe)
    assert "## Unfinished agents" in text and "/agent-journal:resume-agents aorphan0" in text
    assert "progress 40%" in text and "next: write tests" in text
