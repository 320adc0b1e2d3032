"""Shared fixtures. Tests import the installed distribution, never the source tree."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    """A path for a fresh journal (not created yet)."""
    return tmp_path / "journal"


@pytest.fixture
def journal(journal_dir: Path):
    """A fresh, empty journal with the default settings."""
    from journal import Journal

    return Journal.open(journal_dir)
