"""Fixtures for end-to-end tests that drive the real Claude Code binary offline.

Every test in this directory is marked ``e2e`` (deselect with ``-m "not e2e"``). Without a
binary the tests skip locally but fail under ``CI``, so a broken CI image cannot pass
silently. Install the binary with::

    mkdir -p .e2e && cd .e2e && npm install --no-audit --no-fund @anthropic-ai/claude-code@2.1.328
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.claude import CLAUDE_BIN_ENV, ensure_claude, init_project
from tests.e2e.fake_api import FakeMessagesAPI

_HERE = Path(__file__).resolve().parent
_INSTALL_HINT = (
    "install it with `mkdir -p .e2e && cd .e2e && npm install --no-audit --no-fund "
    f"@anthropic-ai/claude-code@2.1.328`, or point ${CLAUDE_BIN_ENV} at a binary"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the real Claude Code binary against a fake Messages API")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items, not just this directory's.
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """Path of the Claude Code binary; skips (locally) or fails (under CI) when missing."""
    path = ensure_claude()
    if path is None:
        override = os.environ.get(CLAUDE_BIN_ENV)
        problem = (
            f"${CLAUDE_BIN_ENV}={override} is not an executable file"
            if override
            else f"Claude Code binary not found: {_INSTALL_HINT}"
        )
        if _ci():
            pytest.fail(f"CI is set but the e2e tests cannot run: {problem}", pytrace=False)
        pytest.skip(problem)
    return path


@pytest.fixture
def fake_api() -> Iterator[FakeMessagesAPI]:
    """A started fake Messages API with an empty script (every turn answers "Done.").

    Give it a script with ``fake_api.set_script([...])``. Teardown fails the test if the
    server swallowed an exception, since that means the harness, not Claude Code, misbehaved.
    """
    with FakeMessagesAPI() as api:
        yield api
    assert not api.errors, f"fake Messages API errors: {api.errors}"


@pytest.fixture
def claude_home(tmp_path: Path) -> Path:
    """A throwaway HOME for Claude Code (it writes ``~/.claude`` and ``~/.claude.json``)."""
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """An empty ``git init``-ed project directory to run Claude Code in."""
    return init_project(tmp_path / "project")
