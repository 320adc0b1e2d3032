"""Run the hook in this process, to count what it does instead of timing it.

A hook's budget is wall-clock time on the user's machine; a test asserts the causes of
overrunning it, which are exact on any machine: waiting for a child process, sleeping on
the journal lock, re-reading a payload. The figures themselves live in
``bench/hook_budgets.py``.
"""

from __future__ import annotations

import io
import subprocess
from typing import Any

import pytest

from tests.hooks.support import HookEnv, compact


class Spawns:
    """Stands in for `subprocess.Popen`: records each start and starts nothing, and counts
    every wait for a child (``wait``, ``communicate``, ``subprocess.run``): counted, not
    raised, so that a hook's catch-all around its housekeeping cannot hide one."""

    def __init__(self) -> None:
        self.started: list[tuple[list[str], dict[str, Any]]] = []
        self.waits = 0

    def popen(self, args: list[str], **kwargs: Any) -> Any:
        self.started.append((list(args), kwargs))
        return _Child(self)

    def clis(self) -> list[list[str]]:
        """The ``agent-journal`` arguments of each detached CLI start (``--journal ROOT`` dropped)."""
        out = []
        for args, _ in self.started:
            if "--journal" in args:
                out.append(args[args.index("--journal") + 2:])
        return out


class _Child:
    pid = 0
    returncode = 0

    def __init__(self, spawns: Spawns) -> None:
        self._spawns = spawns

    def poll(self) -> None:
        return None

    def wait(self, timeout: float | None = None) -> int:
        self._spawns.waits += 1
        return 0

    def communicate(self, *args: Any, **kwargs: Any) -> tuple[bytes, bytes]:
        self._spawns.waits += 1
        return b"", b""

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wait()


def run_hook(hook_env: HookEnv, payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[str, Spawns]:
    """Run `hooks.launch.run` on *payload* against *hook_env*'s journal, in this process,
    with `Spawns` for Popen; returns (stdout, spawns)."""
    from hooks import launch

    for key, value in hook_env.env().items():
        if key != "PATH":
            monkeypatch.setenv(key, value)
    for key in ("CLAUDE_PROJECT_DIR", "CLAUDE_ENV_FILE", "CLAUDE_PLUGIN_DATA", "AGENT_JOURNAL_PYTHON"):
        monkeypatch.delenv(key, raising=False)
    spawns = Spawns()
    monkeypatch.setattr(subprocess, "Popen", spawns.popen)
    out = io.StringIO()
    launch.run(io.BytesIO(compact(payload)), out)
    return out.getvalue(), spawns
