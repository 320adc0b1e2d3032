"""End-to-end: a plugin-only user (no ``agent-journal`` on PATH) runs the CLI from inside Claude.

The real Claude Code, the real plugin (``--plugin-dir`` = the repository), a ``python3``
without msgspec and no ``agent-journal`` on PATH. The plugin's private environment is
made ready beforehand (`make_ready_venv`, no pip) where Claude Code keeps the plugin's
data, so the only way the Bash tool can reach it is what the plugin itself provides: the
SessionStart hook's exports in ``$CLAUDE_ENV_FILE`` and ``bin/agent-journal``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.fake_api import FakeMessagesAPI, Rule, bash, text, write
from tests.e2e.scenario_helpers import Scenario, journal_events, only_context, tool_results, unique
from tests.hooks.plugin_env import BASE_PYTHON, make_ready_venv


@pytest.fixture
def sc(claude_bin: Path, fake_api: FakeMessagesAPI, claude_home: Path, project_dir: Path, tmp_path: Path) -> Scenario:
    """The plugin only: a bare python3 first on PATH, no agent-journal anywhere on it."""
    bin_dir = tmp_path / "bare-bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(BASE_PYTHON)
    path = os.pathsep.join([str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin"])
    assert shutil.which("agent-journal", path=path) is None
    # Where Claude Code keeps a --plugin-dir plugin's data (see the spec, CLAUDE_PLUGIN_DATA).
    make_ready_venv(claude_home / ".claude" / "plugins" / "data" / "agent-journal-inline")
    return Scenario(claude_bin, fake_api, claude_home, project_dir,
                    env={"PATH": path, "AGENT_JOURNAL_NO_BOOTSTRAP": "1"})


def test_bash_tool_saves_a_checkpoint_the_next_session_sees(sc: Scenario) -> None:
    first, second, third = unique("P1-FIRST"), unique("P1-SAVE"), unique("P1-NEXT")
    objective, step = unique("OBJECTIVE"), unique("NEXT-STEP")
    sc.api.set_script(
        [
            Rule(first, [[write(str(sc.project / "plan.txt"), "plan\n")], [text("Written.")]]),
            Rule(second, [
                [bash(f'agent-journal save --objective "{objective}" --next "{step}"', "save a checkpoint")],
                [bash("agent-journal sessions", "list sessions")],
                [text("Saved.")],
            ]),
            Rule(third, [[text("Continuing.")]]),
        ]
    )
    sc.run(f"{first} write the plan")
    s1 = sc.session_of_prompt(first)
    sc.run(f"{second} save where we are")
    s2 = sc.session_of_prompt(second)

    saved, listed = tool_results(sc.api.requests_for(second)[-1])
    # `save` took the session from $CLAUDE_CODE_SESSION_ID and the journal from the project.
    assert saved.strip() == f"Checkpoint saved for session {s2[:8]} (event {_seq_of_checkpoint(sc)}).", saved
    assert s1[:8] in listed and s2[:8] in listed, listed
    assert "agent-journal:" not in listed + saved  # no "environment not found" line

    before = len(sc.api.model_requests)
    sc.run(f"{third} carry on")
    context = only_context(sc.requests_since(before)[0], sc.journal, "the session after the checkpoint")
    assert objective in context, context


def _seq_of_checkpoint(sc: Scenario) -> int:
    [event] = [e for e in journal_events(sc.journal) if e["type"] == "journal.checkpoint"]
    return int(event["seq"])


def test_plugin_and_settings_install_record_each_firing_once(claude_bin: Path, fake_api: FakeMessagesAPI,
                                                            claude_home: Path, project_dir: Path) -> None:
    """The plugin (--plugin-dir) plus `agent-journal install`: both copies fire, one event each, one context."""
    from tests.e2e.scenario_helpers import agent_journal, hook_errors, sequence, session_events

    sc = Scenario(claude_bin, fake_api, claude_home, project_dir)
    first, nxt = unique("P5-FIRST"), unique("P5-NEXT")
    installed = agent_journal(None, "install", "--json", cwd=sc.project)
    assert (sc.project / ".claude" / "settings.local.json").is_file(), installed.stdout
    sc.api.set_script([Rule(first, [[bash("python3 -c \"print('twice?')\"", "say it")], [text("Ok.")]]),
                       Rule(nxt, [[text("Continuing.")]])])
    sc.run(f"{first} go")
    s1 = sc.session_of_prompt(first)
    events = journal_events(sc.journal)
    assert sequence(session_events(events, s1)) == [
        "SessionStart", "UserPromptSubmit", "PreToolUse:Bash", "PostToolUse:Bash", "PostToolBatch", "Stop",
        "SessionEnd"], sequence(events)
    agent_journal(sc.journal, "resume", s1)
    before = len(sc.api.model_requests)
    sc.run(f"{nxt} carry on")
    context = only_context(sc.requests_since(before)[0], sc.journal, "the next session with both installs")
    assert first in context
    s2 = sc.session_of_prompt(nxt)
    assert sequence(session_events(journal_events(sc.journal), s2)) == [
        "SessionStart", "journal.resume_consumed", "UserPromptSubmit", "Stop", "SessionEnd"]
    assert not hook_errors(sc.journal), hook_errors(sc.journal)


def test_slash_commands_without_arguments_answer(sc: Scenario) -> None:
    """`/agent-journal:timeline` and `/agent-journal:resume-agents` with nothing after them still run
    their `!` commands (a non-zero exit would abort the whole command) and give Claude an answer."""
    first = unique("P7-FIRST")
    sc.api.set_script([Rule(first, [[text("Ok.")]])])
    sc.run(f"{first} hello")
    before = len(sc.api.model_requests)
    sc.run("/agent-journal:timeline")
    [request] = sc.requests_since(before)
    assert "Timeline of this session" in request.text and "session started" in request.text, request.text[-3000:]
    assert "Usage:" not in request.text and "Missing argument" not in request.text
    before = len(sc.api.model_requests)
    sc.run("/agent-journal:resume-agents")
    [request] = sc.requests_since(before)
    assert "No unfinished agents" in request.text, request.text[-3000:]
    before = len(sc.api.model_requests)
    sc.run("/agent-journal:resume")
    [request] = sc.requests_since(before)
    assert "# Agent Journal: recovery context" in request.text, request.text[-3000:]
    assert "Usage:" not in request.text and "requires an argument" not in request.text
    assert "no session matches" not in request.text and "no session id given" not in request.text
