"""The projection commands through click's CliRunner: output, --json, ids, errors, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.projections.conftest import AGENT, CRASHED, NORMAL, WITH_AGENT, payloads, record_payloads

COMMANDS = [["sessions"], ["show"], ["timeline"], ["save"], ["resume"], ["archive"], ["rebuild"], ["agents"],
            ["agent", "show"], ["agent", "update"], ["context"]]


def _pid_of(session: str) -> tuple[int, str]:
    # The crashed session "ran" as this very process but started at another tick: a reused pid.
    return os.getpid(), "1"


@pytest.fixture
def jdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from journal import Journal

    # The fixture's sessions ran in 2025: keep its crash "recent" enough for a full block.
    monkeypatch.setenv("AGENT_JOURNAL_OLD_CRASH_AFTER", "1000w")

    root = tmp_path / "journal"
    record_payloads(Journal.open(root, durability="flush"), payloads(), pid_of=_pid_of)
    return root


def run(jdir: Path, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, ["--journal", str(jdir), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def run_json(jdir: Path, *args: str) -> Any:
    return json.loads(run(jdir, *args, "--json").stdout)


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example_and_json(words: list[str]) -> None:
    result = CliRunner().invoke(cli, [*words, "--help"])
    assert result.exit_code == 0
    assert "--json" in result.output
    assert "Example" in result.output


def test_sessions_table_and_json(jdir: Path) -> None:
    out = run(jdir, "sessions").stdout
    assert out.splitlines()[0].split() == ["id", "started", "status", "prompts", "last", "prompt", "files"]
    assert "771073e4" in out and "crashed" in out and "run the long job" in out
    rows = run_json(jdir, "sessions")
    assert [r["status"] for r in rows] == ["ended", "ended", "crashed"]
    assert run_json(jdir, "sessions", "--status", "crashed")[0]["id"] == CRASHED
    assert [r["id"] for r in run_json(jdir, "sessions", "--status", "interrupted")] == [CRASHED]


def test_show_resolves_prefixes(jdir: Path) -> None:
    snap = run_json(jdir, "show", "7710")
    assert snap["id"] == CRASHED
    assert snap["in_flight"]["target"] == "python3 -c 'import time; time.sleep(20)'"
    text = run(jdir, "show", "7710").stdout
    assert "in flight  Bash: python3 -c" in text and "crashed" in text


def test_unknown_and_ambiguous_ids_are_clear_errors(jdir: Path) -> None:
    result = run(jdir, "show", "7", code=1)
    assert "'7' is ambiguous: matches 771073e4" in result.stderr and "77447ded" in result.stderr
    assert "give more characters" in result.stderr
    result = run(jdir, "show", "zzz", code=1)
    assert result.stderr.startswith("Error: no session matches 'zzz'")
    assert "Traceback" not in result.output
    result = run(jdir, "agent", "show", "nope", code=1)
    assert "no agent matches 'nope'" in result.stderr


def test_usage_errors_exit_2(jdir: Path) -> None:
    run(jdir, "sessions", "--status", "bogus", code=2)
    run(jdir, "context", "--max-chars", "10", code=2)
    run(jdir, "save", code=2)  # --objective is required


def test_a_missing_journal_is_an_operational_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--journal", str(tmp_path / "none"), "sessions"])
    assert result.exit_code == 1 and "no journal at" in result.stderr


def test_timeline(jdir: Path) -> None:
    out = run(jdir, "timeline", "29c6").stdout.splitlines()
    assert len(out) == 16
    assert "compaction starting (manual)" in out[11]
    doc = run_json(jdir, "timeline", "29c6", "--tail", "3")
    assert doc["session"] == WITH_AGENT
    assert [e["type"] for e in doc["events"]] == ["SubagentStop", "SessionStart", "SessionEnd"]


def test_agents_hides_internal_ones_unless_all(jdir: Path) -> None:
    assert [a["id"] for a in run_json(jdir, "agents")] == [AGENT]
    assert len(run_json(jdir, "agents", "--all")) == 3
    out = run(jdir, "agents").stdout
    assert "ad1967d7" in out and "general-purpose" in out and "completed" in out
    assert "(internal)" in run(jdir, "agents", "--all").stdout


def test_agent_show_and_update(jdir: Path) -> None:
    snap = run_json(jdir, "agent", "show", "ad19")
    assert snap["description"] == "Write docs" and snap["record"]["tools"] == {"Write": 1}
    both = run_json(jdir, "agent", "show", "ad19", "a2f9")
    assert [s["id"][:4] for s in both] == ["ad19", "a2f9"]
    done = run_json(jdir, "agent", "update", "ad19", "--progress", "80", "--done", "wrote docs", "--next", "review",
                    "--status", "running")
    assert done["agent"] == AGENT
    snap = run_json(jdir, "agent", "show", "ad19")
    assert snap["progress"] == 80 and snap["record"]["done"] == ["wrote docs"] and snap["record"]["next"] == ["review"]
    assert snap["status"] == "orphaned"  # declared running, but its session ended
    assert "/agent-journal:resume-agents" in run(jdir, "agent", "show", "ad19").stdout
    run(jdir, "agent", "update", "ad19", code=1)  # nothing to update
    run(jdir, "agent", "update", "ad19", "--progress", "101", code=2)


def test_save_checkpoint_then_context_shows_it(jdir: Path) -> None:
    doc = run_json(jdir, "save", "--session", "7710", "--objective", "finish the long job", "--done", "started it",
                   "--blocker", "it is slow", "--next", "make it fast", "--file", "job.py", "--progress", "30")
    assert doc["session"] == CRASHED
    text = run(jdir, "context").stdout
    assert "Last checkpoint" in text and "30%" in text and "finish the long job" in text
    assert "Next: make it fast" in text and "Blockers: it is slow" in text
    show = run_json(jdir, "show", "7710")
    assert show["record"]["checkpoint"]["objective"] == "finish the long job"


def test_save_without_a_session_uses_the_env_or_fails_clearly(jdir: Path) -> None:
    result = CliRunner().invoke(cli, ["--journal", str(jdir), "save", "--objective", "x"],
                                env={"CLAUDE_CODE_SESSION_ID": NORMAL})
    assert result.exit_code == 0 and "77447ded" in result.output
    result = CliRunner().invoke(cli, ["--journal", str(jdir), "save", "--objective", "x"],
                                env={"CLAUDE_CODE_SESSION_ID": ""})
    assert result.exit_code == 1 and "no active session" in result.stderr


def test_context_cap_session_and_write(jdir: Path, tmp_path: Path) -> None:
    doc = run_json(jdir, "context", "--max-chars", "400")
    assert doc["chars"] <= 400 and "_Left out" in doc["context"]
    text = run(jdir, "context", "--session", "7744").stdout
    assert '"make the greeting"' in text and "Session (ended)" in text
    out = tmp_path / "memory"
    result = run(jdir, "context", "--write", str(out))
    assert sorted(p.name for p in out.iterdir()) == ["journal-status.md", "last-session.md", "session-history.md"]
    assert "wrote" in result.stderr
    assert "771073e4" in (out / "journal-status.md").read_text()
    assert "Agent Journal" in (out / "last-session.md").read_text()


def test_resume_then_the_next_start_injects_it(jdir: Path) -> None:
    from journal import Journal
    from projections.read.context import session_start_context

    doc = run_json(jdir, "resume", "7744")
    assert doc["session"] == NORMAL
    text, consumed = session_start_context(Journal.open(jdir), "next", "startup")
    assert consumed == [doc["seq"]] and "Resume requested: session 77447ded" in text
    run(jdir, "resume", "nope", code=1)


def test_archive_and_all(jdir: Path) -> None:
    dry = run_json(jdir, "archive", "--older-than", "1s", "--dry-run")
    assert dry["seq"] is None and set(dry["sessions"]) == {NORMAL, WITH_AGENT}
    assert AGENT in dry["agents"]
    done = run_json(jdir, "archive", "--older-than", "1s")
    assert done["seq"]
    assert [r["id"] for r in run_json(jdir, "sessions")] == [CRASHED]
    assert len(run_json(jdir, "sessions", "--all")) == 3
    assert {r["id"] for r in run_json(jdir, "sessions", "--status", "archived")} == {NORMAL, WITH_AGENT}
    assert run_json(jdir, "agents") == []
    assert run_json(jdir, "agent", "show", "ad19")["status"] == "archived"
    assert run_json(jdir, "archive", "--older-than", "1s")["seq"] is None  # nothing left
    run(jdir, "archive", "--older-than", "soon", code=1)


def test_rebuild_reports_agreement(jdir: Path) -> None:
    first = run_json(jdir, "rebuild")
    assert first["events"] == 29 and first["seq"] == 29
    assert all(p["agreed"] is None for p in first["projections"].values())  # no cache existed
    second = run_json(jdir, "rebuild")
    assert all(p["agreed"] is True for p in second["projections"].values())
    cache = jdir / "cache" / "sessions.msgpack"
    data = bytearray(cache.read_bytes())
    data[-2] ^= 0x55
    cache.write_bytes(bytes(data))
    third = run_json(jdir, "rebuild")
    assert third["projections"]["sessions"]["agreed"] is False
    assert "cache agreed" in run(jdir, "rebuild").stdout


def test_at_seq_and_at_time(jdir: Path) -> None:
    assert [r["id"] for r in run_json(jdir, "sessions", "--at", "10")] == [NORMAL]
    early = run_json(jdir, "show", "7744", "--at", "3")
    # The Write was in flight at seq 3; the session's process is gone now and it ended later:
    # history as of then, liveness judged now (tests/cli/test_truth.py).
    assert early["status"] == "ended" and early["record"]["in_flight"]
    # the fixture's events are 10 s apart from 2025-11-25T12:00:00Z
    assert [r["id"] for r in run_json(jdir, "sessions", "--at", "2025-11-25T12:01:45Z")] == [NORMAL, WITH_AGENT]
    assert run_json(jdir, "sessions", "--at", "2020-01-01") == []
    run(jdir, "sessions", "--at", "yesterday-ish", code=1)


def test_commands_are_registered() -> None:
    assert isinstance(cli, click.Group)
    for name in ("sessions", "show", "timeline", "save", "resume", "archive", "rebuild", "agents", "agent", "context"):
        assert name in cli.commands


def test_dismiss_marks_undoes_and_refuses_what_is_not_unfinished(jdir: Path) -> None:
    out = run(jdir, "dismiss", "7710", "--reason", "redone").stdout
    assert out.startswith("Dismissed session 771073e4") and "agent-journal dismiss --undo 771073e4" in out
    assert "crashed (dismissed)" in run(jdir, "sessions").stdout
    assert "## Crashed session" not in run(jdir, "context").stdout
    result = run(jdir, "dismiss", "7744", code=1)
    assert "session 77447ded is ended and was not interrupted; there is nothing to dismiss" in result.output
    assert "no session or agent matches 'zz'" in run(jdir, "dismiss", "zz", code=1).output
    doc = run_json(jdir, "dismiss", "--undo", "7710")
    assert doc["undo"] is True and doc["sessions"] == [CRASHED]
    assert "## Crashed session 771073e4" in run(jdir, "context").stdout
    assert "nothing to undo" in run(jdir, "dismiss", "--undo", "7710", code=1).output
    audit = [json.loads(line) for line in run(jdir, "log", "--type", "journal.dismissed", "--json").stdout.splitlines()]
    assert [(e["data"]["sessions"], e["data"].get("undo", False)) for e in audit] == [([CRASHED], False),
                                                                                       ([CRASHED], True)]
    assert audit[0]["data"]["reason"] == "redone"


def test_a_running_session_is_shown_as_running_and_context_leaves_out_its_own_session(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from journal import Journal, NewEvent
    from projections.read.liveness import proc_probe

    root = tmp_path / "j"
    me = {"process": {"pid": os.getpid(), "start": proc_probe(os.getpid()) or ""}, "project_dir": "/p"}
    Journal.open(root, durability="flush").append_many([
        NewEvent("SessionStart", {"source": "startup", "cwd": "/p", "_journal": me}, "run-1"),
        NewEvent("UserPromptSubmit", {"prompt": "refactor checkout"}, "run-1"),
    ])
    assert f"running now (Claude Code pid {os.getpid()})" in run(root, "show", "run-1").stdout
    assert "running now" in run(root, "sessions").stdout
    assert "## Running now in another window: session run-1" in run(root, "context").stdout
    monkeypatch.setenv("CLAUDE_CODE_SESSION_ID", "run-1")
    assert "Running now in another window" not in run(root, "context").stdout


# --------------------------------------------------------------------------- pages of long listings


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """45 ended sessions, each started an agent; s0044 is the most recently active."""
    from journal import Journal, NewEvent
    from projections.timeref import ts_text

    journal = Journal.open(tmp_path / "many", durability="flush")
    t0 = 1_764_072_000
    events = []
    for i in range(45):
        sid, ts = f"s{i:04d}", ts_text(t0 + 60 * i)
        events += [NewEvent("SessionStart", {"source": "startup", "cwd": "/p"}, sid, ts=ts),
                   NewEvent("PreToolUse", {"tool_name": "Agent", "tool_use_id": f"t{i}",
                                           "tool_input": {"description": f"job {i}", "subagent_type": "x"}}, sid, ts=ts),
                   NewEvent("SubagentStart", {"agent_id": f"a{i:04d}", "agent_type": "x"}, sid, f"a{i:04d}", ts=ts),
                   NewEvent("SubagentStop", {"agent_id": f"a{i:04d}", "agent_type": "x"}, sid, f"a{i:04d}", ts=ts),
                   NewEvent("SessionEnd", {"reason": "other"}, sid, ts=ts)]
    journal.append_many(events)
    return tmp_path / "many"


@pytest.mark.parametrize("noun", ["sessions", "agents"])
def test_a_long_listing_shows_the_recent_page_and_paging_reaches_the_rest(many: Path, noun: str) -> None:
    prefix = "s" if noun == "sessions" else "a"
    ids = [f"{prefix}{i:04d}" for i in range(45)]
    assert [r["id"] for r in run_json(many, noun)] == ids[25:]  # the 20 most recent, oldest start first
    out = run(many, noun).stdout
    assert f"Showing the 20 most recently active {noun}; older ones: --offset 20" in out
    assert [r["id"] for r in run_json(many, noun, "--offset", "20")] == ids[5:25]
    assert [r["id"] for r in run_json(many, noun, "--offset", "40")] == ids[:5]
    assert "Showing" not in run(many, noun, "--offset", "40").stdout  # the last page
    assert [r["id"] for r in run_json(many, noun, "-n", "3", "--offset", "1")] == ids[41:44]
    assert [r["id"] for r in run_json(many, noun, "--all")] == ids
    assert run(many, noun, "--offset", "45").stdout == f"No {noun} after the first 45.\n"


def test_the_default_listing_decodes_a_page_not_the_journal(many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from projections.base import LazyRecordMap

    run(many, "sessions")  # writes the caches
    decoded: list[str] = []
    real = LazyRecordMap._decode

    def counting(self: LazyRecordMap, key: str, index: int) -> object:
        decoded.append(key)
        return real(self, key, index)

    monkeypatch.setattr(LazyRecordMap, "_decode", counting)
    run(many, "sessions")
    assert 20 <= len(decoded) <= 21, decoded  # the page (and the one that says there is more)
    decoded.clear()
    assert [a["id"] for a in run_json(many, "show", "s0044")["agent_list"]] == ["a0044"]
    assert len([k for k in decoded if k.startswith("a")]) <= 2, decoded  # not every agent of the journal
    assert [a["id"] for a in run_json(many, "show", "s0003")["agent_list"]] == ["a0003"]
