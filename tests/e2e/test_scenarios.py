"""End-to-end scenarios: the real Claude Code, the real plugin, the fake Messages API.

Each scenario checks both sides: what Claude Code actually sent to the model (the
recovery context travels in the request ``messages``, after "SessionStart hook
additional context:") and what the journal recorded, read back with the ``agent-journal``
CLI. Markers are unique per run (`unique`), so a context can only contain them if the
journal put them there. Every scenario ends with an empty errors.log and, where it
appends, a sound journal (``verify --json`` ok, seqs 1..N, empty spool).

Checks that need the projections (the ``sessions``/``show``/``timeline``/``agents``/
``agent show``/``context``/``save`` commands, or the hook's rendered context) fail with a
message starting "NEEDS PROJECTIONS:" when those are missing; they never skip.

SLOW: `test_first_run_bootstraps_the_private_venv` creates the plugin's private
environment with pip (seconds with the local wheel cache, up to ~2 minutes from PyPI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.claude import REPO_ROOT, wait_until
from tests.e2e.fake_api import (
    SUMMARY_MARKER,
    FakeMessagesAPI,
    Rule,
    agent,
    bash,
    is_compaction_request,
    text,
    write,
)
from tests.e2e.scenario_helpers import (
    LONG_COMMAND,
    Scenario,
    agent_journal,
    contexts_in,
    fail_no_context,
    hook_errors,
    journal_events,
    journal_json,
    kill_when_running,
    only_context,
    record_of,
    require_command,
    sequence,
    session_events,
    tool_results,
    unique,
)

def _turn(*tools: str) -> list[str]:
    """The hook sequence of a ``claude -p`` run whose model answers make one tool call each."""
    events = ["SessionStart", "UserPromptSubmit"]
    for tool in tools:
        events += [f"PreToolUse:{tool}", f"PostToolUse:{tool}", "PostToolBatch"]
    return events + ["Stop", "SessionEnd"]


@pytest.fixture
def sc(claude_bin: Path, fake_api: FakeMessagesAPI, claude_home: Path, project_dir: Path) -> Scenario:
    """The real plugin (``--plugin-dir`` = the repository) in a fresh project and HOME."""
    return Scenario(claude_bin, fake_api, claude_home, project_dir)


def _assert_sound(sc: Scenario) -> dict[str, Any]:
    """``verify --json`` is ok, seqs run 1..N without gaps, and nothing is left in the spool."""
    report = json.loads(agent_journal(sc.journal, "verify", "--json").stdout)
    assert report["ok"] is True, report
    seqs = [e["seq"] for e in journal_events(sc.journal)]
    assert seqs == list(range(1, len(seqs) + 1)), f"seqs are not 1..N: {seqs}"
    assert (report["first_seq"], report["last_seq"], report["events"]) == (1, len(seqs), len(seqs)), report
    spool = sc.journal / "spool"
    assert not (spool.is_dir() and any(spool.iterdir())), f"events left in the spool: {list(spool.iterdir())}"
    return report


def _render_failure(entry: dict[str, Any]) -> bool:
    message = str(entry.get("message", ""))
    return "render session-start failed" in message or "precompact" in message


def _recording_errors(sc: Scenario) -> list[dict[str, Any]]:
    """errors.log entries other than failures to render (those are checked where context is)."""
    return [e for e in hook_errors(sc.journal) if not _render_failure(e)]


def _assert_no_hook_errors(sc: Scenario) -> None:
    """No hook failed at all (rendering included): errors.log is empty."""
    errors = hook_errors(sc.journal)
    if errors:
        needs = "NEEDS PROJECTIONS: " if "No module named 'projections" in str(errors) else ""
        pytest.fail(f"{needs}hooks logged errors:\n" + "\n".join(str(e.get("message", e))[:500] for e in errors),
                    pytrace=False)


# --------------------------------------------------------------------------- 1. next session


def test_next_session_gets_context_naming_files_and_prompt(sc: Scenario) -> None:
    """A session writes a file and runs it; the next session's first request names both."""
    first, nxt = unique("S1-BUILD"), unique("S1-NEXT")
    greet = sc.project / "greet.py"
    sc.api.set_script(
        [
            Rule(
                first,
                [
                    [write(str(greet), "print('hello from greet')\n")],
                    [bash("python3 greet.py", "run the greeter")],
                    [text("Greeter built.")],
                ],
            ),
            Rule(nxt, [[text("Continuing.")]]),
        ]
    )

    assert sc.run(f"{first} build the greeter").stdout.strip() == "Greeter built."
    # Claude Code really ran the command and sent its output back.
    assert any("hello from greet" in r for r in tool_results(sc.api.requests_for(first)[-1]))
    before = len(sc.api.model_requests)
    sc.run(f"{nxt} carry on")

    events = journal_events(sc.journal)
    s1, s2 = sc.session_of_prompt(first), sc.session_of_prompt(nxt)
    assert s1 != s2
    assert sequence(session_events(events, s1)) == _turn("Write", "Bash")
    assert sequence(session_events(events, s2)) == ["SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"]
    pre_write = next(e for e in session_events(events, s1) if e["type"] == "PreToolUse")
    assert pre_write["data"]["tool_input"]["file_path"] == str(greet)
    assert not _recording_errors(sc)
    _assert_sound(sc)

    # The very first model request of the second run carries the context.
    request = sc.requests_since(before)[0]
    assert nxt in request.first_user_text
    assert not [c for r in sc.api.requests_for(first) for c in contexts_in(r) if c], "first session got context"
    context = only_context(request, sc.journal, "second session's first request")
    assert "greet.py" in context, context
    assert first in context, f"the first session's prompt is not in the context (it ended normally):\n{context}"

    assert record_of(journal_json(sc.journal, "sessions"), s1, "session")["status"] == "ended"
    shown = json.dumps(journal_json(sc.journal, "show", s1))
    assert first in shown and "greet.py" in shown, shown
    _assert_no_hook_errors(sc)


# --------------------------------------------------------------------------- 2. crash


def test_crash_mid_tool_is_reported_to_the_next_session(sc: Scenario) -> None:
    """SIGKILL while a Bash tool runs: the next context says crashed, names the call and prompt."""
    crash, nxt = unique("S2-CRASH"), unique("S2-NEXT")
    sc.api.set_script(
        [
            Rule(crash, [[write(str(sc.project / "plan.txt"), "step 1\n")], [bash(LONG_COMMAND, "a long job")]]),
            Rule(nxt, [[text("Looking into it.")]]),
        ]
    )

    with sc.start(f"{crash} run the long job") as proc:
        pre = kill_when_running(
            proc, sc.journal, lambda e: e["type"] == "PreToolUse" and e["data"].get("tool_name") == "Bash"
        )
    crashed = str(pre["session"])
    # The Bash call was sent to the model side and never answered: no tool result came back.
    assert len(sc.api.requests_for(crash)) == 2
    events = session_events(journal_events(sc.journal), crashed)
    assert sequence(events) == ["SessionStart", "UserPromptSubmit", "PreToolUse:Write", "PostToolUse:Write",
                                "PostToolBatch", "PreToolUse:Bash"]
    assert events[0]["data"]["_journal"]["process"]["pid"] == proc.pid
    assert pre["data"]["tool_input"]["command"] == LONG_COMMAND

    before = len(sc.api.model_requests)
    sc.run(f"{nxt} what happened?")
    request = sc.requests_since(before)[0]
    assert nxt in request.first_user_text
    assert not _recording_errors(sc)
    _assert_sound(sc)

    context = only_context(request, sc.journal, "the session after the crash")
    assert re.search(r"crash", context, re.I), f"the context does not say the session crashed:\n{context}"
    assert crashed[:8] in context, context
    assert "Bash" in context and "time.sleep(30)" in context, f"the in-flight call is not named:\n{context}"
    assert crash in context, f"the last prompt is not named:\n{context}"

    assert record_of(journal_json(sc.journal, "sessions"), crashed, "session")["status"] == "crashed"
    shown = json.dumps(journal_json(sc.journal, "show", crashed))
    assert "time.sleep(30)" in shown and crash in shown, shown
    timeline = journal_json(sc.journal, "timeline", crashed)
    assert "time.sleep(30)" in json.dumps(timeline), timeline
    _assert_no_hook_errors(sc)


# --------------------------------------------------------------------------- 3. subagents


def test_subagent_registry_then_orphaned_by_a_crash(sc: Scenario) -> None:
    """A subagent's type, tool calls and files are in the registry; one killed mid-tool is orphaned."""
    parent, sub = unique("S3-PARENT"), unique("S3-SUB")
    parent2, sub2 = unique("S3-PARENT2"), unique("S3-SUB2")
    sub_file = sc.project / "sub.txt"
    sc.api.set_script(
        [
            Rule(parent, [[agent(f"{sub} write sub.txt", "write a file")], [text("Agent finished.")]]),
            Rule(sub, [[write(str(sub_file), "from the subagent\n")], [text("Sub done.")]]),
            Rule(parent2, [[agent(f"{sub2} run the long job", "long job")]]),
            Rule(sub2, [[bash(LONG_COMMAND, "a long job")]]),
        ]
    )

    sc.run(f"{parent} delegate")
    assert sub_file.read_text() == "from the subagent\n"
    # The subagent talked to the fake itself, and its answer came back to the parent.
    assert len(sc.api.requests_for(sub)) == 2
    assert any("Sub done." in r for r in tool_results(sc.api.requests_for(parent)[-1]))
    events = journal_events(sc.journal)
    start = next(e for e in events if e["type"] == "SubagentStart")
    agent_id = start["agent"]
    assert start["data"]["agent_type"] == "general-purpose"
    assert [e["data"].get("tool_name") for e in events if e.get("agent") == agent_id and e["type"] == "PreToolUse"] == [
        "Write"
    ]

    with sc.start(f"{parent2} delegate the long job") as proc:
        pre = kill_when_running(
            proc,
            sc.journal,
            lambda e: e["type"] == "PreToolUse" and bool(e.get("agent")) and e["data"].get("tool_name") == "Bash",
        )
    orphan_id = str(pre["agent"])
    assert orphan_id != agent_id
    # The subagent's Bash call was issued and never answered.
    assert len(sc.api.requests_for(sub2)) == 1
    events = journal_events(sc.journal)
    orphan_events = [e for e in events if e.get("agent") == orphan_id]
    assert sequence(orphan_events) == ["SubagentStart", "PreToolUse:Bash"]
    assert not _recording_errors(sc)
    _assert_sound(sc)

    registry = journal_json(sc.journal, "agents", "--all")
    done = record_of(registry, agent_id, "agent")
    assert (done["type"], done["status"]) == ("general-purpose", "completed"), done
    assert done["tool_calls"] == 1 and done["files"] == 1, done
    shown = json.dumps(journal_json(sc.journal, "agent", "show", agent_id))
    assert "general-purpose" in shown and "Write" in shown and "sub.txt" in shown, shown

    orphan = record_of(registry, orphan_id, "agent")
    assert orphan["status"] == "orphaned", f"the agent killed mid-tool is not orphaned: {orphan}"
    assert orphan["type"] == "general-purpose", orphan
    shown = json.dumps(journal_json(sc.journal, "agent", "show", orphan_id))
    assert "orphaned" in shown and "time.sleep(30)" in shown, shown
    _assert_no_hook_errors(sc)


# --------------------------------------------------------------------------- 4. compaction


def test_post_compaction_context_carries_prompts_files_and_checkpoint(sc: Scenario) -> None:
    """After `/compact`, the session's SessionStart(compact) context restores what only the journal knows."""
    first, objective, after = unique("S4-FIRST"), unique("S4-OBJ"), unique("S4-AFTER")
    notes = sc.project / "notes.txt"
    sc.api.set_script(
        [
            Rule(first, [[write(str(notes), "some notes\n")], [text("Noted.")]]),
            Rule(after, [[text("Answered after compaction.")]], match="latest"),
        ]
    )

    sc.run(f"{first} take notes")
    session = sc.session_of_prompt(first)
    has_save = agent_journal(None, "save", "--help", check=False).returncode == 0
    if has_save:
        agent_journal(sc.journal, "save", "--session", session, "--objective", objective)
    else:  # the same event `save` writes, so the rest of the scenario still runs
        agent_journal(sc.journal, "append", "journal.checkpoint", "--session", session,
                      "--data", json.dumps({"objective": objective}))

    before = len(sc.api.model_requests)
    sc.run("/compact", resume=session)
    [compaction] = [r for r in sc.requests_since(before) if is_compaction_request(r.body)]
    # Contexts present before the summary was made are not the post-compaction one.
    earlier = set(contexts_in(compaction))

    events = session_events(journal_events(sc.journal), session)
    # The first turn, the checkpoint, then the /compact run (its summary is written by an
    # internal subagent, hence the SubagentStop).
    assert sequence(events) == [*_turn("Write"), "journal.checkpoint", "SessionStart", "PreCompact",
                                "SubagentStop", "SessionStart", "PostCompact", "SessionEnd"], sequence(events)
    assert [e["data"].get("source") for e in events if e["type"] == "SessionStart"] == ["startup", "resume", "compact"]
    checkpoint = next(e for e in journal_events(sc.journal) if e["type"] == "journal.checkpoint")
    assert (checkpoint["session"], checkpoint["data"]["objective"]) == (session, objective)
    assert not _recording_errors(sc), _recording_errors(sc)
    _assert_sound(sc)

    # The next turn of the same session, without the plugin: the only new hook context in
    # its request is the one SessionStart(compact) produced.
    before = len(sc.api.model_requests)
    result = sc.run(f"{after} continue", resume=session, plugin_dir=None)
    assert result.stdout.strip() == "Answered after compaction."
    request = sc.requests_since(before)[0]
    assert SUMMARY_MARKER in request.first_user_text and after in request.text
    new = [c for c in contexts_in(request) if c and c not in earlier]
    rest = request.text
    for context in contexts_in(request):
        rest = rest.replace(context, "")
    assert first not in rest, "the first prompt reached the model other than through the journal"
    if len(new) != 1:
        fail_no_context(sc.journal, "the request after compaction", new)
    [context] = new
    assert first in context, f"the first prompt is not in the post-compaction context:\n{context}"
    assert objective in context, f"the checkpoint is not in the post-compaction context:\n{context}"
    assert "notes.txt" in context, context
    # PreCompact recorded the state just before compaction (docs/EVENTS.md).
    capture = next(e for e in events if e["type"] == "PreCompact")["data"].get("_journal", {}).get("capture")
    if capture is None:
        failures = [e["message"] for e in hook_errors(sc.journal) if _render_failure(e) and e.get("event") == "PreCompact"]
        pytest.fail(f"{'NEEDS PROJECTIONS: ' if 'projections' in str(failures) else ''}PreCompact has no "
                    f"capture; errors.log: {failures}", pytrace=False)
    assert first in json.dumps(capture) and "notes.txt" in json.dumps(capture), f"PreCompact capture: {capture}"
    require_command("save")  # it was replaced by `append` above when missing
    _assert_no_hook_errors(sc)


# --------------------------------------------------------------------------- 5. concurrency


def test_three_concurrent_sessions_lose_no_event(sc: Scenario) -> None:
    """Three `claude -p` at once in one project: every hook event lands, seq 1..N, verify ok."""
    markers = [unique(f"S5-{n}") for n in range(3)]
    script = []
    for n, marker in enumerate(markers):
        turns = []
        for step in range(2):
            turns.append([write(str(sc.project / f"c{n}-{step}.txt"), f"{marker} {step}\n")])
            turns.append([bash(f"python3 -c \"print('{marker}-{step}')\"", "echo a marker")])
        script.append(Rule(marker, [*turns, [text(f"{marker} finished")]]))
    sc.api.set_script(script)

    procs = [sc.start(f"{marker} work") for marker in markers]
    try:
        for proc in procs:
            proc.wait(120)
        for proc, marker in zip(procs, markers, strict=True):
            assert proc.poll() == 0, proc.stderr()
            assert proc.stdout().strip() == f"{marker} finished"
    finally:
        for proc in procs:
            proc.cleanup()
    # Each conversation got all its answers (one request per tool result, plus the first).
    for marker in markers:
        requests = sc.api.requests_for(marker)
        assert len(requests) == 5, len(requests)
        assert any(f"{marker}-1" in r for r in tool_results(requests[-1]))

    events = journal_events(sc.journal)
    expected = _turn("Write", "Bash", "Write", "Bash")
    sessions = [sc.session_of_prompt(marker) for marker in markers]
    assert len(set(sessions)) == 3
    for session in sessions:
        mine = session_events(events, session)
        assert sequence(mine) == expected, sequence(mine)
        assert Counter(e["type"] for e in mine) == Counter(
            {"SessionStart": 1, "UserPromptSubmit": 1, "PreToolUse": 4, "PostToolUse": 4, "PostToolBatch": 4,
             "Stop": 1, "SessionEnd": 1}
        )
    assert len(events) == 3 * len(expected), sequence(events)
    # They really ran at the same time: their seq ranges overlap.
    spans = sorted((min(e["seq"] for e in session_events(events, s)), max(e["seq"] for e in session_events(events, s)))
                   for s in sessions)
    assert any(spans[i][1] > spans[i + 1][0] for i in range(2)), f"the sessions did not overlap: {spans}"
    assert not _recording_errors(sc), _recording_errors(sc)
    _assert_sound(sc)
    _assert_no_hook_errors(sc)


# --------------------------------------------------------------------------- 6. install


def test_install_records_without_the_plugin_and_uninstall_restores_settings(sc: Scenario, tmp_path: Path) -> None:
    """`agent-journal install` hooks a plain project; `--uninstall` gives back the exact settings file."""
    first, nxt, later = unique("S6-FIRST"), unique("S6-NEXT"), unique("S6-LATER")
    fired = tmp_path / "unrelated-stop-hook.log"
    settings = sc.project / ".claude" / "settings.json"
    settings.parent.mkdir()
    original = {
        "env": {"UNRELATED_SETTING": "kept"},
        "cleanupPeriodDays": 45,
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": f"echo fired >> {fired}"}]}]},
    }
    # Written by hand: 4-space indents and an inline list, not the way install writes JSON.
    original_text = json.dumps(original, indent=4).replace(
        json.dumps(original["env"], indent=4).replace("\n", "\n    "), json.dumps(original["env"])
    )
    assert json.loads(original_text) == original and original_text != json.dumps(original, indent=2) + "\n"
    settings.write_text(original_text)
    sc.plugin_dir = None
    sc.api.set_script([Rule(first, [[write(str(sc.project / "installed.txt"), "x\n")], [text("Written.")]])])

    out = json.loads(agent_journal(None, "install", "--shared", "--json", cwd=sc.project).stdout)
    assert Path(out["settings"]).resolve() == settings.resolve()
    installed = json.loads(settings.read_text())
    assert installed["env"] == original["env"] and installed["cleanupPeriodDays"] == 45
    assert installed["hooks"]["Stop"][0] == original["hooks"]["Stop"][0]
    assert len(installed["hooks"]) == out["events"] > 20

    sc.run(f"{first} write a file")
    s1 = sc.session_of_prompt(first)
    # Ask for s1's context explicitly: the hooks must render it, whatever the context
    # policy for sessions that ended normally (test_next_session_... covers that).
    agent_journal(sc.journal, "resume", s1)
    before = len(sc.api.model_requests)
    sc.run(f"{nxt} carry on")
    events = journal_events(sc.journal)
    assert sequence(session_events(events, s1)) == _turn("Write")
    assert fired.read_text().count("fired") == 2, "the unrelated Stop hook stopped firing"
    assert not _recording_errors(sc), _recording_errors(sc)
    _assert_sound(sc)

    result = json.loads(agent_journal(None, "install", "--shared", "--uninstall", "--json", cwd=sc.project).stdout)
    assert result["removed"] == out["events"]
    assert settings.read_text() == original_text, "uninstall did not restore the settings file exactly"
    # With the hooks gone, a session adds nothing to the journal; the unrelated hook still fires.
    count = len(journal_events(sc.journal))
    sc.run(f"{later} once more")
    assert len(journal_events(sc.journal)) == count
    assert fired.read_text().count("fired") == 3

    request = sc.requests_since(before)[0]
    assert nxt in request.first_user_text
    context = only_context(request, sc.journal, "second session with installed hooks")
    assert first in context and "installed.txt" in context, context
    _assert_no_hook_errors(sc)


# --------------------------------------------------------------------------- 7. marketplace


def _copy_checkout(destination: Path) -> Path:
    """The repository's files (tracked and new, not ignored): what a user's clone holds."""
    listing = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def test_plugin_installed_from_the_marketplace_records(sc: Scenario, tmp_path: Path) -> None:
    """`claude plugin marketplace add <repo>` + `claude plugin install`, then a plain session records."""
    marker = unique("S7-MARKET")
    repo = _copy_checkout(tmp_path / "agent-journal")
    sc.plugin_dir = None

    added = sc.claude_cli("plugin", "marketplace", "add", str(repo))
    assert added.returncode == 0, f"marketplace add refused:\n{added.stdout}\n{added.stderr}"
    install = sc.claude_cli("plugin", "install", "agent-journal@agent-journal-marketplace")
    assert install.returncode == 0, f"plugin install refused:\n{install.stdout}\n{install.stderr}"
    registry = json.loads((sc.home / ".claude" / "plugins" / "installed_plugins.json").read_text())
    [entry] = registry["plugins"]["agent-journal@agent-journal-marketplace"]
    assert (Path(entry["installPath"]) / "hooks" / "launch.py").is_file()

    sc.api.set_script([Rule(marker, [[bash("python3 -c \"print('market')\"", "say market")], [text("Ok.")]])])
    sc.run(f"{marker} go")
    # The plugin's slash commands and skill were offered to the model.
    request = sc.first_request(marker)
    assert "agent-journal:save" in request.text and "agent-journal:journal" in request.text
    events = journal_events(sc.journal)
    session = sc.session_of_prompt(marker)
    assert sequence(session_events(events, session)) == _turn("Bash")
    assert not _recording_errors(sc), _recording_errors(sc)
    _assert_sound(sc)
    _assert_no_hook_errors(sc)


# --------------------------------------------------------------------------- 8. bootstrap


def _python_without_msgspec(tmp_path: Path) -> Path:
    """A python3 >= 3.11 that cannot import msgspec: a system one, else a bare venv."""
    for candidate in ("/usr/bin/python3", "/root/.pyenv/versions/3.11.7/bin/python3"):
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; assert sys.version_info >= (3, 11); import msgspec"],
            capture_output=True,
        ) if os.path.exists(candidate) else None
        if probe is not None and b"No module named 'msgspec'" in probe.stderr:
            return Path(candidate)
    bare = tmp_path / "bare-venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(bare)], check=True)  # type: ignore[attr-defined]
    return bare / "bin" / "python3"


def test_first_run_bootstraps_the_private_venv(sc: Scenario, tmp_path: Path) -> None:
    """SLOW (pip, up to ~2 min): with a bare python3 and no agent-journal on PATH, nothing is lost,
    the private venv appears in CLAUDE_PLUGIN_DATA/venv, and the next session gets context."""
    first, nxt = unique("S8-FIRST"), unique("S8-NEXT")
    bin_dir = tmp_path / "bare-bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(_python_without_msgspec(tmp_path))
    path = os.pathsep.join([str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin"])
    assert shutil.which("agent-journal", path=path) is None
    assert subprocess.run(["python3", "-c", "import msgspec"], env={"PATH": path}, capture_output=True).returncode
    sc.env = {"PATH": path}  # AGENT_JOURNAL_NO_BOOTSTRAP unset
    sc.api.set_script(
        [
            Rule(first, [[write(str(sc.project / "boot.txt"), "boot\n")], [bash("python3 -c \"print(1)\"")], [text("Ok.")]]),
            Rule(nxt, [[text("Continuing.")]]),
        ]
    )

    result = sc.run(f"{first} start")
    events = journal_events(sc.journal)
    assert sequence(events) == _turn("Write", "Bash"), (
        f"events were lost on the first, bare run: {sequence(events)}\n{result.describe()}\n"
        f"journal files: {sorted(p.name for p in sc.journal.rglob('*'))}\nerrors.log: {hook_errors(sc.journal)}"
    )
    # Nothing could render yet, so the first session got no context (and did not wait for pip).
    assert not [c for c in contexts_in(sc.api.requests_for(first)[0]) if c]
    assert not _recording_errors(sc), _recording_errors(sc)

    data_dirs = sorted((sc.home / ".claude" / "plugins" / "data").glob("agent-journal*"))
    assert len(data_dirs) == 1, data_dirs
    ready = data_dirs[0] / "venv" / ".agent-journal-ready"
    log = data_dirs[0] / "venv-install.log"
    try:
        wait_until(ready.is_file, timeout=150, interval=1, message=f"{ready}")
    except TimeoutError:
        pytest.fail(f"the private venv was not ready in 150 s; {log}:\n"
                    f"{log.read_text(errors='replace')[-3000:] if log.is_file() else '(no log)'}", pytrace=False)
    assert ready.read_text() == (REPO_ROOT / "hooks" / "requirements.lock").read_text()
    venv_python = data_dirs[0] / "venv" / "bin" / "python"
    assert subprocess.run([str(venv_python), "-c", "import msgspec, click, portalocker"]).returncode == 0

    # The next session renders with the new venv: ask for s1's context explicitly, so the
    # check does not depend on the policy for sessions that ended normally.
    s1 = sc.session_of_prompt(first)
    agent_journal(sc.journal, "resume", s1)
    before = len(sc.api.model_requests)
    sc.run(f"{nxt} carry on")
    _assert_sound(sc)
    request = sc.requests_since(before)[0]
    context = only_context(request, sc.journal, "the session after the bootstrap")
    assert first in context and "boot.txt" in context, context
    # The hook appended the consumption of the request it rendered.
    s2 = sc.session_of_prompt(nxt)
    assert sequence(session_events(journal_events(sc.journal), s2)) == [
        "SessionStart", "journal.resume_consumed", "UserPromptSubmit", "Stop", "SessionEnd"]
    _assert_no_hook_errors(sc)
