"""``context.write_dir``: the hooks keep the ``@import`` files of `projections.read.memory_files` fresh.

The journal lives where Claude Code puts it, ``<project>/.claude/journal``, so its
config.json is what a cloned repository could ship. The hooks run as subprocesses with a
rendering interpreter (``AGENT_JOURNAL_PYTHON``): SessionStart refreshes the files from
its own render, SessionEnd in its detached job (no index update here, so the job does
nothing else).
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from journal import Journal
from projections.read.context import liveness_for
from projections.read.memory_files import FILE_NAMES, refresh_context_files
from projections.runner import load_views
from tests.hooks.support import HookEnv, assert_only_journal_changed, tree_snapshot

S1 = "1e3e3e3e-0000-4000-8000-000000000001"
S2 = "2e3e3e3e-0000-4000-8000-000000000002"
PROMPT = "make the flaky parser test deterministic"


def _project(hook_env: HookEnv, config: dict[str, Any] | None) -> Path:
    project = hook_env.tmp / "project"
    journal = project / ".claude" / "journal"
    journal.mkdir(parents=True, mode=0o700)
    if config is not None:
        (journal / "config.json").write_text(json.dumps(config))
    return project


def _run(hook_env: HookEnv, project: Path, session: str, event: str, **fields: Any) -> Any:
    payload = {"session_id": session, "transcript_path": "/nonexistent", "cwd": str(project),
               "hook_event_name": event, **fields}
    env = {"AGENT_JOURNAL_DIR": None, "CLAUDE_PROJECT_DIR": str(project), "AGENT_JOURNAL_PYTHON": sys.executable,
           "AGENT_JOURNAL_NO_INDEX_JOB": "1"}
    result = hook_env.run(payload, env)
    assert result.returncode == 0
    return result


def _session(hook_env: HookEnv, project: Path, session: str = S1) -> None:
    _run(hook_env, project, session, "SessionStart", source="startup")
    _run(hook_env, project, session, "UserPromptSubmit", prompt=PROMPT)
    _run(hook_env, project, session, "SessionEnd", reason="prompt_input_exit")


def _wait_for(predicate: Any, what: str, timeout: float = 60.0) -> None:
    """Poll for what SessionEnd's detached job does (it outlives the hook)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def test_the_files_follow_the_sessions(hook_env: HookEnv) -> None:
    project = _project(hook_env, {"context": {"write_dir": ".claude/memory"}})
    memory = project / ".claude" / "memory"
    _run(hook_env, project, S1, "SessionStart", source="startup")
    # SessionStart wrote them from its own render: nothing had finished yet.
    assert sorted(os.listdir(memory)) == sorted(FILE_NAMES)
    assert "No finished session recorded yet." in _read(memory / "last-session.md")
    assert S1[:8] in _read(memory / "session-history.md")
    for name in FILE_NAMES:
        assert stat.S_IMODE((memory / name).stat().st_mode) == 0o600
    _run(hook_env, project, S1, "UserPromptSubmit", prompt=PROMPT)
    _run(hook_env, project, S1, "SessionEnd", reason="prompt_input_exit")
    # SessionEnd's detached job: the session that just ended is the last session.
    _wait_for(lambda: PROMPT in _read(memory / "last-session.md"), "last-session.md to show the ended session")
    assert "ended" in _read(memory / "last-session.md")
    _wait_for(lambda: "1 ended" in _read(memory / "journal-status.md"), "journal-status.md to count it")
    # The next session's start lists it in the history; the last session stays the ended one.
    _run(hook_env, project, S2, "SessionStart", source="startup")
    history = _read(memory / "session-history.md")
    assert S2[:8] in history and S1[:8] in history and PROMPT in history
    assert PROMPT in _read(memory / "last-session.md")
    assert not hook_env.errors_log(project / ".claude" / "journal")
    assert not [p for p in os.listdir(memory) if p.endswith(".tmp")]


def test_a_file_is_rewritten_only_when_its_text_changed(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal")
    journal.append("SessionStart", {"source": "startup", "cwd": str(tmp_path)}, session=S1)
    journal.append("SessionEnd", {"reason": "other"}, session=S1)
    views, live = load_views(journal), liveness_for(journal)
    written = refresh_context_files(tmp_path, "notes", views, live)
    assert sorted(p.name for p in written) == sorted(FILE_NAMES)
    inodes = {name: (tmp_path / "notes" / name).stat().st_ino for name in FILE_NAMES}
    assert refresh_context_files(tmp_path, "notes", views, live) == []
    assert inodes == {name: (tmp_path / "notes" / name).stat().st_ino for name in FILE_NAMES}


def test_off_by_default_nothing_is_written_outside_the_journal(hook_env: HookEnv) -> None:
    project = _project(hook_env, None)
    before = tree_snapshot(hook_env.tmp)
    _session(hook_env, project)
    _run(hook_env, project, S2, "SessionStart", source="startup")
    assert_only_journal_changed(before, tree_snapshot(hook_env.tmp), "project/.claude/journal")
    assert not hook_env.errors_log(project / ".claude" / "journal")


@pytest.mark.parametrize("write_dir,message", [
    ("{outside}", "must be relative to the project directory"),
    ("../outside", 'must not leave the project directory ("..")'),
    ("notes/../../outside", 'must not leave the project directory ("..")'),
])
def test_a_path_leaving_the_project_is_a_config_error(hook_env: HookEnv, write_dir: str, message: str) -> None:
    outside = hook_env.tmp / "outside"
    project = _project(hook_env, {"context": {"write_dir": write_dir.format(outside=outside)}})
    root = project / ".claude" / "journal"
    before = tree_snapshot(hook_env.tmp)
    result = _run(hook_env, project, S1, "SessionStart", source="startup")
    [line] = result.stderr_lines  # reported once, naming the key
    assert '"context.write_dir"' in line and message in line, line
    assert [e["kind"] for e in hook_env.errors_log(root)] == ["hook_error"]
    assert not outside.exists()
    assert_only_journal_changed(before, tree_snapshot(hook_env.tmp), "project/.claude/journal")
    assert [e.type for e in hook_env.events(root)] == ["SessionStart"]  # the event is recorded all the same


@pytest.mark.parametrize("plant", ["directory", "parent", "file"])
def test_a_symbolic_link_on_the_way_is_refused(hook_env: HookEnv, plant: str) -> None:
    outside = hook_env.tmp / "outside"
    outside.mkdir()
    (outside / "last-session.md").write_text("mine\n")
    project = _project(hook_env, {"context": {"write_dir": ".claude/memory"}})
    memory = project / ".claude" / "memory"
    if plant == "directory":  # .claude/memory -> outside
        memory.symlink_to(outside)
    elif plant == "parent":  # write_dir "docs/memory", docs -> outside
        (project / ".claude" / "journal" / "config.json").write_text(
            json.dumps({"context": {"write_dir": "docs/memory"}}))
        (project / "docs").symlink_to(outside)
    else:  # .claude/memory/last-session.md -> outside/last-session.md
        memory.mkdir()
        (memory / "last-session.md").symlink_to(outside / "last-session.md")
    root = project / ".claude" / "journal"
    before = tree_snapshot(outside)
    result = _run(hook_env, project, S1, "SessionStart", source="startup")
    assert result.stderr == b""  # the context and the event are not the files' business
    [entry] = hook_env.errors_log(root)  # reported once
    assert entry["kind"] == "memory_files_failed"
    assert '"context.write_dir"' in entry["message"] and "symbolic link" in entry["message"]
    _run(hook_env, project, S1, "SessionEnd", reason="other")
    _wait_for(lambda: len(hook_env.errors_log(root)) == 2, "the SessionEnd job to report")
    assert [e["kind"] for e in hook_env.errors_log(root)] == ["memory_files_failed"] * 2
    assert tree_snapshot(outside) == before
    assert (outside / "last-session.md").read_text() == "mine\n"
    assert [e.type for e in hook_env.events(root)] == ["SessionStart", "SessionEnd"]
