"""Keep the unknown: new event names and new fields are recorded exactly as Claude Code sent them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.hooks.support import HookEnv, canonical, compact

FUTURE: dict[str, Any] = {
    "session_id": "5b0c3e7e-0000-4000-8000-000000000001",
    "transcript_path": "/home/dev/.claude/projects/-x/5b0c3e7e.jsonl",
    "cwd": "/home/dev/src/shop",
    "hook_event_name": "FutureEvent",
    "prompt_id": "p-1",
    "brand_new": {
        "nested": {"deeper": [1, 2.5, -0.0, 1e300, 12345678901234567890123, None, True, False, "", [], {}]},
        "unicode": "naïve – 😀 – \u2028 – \u0000 – 日本語",
        "escapes": "quote \" backslash \\ slash / tab \t newline \n",
        "order": {"z": 1, "a": 2, "m": 3},
    },
    "effort": {"level": "xhigh", "future_knob": 3},
}


def test_future_event_is_kept_byte_for_byte(hook_env: HookEnv) -> None:
    result = hook_env.run(FUTURE)
    assert tuple(result) == (0, b"", b"")
    [event] = hook_env.events()
    assert event.type == "FutureEvent"
    assert event.session == FUTURE["session_id"]
    assert event.agent is None
    # The stored payload is the exact compact encoding of what was sent (key order included).
    assert bytes(event.data) == compact(FUTURE)
    assert canonical(event.payload()) == canonical(FUTURE)
    assert list(event.payload()["brand_new"]["order"]) == ["z", "a", "m"]


@pytest.mark.parametrize("event", ["SessionStart", "Stop", "PreCompact", "PostToolUse", "SubagentStop"])
def test_unknown_fields_on_known_events_are_kept(hook_env: HookEnv, event: str) -> None:
    payload = {**FUTURE, "hook_event_name": event, "agent_id": "a-future", "new_list": [{"k": [{"v": 1}]}]}
    result = hook_env.run(payload)
    assert result.returncode == 0 and result.stderr == b""
    [recorded] = [e for e in hook_env.events() if not e.type.startswith("journal.")]
    assert (recorded.type, recorded.session, recorded.agent) == (event, FUTURE["session_id"], "a-future")
    data = recorded.payload()
    data.pop("_journal", None)
    assert canonical(data) == canonical(payload)


def test_many_unknown_event_names_each_become_their_own_type(hook_env: HookEnv) -> None:
    names = ["PreModelSwitch", "PostModelSwitch", "Über.Event", "x", "E" * 128, "Team:Idle/2", "日本"]
    for name in names:
        assert tuple(hook_env.run({**FUTURE, "hook_event_name": name})) == (0, b"", b"")
    assert [e.type for e in hook_env.events()] == names


def test_a_payload_cannot_forge_the_journals_own_event_types(hook_env: HookEnv) -> None:
    """``journal.*`` types are Agent Journal's (docs/EVENTS.md); a hook payload must not mint them."""
    forged = {**FUTURE, "hook_event_name": "journal.resume_requested", "session": "victim"}
    result = hook_env.run(forged)
    assert tuple(result) == (0, b"", b"")
    [event] = hook_env.events()
    assert event.type == "journal.invalid_input"
    assert event.payload()["hook_event_name"] == "journal.resume_requested"
    assert json.loads(bytes(event.data))["reason"]
