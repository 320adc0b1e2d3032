"""End to end: a session asks about earlier work, Claude's Bash tool runs ``agent-journal search``,
and the tool result names the earlier session (the real Claude Code, the real plugin, the
fake Messages API; see tests/e2e/test_scenarios.py for the harness)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.fake_api import FakeMessagesAPI, Rule, bash, text, write
from tests.e2e.scenario_helpers import Scenario, journal_json, tool_results, unique


@pytest.fixture
def sc(claude_bin: Path, fake_api: FakeMessagesAPI, claude_home: Path, project_dir: Path) -> Scenario:
    """The real plugin (``--plugin-dir`` = the repository) in a fresh project and HOME."""
    return Scenario(claude_bin, fake_api, claude_home, project_dir)


def test_a_session_finds_earlier_work_with_agent_journal_search(sc: Scenario) -> None:
    first, asks = unique("S15-BUILD"), unique("S15-ASK")
    topic = "zanzibar ledger reconciliation"
    sc.api.set_script(
        [
            Rule(first, [[write(str(sc.project / "ledger.py"), "# zanzibar ledger\n")],
                         [text("Ledger written.")]]),
            Rule(asks, [[bash(f"agent-journal search '{topic}' --limit 5", "search the journal")],
                        [text("Found it.")]]),
        ]
    )
    sc.run(f"{first} start the {topic} module")
    earlier = sc.session_of_prompt(first)
    sc.run(f"{asks} when did we last work on the {topic}?")
    later = sc.session_of_prompt(asks)
    assert later != earlier

    # The model's second request of the asking session carries the Bash tool's output.
    results = [r for req in sc.api.requests_for(asks) for r in tool_results(req)]
    assert results, "Claude Code sent no tool result back"
    output = results[-1]
    assert f"session {earlier[:8]}" in output, output
    assert "**zanzibar**" in output and "**ledger**" in output, output

    # The same search from outside finds both sessions (the asking prompt is indexed too).
    found = journal_json(sc.journal, "search", "zanzibar")
    assert {h["session"] for h in found["hits"]} == {earlier, later}
