"""Compaction while hooks append: 4 processes appending during a compaction lose nothing.

The writers append through the hooks' path (a short lock timeout, spooling when the lock
is busy) while the journal's segments roll; the compaction holds the append lock only
for its swap. Afterwards every appended event is there exactly once, each writer's
events are in its own order, `verify` is clean, and folding the compacted journal gives
the same state as folding its original history (read back with the archive).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from journal import Journal
from projections.compaction.compact import compact
from projections.runner import PROJECTIONS, fold_events
from tests.compaction.observe import state_of

WRITERS = 4
PER_WRITER = 400
WRITER = """
import sys, time
from journal import Journal, NewEvent
journal = Journal.open(sys.argv[1], create=False)
name, n = sys.argv[2], int(sys.argv[3])
open(sys.argv[4], "w").close()
for i in range(n):
    event = NewEvent("PreToolUse", {"writer": name, "i": i, "tool_name": "Bash", "tool_use_id": f"{name}-{i}"},
                     session=f"live-{name}")
    journal.append_many([event], lock_timeout=0.05, spool_on_timeout=True)
    time.sleep(0.003)
"""


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        import _gen
    finally:
        sys.path.pop(0)
    root = tmp_path / "journal"
    _gen.generate(root, 3000, sessions=25, seed=3, segment_bytes=64 * 1024)
    (root / "config.json").write_text(json.dumps({"segment_bytes": 64 * 1024, "durability": "flush"}))
    return root


def _fold(events: Any) -> dict[str, Any]:
    pairs = [(p, p.initial()) for p in PROJECTIONS]
    fold_events(pairs, events)
    return {p.name: state_of(s) for p, s in pairs}


@pytest.mark.slow
def test_appends_during_a_compaction_are_all_kept(generated: Path, tmp_path: Path) -> None:
    procs = []
    ready = [tmp_path / f"ready-{k}" for k in range(WRITERS)]
    for k in range(WRITERS):
        procs.append(subprocess.Popen([sys.executable, "-c", WRITER, str(generated), f"w{k}", str(PER_WRITER),
                                       str(ready[k])], stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 30
    while not all(p.exists() for p in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    journal = Journal.open(generated, create=False)
    before = journal.last_seq()
    report = compact(journal, older_than="7d", now=1_800_000_000.0, probe=lambda pid: None)
    during = journal.last_seq() - before
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    journal.append("flush", {})  # merges anything still spooled, as the next hook would
    assert report.sessions >= 20 and report.events_removed > 2000
    assert during > 0, "the writers did not overlap the compaction; make them slower"

    seen: dict[str, list[int]] = {}
    for event in journal.read():
        if event.type == "PreToolUse" and event.session and event.session.startswith("live-"):
            data = event.payload()
            seen.setdefault(data["writer"], []).append(data["i"])
    for k in range(WRITERS):
        assert seen.get(f"w{k}") == list(range(PER_WRITER)), f"writer w{k} lost or reordered events"

    verdict = journal.verify()
    assert verdict.ok and not verdict.leftovers, verdict.to_dict()
    assert not list(generated.glob("spool/*.jsonl")), "spooled events were not merged"
    assert _fold(journal.read()) == _fold(journal.read(archived=True))
