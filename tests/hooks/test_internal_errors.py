"""Internal errors and a busy journal: exit 0, one ``agent-journal hook:`` line, nothing lost.

Claude Code shows a hook error for any non-zero exit and feeds exit 2 back as a block, so
the launcher must exit 0 whatever breaks; what broke goes to stderr (one line, no
traceback: Claude Code shows only the first line) and, when the journal is reachable, to
its ``errors.log``. A lock held by another writer must not make the hook wait past its
budget: the event is spooled and merged, in order, by the next append.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.hooks.support import LAUNCHER, HookEnv, HookResult, changed_paths, fixture_payloads, tree_snapshot

PROMPT = next(p for p in fixture_payloads() if p["hook_event_name"] == "UserPromptSubmit")


def assert_one_error_line(result: HookResult) -> str:
    assert result.returncode == 0
    assert result.stdout == b""
    text = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    lines = result.stderr_lines
    assert len(lines) == 1 and text.endswith("\n"), text
    assert lines[0].startswith("agent-journal hook: "), lines[0]
    return lines[0]


def test_journal_dir_under_a_regular_file(hook_env: HookEnv) -> None:
    blocker = hook_env.tmp / "blocker"
    blocker.write_text("not a directory\n")
    before = tree_snapshot(hook_env.tmp)
    result = hook_env.run(PROMPT, {"AGENT_JOURNAL_DIR": str(blocker / "journal")})
    line = assert_one_error_line(result)
    assert str(blocker / "journal") in line
    assert not changed_paths(before, tree_snapshot(hook_env.tmp))


def test_journal_dir_is_a_regular_file(hook_env: HookEnv) -> None:
    target = hook_env.tmp / "journal-file"
    target.write_text("precious\n")
    result = hook_env.run(PROMPT, {"AGENT_JOURNAL_DIR": str(target)})
    assert_one_error_line(result)
    assert target.read_text() == "precious\n"


def test_journal_dir_that_is_a_file_keeps_its_mode(hook_env: HookEnv) -> None:
    target = hook_env.tmp / "journal-file"
    target.write_text("precious\n")
    os.chmod(target, 0o644)
    hook_env.run(PROMPT, {"AGENT_JOURNAL_DIR": str(target)})
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_journal_dir_owned_by_someone_else(hook_env: HookEnv) -> None:
    hook_env.journal_dir.mkdir(mode=0o700)
    os.chown(hook_env.journal_dir, 65534, 65534)
    before = tree_snapshot(hook_env.tmp)
    line = assert_one_error_line(hook_env.run(PROMPT))
    assert "owned by uid 65534" in line
    assert not changed_paths(before, tree_snapshot(hook_env.tmp))


def test_invalid_config_is_reported_on_stderr_and_in_errors_log(hook_env: HookEnv) -> None:
    assert hook_env.run(PROMPT).returncode == 0  # the journal exists and holds one event
    (hook_env.journal_dir / "config.json").write_text("{not json")
    line = assert_one_error_line(hook_env.run(PROMPT))
    assert "ConfigError" in line and "config.json" in line
    [entry] = hook_env.errors_log()
    assert entry["kind"] == "hook_error" and entry["message"] == line
    assert entry["event"] == "UserPromptSubmit"
    (hook_env.journal_dir / "config.json").unlink()  # reading needs a valid config too
    # The event was still recorded, its payload withheld (the redaction rules were unreadable).
    first, second = hook_env.events()
    assert second.type == "UserPromptSubmit" and "withheld" in second.payload()["_journal"]


def test_invalid_redaction_config_fails_closed(hook_env: HookEnv) -> None:
    """A broken redaction section must never let an unredacted payload into the journal."""
    assert hook_env.run(PROMPT).returncode == 0
    (hook_env.journal_dir / "config.json").write_text(json.dumps({"redaction": {"max_string": "lots"}}))
    secret = {**PROMPT, "prompt": "use ghp_" + "a1B2c3D4e5" * 4}
    line = assert_one_error_line(hook_env.run(secret))
    assert "max_string" in line
    first, second = hook_env.events()
    assert first.payload()["prompt"] == PROMPT["prompt"]
    # The event is recorded, but its payload is withheld: only content-free fields remain.
    assert second.type == "UserPromptSubmit" and "prompt" not in second.payload()
    assert "withheld" in second.payload()["_journal"]
    assert "ghp_" not in json.dumps([e.payload() for e in hook_env.events()])
    assert [e["kind"] for e in hook_env.errors_log()] == ["hook_error"]


def test_unwritable_segments_are_reported_not_raised(hook_env: HookEnv) -> None:
    assert hook_env.run(PROMPT).returncode == 0
    segments = hook_env.journal_dir / "segments"
    for child in segments.iterdir():
        child.unlink()
    segments.rmdir()
    segments.write_text("a file where the segments directory should be")
    line = assert_one_error_line(hook_env.run(PROMPT))
    assert line.startswith("agent-journal hook: ")
    assert [e["kind"] for e in hook_env.errors_log()][-1] == "hook_error"


def test_errors_are_one_line_even_when_the_message_has_newlines(hook_env: HookEnv) -> None:
    hook_env.journal_dir.mkdir(mode=0o700)
    (hook_env.journal_dir / "config.json").write_text('{"durability": "sometimes\\nmaybe\\r\\nnever"}')
    line = assert_one_error_line(hook_env.run(PROMPT))
    assert len(line) <= 500


# -- a busy lock ---------------------------------------------------------------------------

_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


def _hold_lock(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-I", "-c", _HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


def test_a_held_lock_spools_the_event_and_the_next_hook_merges_it_in_order(hook_env: HookEnv) -> None:
    payloads = [p for p in fixture_payloads() if p["session_id"].startswith("771073e4")]
    # `after` has no SessionStart: an installed launcher would print its context on stdout.
    after = [p for p in fixture_payloads() if p["hook_event_name"] != "SessionStart"][:2]
    first, spooled = payloads[0], payloads[1:3]
    assert first["hook_event_name"] == "SessionStart" and len(spooled) == 2 and after
    assert hook_env.run(first).returncode == 0
    holder = _hold_lock(hook_env.journal_dir / "journal.lock")
    try:
        for payload in spooled:
            result = hook_env.run(payload)
            assert tuple(result) == (0, b"", b"")  # how long it waited: the next test
        spool = sorted((hook_env.journal_dir / "spool").glob("*.jsonl"))
        assert len(spool) == 2
        assert [e.type for e in hook_env.journal().read()] == ["SessionStart"]
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()
    for payload in after:
        assert tuple(hook_env.run(payload)) == (0, b"", b"")
    events = hook_env.events()
    assert [e.type for e in events] == [p["hook_event_name"] for p in [first, *spooled, *after]]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.src for e in events[1:3]] == [p.name for p in spool]
    assert events[1].payload() == spooled[0] and events[2].payload() == spooled[1]
    assert not list((hook_env.journal_dir / "spool").glob("*.jsonl"))


#: Claude Code's budget for the SessionEnd hooks, which plugin timeouts cannot raise.
SESSION_END_BUDGET = 1.5


def test_a_held_lock_costs_a_hook_its_lock_timeout_and_no_more(hook_env: HookEnv, lock_clock: Any) -> None:
    """The wait is counted on a fake clock, not timed: the hook gives the lock holder
    `HOOK_LOCK_TIMEOUT` (plus at most one 10 ms poll), which fits SessionEnd's budget."""
    from hooks import record

    assert hook_env.run(fixture_payloads()[0]).returncode == 0  # the journal exists
    holder = _hold_lock(hook_env.journal_dir / "journal.lock")
    try:
        seqs = record.append_event(hook_env.journal_dir, record.NewEvent("Stop", {"n": 1}, session="s-1"))
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()
    assert seqs == []  # spooled
    assert len(list((hook_env.journal_dir / "spool").glob("*.jsonl"))) == 1
    assert record.HOOK_LOCK_TIMEOUT <= lock_clock.now < record.HOOK_LOCK_TIMEOUT + 0.01 < SESSION_END_BUDGET
    assert record.append_event(hook_env.journal_dir, record.NewEvent("SessionEnd", {}, session="s-1"))
    assert [e.type for e in hook_env.events()][-2:] == ["Stop", "SessionEnd"]  # merged first, in order


def test_parallel_tool_hooks_all_land_exactly_once(hook_env: HookEnv) -> None:
    """PostToolUse fires concurrently for parallel tool calls: many launchers, one journal."""
    template = next(p for p in fixture_payloads() if p["hook_event_name"] == "PostToolUse")
    payloads = [{**template, "tool_use_id": f"toolu_parallel_{i}"} for i in range(24)]
    assert hook_env.run(fixture_payloads()[0]).returncode == 0  # the journal exists
    env = hook_env.env()
    procs = [
        subprocess.Popen([sys.executable, "-I", "-S", str(LAUNCHER)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=hook_env.cwd)
        for _ in payloads
    ]
    for proc, payload in zip(procs, payloads, strict=True):
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(payload).encode())
        proc.stdin.close()
    for proc in procs:
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()  # a few bytes at most: no pipe can fill
        proc.stdout.close()
        proc.stderr.close()
        assert (proc.wait(timeout=30), out, err) == (0, b"", b"")
    # Anything spooled under contention is merged by the next append.
    assert tuple(hook_env.run(fixture_payloads()[-1])) == (0, b"", b"")
    events = hook_env.events()
    ids = [e.payload().get("tool_use_id") for e in events if e.type == "PostToolUse"]
    assert sorted(ids) == sorted(p["tool_use_id"] for p in payloads)
    assert len(events) == len(payloads) + 2
    assert not list((hook_env.journal_dir / "spool").glob("*.jsonl"))


def test_a_misspelt_redaction_section_never_drops_the_users_patterns(hook_env: HookEnv) -> None:
    """On the old main, "redactoin" was passed through as an unknown section: the user's own
    pattern silently stopped applying and the secret reached the disk."""
    assert hook_env.run(PROMPT).returncode == 0
    secret = "acme_" + "73519046"
    (hook_env.journal_dir / "config.json").write_text(json.dumps(
        {"redactoin": {"patterns": [{"name": "acme_token", "regex": "acme_[0-9]{8}"}]}}))
    line = assert_one_error_line(hook_env.run({**PROMPT, "prompt": f"deploy with {secret}"}))
    assert '"redactoin": did you mean "redaction"?' in line
    last = hook_env.events()[-1]
    assert last.type == "UserPromptSubmit" and "withheld" in last.payload()["_journal"]
    for path in hook_env.journal_dir.rglob("*"):
        if path.is_file() and path.name != "config.json":
            assert secret.encode() not in path.read_bytes(), path
