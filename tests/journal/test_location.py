"""Where the journal lives: explicit > AGENT_JOURNAL_DIR > project dir > git top level > cwd."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from journal import resolve_journal_dir
from journal.location import JOURNAL_SUBDIR


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    plain = tmp_path / "plain" / "dir"
    plain.mkdir(parents=True)
    return {"repo": repo, "deep": deep, "plain": plain, "explicit": tmp_path / "explicit",
            "env": tmp_path / "from-env", "project": tmp_path / "project"}


def test_precedence(places: dict[str, Path]) -> None:
    env = {"AGENT_JOURNAL_DIR": str(places["env"])}
    project = places["project"]
    deep = places["deep"]
    every = resolve_journal_dir(places["explicit"], project_dir=project, environ=env, cwd=deep)
    assert every == places["explicit"]
    assert resolve_journal_dir(None, project_dir=project, environ=env, cwd=deep) == places["env"]
    assert resolve_journal_dir(None, project_dir=project, environ={}, cwd=deep) == project / JOURNAL_SUBDIR
    assert resolve_journal_dir(None, environ={}, cwd=deep) == places["repo"] / JOURNAL_SUBDIR
    assert resolve_journal_dir(None, environ={}, cwd=places["plain"]) == places["plain"] / JOURNAL_SUBDIR


def test_empty_values_do_not_count(places: dict[str, Path]) -> None:
    assert resolve_journal_dir("", project_dir="", environ={"AGENT_JOURNAL_DIR": ""},
                               cwd=places["deep"]) == places["repo"] / JOURNAL_SUBDIR


def test_a_git_file_marks_a_worktree_top_level(tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    (worktree / "sub").mkdir(parents=True)
    (worktree / ".git").write_text("gitdir: /elsewhere/.git/worktrees/wt\n")
    assert resolve_journal_dir(None, environ={}, cwd=worktree / "sub") == worktree / JOURNAL_SUBDIR


def test_paths_are_absolute_and_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_journal_dir("rel/j", environ={}) == tmp_path / "rel" / "j"
    assert resolve_journal_dir(None, environ={"AGENT_JOURNAL_DIR": "~/j"}) == tmp_path / "home" / "j"
    assert resolve_journal_dir(None, project_dir="proj", environ={}) == tmp_path / "proj" / JOURNAL_SUBDIR


def test_the_cli_follows_the_same_order(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """--journal > AGENT_JOURNAL_DIR > CLAUDE_PROJECT_DIR > git top level > cwd, seen via stats."""
    monkeypatch.delenv("AGENT_JOURNAL_DIR", raising=False)
    monkeypatch.delenv("CLAUDE_PROJECT_DIR", raising=False)
    runner = CliRunner()

    def where(*args: str, cwd: Path, **env: str) -> Path:
        monkeypatch.chdir(cwd)
        result = runner.invoke(cli, [*args, "append", "probe", "--json"], env=env)
        assert result.exit_code == 0, result.output
        stats = runner.invoke(cli, [*args, "stats", "--json"], env=env)
        return Path(json.loads(stats.stdout)["journal"])

    project = str(places["project"])
    deep = places["deep"]
    assert where("--journal", str(places["explicit"]), cwd=deep, AGENT_JOURNAL_DIR=str(places["env"]),
                 CLAUDE_PROJECT_DIR=project) == places["explicit"]
    assert where(cwd=deep, AGENT_JOURNAL_DIR=str(places["env"]), CLAUDE_PROJECT_DIR=project) == places["env"]
    assert where(cwd=deep, CLAUDE_PROJECT_DIR=project) == places["project"] / JOURNAL_SUBDIR
    assert where(cwd=deep) == places["repo"] / JOURNAL_SUBDIR
    assert where(cwd=places["plain"]) == places["plain"] / JOURNAL_SUBDIR
    assert os.path.isdir(places["repo"] / JOURNAL_SUBDIR / "segments")
