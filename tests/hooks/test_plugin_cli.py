"""A plugin-only user runs ``agent-journal`` from Claude's Bash tool and ``!`` commands.

Claude Code gives ``CLAUDE_PLUGIN_DATA`` to hooks only. The SessionStart hook exports it
(as ``AGENT_JOURNAL_PLUGIN_DATA``) through ``$CLAUDE_ENV_FILE``, which Claude Code sources
into every Bash command; ``bin/agent-journal`` uses it, or finds the data directory under
``~/.claude/plugins/data`` by itself, and says in one line when the environment is not
there yet. The end-to-end check with the real binary is in tests/e2e/test_plugin_cli.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

from tests.hooks.support import HookEnv
from tests.hooks.plugin_env import BASE_PYTHON, WRAPPER, make_ready_venv


def _bare_path(tmp: Path) -> str:
    """A PATH with a python3 that has no msgspec and no agent-journal anywhere."""
    bin_dir = tmp / "bare-bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "python3").exists():
        (bin_dir / "python3").symlink_to(BASE_PYTHON)
    return os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])


def _wrapper_env(tmp: Path, **extra: str) -> dict[str, str]:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": _bare_path(tmp), "HOME": str(home), "LANG": "C.UTF-8", **extra}


def _run(tmp: Path, *args: str, cwd: Path | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WRAPPER), *args], env=_wrapper_env(tmp, **extra), cwd=cwd or tmp,
                          capture_output=True, text=True, timeout=120)


def _session_start(hook_env: HookEnv, session: str = "s-env") -> dict[str, object]:
    return {"hook_event_name": "SessionStart", "session_id": session, "source": "startup",
            "cwd": str(hook_env.cwd), "transcript_path": str(hook_env.tmp / "t.jsonl")}


def test_session_start_exports_the_data_dir_and_project_to_the_bash_tool(hook_env: HookEnv, tmp_path: Path) -> None:
    env_file = tmp_path / "session-env" / "sessionstart-hook-1.sh"
    env_file.parent.mkdir()
    data = tmp_path / "plugin data's dir"  # a space and a quote: the export must be shell-quoted
    project = tmp_path / "project"
    result = hook_env.run(_session_start(hook_env), {"CLAUDE_ENV_FILE": str(env_file), "CLAUDE_PLUGIN_DATA": str(data),
                                                     "CLAUDE_PROJECT_DIR": str(project)})
    assert result.returncode == 0 and not result.stderr, result
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    # What Claude Code does with the file: source it before the Bash command.
    shown = subprocess.run(["sh", "-c", f'. "{env_file}"; printf "%s\\n%s" "$AGENT_JOURNAL_PLUGIN_DATA" '
                            '"$AGENT_JOURNAL_PROJECT_DIR"'], capture_output=True, text=True, check=True).stdout
    assert shown.splitlines() == [str(data), str(project)]
    assert [e.type for e in hook_env.events()] == ["SessionStart"]


def test_a_settings_installed_hook_leaves_the_env_file_alone(hook_env: HookEnv, tmp_path: Path) -> None:
    env_file = tmp_path / "sessionstart-hook-0.sh"
    result = hook_env.run(_session_start(hook_env), {"CLAUDE_ENV_FILE": str(env_file)})
    assert result.returncode == 0 and not result.stderr, result
    assert not env_file.exists()


def test_wrapper_runs_the_cli_with_the_exported_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_ready_venv(data)
    journal = tmp_path / "journal"
    appended = _run(tmp_path, "--journal", str(journal), "append", "note", "--data", '{"text": "hi"}',
                    AGENT_JOURNAL_PLUGIN_DATA=str(data))
    assert appended.returncode == 0, appended
    assert appended.stdout.strip() == "1" and not appended.stderr
    shown = _run(tmp_path, "--journal", str(journal), "log", "--json", AGENT_JOURNAL_PLUGIN_DATA=str(data))
    assert json.loads(shown.stdout)["data"] == {"text": "hi"}


def test_wrapper_finds_the_data_dir_by_itself(tmp_path: Path) -> None:
    """No variable at all (a session started before the plugin was updated): ~/.claude/plugins/data is searched."""
    make_ready_venv(tmp_path / "home" / ".claude" / "plugins" / "data" / "agent-journal-inline")
    result = _run(tmp_path, "--version")
    assert result.returncode == 0, result
    assert "version" in result.stdout


def test_wrapper_uses_the_project_the_hooks_use(tmp_path: Path) -> None:
    """AGENT_JOURNAL_PROJECT_DIR (from the env file) picks the journal, whatever the Bash tool's cwd."""
    data = tmp_path / "data"
    make_ready_venv(data)
    project = tmp_path / "project"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _run(tmp_path, "append", "note", cwd=elsewhere, AGENT_JOURNAL_PLUGIN_DATA=str(data),
                  AGENT_JOURNAL_PROJECT_DIR=str(project))
    assert result.returncode == 0, result
    assert (project / ".claude" / "journal").is_dir() and not (elsewhere / ".claude").exists()


def test_wrapper_without_any_environment_says_so_in_one_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "sessions")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("agent-journal: ") and "first Claude Code session" in line and "minute" in line
    assert "Traceback" not in result.stderr


def test_wrapper_with_bootstrap_disabled_does_not_create_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    result = _run(tmp_path, "sessions", AGENT_JOURNAL_PLUGIN_DATA=str(data), AGENT_JOURNAL_NO_BOOTSTRAP="1")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "does not exist yet" in line
    assert not (data / "venv").exists()


def test_wrapper_waits_for_a_creation_in_progress_and_says_how_long(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "venv.4242.tmp").mkdir()  # what a creator stages into
    lock = os.open(data / "venv.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a creator is at work
    try:
        proc = subprocess.Popen([str(WRAPPER), "--version"], env=_wrapper_env(tmp_path, AGENT_JOURNAL_PLUGIN_DATA=str(data)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stderr.readline()  # type: ignore[union-attr]
        assert line.startswith("agent-journal: waiting for the plugin's Python environment (being created for ")
        assert "usually under a minute" in line
        make_ready_venv(data)  # the creator finishes
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "version" in out and not err
