"""SessionEnd starts a due automatic compaction, detached, and returns at once."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hooks.inprocess import run_hook
from tests.hooks.support import HookEnv

SESSION = "5e55e5e5-0000-4000-8000-000000000001"


def _payload(event: str, **fields: object) -> dict[str, object]:
    return {"session_id": SESSION, "transcript_path": "/nonexistent", "cwd": "/tmp",
            "hook_event_name": event, **fields}


def _fill(hook_env: HookEnv, config: dict[str, object]) -> None:
    hook_env.journal_dir.mkdir(mode=0o700)
    (hook_env.journal_dir / "config.json").write_text(json.dumps(config))
    assert hook_env.run(_payload("SessionStart", source="startup")).returncode == 0
    for i in range(12):  # 4 KiB segments: a few rolls, so sealed segments exist
        prompt = _payload("UserPromptSubmit", prompt=f"step {i} " + "x" * 600)
        assert hook_env.run(prompt).returncode == 0


def _wait_for_run(lock: Path, timeout: float = 60.0) -> None:
    import fcntl
    import os

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists():
            fd = os.open(lock, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return  # the detached run (if any) has released it
            except BlockingIOError:
                pass
            finally:
                os.close(fd)
        time.sleep(0.1)
    raise AssertionError("the automatic compaction did not finish")


def test_session_end_starts_a_due_compaction_without_waiting(hook_env: HookEnv) -> None:
    _fill(hook_env, {"segment_bytes": 4096, "retention": {"auto": True, "older_than": "0s"}})
    assert not (hook_env.journal_dir / "compact.lock").exists()
    result = hook_env.run(_payload("SessionEnd", reason="other"), {"AGENT_JOURNAL_PYTHON": sys.executable})
    assert tuple(result) == (0, b"", b"")  # that it does not wait for the run: the next test
    lock = hook_env.journal_dir / "compact.lock"
    assert lock.exists()  # the run was started (its start time is the lock's mtime)
    _wait_for_run(lock)
    assert not [e for e in hook_env.errors_log() if e["kind"].startswith("auto_compaction")]
    events = hook_env.events()  # verify is clean after the run
    assert events[-1].type == "SessionEnd"


def test_session_end_starts_the_due_compaction_detached_and_waits_for_nothing(
    hook_env: HookEnv, monkeypatch: pytest.MonkeyPatch, lock_clock: Any
) -> None:
    """Counted, not timed: the run is started in its own session and never waited for, and
    the hook never sleeps on a lock, so SessionEnd's 1.5 s budget is untouched."""
    _fill(hook_env, {"segment_bytes": 4096, "retention": {"auto": True, "older_than": "0s"}})
    stdout, spawns = run_hook(hook_env, _payload("SessionEnd", reason="other"), monkeypatch)
    assert stdout == ""
    assert ["compact", "--auto"] in spawns.clis()
    assert all(kwargs.get("start_new_session") is True for _, kwargs in spawns.started)
    assert (spawns.waits, lock_clock.sleeps) == (0, 0)
    assert (hook_env.journal_dir / "compact.lock").exists()
    assert hook_env.events()[-1].type == "SessionEnd"


def test_session_end_starts_nothing_when_auto_is_off(hook_env: HookEnv) -> None:
    _fill(hook_env, {"segment_bytes": 4096, "retention": {"auto": False}})
    result = hook_env.run(_payload("SessionEnd", reason="other"), {"AGENT_JOURNAL_PYTHON": sys.executable})
    assert tuple(result) == (0, b"", b"")
    assert not (hook_env.journal_dir / "compact.lock").exists()
