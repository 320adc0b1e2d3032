"""Smoke tests of the e2e harness itself, independent of Agent Journal's code.

A tiny test-only plugin ("probe") records every hook payload it receives; the tests pin the
Claude Code behaviour that the journal's scenario tests rely on: hook order, SessionStart
context delivery, subagent identity, what a crash leaves behind, and the compact sequence.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.claude import (
    find_session_id,
    read_jsonl,
    run_claude,
    start_claude,
    transcript_path,
    wait_until,
)
from tests.e2e.fake_api import (
    DONE_TEXT,
    SUMMARY_MARKER,
    FakeMessagesAPI,
    Rule,
    agent,
    bash,
    is_compaction_request,
    text,
    write,
)

PROBE_CONTEXT = "PROBE-CONTEXT-123"

#: Every event the probe registers for.
PROBE_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "SubagentStart",
    "SubagentStop",
    "Stop",
    "PreCompact",
    "SessionEnd",
)

#: A Bash command that keeps a tool running; Claude Code's sandbox refuses a bare `sleep`.
LONG_COMMAND = 'python3 -c "import time; time.sleep(30)"'

# Generous per-run limit; a scripted turn takes 1-4 s.
RUN_TIMEOUT = 60

_RECORDER = '''\
"""Probe hook: append the payload (plus CLAUDE_PID) to a JSONL file; inject context at start."""
import json
import os
import sys

LOG = @LOG@
CONTEXT = @CONTEXT@

payload = json.load(sys.stdin)
payload["_claude_pid"] = os.environ.get("CLAUDE_PID")
payload["_python"] = sys.executable
# The CLAUDE* environment, minus secrets (a messaging token is among them).
payload["_env"] = {k: v for k, v in os.environ.items() if k.startswith("CLAUDE") and "TOKEN" not in k}
line = (json.dumps(payload) + "\\n").encode()
# One O_APPEND write per line: hooks of parallel tool calls may run at the same time.
fd = os.open(LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
try:
    os.write(fd, line)
finally:
    os.close(fd)
if payload.get("hook_event_name") == "SessionStart":
    print(json.dumps({"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": CONTEXT}}))
'''


def make_probe_plugin(root: Path, log: Path) -> Path:
    """Write the probe plugin under ``root`` (recording into ``log``) and return its directory."""
    (root / ".claude-plugin").mkdir(parents=True)
    (root / "hooks").mkdir()
    (root / ".claude-plugin" / "plugin.json").write_text(json.dumps({"name": "probe"}))
    # Exec form: no shell, so the substituted path needs no quoting.
    handler = {"type": "command", "command": "python3", "args": ["${CLAUDE_PLUGIN_ROOT}/rec.py"], "timeout": 10}
    hooks = {"hooks": {event: [{"hooks": [handler]}] for event in PROBE_EVENTS}}
    (root / "hooks" / "hooks.json").write_text(json.dumps(hooks, indent=2))
    source = _RECORDER.replace("@LOG@", repr(str(log))).replace("@CONTEXT@", repr(PROBE_CONTEXT))
    (root / "rec.py").write_text(source)
    return root


@pytest.fixture
def probe_log(tmp_path: Path) -> Path:
    """Where the probe plugin records hook payloads."""
    return tmp_path / "probe-events.jsonl"


@pytest.fixture
def probe_plugin(tmp_path: Path, probe_log: Path) -> Path:
    """The probe plugin directory, for ``--plugin-dir``."""
    return make_probe_plugin(tmp_path / "probe-plugin", probe_log)


def event_names(events: list[dict[str, Any]]) -> list[str]:
    """``Name`` or ``Name:Tool`` per event, for readable order assertions."""
    return [f"{e['hook_event_name']}:{e['tool_name']}" if "tool_name" in e else e["hook_event_name"] for e in events]


def test_write_and_bash_fire_hooks_in_order(
    claude_bin: Path,
    fake_api: FakeMessagesAPI,
    claude_home: Path,
    project_dir: Path,
    probe_plugin: Path,
    probe_log: Path,
) -> None:
    target = project_dir / "hello.txt"
    fake_api.set_script(
        [
            Rule(
                "SMOKE-WRITE-BASH",
                [
                    [text("Writing the file."), write(str(target), "hello\n")],
                    [bash("python3 -c \"print('bash-ran')\" > ran.txt", "record a run")],
                    [text("All done.")],
                ],
            )
        ]
    )

    result = run_claude(
        claude_bin,
        claude_home,
        project_dir,
        fake_api.port,
        "SMOKE-WRITE-BASH please",
        plugin_dir=probe_plugin,
        timeout=RUN_TIMEOUT,
    )

    assert result.returncode == 0, result.describe()
    assert result.stdout.strip() == "All done."
    assert target.read_text() == "hello\n"
    assert (project_dir / "ran.txt").read_text().strip() == "bash-ran"
    events = read_jsonl(probe_log)
    assert event_names(events) == [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse:Write",
        "PostToolUse:Write",
        "PreToolUse:Bash",
        "PostToolUse:Bash",
        "Stop",
        "SessionEnd",
    ]
    assert events[0]["source"] == "startup"
    assert events[1]["prompt"] == "SMOKE-WRITE-BASH please"
    assert events[-2]["last_assistant_message"] == "All done."
    # One session, one Claude Code process, and the transcript agrees with the hooks.
    session_id = events[0]["session_id"]
    assert {e["session_id"] for e in events} == {session_id}
    assert find_session_id(claude_home) == session_id == find_session_id(claude_home, events)
    assert transcript_path(claude_home, session_id) is not None
    pids = {e["_claude_pid"] for e in events}
    assert len(pids) == 1 and pids.pop().isdigit()
    # The environment the journal's hook relies on, on every event.
    for event in events:
        env = event["_env"]
        assert Path(env["CLAUDE_PROJECT_DIR"]).resolve() == project_dir.resolve()
        assert Path(env["CLAUDE_PLUGIN_ROOT"]).resolve() == probe_plugin.resolve()
        assert env["CLAUDE_PLUGIN_DATA"] == str(claude_home / ".claude" / "plugins" / "data" / "probe-inline")
        assert env["CLAUDE_CODE_SESSION_ID"] == session_id
    # `python3` in a hook command is the interpreter running the tests (see claude_env).
    assert {e["_python"] for e in events} == {str(Path(sys.executable).parent / "python3")}
    # CLAUDE_ENV_FILE is offered to SessionStart only.
    assert [e["hook_event_name"] for e in events if "CLAUDE_ENV_FILE" in e["_env"]] == ["SessionStart"]
    # Pre/Post pairs share the tool_use_id the fake minted.
    pre_write, post_write = events[2], events[3]
    assert pre_write["tool_use_id"] == post_write["tool_use_id"]
    assert pre_write["tool_use_id"].startswith("toolu_")
    # Three model calls: the prompt, then one per tool result.
    assert len(fake_api.requests_for("SMOKE-WRITE-BASH")) == 3


def test_session_start_context_reaches_the_model(
    claude_bin: Path, fake_api: FakeMessagesAPI, claude_home: Path, project_dir: Path, probe_plugin: Path
) -> None:
    fake_api.set_script([Rule("SMOKE-CONTEXT", [[text("Noted.")]])])

    result = run_claude(
        claude_bin,
        claude_home,
        project_dir,
        fake_api.port,
        "SMOKE-CONTEXT hello",
        plugin_dir=probe_plugin,
        timeout=RUN_TIMEOUT,
    )

    assert result.returncode == 0, result.describe()
    [request] = fake_api.requests_for("SMOKE-CONTEXT")
    assert f"SessionStart hook additional context: {PROBE_CONTEXT}" in request.text
    assert PROBE_CONTEXT in fake_api.all_text()
    # It travels in `messages` (a role "system" message in 2.1.328), not in the `system` prompt.
    assert PROBE_CONTEXT not in json.dumps(request.body["system"])
    carriers = [m for m in request.body["messages"] if PROBE_CONTEXT in json.dumps(m)]
    assert carriers, "additionalContext not found in any message"


def test_agent_tool_runs_a_subagent_against_the_fake(
    claude_bin: Path,
    fake_api: FakeMessagesAPI,
    claude_home: Path,
    project_dir: Path,
    probe_plugin: Path,
    probe_log: Path,
) -> None:
    sub_file = project_dir / "sub.txt"
    fake_api.set_script(
        [
            Rule("SMOKE-PARENT", [[agent("SMOKE-SUBTASK write sub.txt", "write a file")], [text("Agent finished.")]]),
            Rule("SMOKE-SUBTASK", [[write(str(sub_file), "from the subagent\n")], [text("Sub done.")]]),
        ]
    )

    result = run_claude(
        claude_bin,
        claude_home,
        project_dir,
        fake_api.port,
        "SMOKE-PARENT delegate",
        plugin_dir=probe_plugin,
        timeout=RUN_TIMEOUT,
    )

    assert result.returncode == 0, result.describe()
    assert sub_file.read_text() == "from the subagent\n"
    # The subagent's own conversation reached the fake, told apart by its first user message.
    sub_requests = fake_api.requests_for("SMOKE-SUBTASK")
    assert len(sub_requests) == 2
    assert all("SMOKE-PARENT" not in r.first_user_text for r in sub_requests)
    events = read_jsonl(probe_log)
    assert event_names(events) == [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse:Agent",
        "SubagentStart",
        "PreToolUse:Write",
        "PostToolUse:Write",
        "SubagentStop",
        "PostToolUse:Agent",
        "Stop",
        "SessionEnd",
    ]
    start, stop = events[3], events[6]
    agent_id = start["agent_id"]
    assert agent_id and stop["agent_id"] == agent_id
    assert start["agent_type"] == stop["agent_type"] == "general-purpose"
    assert stop["last_assistant_message"] == "Sub done."
    # The subagent's tool events carry its identity; the parent's do not.
    for event in events[4:6]:
        assert (event["agent_id"], event["agent_type"]) == (agent_id, "general-purpose")
    assert "agent_id" not in events[2] and "agent_id" not in events[7]
    assert {e["session_id"] for e in events} == {events[0]["session_id"]}
    assert Path(stop["agent_transcript_path"]).is_file()


def test_sigkill_mid_tool_leaves_an_open_pre_tool_use(
    claude_bin: Path,
    fake_api: FakeMessagesAPI,
    claude_home: Path,
    project_dir: Path,
    probe_plugin: Path,
    probe_log: Path,
) -> None:
    fake_api.set_script([Rule("SMOKE-CRASH", [[bash(LONG_COMMAND, "a long job")]])])

    with start_claude(
        claude_bin, claude_home, project_dir, fake_api.port, "SMOKE-CRASH run it", plugin_dir=probe_plugin
    ) as proc:
        pre = wait_until(
            lambda: [e for e in read_jsonl(probe_log) if e["hook_event_name"] == "PreToolUse"],
            timeout=RUN_TIMEOUT,
            message="PreToolUse of the long Bash command",
        )[0]
        # The tool itself must be running, not just announced, when the crash happens.
        wait_until(
            lambda: any("time.sleep(30)" in _cmdline(pid) for pid in proc.descendants()),
            timeout=10,
            message="the long Bash command to start",
        )
        proc.kill(signal.SIGKILL)
        assert proc.poll() == -signal.SIGKILL
        # Give any straggling hook a moment to (wrongly) write something.
        time.sleep(1)

    events = read_jsonl(probe_log)
    assert event_names(events) == ["SessionStart", "UserPromptSubmit", "PreToolUse:Bash"]
    assert pre["tool_input"]["command"] == LONG_COMMAND
    assert pre["_claude_pid"] == str(proc.pid)
    # Claude Code's own session registry entry survives the crash (it is cleared on next launch).
    assert (claude_home / ".claude" / "sessions" / f"{proc.pid}.json").is_file()


def test_compact_on_resume_fires_pre_compact_then_session_start_compact(
    claude_bin: Path,
    fake_api: FakeMessagesAPI,
    claude_home: Path,
    project_dir: Path,
    probe_plugin: Path,
    probe_log: Path,
) -> None:
    fake_api.set_script(
        [
            Rule("SMOKE-COMPACT", [[text("First turn answered.")]]),
            # After compaction the first user message is Claude Code's summary, so the next
            # prompt is matched where it is: in the latest user message.
            Rule("SMOKE-AFTER-COMPACT", [[text("Answered after compaction.")]], match="latest"),
        ]
    )
    first = run_claude(
        claude_bin,
        claude_home,
        project_dir,
        fake_api.port,
        "SMOKE-COMPACT start",
        plugin_dir=probe_plugin,
        timeout=RUN_TIMEOUT,
    )
    assert first.returncode == 0, first.describe()
    session_id = find_session_id(claude_home)
    assert session_id is not None
    seen = len(read_jsonl(probe_log))

    compact = run_claude(
        claude_bin,
        claude_home,
        project_dir,
        fake_api.port,
        "/compact",
        plugin_dir=probe_plugin,
        resume=session_id,
        timeout=RUN_TIMEOUT,
    )

    assert compact.returncode == 0, compact.describe()
    events = read_jsonl(probe_log)[seen:]
    assert event_names(events) == ["SessionStart", "PreCompact", "SubagentStop", "SessionStart", "SessionEnd"]
    resumed, pre_compact, internal_stop, compacted, _ = events
    assert resumed["source"] == "resume"
    assert pre_compact["trigger"] == "manual"
    # The summary is written by an internal, unnamed subagent.
    assert internal_stop["agent_type"] == ""
    assert compacted["source"] == "compact"
    assert {e["session_id"] for e in events} == {session_id}
    # Exactly one summarisation request reached the fake, and it was recognised as one.
    assert sum(1 for r in fake_api.model_requests if is_compaction_request(r.body)) == 1

    later = run_claude(
        claude_bin,
        claude_home,
        project_dir,
        fake_api.port,
        "SMOKE-AFTER-COMPACT next",
        plugin_dir=probe_plugin,
        resume=session_id,
        timeout=RUN_TIMEOUT,
    )

    assert later.returncode == 0, later.describe()
    assert later.stdout.strip() == "Answered after compaction."
    request = fake_api.model_requests[-1]
    assert "SMOKE-AFTER-COMPACT" in request.text
    assert SUMMARY_MARKER in request.first_user_text
    assert f"SessionStart hook additional context: {PROBE_CONTEXT}" in request.text


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------- the fake alone
# These need no binary: they pin the wire format the Claude Code tests above depend on.


def _post(api: FakeMessagesAPI, path: str, body: Any, raw: bytes | None = None) -> tuple[int, str, bytes]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(
        api.base_url + path, data=data, method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers.get("content-type", ""), response.read()


def _sse(payload: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in payload.decode().split("\n\n"):
        if not chunk.strip():
            continue
        name_line, data_line = chunk.split("\n")
        events.append((name_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))))
    return events


def _user(content: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": content}]}


def _assistant(content: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": content}]}


def test_fake_streams_scripted_steps_then_done() -> None:
    script = [Rule("FAKE-MARK", [[text("thinking"), bash("echo hi")], [text("finished")]])]
    with FakeMessagesAPI(script) as api:
        # Like Claude Code: reminders and the prompt are text blocks of one first user message.
        prompt = {"type": "text", "text": "FAKE-MARK go"}
        first = [
            {"role": "user", "content": [{"type": "text", "text": "<system-reminder>noise</system-reminder>"}, prompt]}
        ]
        status, content_type, payload = _post(api, "/v1/messages?beta=true", {"stream": True, "messages": first})
        assert (status, content_type) == (200, "text/event-stream")
        events = _sse(payload)
        assert [name for name, _ in events] == [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        tool_start = events[4][1]["content_block"]
        assert tool_start["type"] == "tool_use" and tool_start["name"] == "Bash" and tool_start["input"] == {}
        assert json.loads(events[5][1]["delta"]["partial_json"])["command"] == "echo hi"
        assert events[7][1]["delta"]["stop_reason"] == "tool_use"

        second = [*first, _assistant("thinking"), _user("tool result")]
        _, _, payload = _post(api, "/v1/messages?beta=true", {"stream": True, "messages": second})
        events = _sse(payload)
        assert events[2][1]["delta"]["text"] == "finished"
        assert events[-2][1]["delta"]["stop_reason"] == "end_turn"

        third = [*second, _assistant("finished"), _user("more?")]
        _, _, payload = _post(api, "/v1/messages", {"messages": third})  # not streamed
        message = json.loads(payload)
        assert message["content"] == [{"type": "text", "text": DONE_TEXT}]
        assert message["stop_reason"] == "end_turn"

        assert [r.query for r in api.model_requests] == ["beta=true", "beta=true", ""]
        assert len(api.requests_for("FAKE-MARK")) == 3
        assert "noise" in api.all_text()
        assert api.errors == []


def test_fake_matches_latest_prompt_and_mints_unique_tool_ids() -> None:
    script = [
        Rule("SUB-MARK", [[write("/tmp/x", "x")]]),
        Rule("NEXT-MARK", [[bash("true")], [bash("true")]], match="latest"),
    ]
    with FakeMessagesAPI(script) as api:
        # A resumed session: the old turn is replayed before the new prompt.
        history = [_user("OLD prompt"), _assistant("old answer"), _user("NEXT-MARK now")]
        _, _, payload = _post(api, "/v1/messages", {"messages": history})
        first_id = json.loads(payload)["content"][0]["id"]
        more = [*history, _assistant("ran"), _user("tool result")]
        _, _, payload = _post(api, "/v1/messages", {"messages": more})
        second_id = json.loads(payload)["content"][0]["id"]
        assert first_id != second_id and first_id.startswith("toolu_")
        # A subagent conversation is told apart by its own first user message.
        _, _, payload = _post(api, "/v1/messages", {"messages": [_user("SUB-MARK do it")]})
        assert json.loads(payload)["content"][0]["name"] == "Write"


def test_fake_answers_side_routes_and_survives_bad_input() -> None:
    with FakeMessagesAPI() as api:
        status, _, payload = _post(api, "/v1/messages/count_tokens?beta=true", {"messages": []})
        assert (status, json.loads(payload)) == (200, {"input_tokens": 100})
        with urllib.request.urlopen(api.base_url + "/api/hello", timeout=10) as response:
            assert (response.status, json.loads(response.read())) == (200, {})
        status, _, payload = _post(api, "/v1/unknown", {"x": 1})
        assert (status, json.loads(payload)) == (200, {})
        # Garbage and odd shapes still get a well-formed answer from a live server.
        _, _, payload = _post(api, "/v1/messages", None, raw=b"{not json")
        assert json.loads(payload)["content"][0]["text"] == DONE_TEXT
        _, _, payload = _post(api, "/v1/messages", {"messages": "nonsense", "system": 3})
        assert json.loads(payload)["type"] == "message"
        compaction = [
            _user("hi"),
            _assistant("x"),
            _user("Your task is to create a detailed summary of the conversation so far"),
        ]
        _, _, payload = _post(api, "/v1/messages", {"messages": compaction})
        assert SUMMARY_MARKER in json.loads(payload)["content"][0]["text"]
        assert len(api.requests) == 6 and api.errors == []
