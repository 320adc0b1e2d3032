"""Fixtures for the projection tests: journals built from real Claude Code hook payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.paths import FIXTURES

FIXTURE = FIXTURES / "hook-payloads.jsonl"
_LOCAL = Path(__file__).resolve().parent / "data" / "hook-payloads.jsonl"

CRASHED = "771073e4-3bc9-4a24-877a-c2ae25a1ed36"
NORMAL = "77447ded-3a63-4e7b-b57f-7751b953796d"
WITH_AGENT = "29c6df8d-2e2c-4bd7-875d-92d4408ff2fc"
AGENT = "ad1967d713ff61a6d"
INTERNAL = ("a2f91b95b69a7cf7c", "a8d0016ee3b310072")
BASE = 1_764_072_000.0  # 2025-11-25T12:00:00Z
#: The fixture's Claude Code processes: alive for nobody but the probe says so.
PIDS = {NORMAL: (41001, "5001"), WITH_AGENT: (41002, "5002"), CRASHED: (41003, "5003")}


def payloads() -> list[dict[str, Any]]:
    """The 29 hook payloads of Claude Code 2.1.328 (3 sessions)."""
    path = FIXTURE if FIXTURE.exists() else _LOCAL
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def dead_probe(pid: int) -> str | None:
    """Every recorded process is gone."""
    return None


def alive_probe(pid: int) -> str | None:
    """Every recorded process is alive and is the one recorded."""
    for p, start in PIDS.values():
        if p == pid:
            return start
    return None


def record_payloads(journal: Any, items: list[dict[str, Any]], *, start_at: float = BASE, step: float = 10.0,
                    pid_of: Callable[[str], tuple[int, str]] | None = None) -> None:
    """Append payloads the way the hook does: type, session, agent, payload + _journal annotations."""
    from journal import NewEvent
    from projections.timeref import ts_text

    events = []
    for i, p in enumerate(items):
        d = dict(p)
        if p["hook_event_name"] == "SessionStart":
            pid, start = (pid_of or PIDS.__getitem__)(p["session_id"])
            d["_journal"] = {"process": {"pid": pid, "start": start, "via": "CLAUDE_PID"},
                             "git_branch": "main", "project_dir": p["cwd"]}
        events.append(NewEvent(p["hook_event_name"], d, p["session_id"], p.get("agent_id"),
                               ts_text(start_at + i * step)))
    journal.append_many(events)


@pytest.fixture
def fixture_journal(tmp_path: Path) -> Any:
    """A journal holding the 29 real payloads, recorded the way the hook records them."""
    from journal import Journal

    j = Journal.open(tmp_path / "journal", durability="flush")
    record_payloads(j, payloads())
    return j
