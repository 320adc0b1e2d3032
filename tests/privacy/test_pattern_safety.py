"""User patterns (``redaction.patterns``) cannot stall a hook.

Dangerous shapes are rejected with an error naming the pattern; a rejected pattern is a
broken redaction config (payloads withheld, reported once), never silently dropped; and
whatever gets past the check runs on bounded windows under a time budget.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from journal import Journal
from journal.privacy.pattern_safety import pattern_danger
from journal.privacy.redaction import USER_OVERLAP, USER_WINDOW, RedactionTimeout, Redactor, sanitize
from tests.hooks.support import HookEnv

DANGEROUS = [r"(a|aa)+$", r"(a+)+", r"(a*)*b", r"(\w+\.)*x", r"(?:foo|bar)*baz", r"\d+\d+", r".*.*=",
             r"\w+\s*\w+", r".*secret.*", r"(x+)\1+y", r"([a-z]+)+$", r"(?:ab|a)+c"]
SAFE = [r"ACME-[A-Z0-9]{32}", r"(?i)internal[_-]?token[=:]\s*(?P<secret>\S+)", r"corp_[a-f0-9]{40}",
        r"(?>a|aa)+$", r"\w++\w+", r"x(?:ab|cd){2}", r"(?:[A-Z]{3}-){2}\d{4}", r"tok_[A-Za-z0-9]{20,}+",
        r"secret=.*", r"[A-Z]+_TOKEN=\S+", r"(a)\1", r"key-[0-9a-f]{32}"]


def config(regex: str) -> dict:
    return {"redaction": {"patterns": [{"name": "mine", "regex": regex}]}}


@pytest.mark.parametrize("regex", DANGEROUS)
def test_dangerous_patterns_are_rejected_by_name(regex: str) -> None:
    assert pattern_danger(regex) is not None
    with pytest.raises(ValueError) as info:
        Redactor.from_config(config(regex))
    message = str(info.value)
    assert "redaction.patterns[0].regex" in message and "'mine'" in message and repr(regex) in message
    assert "unsafe" in message


@pytest.mark.parametrize("regex", SAFE)
def test_ordinary_patterns_are_accepted(regex: str) -> None:
    assert pattern_danger(regex) is None, regex
    Redactor.from_config(config(regex))


def test_a_user_pattern_finds_matches_in_every_window() -> None:
    redactor = Redactor.from_config(config(r"ACME-[A-Z0-9]{8}"))
    secrets = [f"ACME-{i:08d}" for i in range(40)]
    text = "".join(f"{'y' * (USER_WINDOW // 7 + i * 13)} {s} " for i, s in enumerate(secrets))
    out, count = redactor.redact_text(text)
    assert count == len(secrets) and not any(s in out for s in secrets)
    # A match across a window edge is found whole, up to USER_OVERLAP characters long.
    long = "ACME-" + "Z" * 8
    edge = "y" * (USER_WINDOW - 6) + " " + long + " tail"
    assert long not in redactor.redact_text(edge)[0]
    assert USER_OVERLAP >= 512


def test_a_slow_pattern_that_gets_past_the_check_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hard limit: a pattern the static check misses still cannot run for long."""
    monkeypatch.setattr("journal.privacy.redaction_config.pattern_danger", lambda regex: None)
    redactor = Redactor.from_config(config(r"(x+)\1+y"))
    with pytest.raises(RedactionTimeout):  # how soon: the next test, on a fake clock
        sanitize({"text": "x" * 3000 + "!"}, redactor)


def test_a_user_pattern_is_cut_off_once_it_has_spent_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted on a fake clock, each read of it 0.2 s after the last: the time a user
    pattern spends is checked after every match and window, so the cut-off comes one
    step after `USER_BUDGET`, however much text and how many matches remain."""
    from journal.privacy.redaction import USER_BUDGET

    redactor = Redactor.from_config(config(r"ACME-[0-9]"))
    redactor.redact_text("warm up: compile the patterns")
    reads: list[float] = []

    def clock() -> float:
        reads.append(0.2 * (len(reads) + 1))
        return reads[-1]

    monkeypatch.setattr(time, "monotonic", clock)
    with pytest.raises(RedactionTimeout):
        redactor.redact_text("ACME-1 " * 10_000)  # 10,000 matches in 18 windows
    assert reads and reads[-1] <= 2 * (USER_BUDGET + 0.2) + 0.2, len(reads)


def test_a_dangerous_pattern_in_config_withholds_library_payloads(journal_dir: Path) -> None:
    Journal.open(journal_dir)
    (journal_dir / "config.json").write_text(json.dumps(config("(a|aa)+$")))
    j = Journal.open(journal_dir)
    j.append("note", {"text": "a" * 40 + "b", "tool_name": "Bash"})
    [event] = j.read()
    assert "text" not in event.payload() and "unsafe" in event.payload()["_journal"]["withheld"]


def test_the_hook_stays_quick_and_withholds_with_a_dangerous_pattern(tmp_path: Path) -> None:
    env = HookEnv(tmp_path)
    prompt = {"session_id": "29c6df8d-2e2c-4bd7-875d-92d4408ff2fc", "transcript_path": "/t.jsonl", "cwd": "/",
              "hook_event_name": "UserPromptSubmit", "prompt": "a" * 60 + "b"}
    assert env.run(prompt).returncode == 0
    (env.journal_dir / "config.json").write_text(json.dumps(config("(a|aa)+$")))
    result = env.run(prompt, timeout=60)
    assert result.returncode == 0
    [line] = result.stderr_lines
    assert "(a|aa)+$" in line and "unsafe" in line  # refused by the static check: it never ran
    first, second = env.events()
    assert "prompt" in first.payload() and "prompt" not in second.payload()
    assert "withheld" in second.payload()["_journal"]
    assert [e["kind"] for e in env.errors_log()] == ["hook_error"]
