"""Every real Claude Code 2.1.328 hook payload, through the real launcher, into the journal.

Each payload must come back as one event whose type, session and agent are the payload's
and whose data is the payload itself, every field included, plus only Agent Journal's
``_journal`` annotations (docs/EVENTS.md).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.hooks.support import (
    TRANSCRIPTS,
    HookEnv,
    assert_only_journal_changed,
    canonical,
    fixture_payloads,
    proc_start,
    tree_snapshot,
)

#: The annotations each event may carry (docs/EVENTS.md), beyond `redacted`/`truncated`.
ANNOTATIONS = {
    "SessionStart": {"process", "project_dir", "git_branch"},
    "Stop": {"digest"},
    "PreCompact": {"capture"},
}
#: Events that add plain stdout to Claude's context: their stdout is checked most strictly.
CONTEXT_EVENTS = {"SessionStart", "UserPromptSubmit", "UserPromptExpansion"}


def assert_stdout_allowed(event_name: str | None, stdout: bytes) -> None:
    """Empty, or on SessionStart exactly one ``hookSpecificOutput`` object under 10,000 chars."""
    if not stdout:
        return
    assert event_name == "SessionStart", f"{event_name} wrote to stdout: {stdout[:300]!r}"
    text = stdout.decode("utf-8")
    doc = json.loads(text)  # exactly one JSON document, nothing around it
    assert list(doc) == ["hookSpecificOutput"], doc
    out = doc["hookSpecificOutput"]
    assert set(out) == {"hookEventName", "additionalContext"}, out
    assert out["hookEventName"] == "SessionStart"
    assert isinstance(out["additionalContext"], str) and out["additionalContext"].strip()
    assert len(out["additionalContext"]) < 10_000


def assert_recorded_as(event: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """*event* is *payload* verbatim plus annotations; return the annotations."""
    name = payload["hook_event_name"]
    assert event.type == name
    assert event.session == payload["session_id"]
    assert event.agent == payload.get("agent_id")
    data = event.payload()
    notes = data.pop("_journal", {})
    assert canonical(data) == canonical(payload), f"{name} (seq {event.seq}) was not kept verbatim"
    allowed = ANNOTATIONS.get(name, set()) | {"redacted", "truncated"}
    assert isinstance(notes, dict) and set(notes) <= allowed, f"{name}: unexpected annotations {sorted(notes)}"
    assert not notes.get("redacted") and not notes.get("truncated"), f"{name}: fixture payload was altered: {notes}"
    return notes


def _copy_transcript(session: str, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{session}.jsonl"
    if not dest.exists():
        shutil.copyfile(TRANSCRIPTS / f"{session}.jsonl", dest)
    return dest


def test_every_fixture_payload_is_recorded_verbatim(hook_env: HookEnv, git_project: Path) -> None:
    payloads = fixture_payloads()
    assert len(payloads) >= 20, "fixture file went missing or shrank"
    sent: list[dict[str, Any]] = []
    env = {"CLAUDE_PID": str(os.getpid()), "CLAUDE_PROJECT_DIR": str(git_project)}
    for payload in payloads:
        payload = dict(payload)
        if payload["hook_event_name"] == "Stop":
            # Point the Stop at a real copy of its session's transcript so it gets a digest.
            payload["transcript_path"] = str(_copy_transcript(payload["session_id"], hook_env.tmp / "transcripts"))
        sent.append(payload)
    before = tree_snapshot(hook_env.tmp)
    for payload in sent:
        result = hook_env.run(payload, env)
        name = payload["hook_event_name"]
        assert result.returncode == 0, (name, result.stderr)
        assert_stdout_allowed(name, result.stdout)
        assert result.stderr == b"", f"{name}: {result.stderr!r}"
    assert_only_journal_changed(before, tree_snapshot(hook_env.tmp), "journal")

    events = hook_env.events()
    assert [e.seq for e in events] == list(range(1, len(sent) + 1))
    stops = 0
    for event, payload in zip(events, sent, strict=True):
        notes = assert_recorded_as(event, payload)
        name = payload["hook_event_name"]
        if name == "SessionStart":
            me = os.getpid()
            assert notes["process"] == {"pid": me, "start": proc_start(me), "via": "CLAUDE_PID"}
            assert notes["project_dir"] == str(git_project)
            assert notes["git_branch"] == "feat/journal-tests"
        elif name == "Stop":
            stops += 1
            digest = notes["digest"]
            transcript = Path(payload["transcript_path"])
            assert digest["transcript"] == str(transcript)
            assert digest["from"] == 0 and digest["to"] == transcript.stat().st_size
            assert isinstance(digest["working_on"], str) and digest["working_on"]
            for key in ("decisions", "files", "topics"):
                assert isinstance(digest[key], list) and all(isinstance(x, str) for x in digest[key])
        elif name == "PreCompact" and notes:
            # Rendered only where msgspec is importable (an installed launcher, not the plugin's).
            assert set(notes) == {"capture"} and notes["capture"]["session"] == payload["session_id"]
        else:
            assert notes == {}, f"{name} got annotations {notes}"
    assert stops == 2


def test_stop_digest_of_a_fixture_transcript_says_what_happened(hook_env: HookEnv) -> None:
    payload = next(p for p in fixture_payloads() if p["hook_event_name"] == "Stop")
    transcript = _copy_transcript(payload["session_id"], hook_env.tmp / "transcripts")
    result = hook_env.run({**payload, "transcript_path": str(transcript)})
    assert tuple(result) == (0, b"", b"")
    digest = hook_env.events()[-1].payload()["_journal"]["digest"]
    assert digest["working_on"] == "make the greeting"
    assert digest["files"] == ["/home/dev/src/shop/greet.py"]
    assert any("keep greet.py minimal" in d for d in digest["decisions"])
    assert "greet.py" in digest["topics"]


def test_session_start_without_claude_pid_finds_an_ancestor(hook_env: HookEnv) -> None:
    payload = next(p for p in fixture_payloads() if p["hook_event_name"] == "SessionStart")
    result = hook_env.run(payload, {"CLAUDE_PID": None})
    assert tuple(result) == (0, b"", b"")
    process = hook_env.events()[-1].payload()["_journal"]["process"]
    assert process["via"] == "ancestor"
    # The launcher's parent is this test process; the pid found must be it or one of its ancestors.
    ancestors = []
    pid = os.getpid()
    while pid > 1:
        ancestors.append(pid)
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat[stat.rindex(")") + 2 :].split()[1])
    assert process["pid"] in ancestors
    assert process["start"] == proc_start(process["pid"])


def test_session_start_with_a_dead_claude_pid_records_no_start(hook_env: HookEnv) -> None:
    payload = next(p for p in fixture_payloads() if p["hook_event_name"] == "SessionStart")
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    dead = next(p for p in range(pid_max - 1, 1, -1) if not Path(f"/proc/{p}").exists())
    result = hook_env.run(payload, {"CLAUDE_PID": str(dead)})
    assert tuple(result) == (0, b"", b"")
    assert hook_env.events()[-1].payload()["_journal"]["process"] == {"pid": dead, "start": None, "via": "CLAUDE_PID"}


@pytest.mark.parametrize("how", ["claude_project_dir", "payload_cwd"])
def test_journal_goes_to_the_project_without_agent_journal_dir(hook_env: HookEnv, git_project: Path, how: str) -> None:
    sub = git_project / "src" / "deep"
    sub.mkdir(parents=True)
    payload = {**fixture_payloads()[1], "cwd": str(sub)}
    env = {"CLAUDE_PROJECT_DIR": str(git_project)} if how == "claude_project_dir" else {}
    before = tree_snapshot(hook_env.tmp)
    result = hook_env.run(payload, env, journal=False)
    assert tuple(result) == (0, b"", b"")
    root = git_project / ".claude" / "journal"
    assert_only_journal_changed(before, tree_snapshot(hook_env.tmp), "project/.claude")
    assert (root / ".gitignore").read_text() == "*\n"
    assert os.stat(root).st_mode & 0o777 == 0o700
    [event] = hook_env.events(root)
    assert_recorded_as(event, payload)


def test_fixture_payloads_replayed_twice_get_consecutive_seqs(hook_env: HookEnv) -> None:
    payloads = [p for p in fixture_payloads() if p["hook_event_name"] in ("PreToolUse", "PostToolUse")][:4]
    for payload in payloads * 2:
        assert tuple(hook_env.run(payload)) == (0, b"", b"")
    events = hook_env.events()
    assert [e.seq for e in events] == list(range(1, 9))
    for event, payload in zip(events, payloads * 2, strict=True):
        assert_recorded_as(event, payload)


@pytest.mark.parametrize("value", ["", "abc", "-1", "0", "\u00b2", "\u0661\u0662", "9" * 5000, " 12"],
                         ids=["empty", "letters", "negative", "zero", "superscript", "arabic_digits", "5000_digits",
                              "space"])
def test_session_start_survives_any_claude_pid(hook_env: HookEnv, value: str) -> None:
    """$CLAUDE_PID is Claude Code's, but a bad value must cost at most the process info, never the event."""
    payload = next(p for p in fixture_payloads() if p["hook_event_name"] == "SessionStart")
    result = hook_env.run(payload, {"CLAUDE_PID": value})
    assert tuple(result) == (0, b"", b"")
    [event] = hook_env.events()
    assert event.type == "SessionStart"
    process = event.payload()["_journal"]["process"]
    assert process is None or (isinstance(process["pid"], int) and process["via"] in ("CLAUDE_PID", "ancestor"))
