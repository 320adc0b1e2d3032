"""Fixtures for the hook tests; the helpers they use live in `tests.hooks.support`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.hooks.support import HookEnv


@pytest.fixture
def hook_env(tmp_path: Path) -> HookEnv:
    """A tmp tree with a journal path, a working directory and a HOME for launcher runs."""
    return HookEnv(tmp_path)


@pytest.fixture
def git_project(tmp_path: Path) -> Path:
    """A git repository (branch ``feat/journal-tests``) to use as CLAUDE_PROJECT_DIR."""
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "feat/journal-tests", str(project)], check=True,
                   env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"})
    return project
