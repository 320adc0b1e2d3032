"""Crash injection: SIGKILL a compaction at 30 points spread over all of its phases.

A child process compacts a copy of a realistic journal (bench/_gen.py: interleaved
sessions, subagents, crashed sessions; many sealed segments) and is killed by the
``AGENT_JOURNAL_CRASH_AT`` seam at one point: while planning, while writing staged
segments and archive files (in the worker threads too), after the guard, around the
commit point, between the renames of the swap, while writing the caches. After each
kill: `verify` is clean, every projection and everything derived from it equals the
pre-compaction journal's, and the whole original history still reads back (from the
segments, the staged files of a committed swap, or the archive). Then a second run
cleans up what the first left, finishes the job, and the same holds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from journal import Journal
from projections.read.liveness import Liveness
from tests.compaction.observe import history, observe

#: (point, n): die the n-th time the point is reached. 30 points over every phase.
POINTS = [
    ("planned", 1),
    *[("staged_file", n) for n in (1, 2, 4, 7, 10)],
    *[("staged_segment", n) for n in (1, 3, 6, 9, 12)],
    *[("archive_tmp", n) for n in (1, 3, 5, 8)],
    *[("archive_index", n) for n in (1, 4, 9)],
    ("staged", 1),
    ("guarded", 1),
    ("before_commit", 1),
    ("committed", 1),
    *[("swap_step", n) for n in (1, 2, 5, 8, 11)],
    ("swapped", 1),
    ("before_caches", 1),
    ("cache_saved", 2),
]
assert len(POINTS) == 30

NOW = 1_800_000_000.0  # 2027-01-15: every generated session is older than the horizon
CHILD = """
import sys
from journal import Journal
from projections.compaction.compact import compact
journal = Journal.open(sys.argv[1], create=False)
report = compact(journal, older_than="7d", now=float(sys.argv[2]), probe=lambda pid: None)
print(report.sessions, report.events_removed)
"""


def dead(pid: int) -> str | None:
    return None


def _live() -> Liveness:
    return Liveness(now=NOW, probe=dead, stale_after=1800)


def _run(root: Path, crash: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENT_JOURNAL_CRASH_AT"}
    if crash:
        env["AGENT_JOURNAL_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-c", CHILD, str(root), str(NOW)], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[Any]]:
    """A generated journal (many sealed segments), what it shows, and its full history."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        import _gen
    finally:
        sys.path.pop(0)
    root = tmp_path_factory.mktemp("crash") / "journal"
    _gen.generate(root, 1500, sessions=14, seed=7, segment_bytes=64 * 1024)
    journal = Journal.open(root, create=False)
    assert len(journal.manifest().segments) >= 12
    return root, observe(journal, _live()), history(journal)


def test_the_child_compacts_when_nothing_kills_it(pristine: Any, tmp_path: Path) -> None:
    src, seen, events = pristine
    root = tmp_path / "journal"
    shutil.copytree(src, root)
    proc = _run(root, None)
    assert proc.returncode == 0, proc.stderr
    sessions, removed = map(int, proc.stdout.split())
    assert sessions >= 10 and removed > 1000
    journal = Journal.open(root, create=False)
    assert journal.verify().ok
    assert observe(journal, _live()) == seen
    assert history(journal) == events


@pytest.mark.slow
@pytest.mark.parametrize("point,nth", POINTS, ids=[f"{p}:{n}" for p, n in POINTS])
def test_a_kill_at_any_point_leaves_a_valid_journal_that_shows_the_same(
    pristine: Any, tmp_path: Path, point: str, nth: int
) -> None:
    src, seen, events = pristine
    root = tmp_path / "journal"
    shutil.copytree(src, root)
    proc = _run(root, f"{point}:{nth}")
    assert proc.returncode == -signal.SIGKILL, f"the child was not killed at {point}:{nth}: {proc.stderr}"

    journal = Journal.open(root, create=False)
    report = journal.verify()
    assert report.ok, report.to_dict()
    assert observe(journal, _live()) == seen
    assert observe(journal, _live(), use_cache=True) == seen
    assert history(journal) == events, "history lost or changed"

    # The next run finishes the swap or deletes the leftovers, then compacts.
    again = _run(root, None)
    assert again.returncode == 0, again.stderr
    report = journal.verify()
    assert report.ok and not report.leftovers and not report.pending_swap, report.to_dict()
    assert observe(journal, _live()) == seen
    assert history(journal) == events
    assert not list((root / "segments").glob("*.compacting"))
