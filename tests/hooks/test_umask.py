"""Umask 000: what the hook creates outside the journal is private all the same.

The project's ``.claude`` directory (made by the first hook) and the plugin's private
virtual environment (``$CLAUDE_PLUGIN_DATA/venv``, which hooks later execute) must not
be group- or world-writable, or another local user could plant code there.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hooks.support import HookEnv, fixture_payloads

PROMPT = next(p for p in fixture_payloads() if p["hook_event_name"] == "UserPromptSubmit")

_UMASK0_HOOK = r"""
import os, subprocess, sys
os.umask(0)
sys.exit(subprocess.run(sys.argv[1:], input=sys.stdin.buffer.read()).returncode)
"""


def test_the_claude_directory_the_hook_creates_is_private_under_umask_000(hook_env: HookEnv) -> None:
    project = hook_env.tmp / "project"
    project.mkdir()
    env = hook_env.env({"CLAUDE_PROJECT_DIR": str(project)}, journal=False)
    from tests.hooks.support import LAUNCHER, compact

    proc = subprocess.run([sys.executable, "-c", _UMASK0_HOOK, sys.executable, "-I", "-S", str(LAUNCHER)],
                          input=compact(PROMPT), capture_output=True, env=env, cwd=hook_env.cwd, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, b"")
    claude = project / ".claude"
    assert stat.S_IMODE(claude.stat().st_mode) == 0o700
    assert stat.S_IMODE((claude / "journal").stat().st_mode) == 0o700


_CREATE = r"""
import os, sys
os.umask(0)
from pathlib import Path
from hooks.runtime import create_env
sys.exit(create_env(Path(sys.argv[1]), Path(sys.argv[2])))
"""


@pytest.mark.slow
def test_the_private_venv_is_not_writable_by_others_under_umask_000(tmp_path: Path) -> None:
    code_root = tmp_path / "plugin"
    (code_root / "hooks").mkdir(parents=True)
    (code_root / "hooks" / "requirements.lock").write_text("")  # nothing to install: no network
    data = tmp_path / "plugin-data" / "agent-journal"
    # -I and a cwd outside the repository: the installed hooks.runtime, never the source tree's.
    proc = subprocess.run([sys.executable, "-I", "-c", _CREATE, str(code_root), str(data)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    venv = data / "venv"
    assert (venv / ".agent-journal-ready").exists()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(venv.stat().st_mode) == 0o700
    writable = []
    for dirpath, dirnames, filenames in os.walk(venv):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if not path.is_symlink() and path.lstat().st_mode & 0o022:
                writable.append(f"{path.relative_to(venv)} {oct(stat.S_IMODE(path.lstat().st_mode))}")
    assert writable == []
