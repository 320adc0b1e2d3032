"""``agent-journal install``: our hooks merged into Claude Code settings, and taken out again exactly.

Driven in-process through ``cli.main:cli`` with click's `CliRunner`, in a tmp git project
(the project is ``$CLAUDE_PROJECT_DIR`` or the git top level of the cwd) and a tmp
``HOME`` for ``--user``. Every test compares bytes, not just parsed JSON: a settings file
is the user's, and its formatting is theirs too.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import hooks.launch
from cli.main import cli
from hooks.settings import HOOK_EVENTS, TOOL_EVENTS, is_ours

LAUNCHER = Path(hooks.launch.__file__).resolve()
HOOKS_JSON = LAUNCHER.with_name("hooks.json")

#: A user's settings with their own hooks, odd formatting and non-ASCII text.
USER_SETTINGS = (
    '{\n\t"model": "opus",   "permissions": {"allow": ["Bash(npm test:*)"], "deny": []},\n'
    '\t"env": {"GREETING": "héllo ✓"},\n'
    '\t"hooks": {\n'
    '\t\t"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./lint.sh", "timeout": 5}]}],\n'
    '\t\t"Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],\n'
    '\t\t"FileChanged": [{"matcher": ".envrc", "hooks": [{"type": "command", "command": "direnv reload"}]}]\n'
    "\t},\n"
    '\t"statusLine": {"type": "command", "command": "echo hi"}\n'
    "}"  # no trailing newline, on purpose
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git project as the cwd, with HOME and CLAUDE_PROJECT_DIR pointing into tmp."""
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    (root / "src").mkdir()
    monkeypatch.chdir(root / "src")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLAUDE_PROJECT_DIR", raising=False)
    monkeypatch.delenv("AGENT_JOURNAL_DIR", raising=False)
    return root


def install(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["install", *args], env=env)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def settings_of(project: Path) -> Path:
    """Where `install` writes by default: the personal, uncommitted settings file."""
    return project / ".claude" / "settings.local.json"


def shared_of(project: Path) -> Path:
    return project / ".claude" / "settings.json"


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".agent-journal-backup*"), key=lambda p: p.stat().st_mtime_ns)


def ours(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Event -> the groups holding our handlers."""
    found: dict[str, list[dict[str, Any]]] = {}
    for event, groups in doc.get("hooks", {}).items():
        for group in groups:
            if any(is_ours(h) for h in group.get("hooks", [])):
                found.setdefault(event, []).append(group)
    return found


def assert_one_handler_per_event(doc: dict[str, Any]) -> None:
    found = ours(doc)
    assert set(found) == set(HOOK_EVENTS)
    for event, groups in found.items():
        assert len(groups) == 1, f"{event}: {len(groups)} groups of ours"
        [group] = groups
        assert [h for h in group["hooks"] if is_ours(h)] == group["hooks"] and len(group["hooks"]) == 1
        if event in TOOL_EVENTS:
            assert group["matcher"] == "*"
        else:
            assert "matcher" not in group
        [handler] = group["hooks"]
        assert handler["type"] == "command"
        assert handler["args"] == ["-I", "-S", str(LAUNCHER)]
        assert isinstance(handler["timeout"], int) and handler["timeout"] > 0
    for never in ("WorktreeCreate", "FileChanged", "MessageDisplay"):
        assert never not in found, f"{never} must not be registered"


def test_install_creates_settings_with_one_handler_per_event(project: Path) -> None:
    result = ok(install())
    path = settings_of(project)
    assert str(path) in result.output
    doc = json.loads(path.read_text())
    assert set(doc) == {"hooks"}
    assert_one_handler_per_event(doc)
    assert backups(path) == []  # there was nothing to back up


def test_claude_project_dir_wins_over_the_cwd(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    ok(install(env={"CLAUDE_PROJECT_DIR": str(other)}))
    assert settings_of(other).exists() and not settings_of(project).exists()


def test_install_matches_the_plugin_manifest(project: Path) -> None:
    """Settings installs and the plugin register the same events, matchers and timeouts."""
    ok(install())
    installed = json.loads(settings_of(project).read_text())["hooks"]
    plugin = json.loads(HOOKS_JSON.read_text())["hooks"]
    assert set(installed) == set(plugin) == set(HOOK_EVENTS)
    for event in HOOK_EVENTS:
        [mine], [theirs] = installed[event], plugin[event]
        assert mine.get("matcher") == theirs.get("matcher"), event
        assert mine["hooks"][0]["timeout"] == theirs["hooks"][0]["timeout"], event
        assert mine["hooks"][0]["args"][:2] == ["-I", "-S"]
        # The plugin runs its POSIX launcher, which execs the interpreter the first hook cached.
        assert theirs["hooks"][0]["command"] == "/bin/sh"
        assert theirs["hooks"][0]["args"] == ["${CLAUDE_PLUGIN_ROOT}/hooks/launch"]


def test_install_keeps_every_other_setting_and_hook(project: Path) -> None:
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(USER_SETTINGS)
    os.chmod(path, 0o640)
    ok(install())
    before = json.loads(USER_SETTINGS)
    after = json.loads(path.read_text())
    for key in ("model", "permissions", "env", "statusLine"):
        assert after[key] == before[key]
    assert_one_handler_per_event(after)
    for event, groups in before["hooks"].items():
        kept = [g for g in after["hooks"][event] if not any(is_ours(h) for h in g["hooks"])]
        assert kept == groups, event
    assert path.stat().st_mode & 0o777 == 0o640


def test_install_is_idempotent_and_keeps_one_backup_of_the_users_file(project: Path) -> None:
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(USER_SETTINGS)
    seen = [USER_SETTINGS]
    for _ in range(3):
        ok(install())
        seen.append(path.read_text())
        assert_one_handler_per_event(json.loads(seen[-1]))
    assert seen[1] == seen[2] == seen[3]
    # One backup, and it is the user's own text (not our output of the run before).
    assert [p.name for p in backups(path)] == ["settings.local.json.agent-journal-backup"]
    assert backups(path)[0].read_text() == USER_SETTINGS


def test_the_backup_follows_the_users_own_edits(project: Path) -> None:
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(USER_SETTINGS)
    ok(install())
    doc = json.loads(path.read_text())
    doc["model"] = "sonnet"
    edited = json.dumps(doc, indent=1)
    path.write_text(edited)
    ok(install())
    assert [p.read_text() for p in backups(path)] == [edited]


def test_install_replaces_handlers_from_another_install_location(project: Path) -> None:
    stale = {"type": "command", "command": "/old/venv/bin/python", "args": ["-I", "-S", "/old/site/hooks/launch.py"]}
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [stale]}], "SessionStart": [{"hooks": [stale]}]}}))
    result = ok(install("--json"))
    assert json.loads(result.output)["replaced"] == 2
    doc = json.loads(path.read_text())
    assert_one_handler_per_event(doc)
    assert "/old/site/hooks/launch.py" not in path.read_text()


def test_uninstall_restores_the_exact_prior_text(project: Path) -> None:
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(USER_SETTINGS)
    ok(install())
    ok(install())
    result = ok(install("--uninstall"))
    assert f"Removed {len(HOOK_EVENTS)} Agent Journal hooks" in result.output
    assert path.read_bytes() == USER_SETTINGS.encode()
    assert all(p.read_text() != "" for p in backups(path))


def test_uninstall_after_the_user_edited_keeps_their_edit(project: Path) -> None:
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(USER_SETTINGS)
    ok(install())
    doc = json.loads(path.read_text())
    doc["model"] = "sonnet"
    doc["hooks"]["Notification"].append({"hooks": [{"type": "command", "command": "say hi"}]})
    path.write_text(json.dumps(doc))
    ok(install("--uninstall"))
    after = json.loads(path.read_text())
    expected = json.loads(USER_SETTINGS)
    expected["model"] = "sonnet"
    expected["hooks"]["Notification"] = [{"hooks": [{"type": "command", "command": "say hi"}]}]
    assert after == expected


def test_uninstall_deletes_a_file_that_only_held_our_hooks(project: Path) -> None:
    ok(install())
    ok(install())
    path = settings_of(project)
    result = ok(install("--uninstall", "--json"))
    out = json.loads(result.output)
    assert out["deleted"] is True and out["removed"] == len(HOOK_EVENTS)
    assert not path.exists()
    assert Path(out["backup"]).exists()


def test_uninstall_with_nothing_installed_changes_nothing(project: Path) -> None:
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(USER_SETTINGS)
    stat = path.stat()
    result = ok(install("--uninstall"))
    assert "nothing changed" in result.output
    assert path.read_text() == USER_SETTINGS and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert backups(path) == []
    ok(install("--uninstall"))  # and no file at all is fine too
    path.unlink()
    assert "nothing changed" in ok(install("--uninstall")).output
    assert not path.exists()


def test_a_users_own_launch_py_hook_is_not_mistaken_for_ours(project: Path) -> None:
    """Only our exact handler shape is ours: a project's own ``.claude/hooks/launch.py`` stays."""
    theirs = {"type": "command", "command": 'python3 "$CLAUDE_PROJECT_DIR"/.claude/hooks/launch.py'}
    text = json.dumps({"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [theirs]}]}}, indent=2)
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(text)
    ok(install())
    assert theirs in [h for g in json.loads(path.read_text())["hooks"]["PreToolUse"] for h in g["hooks"]]
    ok(install("--uninstall"))
    assert path.read_text() == text


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"hooks": {', "is not valid JSON"),
        ("[1, 2]", "does not hold a JSON object"),
        ('{"hooks": []}', '"hooks" is not an object'),
        ("\ufeff{}", "is not valid JSON"),
    ],
    ids=["truncated", "array", "hooks_list", "bom"],
)
@pytest.mark.parametrize("uninstall", [False, True])
def test_invalid_settings_is_a_clear_error_and_left_untouched(project: Path, text: str, match: str,
                                                              uninstall: bool) -> None:
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(text)
    stat = path.stat()
    result = install(*(["--uninstall"] if uninstall else []))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and match in errors[0] and str(path) in errors[0], result.stderr
    assert result.stdout == ""
    assert path.read_text() == text and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_user_scope_writes_to_home(project: Path, tmp_path: Path) -> None:
    result = ok(install("--user", "--json"))
    path = tmp_path / "home" / ".claude" / "settings.json"
    assert json.loads(result.output)["settings"] == str(path)
    assert_one_handler_per_event(json.loads(path.read_text()))
    assert not settings_of(project).exists()
    ok(install("--user", "--uninstall"))
    assert not path.exists()


def test_json_output(project: Path) -> None:
    first = json.loads(ok(install("--json")).output)
    assert first == {
        "settings": str(settings_of(project)),
        "events": len(HOOK_EVENTS),
        "replaced": 0,
        "backup": None,
        "command": f"{first['command'].split(' -I -S ')[0]} -I -S {LAUNCHER}",
        "plugin": [],
        "also_in": [],
    }
    second = json.loads(ok(install("--json")).output)
    assert second["replaced"] == len(HOOK_EVENTS)
    assert second["backup"] and Path(second["backup"]).read_text() == json.dumps(
        json.loads(settings_of(project).read_text()), indent=2, ensure_ascii=False) + "\n"
    removed = json.loads(ok(install("--uninstall", "--json")).output)
    assert set(removed) == {"settings", "removed", "backup", "deleted", "also_in"}


def test_the_installed_command_records_an_event(project: Path, tmp_path: Path) -> None:
    """Run the handler exactly as Claude Code would (exec form: command + args, payload on stdin)."""
    ok(install())
    [group] = json.loads(settings_of(project).read_text())["hooks"]["PreToolUse"]
    handler = group["hooks"][0]
    payload = {"session_id": "s-installed", "transcript_path": "/x.jsonl", "cwd": str(project),
               "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "ls"},
               "tool_use_id": "toolu_1"}
    proc = subprocess.run([handler["command"], *handler["args"]], input=json.dumps(payload).encode(),
                          capture_output=True, timeout=handler["timeout"],
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"),
                               "CLAUDE_PROJECT_DIR": str(project), "AGENT_JOURNAL_NO_BOOTSTRAP": "1"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    from journal import Journal

    [event] = list(Journal.open(project / ".claude" / "journal", create=False).read(mode="strict"))
    assert (event.type, event.session) == ("PreToolUse", "s-installed")


def test_install_help_has_an_example() -> None:
    result = ok(CliRunner().invoke(cli, ["install", "--help"]))
    assert "agent-journal install" in result.output and "--uninstall" in result.output and "--json" in result.output
    assert "settings.local.json" in result.output and "--shared" in result.output


@pytest.mark.parametrize("text", ["{}", "{ }\n", '{\n  "model": "opus"\n}\n'])
def test_uninstall_restores_a_small_prior_file_instead_of_deleting_it(project: Path, text: str) -> None:
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(text)
    ok(install())
    ok(install("--uninstall"))
    assert path.exists() and path.read_text() == text


def test_shared_writes_the_committed_settings_json(project: Path) -> None:
    result = json.loads(ok(install("--shared", "--json")).output)
    assert result["settings"] == str(shared_of(project))
    assert_one_handler_per_event(json.loads(shared_of(project).read_text()))
    assert not settings_of(project).exists()
    ok(install("--shared", "--uninstall"))
    assert not shared_of(project).exists()


def test_install_says_when_the_plugin_is_enabled_too(project: Path, tmp_path: Path) -> None:
    user_settings = tmp_path / "home" / ".claude" / "settings.json"
    user_settings.parent.mkdir(parents=True)
    user_settings.write_text(json.dumps({"enabledPlugins": {"agent-journal@agent-journal-marketplace": True,
                                                           "other@somewhere": True}}))
    result = ok(install())
    assert "plugin is enabled too (agent-journal@agent-journal-marketplace in " in result.output
    assert "recorded once" in result.output
    out = json.loads(ok(install("--json")).output)
    assert out["plugin"] == [f"agent-journal@agent-journal-marketplace in {user_settings}"]
    # Inside a session of the plugin, whatever the settings say.
    user_settings.write_text("{}")
    inside = json.loads(ok(install("--json", env={"AGENT_JOURNAL_PLUGIN_DATA": "/d"})).output)
    assert inside["plugin"] == ["in this Claude Code session"]
    assert json.loads(ok(install("--json")).output)["plugin"] == []


def test_install_names_the_other_settings_files_that_hold_our_hooks(project: Path) -> None:
    ok(install("--shared"))
    result = ok(install())
    assert f"also in {shared_of(project)}" in result.output
    removed = json.loads(ok(install("--uninstall", "--json")).output)
    assert removed["also_in"] == [str(shared_of(project))]


def test_uninstall_restores_from_a_backup_an_older_version_wrote(project: Path) -> None:
    """Older versions wrote one timestamped backup per run; their text still restores exactly."""
    path = settings_of(project)
    path.parent.mkdir()
    path.write_text(USER_SETTINGS)
    ok(install())
    backups(path)[0].rename(path.with_name(path.name + ".agent-journal-backup-20260101-120000"))
    ok(install("--uninstall"))
    assert path.read_text() == USER_SETTINGS
