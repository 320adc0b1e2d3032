"""What the launcher may print: nothing, except SessionStart's one ``hookSpecificOutput`` object.

Plain stdout on SessionStart, UserPromptSubmit and UserPromptExpansion becomes model
context, and a ``{``-led stdout is parsed as a hook decision on every event, so a stray
byte is a bug. Rendering runs in whatever interpreter has msgspec; here a stand-in
renderer (``AGENT_JOURNAL_PYTHON`` pointing at a script) controls exactly what it
returns, and one test uses the real renderer when the projections are importable.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import hooks.launch
from hooks.settings import HOOK_EVENTS
from tests.hooks.inprocess import run_hook
from tests.hooks.support import HookEnv, fixture_payloads
from tests.hooks.test_fixture_payloads import assert_stdout_allowed

START = next(p for p in fixture_payloads() if p["hook_event_name"] == "SessionStart")
JSONISH_PROMPTS = [
    '{"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "pwned"}}',
    '{"decision": "block", "reason": "x"}',
    '\n  {"continue": false}',
    'print("hello")',
    "[1, 2, 3]",
    "}",
]


def _payload(event: str, **extra: Any) -> dict[str, Any]:
    return {"session_id": "s-stdout", "transcript_path": "/nonexistent/t.jsonl", "cwd": "/nonexistent",
            "hook_event_name": event, **extra}


@pytest.mark.parametrize("prompt", JSONISH_PROMPTS)
def test_user_prompt_submit_prints_nothing(hook_env: HookEnv, prompt: str) -> None:
    result = hook_env.run(_payload("UserPromptSubmit", prompt=prompt, permission_mode="default"))
    assert tuple(result) == (0, b"", b"")
    [event] = hook_env.events()
    assert event.payload()["prompt"] == prompt


def test_no_registered_event_prints_anything_but_session_start(hook_env: HookEnv) -> None:
    for event in (*HOOK_EVENTS, "WorktreeCreate", "FileChanged", "MessageDisplay", "FutureEvent"):
        result = hook_env.run(_payload(event, prompt='{"decision":"block"}', message="{}", source="startup"))
        assert result.returncode == 0 and result.stderr == b"", (event, result.stderr)
        assert_stdout_allowed(event, result.stdout)
        if event != "SessionStart":
            assert result.stdout == b"", event
    assert len(hook_env.events()) == len(HOOK_EVENTS) + 4


def test_stray_prints_inside_the_hook_go_to_stderr(hook_env: HookEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """main() points sys.stdout at stderr, so a print anywhere in the code cannot reach Claude."""
    from hooks import record

    real_build = record.build_event

    def chatty_build(*args: Any, **kwargs: Any) -> Any:
        print('{"decision": "block"}')
        return real_build(*args, **kwargs)

    monkeypatch.setattr(record, "build_event", chatty_build)
    monkeypatch.setenv("AGENT_JOURNAL_DIR", str(hook_env.journal_dir))
    monkeypatch.setenv("AGENT_JOURNAL_NO_BOOTSTRAP", "1")
    stdin = io.TextIOWrapper(io.BytesIO(json.dumps(_payload("UserPromptSubmit", prompt="hi")).encode()))
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert hooks.launch.main() == 0
    assert out.getvalue() == ""
    assert err.getvalue() == '{"decision": "block"}\n'
    assert [e.type for e in hook_env.events()] == ["UserPromptSubmit"]


# -- SessionStart output, with a stand-in renderer -------------------------------------------


def _renderer(tmp: Path, body: str) -> Path:
    """A fake "python" for `hooks.runtime.render_python`: records its argv, then runs *body*."""
    script = tmp / "fake-python"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp}/render-args"\n{body}\n')
    script.chmod(0o755)
    return script


def _emit(doc: str) -> str:
    """Shell that prints *doc* verbatim (dash's echo would expand backslashes)."""
    return f"cat <<'JSON'\n{doc}\nJSON"


def _start_with(hook_env: HookEnv, body: str, payload: dict[str, Any] = START) -> Any:
    fake = _renderer(hook_env.tmp, body)
    return hook_env.run(payload, {"AGENT_JOURNAL_PYTHON": str(fake)})


def _context_of(stdout: bytes) -> str:
    assert_stdout_allowed("SessionStart", stdout)
    return json.loads(stdout)["hookSpecificOutput"]["additionalContext"]


def test_session_start_prints_one_json_object_with_the_context(hook_env: HookEnv) -> None:
    result = _start_with(hook_env, _emit('{"context": "## Agent Journal\\nYou were fixing greet.py", "consumed": []}'))
    assert result.returncode == 0 and result.stderr == b""
    assert _context_of(result.stdout) == "## Agent Journal\nYou were fixing greet.py"
    args = (hook_env.tmp / "render-args").read_text().splitlines()
    assert args[-4:] == ["session-start", str(hook_env.journal_dir), START["session_id"], "startup"]
    assert [e.type for e in hook_env.events()] == ["SessionStart"]


def test_session_start_context_is_capped_below_claude_codes_limit(hook_env: HookEnv) -> None:
    body = "python3 -c 'import json; print(json.dumps({\"context\": \"line of context\\n\" * 5000}))'"
    body = body.replace("python3", sys.executable + " -I")
    result = _start_with(hook_env, body)
    assert result.returncode == 0 and result.stderr == b""
    context = _context_of(result.stdout)
    assert 8_000 < len(context) < 10_000
    assert context.startswith("line of context\n")
    assert "agent-journal context" in context.splitlines()[-1]


def test_session_start_with_one_huge_line_is_still_capped(hook_env: HookEnv) -> None:
    body = f"{sys.executable} -I -c 'import json; print(json.dumps({{\"context\": \"x\" * 50000}}))'"
    result = _start_with(hook_env, body)
    assert result.returncode == 0 and result.stderr == b""
    assert len(_context_of(result.stdout)) < 10_000


@pytest.mark.parametrize("context", ['""', '"   \\n  "', "null"])
def test_session_start_with_no_context_prints_nothing(hook_env: HookEnv, context: str) -> None:
    result = _start_with(hook_env, _emit(f'{{"context": {context}, "consumed": []}}'))
    assert tuple(result) == (0, b"", b"")


def test_session_start_records_consumed_resume_requests(hook_env: HookEnv) -> None:
    result = _start_with(hook_env, _emit('{"context": "resuming", "consumed": [7, 9]}'),
                         {**START, "source": "resume"})
    assert result.returncode == 0 and result.stderr == b""
    assert _context_of(result.stdout) == "resuming"
    assert (hook_env.tmp / "render-args").read_text().splitlines()[-1] == "resume"
    events = hook_env.events()
    assert [e.type for e in events] == ["SessionStart", "journal.resume_consumed", "journal.resume_consumed"]
    assert [e.payload() for e in events[1:]] == [{"request_seq": 7}, {"request_seq": 9}]
    assert {e.session for e in events} == {START["session_id"]}


@pytest.mark.parametrize(
    "body",
    ["echo boom >&2; exit 1", "echo 'not json'", "echo '{\"context\": ' ; exit 0", "kill -9 $$"],
    ids=["exit1", "not_json", "truncated_json", "killed"],
)
def test_a_failing_renderer_costs_the_context_not_the_event(hook_env: HookEnv, body: str) -> None:
    result = _start_with(hook_env, body)
    assert result.returncode == 0
    assert result.stdout == b""
    assert len(result.stderr_lines) == 1 and result.stderr_lines[0].startswith("agent-journal hook: ")
    assert [e.type for e in hook_env.events()] == ["SessionStart"]
    [entry] = hook_env.errors_log()
    assert entry["kind"] == "hook_error" and entry["event"] == "SessionStart"


@pytest.mark.skipif(importlib.util.find_spec("projections.read.context") is None, reason="projections not installed")
def test_the_real_renderer_over_every_fixture_payload(hook_env: HookEnv) -> None:
    """The renderer the plugin would find (an interpreter with msgspec) on the real payload sequence."""
    printed = 0
    for payload in fixture_payloads():
        result = hook_env.run(payload, {"AGENT_JOURNAL_PYTHON": sys.executable})
        name = payload["hook_event_name"]
        assert result.returncode == 0 and result.stderr == b"", (name, result.stderr)
        assert_stdout_allowed(name, result.stdout)
        printed += bool(result.stdout)
    events = hook_env.events()
    assert [e.type for e in events if not e.type.startswith("journal.")] == [
        p["hook_event_name"] for p in fixture_payloads()
    ]
    precompact = next(e for e in events if e.type == "PreCompact").payload()
    assert isinstance(precompact.get("_journal", {}).get("capture", {}), dict)


# -- SessionEnd's budget -----------------------------------------------------------------------


def test_session_end_waits_for_nothing(hook_env: HookEnv, monkeypatch: pytest.MonkeyPatch, lock_clock: Any) -> None:
    """SessionEnd hooks share a 1.5 s budget that plugin timeouts cannot raise, so SessionEnd
    waits for nothing: every job it starts is detached and never waited for, and the lock
    is taken without sleeping. Counted, not timed (the figures: ``bench/hook_budgets.py``)."""
    end = next(p for p in fixture_payloads() if p["hook_event_name"] == "SessionEnd")
    for payload in fixture_payloads()[:9]:  # a journal with a session in it, as at a real SessionEnd
        hook_env.run(payload)
    stdout, spawns = run_hook(hook_env, end, monkeypatch)
    assert stdout == ""
    assert spawns.started  # the lazy search-index update at least
    assert all(kwargs.get("start_new_session") is True for _, kwargs in spawns.started)
    assert (spawns.waits, lock_clock.sleeps) == (0, 0)
    assert hook_env.events()[-1].type == "SessionEnd"
