"""Hostile stdin: whatever arrives, the hook exits 0, keeps stdout empty, records one event.

Decided per case and asserted: input that is not a hook payload is the sender's problem,
not an internal error, so it is recorded as ``journal.invalid_input`` with *no* stderr
line; a payload that parses is recorded as its own event. Either way the journal verifies,
reads back strictly, and nothing outside the journal directory changes.

"Fast" is asserted by counting work (the payload measured once, only what is kept
scanned), never by timing a run; the figures live in ``bench/hook_budgets.py``.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from journal.privacy import limits
from journal.privacy.redaction import _MARGIN
from tests.hooks.support import HookEnv, assert_only_journal_changed, canonical, tree_snapshot
from tests.privacy.test_scaling import BUILD, MEASURE, containers, counted_redaction, limits_calls

SEED = 1125
MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    stdin: Callable[[], bytes]
    #: "invalid" -> journal.invalid_input whose reason starts with `reason`; else the event type.
    expect: str
    reason: str = ""
    check: Callable[[Any, bytes], None] | None = None


def _obj(**fields: Any) -> bytes:
    base = {"session_id": "s-hostile", "transcript_path": "/nonexistent/t.jsonl", "cwd": "/nonexistent",
            "hook_event_name": "UserPromptSubmit", "prompt": "hi"}
    return json.dumps({**base, **fields}, separators=(",", ":")).encode()


def _garbage() -> bytes:
    return random.Random(SEED).randbytes(64 * 1024)


def _big_object(size: int) -> bytes:
    head = b'{"session_id":"s-big","hook_event_name":"PostToolUse","tool_name":"Bash","tool_response":{"stdout":"'
    rng = random.Random(SEED)
    alphabet = b"abcdefghij klmnopqrstuvwxyz0123456789."
    chunk = bytes(rng.choice(alphabet) for _ in range(MB))
    body = (chunk * (size // MB + 1))[: size - len(head) - 3]
    return head + body + b'"}}'


def _check_surrogates(event: Any, raw: bytes) -> None:
    data = event.payload()
    # A NUL survives as itself; a lone surrogate has no UTF-8 form and becomes U+FFFD;
    # a pair that arrived as two escapes is joined into its character.
    assert data["prompt"] == "a\x00b\ufffdc\U0001F600d"
    assert event.session == "s-hostile"


def _check_big_truncated(event: Any, raw: bytes) -> None:
    data = event.payload()
    assert data["_journal"]["truncated"] is True
    assert data["session_id"] == "s-big" and data["tool_name"] == "Bash"


def _check_journal_key_kept(event: Any, raw: bytes) -> None:
    data = event.payload()
    assert data["_journal_original"] == {"process": "forged", "nested": [1, 2]}
    assert "_journal" not in data or "process" not in data["_journal"]


def _check_size(event: Any, raw: bytes) -> None:
    assert event.payload()["bytes"] == len(raw)


CASES: dict[str, Case] = {
    "malformed_json": Case(lambda: b'{"session_id":"s1","hook_event_name":"PreToolUse",', "invalid", "not valid JSON"),
    "trailing_garbage": Case(lambda: _obj() + b"}", "invalid", "not valid JSON"),
    "two_objects": Case(lambda: _obj() + b"\n" + _obj(), "invalid", "not valid JSON"),
    "binary_garbage": Case(_garbage, "invalid", "not valid JSON", _check_size),
    "empty": Case(lambda: b"", "invalid", "empty input", _check_size),
    "whitespace": Case(lambda: b" \n\t\r\n", "invalid", "empty input"),
    "array": Case(lambda: b'[{"hook_event_name":"Stop","session_id":"s"}]', "invalid", "payload is a JSON list"),
    "string": Case(lambda: b'"SessionStart"', "invalid", "payload is a JSON str"),
    "number": Case(lambda: b"42", "invalid", "payload is a JSON int"),
    "null": Case(lambda: b"null", "invalid", "payload is a JSON NoneType"),
    "over_limit_50mb": Case(lambda: _big_object(50 * MB), "invalid", "payload of 52,428,800 bytes", _check_size),
    "nested_100k_array": Case(lambda: b"[" * 100_000 + b"]" * 100_000, "invalid", "JSON nested too deeply"),
    "nested_100k_in_payload": Case(
        lambda: _obj()[:-1] + b',"deep":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}",
        "invalid", "JSON nested too deeply"),
    "raw_nul_in_string": Case(lambda: _obj(prompt="a").replace(b'"a"', b'"a\x00b"'), "invalid", "not valid JSON"),
    "raw_nul_outside": Case(lambda: b"\x00" + _obj(), "invalid", "not valid JSON"),
    "invalid_utf8": Case(lambda: _obj(prompt="a").replace(b'"a"', b'"a\xed\xa0\x80b\xff"'), "invalid", "not valid JSON"),
    "nan": Case(lambda: _obj()[:-1] + b',"x":NaN}', "invalid", "not valid JSON"),
    "infinity": Case(lambda: _obj()[:-1] + b',"x":[-Infinity]}', "invalid", "not valid JSON"),
    "float_overflow": Case(lambda: _obj()[:-1] + b',"x":1e400}', "invalid", "not valid JSON"),
    "no_event_name": Case(lambda: b'{"session_id":"s-x","prompt":"hi"}', "invalid", "payload has no valid hook_event_name"),
    "event_name_with_space": Case(lambda: _obj(hook_event_name="Pre Tool"), "invalid", "payload has no valid"),
    "event_name_not_str": Case(lambda: _obj(hook_event_name=["Stop"]), "invalid", "payload has no valid"),
    "event_name_300_chars": Case(lambda: _obj(hook_event_name="E" * 300), "invalid", "payload has no valid"),
    # Payloads that parse are recorded as themselves.
    "nul_and_surrogates": Case(
        lambda: _obj(prompt="@").replace(b'"@"', b'"a\\u0000b\\ud800c\\ud83d\\ude00d"'), "UserPromptSubmit",
        check=_check_surrogates),
    "utf8_bom": Case(lambda: b"\xef\xbb\xbf" + _obj(), "UserPromptSubmit"),
    "nested_500": Case(lambda: _obj()[:-1] + b',"deep":' + b"[" * 500 + b"]" * 500 + b"}", "UserPromptSubmit"),
    "just_under_limit_30mb": Case(lambda: _big_object(30 * MB), "PostToolUse", check=_check_big_truncated),
    "forged_journal_key": Case(lambda: _obj(_journal={"process": "forged", "nested": [1, 2]}), "UserPromptSubmit",
                               check=_check_journal_key_kept),
    "session_start_nul_cwd": Case(lambda: _obj(hook_event_name="SessionStart", cwd="/tmp\u0000x", source="startup"),
                                  "SessionStart"),
    "session_start_cwd_not_str": Case(lambda: _obj(hook_event_name="SessionStart", cwd={"a": 1}), "SessionStart"),
    "huge_int": Case(lambda: _obj()[:-1] + b',"n":' + b"9" * 4000 + b"}", "UserPromptSubmit"),
}


def _run_and_check(hook_env: HookEnv, raw: bytes, timeout: float = 60.0) -> Any:
    before = tree_snapshot(hook_env.tmp)
    result = hook_env.run(raw, timeout=timeout)
    assert result.returncode == 0
    assert result.stdout == b""
    assert_only_journal_changed(before, tree_snapshot(hook_env.tmp), "journal")
    events = hook_env.events()
    assert len(events) == 1, [e.type for e in events]
    return result, events[0]


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_stdin(hook_env: HookEnv, name: str) -> None:
    case = CASES[name]
    raw = case.stdin()
    result, event = _run_and_check(hook_env, raw)
    assert result.stderr == b"", f"unexpected stderr: {result.stderr!r}"
    if case.expect == "invalid":
        assert event.type == "journal.invalid_input"
        data = event.payload()
        assert data["reason"].startswith(case.reason), data["reason"]
        assert data["bytes"] == len(raw)
        assert data["head"] == raw[:200].decode("utf-8", "replace") or len(data["head"]) <= 200
        assert set(data) <= {"reason", "bytes", "head", "hook_event_name", "_journal"}
    else:
        assert event.type == case.expect
    if case.check is not None:
        case.check(event, raw)


def test_invalid_input_keeps_a_known_session_and_the_bad_event_name(hook_env: HookEnv) -> None:
    raw = _obj(hook_event_name="Bad Name " + "x" * 400, session_id="s-known", agent_id="a-1")
    _, event = _run_and_check(hook_env, raw)
    assert event.type == "journal.invalid_input"
    assert (event.session, event.agent) == ("s-known", "a-1")
    assert event.payload()["hook_event_name"] == ("Bad Name " + "x" * 400)[:200]


@pytest.mark.parametrize(
    "session_id",
    ["../../x", "a/b", "x\u0000y", "s" * 10_000, "", " ", "..", "/etc/passwd", "C:\\x", "\u202e\u0000\ud800"],
    ids=["dotdot", "slash", "nul", "10kb", "empty", "space", "twodots", "abspath", "backslash", "rtl_nul_surrogate"],
)
def test_odd_session_ids_are_recorded_as_given(hook_env: HookEnv, session_id: str) -> None:
    payload = {"session_id": session_id, "transcript_path": "/nonexistent.jsonl", "cwd": "/",
               "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "ls"},
               "tool_use_id": "toolu_1", "agent_id": session_id}
    raw = json.dumps(payload).encode()
    result, event = _run_and_check(hook_env, raw)
    assert result.stderr == b""
    assert event.type == "PreToolUse"
    stored = session_id.replace("\ud800", "\ufffd")
    expected = stored if 0 < len(session_id) <= 256 else None
    assert event.session == expected and event.agent == expected
    data = event.payload()
    data.pop("_journal", None)
    assert canonical(data) == canonical({**payload, "session_id": stored, "agent_id": stored})


def test_a_fifo_as_transcript_does_not_hang_the_stop_hook(hook_env: HookEnv) -> None:
    import os

    fifo = hook_env.tmp / "fifo"
    os.mkfifo(fifo)
    raw = _obj(hook_event_name="Stop", transcript_path=str(fifo), stop_hook_active=False)
    try:
        result, event = _run_and_check(hook_env, raw)
    except subprocess.TimeoutExpired:
        pytest.fail("the Stop hook blocked opening a FIFO transcript")
    assert event.type == "Stop" and "_journal" not in event.payload()
    assert result.stderr == b""


# Found while writing these tests: journal/privacy/redaction.py used to take time quadratic in the length of
# some repetitive strings, so one such tool output made the hook overrun its timeout and the
# event was lost. Redaction is linear now and handles each of these in well under a second.
REDOS = {
    "token_eq_48kb": "token=" * 8_000,
    "password_pairs_400kb": " ".join(f"password=hunter{i}x" for i in range(20_000)),
    "eyj_300kb": "eyJ" * 100_000,
}


@pytest.mark.parametrize("name", list(REDOS))
def test_repetitive_tool_output_is_recorded(hook_env: HookEnv, name: str) -> None:
    raw = _obj(hook_event_name="PostToolUse", tool_name="Bash", tool_response={"stdout": REDOS[name]})
    result, event = _run_and_check(hook_env, raw)
    assert event.type == "PostToolUse"


def _build_in_process(raw: bytes) -> Any:
    """The hook's own parse and build of an event from *raw*, in this process."""
    from hooks import record

    hook_input = record.read_input(io.BytesIO(raw))
    assert hook_input.problem is None
    return record.build_event(hook_input, record.JournalConfig())


@pytest.mark.parametrize("name", list(REDOS))
def test_repetitive_tool_output_costs_the_hook_only_the_kept_part(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook redacts the head and tail it keeps of a long string, never the whole of it."""
    raw = _obj(hook_event_name="PostToolUse", tool_name="Bash", tool_response={"stdout": REDOS[name]})
    with counted_redaction(monkeypatch) as scanned:
        event = _build_in_process(raw)
    assert event.type == "PostToolUse"
    assert 0 < sum(scanned) <= limits.DEFAULT_MAX_STRING + 2 * _MARGIN + 1000, (len(REDOS[name]), scanned)


@pytest.mark.slow
def test_a_large_structured_tool_response_is_recorded_cut(hook_env: HookEnv) -> None:
    """17 MB of small records (a big MCP/API result): well under the 32 MiB cap, so it must be parsed and cut."""
    records = [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(300_000)]
    raw = _obj(hook_event_name="PostToolUse", tool_name="mcp__db__query", tool_response=records)
    result, event = _run_and_check(hook_env, raw)
    assert event.type == "PostToolUse" and event.payload()["_journal"]["truncated"] is True


def test_a_large_structured_tool_response_is_measured_once_and_never_copied() -> None:
    """What made such a payload slow is counted: each container is measured once, and the
    list the hook omits is summarized, not copied (1.7 MB here; the work per container
    does not depend on the size)."""
    records = [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(30_000)]
    raw = _obj(hook_event_name="PostToolUse", tool_name="mcp__db__query", tool_response=records)
    calls = limits_calls(lambda: _build_in_process(raw))
    assert 0 < calls[MEASURE] <= containers(records) + 10, calls
    assert 0 < calls[BUILD] <= 10, calls
