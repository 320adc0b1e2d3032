"""``hooks/launch``, the plugin's hook command: an interpreter shim runs on the first firing
only; afterwards the interpreter cached in ``$CLAUDE_PLUGIN_DATA/python`` is exec'ed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.hooks.support import LAUNCHER, PYTHON, HookEnv, compact

SH_LAUNCHER = LAUNCHER.with_name("launch")


def _shim(tmp: Path) -> tuple[Path, Path]:
    """A pyenv-like ``python3`` first on PATH that counts its runs, then execs the real one."""
    bindir = tmp / "shims"
    bindir.mkdir()
    calls = tmp / "shim-calls"
    shim = bindir / "python3"
    shim.write_text(f'#!/bin/sh\necho run >> "{calls}"\nexec "{PYTHON}" "$@"\n')
    shim.chmod(0o755)
    return bindir, calls


def _fire(hook_env: HookEnv, data: Path, bindir: Path, n: int) -> subprocess.CompletedProcess[bytes]:
    payload = {"hook_event_name": "PreToolUse", "session_id": "s-1", "tool_name": "Bash",
               "tool_input": {"command": f"echo {n}"}}
    env = hook_env.env({"PATH": f"{bindir}:/usr/bin:/bin", "CLAUDE_PLUGIN_DATA": str(data)})
    return subprocess.run(["/bin/sh", str(SH_LAUNCHER)], input=compact(payload), capture_output=True, env=env,
                          cwd=hook_env.cwd, timeout=60)


def _runs(calls: Path) -> int:
    return calls.read_text().count("run") if calls.exists() else 0


def test_hooks_json_runs_the_launcher() -> None:
    hooks = json.loads(LAUNCHER.with_name("hooks.json").read_text())["hooks"]
    commands = {(h["command"], tuple(h["args"])) for groups in hooks.values() for g in groups for h in g["hooks"]}
    assert commands == {("/bin/sh", ("${CLAUDE_PLUGIN_ROOT}/hooks/launch",))}
    assert SH_LAUNCHER.read_bytes().startswith(b"#!/bin/sh\n")


def test_the_shim_runs_once_then_the_cached_interpreter(hook_env: HookEnv) -> None:
    bindir, calls = _shim(hook_env.tmp)
    data = hook_env.tmp / "plugin-data"
    first = _fire(hook_env, data, bindir, 1)
    assert (first.returncode, first.stdout, first.stderr) == (0, b"", b"")
    assert _runs(calls) == 1
    cached = data / "python"
    assert cached.read_text().strip() == PYTHON  # the interpreter itself, never the shim script
    assert os.stat(cached).st_mode & 0o077 == 0
    for n in range(2, 5):
        result = _fire(hook_env, data, bindir, n)
        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert _runs(calls) == 1  # no shim after the first firing
    assert [e.type for e in hook_env.events()] == ["PreToolUse"] * 4


def test_a_vanished_interpreter_falls_back_to_path(hook_env: HookEnv) -> None:
    bindir, calls = _shim(hook_env.tmp)
    data = hook_env.tmp / "plugin-data"
    data.mkdir(mode=0o700)
    (data / "python").write_text(str(hook_env.tmp / "uninstalled" / "python3") + "\n")
    result = _fire(hook_env, data, bindir, 1)
    assert (result.returncode, result.stderr) == (0, b"")
    assert _runs(calls) == 1  # through PATH (the shim) once more...
    assert (data / "python").read_text().strip() == PYTHON  # ...which cached the interpreter again
    assert [e.type for e in hook_env.events()] == ["PreToolUse"]
