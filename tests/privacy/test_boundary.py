"""The sanitiser at the journal boundary: every way into the journal redacts, and fails closed.

`Journal.append`/`append_many` (the Writer) sanitise whatever a library caller or a CLI
command hands them; the hook sanitises once and marks its event so the Writer does not
redo it; a redaction that cannot run withholds the payload and says so once. Each test
greps the bytes of every file under the journal directory for the secret.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import journal
from cli.main import cli
from journal import InvalidEvent, Journal, NewEvent
from tests.hooks.support import HookEnv

GH = "ghp_i5rR6pMDq1WfsrcYQttTs7ywYwMTy3MhzeC3"
ANT = "sk-ant-api03-oYmJFw2rBXwwljvEqYIrKi-bDripN9ISEO1HJON-b7KOe7JMwOZYx6IuRCdv0i8fiJgz7YNAyLyE0TE2CrMN6eEDOAbz4AA"
UUID = "29c6df8d-2e2c-4bd7-875d-92d4408ff2fc"


@pytest.fixture
def hook_env(tmp_path: Path) -> HookEnv:
    return HookEnv(tmp_path)


def leaks(root: Path, *secrets: str) -> list[str]:
    """Files under *root* whose bytes hold any of *secrets*."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {s[:12]}" for s in secrets if s.encode() in data]
    return found


def all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_library_append_redacts_data_and_ids(journal_dir: Path) -> None:
    j = Journal.open(journal_dir)
    seq = j.append("note", {"text": f"use {GH} and {ANT}"}, session=GH, agent=f"agent {ANT}")
    j.append_many([NewEvent("note", json.dumps({"key": GH}).encode(), session=UUID, agent="ad1967d713ff61a6d")])
    assert leaks(journal_dir, GH, ANT) == []
    first, second = list(j.read(mode="strict"))
    assert first.seq == seq
    data = first.payload()
    assert data["text"].startswith("use [REDACTED:github_token:") and data["_journal"] == {"redacted": 2}
    assert first.session.startswith("[REDACTED:github_token:")
    # The id's marker is the payload's marker: one secret, one marker, wherever it is.
    assert first.session in data["text"]
    assert second.session == UUID and second.agent == "ad1967d713ff61a6d"  # ids that look like ids stay
    assert second.payload()["key"].startswith("[REDACTED:github_token:")


def test_library_append_applies_the_size_limits(journal_dir: Path) -> None:
    j = Journal.open(journal_dir)
    j.append("big", {"text": "x" * 100_000 + " " + GH})
    [event] = j.read()
    assert len(event.payload()["text"]) <= 16 * 1024 and event.payload()["_journal"]["truncated"] is True
    assert leaks(journal_dir, GH) == []


def test_a_secret_as_type_or_timestamp_is_refused(journal_dir: Path) -> None:
    j = Journal.open(journal_dir)
    with pytest.raises(InvalidEvent) as info:
        j.append(GH, {})
    assert GH not in str(info.value)
    with pytest.raises(InvalidEvent):
        j.append("note", {}, ts=f"2026-01-01T00:00:00.{GH}Z")
    assert leaks(journal_dir, GH) == []


def test_clean_events_are_written_unchanged(journal_dir: Path) -> None:
    j = Journal.open(journal_dir)
    data = {"text": "commit 4f2a9c1b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b", "n": 3, "nested": {"ok": [1, "two"]}}
    j.append("note", data, session=UUID)
    [event] = j.read()
    assert event.payload() == data and event.session == UUID


def test_a_broken_redaction_config_withholds_library_payloads(journal_dir: Path) -> None:
    j = Journal.open(journal_dir)
    (journal_dir / "config.json").write_text(json.dumps({"redaction": {"patterns": [{"name": "x", "regex": "("}]}}))
    j = Journal.open(journal_dir)
    j.append("note", {"text": f"secret {GH}", "session_id": UUID, "tool_name": "Bash"}, session=UUID)
    j.append("note", {"text": "again"}, session=UUID)
    assert leaks(journal_dir, GH) == []
    first, second = list(j.read())
    assert first.payload() == {"session_id": UUID, "tool_name": "Bash",
                               "_journal": {"withheld": first.payload()["_journal"]["withheld"]}}
    assert "redaction.patterns[0].regex" in first.payload()["_journal"]["withheld"]
    assert "text" not in second.payload() and first.session == UUID
    errors = [json.loads(line) for line in (journal_dir / "errors.log").read_text().splitlines()]
    assert [e["kind"] for e in errors] == ["redaction_unavailable"]  # reported once


def test_a_redaction_module_that_fails_to_import_withholds(journal_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("journal.privacy.redaction", "journal.privacy.sanitizer"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "journal.privacy.redaction", None)  # "import journal.privacy.redaction" raises ImportError
    j = Journal.open(journal_dir)
    j.append("note", {"text": GH, "tool_name": "Bash", "session_id": GH}, session=UUID, agent=GH)
    assert leaks(journal_dir, GH) == []
    [event] = j.read()
    data = event.payload()
    assert data["tool_name"] == "Bash" and "session_id" not in data and "text" not in data
    assert event.session == UUID and event.agent is None  # plain ids only, when no rule can run
    assert "redaction cannot run" in data["_journal"]["withheld"]


def test_a_bug_in_a_rule_withholds(journal_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from journal.privacy import redaction
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom while looking at {GH}")

    monkeypatch.setattr(redaction, "sanitize", broken)
    monkeypatch.setattr(redaction, "sanitize_plain", broken)  # what the writer's sanitiser calls
    j = Journal.open(journal_dir)
    j.append("note", {"text": GH})
    assert leaks(journal_dir, GH) == []
    [event] = j.read()
    assert "redaction failed: RuntimeError" in event.payload()["_journal"]["withheld"]


def test_errors_log_lines_are_redacted(journal_dir: Path) -> None:
    j = Journal.open(journal_dir)
    j.log_error("hook_error", f"KeyError: '{GH}'", detail={"cmd": f"curl -H 'x-api-key: {ANT}'"})
    assert leaks(journal_dir, GH, ANT) == []
    assert "[REDACTED:github_token:" in (journal_dir / "errors.log").read_text()


def test_every_cli_write_command_redacts(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    env = HookEnv(tmp_path)
    payload = {"session_id": UUID, "transcript_path": "/nonexistent.jsonl", "cwd": str(tmp_path),
               "hook_event_name": "SubagentStart", "agent_id": "ad1967d713ff61a6d", "agent_type": "Explore"}
    assert env.run(payload, {"AGENT_JOURNAL_DIR": str(root)}).returncode == 0

    def run(*args: str) -> None:
        result = CliRunner().invoke(cli, ["--journal", str(root), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output

    run("save", "--session", UUID, "--objective", f"rotate {GH}", "--done", f"found {ANT}")
    run("append", "note", "--session", GH, "--data", json.dumps({"text": GH}))
    run("agent", "update", "ad1967d713ff61a6d", "--objective", f"push with {GH}", "--next", ANT)
    run("context", "--write", str(root / "memory"))
    assert leaks(root, GH, ANT) == []
    assert all_bytes(root).count(b"[REDACTED:github_token:") >= 4


def test_oversized_and_deep_payloads_keep_their_type_and_session(hook_env: HookEnv) -> None:
    head = json.dumps({"session_id": UUID, "transcript_path": "/t.jsonl", "cwd": "/",
                       "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": "toolu_01"})[:-1]
    deep = (head + ',"tool_response":' + "[" * 100_000 + "]" * 100_000 + "}").encode()
    assert hook_env.run(deep).returncode == 0
    huge = (head + ',"tool_response":"' + "x" * (33 * 1024 * 1024) + '"}').encode()
    assert hook_env.run(huge, timeout=120).returncode == 0
    events = hook_env.events()
    assert [e.type for e in events] == ["journal.invalid_input"] * 2
    for event in events:
        assert event.session == UUID
        assert event.payload()["hook_event_name"] == "PostToolUse"


def test_a_hook_whose_redaction_cannot_import_records_the_event_withheld(tmp_path: Path) -> None:
    """Copies the installed code, breaks journal/privacy/redaction.py, and runs that launcher."""
    code = tmp_path / "code"
    for package in ("journal", "hooks"):
        shutil.copytree(Path(journal.__file__).parent.parent / package, code / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (code / "journal" / "privacy" / "redaction.py").write_text("raise ImportError('the privacy layer is broken')\n")
    env = HookEnv(tmp_path)
    payload = {"session_id": UUID, "transcript_path": "/t.jsonl", "cwd": "/", "hook_event_name": "UserPromptSubmit",
               "prompt": f"deploy with {GH}"}
    proc = subprocess.run([sys.executable, "-I", "-S", str(code / "hooks" / "launch.py")],
                          input=json.dumps(payload).encode(), capture_output=True, env=env.env(), cwd=env.cwd)
    assert proc.returncode == 0
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and "RedactionUnavailable" in lines[0] and "broken" in lines[0]
    assert leaks(env.journal_dir, GH) == []
    [event] = env.events()
    assert event.type == "UserPromptSubmit" and event.session == UUID
    assert "prompt" not in event.payload() and "withheld" in event.payload()["_journal"]
    assert [e["kind"] for e in env.errors_log()] == ["hook_error"]  # reported once


def test_hook_ids_holding_secrets_are_redacted(hook_env: HookEnv) -> None:
    payload = {"session_id": GH, "transcript_path": "/t.jsonl", "cwd": "/", "hook_event_name": "UserPromptSubmit",
               "prompt": "hi", "agent_id": f"a:{ANT}"}
    assert hook_env.run(payload).returncode == 0
    assert leaks(hook_env.journal_dir, GH, ANT) == []
    [event] = hook_env.events()
    assert event.session.startswith("[REDACTED:github_token:") and event.session == event.payload()["session_id"]


def test_the_hook_sanitises_once(hook_env: HookEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook's event reaches the writer marked as sanitised: no second redaction pass."""
    from hooks import record
    from journal.storage import writer
    calls = []
    real = writer.Writer.sanitize

    def counting(self: writer.Writer, event: NewEvent) -> NewEvent:
        calls.append(event._sanitized)
        return real(self, event)

    monkeypatch.setattr(writer.Writer, "sanitize", counting)
    hook_input = record.HookInput(10, {"session_id": UUID, "hook_event_name": "Stop", "x": GH})
    event = record.build_event(hook_input, record.JournalConfig())
    assert event._sanitized
    root = hook_env.journal_dir
    Journal.open(root)
    record.append_event(root, event)
    assert calls == [True]
    assert leaks(root, GH) == []


def test_the_cli_says_when_payloads_are_withheld(journal_dir: Path) -> None:
    Journal.open(journal_dir)
    (journal_dir / "config.json").write_text(json.dumps({"redaction": {"patterns": [{"name": "x", "regex": "(a+)+"}]}}))
    result = CliRunner().invoke(cli, ["--journal", str(journal_dir), "append", "note", "--data", json.dumps({"t": GH})])
    assert result.exit_code == 0
    assert "Warning: event payloads were withheld" in result.stderr and "unsafe" in result.stderr
    assert leaks(journal_dir, GH) == []


def test_a_secret_as_hook_event_name_is_invalid_input(hook_env: HookEnv) -> None:
    payload = {"session_id": UUID, "transcript_path": "/t.jsonl", "cwd": "/", "hook_event_name": GH, "prompt": "x"}
    assert hook_env.run(payload).returncode == 0
    assert leaks(hook_env.journal_dir, GH) == []
    [event] = hook_env.events()
    assert event.type == "journal.invalid_input" and event.session == UUID
    assert event.payload()["hook_event_name"].startswith("[REDACTED:github_token:")


def test_salvaged_ids_are_read_from_the_head_only() -> None:
    from hooks.record import salvage_ids

    raw = b'{"session_id": "s\\"1", "hook_event_name":"Stop", "x": {"session_id": "later"}, "agent_id": 5}'
    assert salvage_ids(raw) == {"session_id": 's"1', "hook_event_name": "Stop"}
    assert salvage_ids(b"[" * 100 + b'"session_id"') == {}
