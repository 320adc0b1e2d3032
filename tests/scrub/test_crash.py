"""Crash injection: SIGKILL a scrub anywhere; the journal is the old one or the new one, never a mix.

A child process scrubs a copy of the leaky journal (`tests.scrub.leaky`) and is killed by
the ``AGENT_JOURNAL_CRASH_AT`` seam (as in tests/compaction/test_crash.py): while staging
segments and other files, while writing the new archive files (in worker threads), around
the commit point, between the renames of the swap. The points are a fixed set plus
seeded random picks among every place a run reaches, and kills after seeded random delays
wherever the child is (the seed is in the test id; ``SCRUB_CRASH_SEED`` sets it). After
each kill: `verify` is clean and every event reads back either exactly as before the scrub
or exactly as the twin journal (the scrubbed one), never part of each, none lost. A hook
appending right after the crash loses nothing. Then a second scrub cleans up, and the
secret is nowhere.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from journal import Journal
from tests.compaction.observe import history
from tests.scrub.leaky import SECRET, build, leaks

#: At least how many times a scrub of the leaky journal reaches each point (counted once,
#: by hand; a point reached fewer times than a test asks fails that test: "not killed").
REACHED = {"scrub_staged_file": 16, "archive_tmp": 21, "archive_index": 21, "scrub_staged": 1,
           "scrub_before_commit": 1, "scrub_committed": 1, "swap_step": 60, "scrub_swapped": 1}
FIXED = [("scrub_staged_file", 1), ("scrub_staged_file", 8), ("scrub_staged_file", 16), ("archive_tmp", 1),
         ("archive_tmp", 21), ("archive_index", 11), ("scrub_staged", 1), ("scrub_before_commit", 1),
         ("scrub_committed", 1), ("swap_step", 1), ("swap_step", 5), ("swap_step", 30), ("swap_step", 60),
         ("scrub_swapped", 1)]
SEED = int(os.environ.get("SCRUB_CRASH_SEED", "20261207"))
_rng = random.Random(SEED)
RANDOM = [(p, _rng.randint(1, REACHED[p])) for p in _rng.choices(sorted(REACHED), k=10)]
POINTS = FIXED + RANDOM

CHILD = """
import sys
from pathlib import Path
from journal.compaction.scrub import Matcher, scrub
result = scrub(Path(sys.argv[1]), Matcher(sys.argv[2]))
print(result.occurrences)
"""


def _run(root: Path, crash: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENT_JOURNAL_CRASH_AT"}
    if crash:
        env["AGENT_JOURNAL_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-c", CHILD, str(root), SECRET], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any], list[Any]]:
    base = tmp_path_factory.mktemp("scrub-crash")
    build(base / "leaky")
    build(base / "twin", secret=False)
    old = history(Journal.open(base / "leaky", create=False))
    new = history(Journal.open(base / "twin", create=False))
    assert old != new and [e[0] for e in old] == [e[0] for e in new]
    return base / "leaky", old, new


def test_the_child_scrubs_when_nothing_kills_it(pair: Any, tmp_path: Path) -> None:
    src, _, new = pair
    root = tmp_path / "journal"
    shutil.copytree(src, root)
    proc = _run(root, "swap_step:1000000")
    assert proc.returncode == 0, proc.stderr
    assert history(Journal.open(root, create=False)) == new and not leaks(root)


DELAYS = [round(_rng.uniform(0.1, 2.0), 3) for _ in range(6)]


@pytest.mark.parametrize("delay", DELAYS, ids=[f"{d}s-seed{SEED}" for d in DELAYS])
def test_a_kill_after_a_random_delay_leaves_the_old_or_the_new_journal(pair: Any, tmp_path: Path,
                                                                      delay: float) -> None:
    """Between the seams too: SIGKILL the child wherever it is after *delay* seconds."""
    src, old, new = pair
    root = tmp_path / "journal"
    shutil.copytree(src, root)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), SECRET], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        child.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    journal = Journal.open(root, create=False, durability="flush")
    assert journal.verify().ok
    assert history(journal) in (old, new), "a mix of the old and the scrubbed journal, or a lost event"
    again = _run(root, None)
    assert again.returncode == 0, again.stderr
    report = journal.verify()
    assert report.ok and not report.leftovers and not report.pending_swap, report.to_dict()
    assert history(journal) == new and leaks(root) == []


@pytest.mark.parametrize("point,nth", POINTS, ids=[f"{p}:{n}" + ("" if i < len(FIXED) else f"-seed{SEED}")
                                                   for i, (p, n) in enumerate(POINTS)])
def test_a_kill_anywhere_leaves_the_old_or_the_new_journal(pair: Any, tmp_path: Path, point: str, nth: int) -> None:
    src, old, new = pair
    root = tmp_path / "journal"
    shutil.copytree(src, root)
    proc = _run(root, f"{point}:{nth}")
    assert proc.returncode == -signal.SIGKILL, f"the child was not killed at {point}:{nth}: {proc.stderr}"

    journal = Journal.open(root, create=False, durability="flush")
    report = journal.verify()
    assert report.ok, report.to_dict()
    seen = history(journal)
    assert seen in (old, new), "a mix of the old and the scrubbed journal, or a lost event"
    if point == "scrub_staged":
        assert any(p.endswith(".scrubbing") for p in report.leftovers), report.leftovers
    if point in ("scrub_committed", "scrub_swapped") or (point == "swap_step"):
        assert seen == new, "committed, so the scrubbed journal"
    # A hook appends before anyone recovers (merging the spooled event first): its event
    # must survive what follows.
    seq = journal.append("note", {"text": "appended after the crash"})
    assert seq == old[-1][0] + 2 and journal.verify().ok
    appended = history(journal)[len(old):]
    assert [e[0] for e in appended] == [seq - 1, seq]

    again = _run(root, None)
    assert again.returncode == 0, again.stderr
    report = journal.verify()
    assert report.ok and not report.leftovers and not report.pending_swap, report.to_dict()
    after = history(journal)
    assert after[: len(new)] == new
    assert [e[:5] for e in after[len(new):]] == [e[:5] for e in appended]
    assert after[-1] == appended[-1]
    assert leaks(root) == []
    assert not list(root.rglob("*.scrubbing")) and not list(root.rglob("*.compacting"))
