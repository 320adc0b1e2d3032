"""The context cap is set in one place (`projections.read.context`), read from config by
one function, and the launcher's hard cap stays above it and below Claude Code's limit."""

from __future__ import annotations

from pathlib import Path

import pytest

import hooks.launch
from journal import Journal
from projections.read.context import DEFAULT_MAX_CHARS, max_chars_of

#: Claude Code writes ``additionalContext`` longer than this to a file instead.
CLAUDE_CODE_LIMIT = 10_000


def test_the_default_budget_fits_under_the_launcher_s_hard_cap() -> None:
    assert DEFAULT_MAX_CHARS < hooks.launch.CONTEXT_HARD_CAP < CLAUDE_CODE_LIMIT


def test_the_hard_cap_cuts_at_a_line_and_says_so() -> None:
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(200))
    capped = hooks.launch._cap(text)
    assert len(capped) <= hooks.launch.CONTEXT_HARD_CAP
    assert capped.endswith("run `agent-journal context`)\n") and text.startswith(capped.split("\n\n(context cut")[0])
    assert hooks.launch._cap("short") == "short"


@pytest.mark.parametrize(
    "extra,expected",
    [
        ({}, DEFAULT_MAX_CHARS),
        ({"context": {}}, DEFAULT_MAX_CHARS),
        ({"context": {"max_chars": 4000}}, 4000),
        ({"context": {"max_chars": 20_000}}, 20_000),  # the CLI may print more; the hook's hard cap still holds
        ({"context": {"max_chars": 199}}, DEFAULT_MAX_CHARS),
        ({"context": {"max_chars": True}}, DEFAULT_MAX_CHARS),
        ({"context": "lots"}, DEFAULT_MAX_CHARS),
    ],
)
def test_context_max_chars_is_read_once(extra: dict[str, object], expected: int) -> None:
    assert max_chars_of(extra) == expected


def test_the_hook_renders_to_the_configured_cap(tmp_path: Path) -> None:
    from hooks import render

    root = tmp_path / "journal"
    journal = Journal.open(root)
    for i in range(40):
        sid = f"s{i:02d}"
        journal.append("SessionStart", {"source": "startup", "cwd": str(tmp_path)}, session=sid)
        journal.append("UserPromptSubmit", {"prompt": f"task {i} " + "word " * 60}, session=sid)
        journal.append("SessionEnd", {"reason": "exit"}, session=sid)
    (root / "config.json").write_text('{"context": {"max_chars": 600}}')
    small = render.session_start(root, "new", "startup")["context"]
    (root / "config.json").write_text("{}")
    default = render.session_start(root, "new", "startup")["context"]
    assert 0 < len(small) <= 600 < len(default) <= DEFAULT_MAX_CHARS
