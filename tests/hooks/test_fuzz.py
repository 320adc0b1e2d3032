"""Fuzzing the hook entry point: arbitrary bytes and arbitrary payload objects.

In-process (``hooks.launch.main`` with sys.stdin/stdout/stderr swapped) for speed, plus a
few dozen seeded subprocess runs for the real exit path. For every input: main() returns
0 and raises nothing, stdout stays empty (SessionStart may print its one JSON object),
stderr holds at most one line, exactly one event is appended, and the journal verifies
and reads back strictly. Payloads that parse must come back field for field.
"""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path
from typing import Any, Iterator

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, given, settings

import hooks.launch
from hooks.settings import HOOK_EVENTS
from journal import Journal
from journal.storage.codec import valid_type
from tests.hooks.support import HookEnv, canonical
from tests.hooks.test_fixture_payloads import assert_stdout_allowed
from tests.profiles import examples

SEED = 20261125
FUZZ = settings(
    max_examples=examples(300),
    deadline=None,
    derandomize=True,  # the same examples every run: a failure reproduces by rerunning
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies -------------------------------------------------------------------------------

#: Lone surrogates, a pair split in two, NUL, a line separator: what JSON escapes can carry.
_odd = st.lists(st.sampled_from(["\ud800", "\udfff", "\ud83d", "\ude00", "\x00", "\u2028", "\x7f", "é", "a"]),
                max_size=6).map("".join)
_texts = st.text(max_size=24) | _odd
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _texts
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_texts, inner, max_size=4),
    max_leaves=20,
)
_known_names = st.sampled_from([*HOOK_EVENTS, "FutureEvent", "WorktreeCreate"])
_other_names = st.sampled_from(["journal.checkpoint", "Pre Tool"]) | st.text(max_size=12) | st.integers() | st.none()
#: Mostly names that record as themselves (the ones with side paths often), sometimes anything.
event_names = st.integers(0, 9).flatmap(
    lambda i: _known_names if i < 5 else st.sampled_from(["SessionStart", "Stop", "PreCompact"]) if i < 8 else _other_names
)
_ids = st.uuids().map(str) | _texts | st.integers()
_known_keys = st.sampled_from(
    ["transcript_path", "prompt", "tool_name", "tool_input", "tool_response", "source", "agent_id",
     "agent_type", "_journal", "stop_hook_active", "reason", "trigger", "custom_instructions"]
)
payloads = st.builds(
    lambda name, sid, cwd, known, extra: {"hook_event_name": name, "session_id": sid, "cwd": cwd, **known, **extra},
    event_names,
    _ids,
    _texts | _json,  # SessionStart resolves it as a path: NUL, surrogates, non-strings
    st.dictionaries(_known_keys, _json, max_size=4),
    st.dictionaries(_texts.filter(lambda k: not k.startswith("_journal")), _json, max_size=4),
).map(lambda p: {k: v for k, v in p.items() if v is not None or k not in ("hook_event_name",)})


def _encode(payload: dict[str, Any], ascii_only: bool) -> bytes:
    # Without ensure_ascii a lone surrogate goes out as its raw 3 bytes (not UTF-8, but
    # Python's json reads them back with surrogatepass, as it does a \ud800 escape).
    text = json.dumps(payload, ensure_ascii=ascii_only, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass") if not ascii_only else text.encode("ascii")


def _as_stored(payload: dict[str, Any]) -> Any:
    """What the journal keeps: lone surrogates become U+FFFD, escaped pairs are joined."""
    text = json.dumps(payload, ensure_ascii=False)
    return json.loads(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))


# -- the in-process harness -----------------------------------------------------------------


class InProcess:
    """Calls ``hooks.launch.main()`` against one journal, checking the contract on every call."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls = 0

    def last_seq(self) -> int:
        return Journal.open(self.root).last_seq() if self.root.exists() else 0

    def call(self, raw: bytes) -> tuple[Any, str, str]:
        before = self.last_seq()
        saved = sys.stdin, sys.stdout, sys.stderr
        out, err = io.StringIO(), io.StringIO()
        sys.stdin = io.TextIOWrapper(io.BytesIO(raw))
        sys.stdout, sys.stderr = out, err
        try:
            code = hooks.launch.main()
        finally:
            sys.stdin.detach()
            sys.stdin, sys.stdout, sys.stderr = saved
        self.calls += 1
        assert code == 0
        assert err.getvalue().count("\n") <= 1, err.getvalue()
        assert "Traceback" not in err.getvalue()
        journal = Journal.open(self.root, create=False)
        report = journal.verify()
        assert report.ok, report.to_dict()
        events = list(journal.read(before + 1, mode="strict"))
        extra = [e for e in events if e.type == "journal.resume_consumed"]
        assert len(events) - len(extra) == 1, [e.type for e in events]
        event = events[0]
        assert_stdout_allowed(event.type, out.getvalue().encode())
        return event, out.getvalue(), err.getvalue()


@pytest.fixture
def in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    root = tmp_path / "journal"
    monkeypatch.setenv("AGENT_JOURNAL_DIR", str(root))
    monkeypatch.setenv("AGENT_JOURNAL_DURABILITY", "flush")  # fuzzing, not power-loss testing
    monkeypatch.setenv("AGENT_JOURNAL_NO_BOOTSTRAP", "1")
    monkeypatch.delenv("CLAUDE_PROJECT_DIR", raising=False)
    monkeypatch.delenv("CLAUDE_PID", raising=False)
    monkeypatch.chdir(tmp_path)
    yield InProcess(root)


@FUZZ
@given(raw=st.binary(max_size=4096) | st.binary(max_size=64).map(lambda b: b'{"hook_event_name":"Stop",' + b))
def test_arbitrary_bytes(in_process: InProcess, raw: bytes) -> None:
    event, _, _ = in_process.call(raw)
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        assert event.type == "journal.invalid_input"
        assert event.payload()["bytes"] == len(raw)


@FUZZ
@given(payload=payloads, ascii_only=st.booleans())
def test_arbitrary_payload_objects(in_process: InProcess, payload: dict[str, Any], ascii_only: bool) -> None:
    raw = _encode(payload, ascii_only)
    recorded, out, err = in_process.call(raw)
    name = payload.get("hook_event_name")
    event(recorded.type if recorded.type in ("SessionStart", "Stop", "PreCompact", "journal.invalid_input") else "other")
    valid = valid_type(name) and not name.startswith("journal.")
    if not valid:
        assert recorded.type == "journal.invalid_input"
        return
    assert recorded.type == name
    sid = payload.get("session_id")
    stored_sid = _as_stored({"s": sid})["s"]
    assert recorded.session == (stored_sid if isinstance(sid, str) and 0 < len(sid) <= 256 else None)
    data = recorded.payload()
    notes = data.pop("_journal", {})
    if notes.get("redacted") or notes.get("truncated"):
        return  # the privacy layer changed it on purpose; its own tests cover what it keeps
    expected = _as_stored(payload)
    if "_journal" in expected:
        expected["_journal_original"] = expected.pop("_journal")
    assert canonical(data) == canonical(expected)


# -- the real exit path ------------------------------------------------------------------------


def _random_inputs(n: int) -> Iterator[bytes]:
    rng = random.Random(SEED)
    names = [*HOOK_EVENTS, "FutureEvent", "", "Bad Name", "journal.x"]
    for i in range(n):
        kind = i % 3
        if kind == 0:
            yield rng.randbytes(rng.randrange(0, 2048))
        elif kind == 1:
            payload: dict[str, Any] = {
                "hook_event_name": rng.choice(names),
                "session_id": rng.choice(["s-1", "../../x", "x\u0000y", "s" * 300, str(rng.random())]),
                "cwd": rng.choice(["/", "/nonexistent", "rel/ative", "a\u0000b"]),
                "transcript_path": rng.choice(["/nonexistent", "/dev/null", ""]),
                "nested": [{"k": rng.random(), "t": "\ud800" * rng.randrange(3)} for _ in range(rng.randrange(4))],
            }
            yield json.dumps(payload).encode()
        else:
            good = json.dumps({"hook_event_name": "PreToolUse", "session_id": "s", "tool_input": {"a": "b" * 50}})
            cut = rng.randrange(len(good) + 1)
            yield good[:cut].encode() + rng.randbytes(rng.randrange(4))


def test_random_inputs_through_the_real_launcher(hook_env: HookEnv) -> None:
    inputs = list(_random_inputs(36))
    for i, raw in enumerate(inputs, 1):
        result = hook_env.run(raw)
        assert result.returncode == 0, (SEED, i, raw[:100])
        assert len(result.stderr_lines) <= 1, (SEED, i, result.stderr)
        assert b"Traceback" not in result.stderr
        journal = hook_env.journal()
        assert journal.last_seq() == i, (SEED, i, raw[:100], result.stderr)
        event = list(journal.read(i, mode="strict"))[0]
        assert_stdout_allowed(event.type, result.stdout)
    assert len(hook_env.events()) == len(inputs)
