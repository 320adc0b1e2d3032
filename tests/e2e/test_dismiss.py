"""`agent-journal dismiss` with the real Claude Code: a crash is reported until it is
dismissed, not after, and again once the dismissal is undone (issue 11, section 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.fake_api import FakeMessagesAPI, Rule, bash, text, write
from tests.e2e.scenario_helpers import (
    LONG_COMMAND,
    Scenario,
    agent_journal,
    contexts_in,
    journal_json,
    kill_when_running,
    record_of,
    unique,
)


@pytest.fixture
def sc(claude_bin: Path, fake_api: FakeMessagesAPI, claude_home: Path, project_dir: Path) -> Scenario:
    """The real plugin (``--plugin-dir`` = the repository) in a fresh project and HOME."""
    return Scenario(claude_bin, fake_api, claude_home, project_dir)


def _next_context(sc: Scenario, name: str) -> str:
    marker = unique(name)
    sc.api.add_rule(Rule(marker, [[text("Read it.")]]))
    before = len(sc.api.model_requests)
    sc.run(f"{marker} where do things stand?")
    request = sc.first_request(marker, before)
    return "\n\n".join(c for c in contexts_in(request) if c)


def test_a_dismissed_crash_is_not_reported_until_the_dismissal_is_undone(sc: Scenario) -> None:
    crash = unique("DISMISS-CRASH")
    sc.api.set_script([Rule(crash, [[write(str(sc.project / "job.py"), "JOB = 1\n")],
                                    [bash(LONG_COMMAND, "a long job")]])])
    with sc.start(f"{crash} write job.py then run the long job") as proc:
        pre = kill_when_running(proc, sc.journal,
                                lambda e: e["type"] == "PreToolUse" and e["data"].get("tool_name") == "Bash")
    crashed = str(pre["session"])

    context = _next_context(sc, "DISMISS-LOOK1")
    assert f"## Crashed session {crashed[:8]}" in context, context

    out = agent_journal(sc.journal, "dismiss", crashed[:8], "--reason", "redone by hand", "--json")
    assert '"sessions"' in out.stdout and crashed in out.stdout, out.stdout
    context = _next_context(sc, "DISMISS-LOOK2")
    assert "Crashed session" not in context and "interrupted sessions" not in context.lower(), context
    assert "unfinished work" not in context, context
    row = record_of(journal_json(sc.journal, "sessions"), crashed, "session")
    assert row["status"] == "crashed" and row["handed_over"]["how"] == "dismissed", row
    assert "crashed (dismissed)" in agent_journal(sc.journal, "sessions").stdout

    agent_journal(sc.journal, "dismiss", "--undo", crashed[:8])
    context = _next_context(sc, "DISMISS-LOOK3")
    assert f"## Crashed session {crashed[:8]}" in context, context
    audit = agent_journal(sc.journal, "log", "--type", "journal.dismissed", "--json").stdout
    assert audit.count("journal.dismissed") == 2 and "redone by hand" in audit, audit
