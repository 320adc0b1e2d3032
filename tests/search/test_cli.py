"""``agent-journal search``, ``sessions --all-projects`` and the journal registry, end to end
through click's CliRunner and through the real hook process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hooks.launch
from cli.main import cli
from journal import Journal
from journal.registry import journals, register, registry_path
from tests.search.support import S1, S2, S3, write_sessions

LAUNCHER = Path(hooks.launch.__file__).resolve()


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(path))
    return path


@pytest.fixture
def jdir(tmp_path: Path, xdg: Path) -> Path:
    root = tmp_path / "shop" / ".claude" / "journal"
    write_sessions(Journal.open(root, durability="flush"))
    return root


def run(*args: str, code: int = 0, **kw: Any) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, **kw)
    assert result.exit_code == code, result.output
    return result


@pytest.mark.parametrize("words", [["search"], ["sessions"]], ids=" ".join)
def test_help_has_an_example_json_and_all_projects(words: list[str]) -> None:
    out = run(*words, "--help").output
    assert "Example" in out and "--json" in out and "--all-projects" in out


def test_search_prints_hits_grouped_by_session(jdir: Path) -> None:
    out = run("--journal", str(jdir), "search", "cart").output
    assert f"session {S2[:8]}" in out and f"session {S3[:8]}" in out and "**cart**" in out
    assert "agent-journal show <session>" in out
    data = json.loads(run("--journal", str(jdir), "search", "invoice", "--type", "prompt,checkpoint",
                          "--json").output)
    assert {h["kind"] for h in data["hits"]} == {"prompt", "checkpoint"}
    assert data["sessions"] == [{"session": S1, "project": "/home/dev/src/shop", "journal": str(jdir),
                                 "last_ts": max(h["ts"] for h in data["hits"]), "hits": len(data["hits"])}]
    assert run("--journal", str(jdir), "search", "zeppelin").output.startswith("No match")


def test_search_for_a_file_without_a_query(jdir: Path) -> None:
    data = json.loads(run("--journal", str(jdir), "search", "--file", "cart/api.py", "--json").output)
    assert [h["session"] for h in data["hits"]] == [S3, S2]


@pytest.mark.parametrize("query", ['"unterminated', "(cart"])
def test_a_bad_query_is_a_one_line_usage_error(jdir: Path, query: str) -> None:
    proc = subprocess.run([str(Path(sys.executable).parent / "agent-journal"), "--journal", str(jdir), "search",
                           query], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: cannot parse the search query") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_usage_errors(jdir: Path) -> None:
    assert "give a QUERY" in run("--journal", str(jdir), "search", code=2).output
    assert "choose from" in run("--journal", str(jdir), "search", "x", "--type", "nope", code=2).output
    assert "no session matches" in run("--journal", str(jdir), "search", "x", "--session", "ffff", code=1).output


def test_update_rebuild_and_the_rebuild_command(jdir: Path) -> None:
    first = json.loads(run("--journal", str(jdir), "search", "--update", "--json").output)
    assert first["rebuilt"] == "no index yet" and first["seq"] == Journal.open(jdir).last_seq()
    assert json.loads(run("--journal", str(jdir), "search", "--update", "--json").output)["events"] == 0
    assert run("--journal", str(jdir), "search", "--update", "--quiet").output == ""
    assert "Rebuilt the search index" in run("--journal", str(jdir), "search", "--rebuild").output
    report = json.loads(run("--journal", str(jdir), "rebuild", "--json").output)
    assert report["search_index"]["seq"] == report["seq"] and report["search_index"]["documents"] > 0


def test_all_projects_search_and_sessions_from_anywhere(tmp_path: Path, jdir: Path) -> None:
    other = tmp_path / "billing" / ".claude" / "journal"
    write_sessions(Journal.open(other, durability="flush"), only=(S2,))
    register(jdir)
    register(other)
    elsewhere = tmp_path / "nowhere"
    elsewhere.mkdir()
    env = {"CLAUDE_PROJECT_DIR": str(elsewhere), "AGENT_JOURNAL_DIR": None}
    data = json.loads(run("search", "checkout", "--all-projects", "--json", env=env).output)
    assert data["projects"] == 2
    assert {h["journal"] for h in data["hits"]} == {str(jdir), str(other)}
    text = run("search", "checkout", "-A", env=env).output
    assert str(tmp_path / "shop") in text and str(tmp_path / "billing") in text
    rows = json.loads(run("sessions", "--all-projects", "--json", env=env).output)["sessions"]
    assert sorted((r["id"], r["journal"]) for r in rows) == sorted(
        [(S1, str(jdir)), (S2, str(jdir)), (S3, str(jdir)), (S2, str(other))])
    assert "/home/dev/src/shop" in run("sessions", "-A", env=env).output


def test_the_registry_is_pruned_of_journals_that_are_gone(tmp_path: Path, xdg: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert register(a) and register(b) and not register(a)
    b.rmdir()
    assert [e["journal"] for e in journals()] == [str(a)]
    assert [e["journal"] for e in json.loads(registry_path().read_text())["journals"]] == [str(a)]
    assert registry_path() == xdg / "agent-journal" / "projects.json"
    assert stat.S_IMODE(registry_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(registry_path().parent.stat().st_mode) == 0o700
    registry_path().write_text("{not json")
    assert journals() == [] and register(a)  # a damaged registry is rebuilt as journals are seen


def _hook(payload: dict[str, Any], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-I", "-S", str(LAUNCHER)], input=json.dumps(payload).encode(),
                          env=env, capture_output=True, timeout=60)


def test_the_hook_registers_a_journal_on_its_first_event_only(tmp_path: Path) -> None:
    project, home = tmp_path / "proj", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "CLAUDE_PROJECT_DIR": str(project),
           "AGENT_JOURNAL_NO_BOOTSTRAP": "1"}
    base = {"session_id": S1, "cwd": str(project), "tool_name": "Bash", "tool_use_id": "t",
            "tool_input": {"command": "ls"}}
    assert _hook({**base, "hook_event_name": "PreToolUse"}, env).returncode == 0
    registry = home / ".local" / "share" / "agent-journal" / "projects.json"  # no XDG_DATA_HOME: the default
    entries = json.loads(registry.read_text())["journals"]
    assert entries == [{"journal": str(project / ".claude" / "journal"), "project": str(project),
                        "added": entries[0]["added"]}]
    before = registry.stat().st_mtime_ns
    time.sleep(0.01)
    assert _hook({**base, "hook_event_name": "PostToolUse"}, env).returncode == 0
    assert registry.stat().st_mtime_ns == before
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    other = tmp_path / "other"
    other.mkdir()
    env["CLAUDE_PROJECT_DIR"] = str(other)
    assert _hook({**base, "cwd": str(other), "hook_event_name": "PreToolUse"}, env).returncode == 0
    assert (tmp_path / "data" / "agent-journal" / "projects.json").exists()


def test_session_end_updates_the_index_in_the_background(tmp_path: Path) -> None:
    project, home = tmp_path / "proj", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home),
           "CLAUDE_PROJECT_DIR": str(project), "AGENT_JOURNAL_NO_BOOTSTRAP": "1"}
    base = {"session_id": S1, "cwd": str(project)}
    _hook({**base, "hook_event_name": "UserPromptSubmit", "prompt": "make the walrus dance"}, env)
    index = project / ".claude" / "journal" / "cache" / "search.sqlite"
    assert not index.exists(), "a prompt must not touch the index"
    _hook({**base, "hook_event_name": "SessionEnd", "reason": "other"}, env)
    from journal.detached import lock_held

    writing = index.parent / "search.lock"  # the job holds it until the index is in place
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (index.exists() and not lock_held(writing)):
        time.sleep(0.1)
    assert index.exists() and not lock_held(writing)
    found = json.loads(run("--journal", str(project / ".claude" / "journal"), "search", "walrus", "--json").output)
    assert [h["session"] for h in found["hits"]] == [S1]



def test_a_locked_registry_never_stops_a_hook(tmp_path: Path) -> None:
    import fcntl

    project, home = tmp_path / "proj", tmp_path / "home"
    project.mkdir()
    lockdir = home / ".local" / "share" / "agent-journal"
    lockdir.mkdir(parents=True)
    fd = os.open(lockdir / "projects.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a stuck process holds the registry
    try:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "CLAUDE_PROJECT_DIR": str(project),
               "AGENT_JOURNAL_NO_BOOTSTRAP": "1"}
        proc = _hook({"session_id": S1, "cwd": str(project), "hook_event_name": "UserPromptSubmit",
                      "prompt": "still recorded"}, env)
    finally:
        os.close(fd)
    assert proc.returncode == 0
    journal = Journal.open(project / ".claude" / "journal", create=False)
    assert [e.type for e in journal.read()] == ["UserPromptSubmit"]
    errors = (journal.root / "errors.log").read_text()
    assert "registry_failed" in errors and "stayed locked" in errors
