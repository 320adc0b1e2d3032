"""Claude Code's settings are replaced the way journal files are (`journal.layout.write_atomic`):
whole, fsynced, keeping the file's mode, through a linked ``.claude`` directory."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hooks.settings import install, uninstall
from journal import layout


def test_install_writes_durably_and_keeps_the_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"env": {"A": "1"}}, indent=2) + "\n")
    os.chmod(path, 0o640)
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(layout.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    install(path)
    assert synced, "the settings were replaced without an fsync"
    doc = json.loads(path.read_text())
    assert doc["env"] == {"A": "1"} and doc["hooks"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")) == []
    uninstall(path)
    assert json.loads(path.read_text()) == {"env": {"A": "1"}}


def test_a_new_settings_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "settings.local.json"
    install(path)
    assert json.loads(path.read_text())["hooks"] and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_linked_claude_directory_still_works(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "claude"
    real.mkdir(parents=True)
    (tmp_path / ".claude").symlink_to(real)
    install(tmp_path / ".claude" / "settings.json")
    assert json.loads((real / "settings.json").read_text())["hooks"]
