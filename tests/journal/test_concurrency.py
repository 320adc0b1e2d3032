"""Many processes appending at once, and appends that spool while another process holds the lock.

The writers are real processes (``subprocess``, nothing forked from pytest) with the default
durability, ``fsync``: at ~0.3 ms per append here that keeps 8 x 500 appends to a few seconds.
Small segments make the writers roll segments under contention too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from journal import Journal, NewEvent
from journal.errors import LockTimeout
from journal.layout import LOCK_FILE, SPOOL_DIR

WRITERS = 8
APPENDS = 500

_WRITER = r"""
import sys, time
from pathlib import Path
from journal import Journal
root, worker, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
journal = Journal.open(root)
assert journal.config.durability == "fsync"
while not go.exists():  # start together, for the most contention
    time.sleep(0.001)
for i in range(n):
    journal.append("work", {"worker": worker, "i": i, "pad": "w" * (i % 97)}, session=f"writer-{worker}")
"""

_LOCK_HOLDER = r"""
import sys
from pathlib import Path
from journal.storage.locking import JournalLock
with JournalLock(Path(sys.argv[1]), timeout=5):
    print("locked", flush=True)
    sys.stdin.readline()  # hold the lock until the test closes our stdin
"""


@pytest.mark.slow
def test_eight_processes_five_hundred_appends_each(journal_dir: Path) -> None:
    Journal.open(journal_dir)
    (journal_dir / "config.json").write_text('{"segment_bytes": 65536}')
    go = journal_dir.parent / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(journal_dir), str(w), str(APPENDS), str(go)],
                         stderr=subprocess.PIPE, text=True)
        for w in range(WRITERS)
    ]
    time.sleep(0.2)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    journal = Journal.open(journal_dir)
    events = list(journal.read(mode="strict"))  # every line complete, CRC-valid, seq-continuous
    assert len(events) == WRITERS * APPENDS
    assert [e.seq for e in events] == list(range(1, WRITERS * APPENDS + 1))
    issued: dict[int, list[int]] = {w: [] for w in range(WRITERS)}
    for event in events:
        payload = event.payload()
        assert event.session == f"writer-{payload['worker']}"
        assert payload["pad"] == "w" * (payload["i"] % 97)
        issued[payload["worker"]].append(payload["i"])
    for worker, order in issued.items():
        assert order == list(range(APPENDS)), f"writer {worker}'s records are out of issue order or missing"
    report = journal.verify()
    assert report.ok, report.to_dict()
    assert report.segments > 3  # the writers rolled segments under contention


class _LockHolder:
    """Another process holding the journal lock until `release`."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _LOCK_HOLDER, str(root / LOCK_FILE)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline() == "locked\n"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.communicate("\n", timeout=10)
        assert self.proc.returncode == 0


@pytest.fixture
def lock_holder(journal_dir: Path):
    holders: list[_LockHolder] = []

    def hold() -> _LockHolder:
        holders.append(_LockHolder(journal_dir))
        return holders[-1]

    yield hold
    for holder in holders:
        holder.release()


def _spooled(root: Path) -> list[Path]:
    spool = root / SPOOL_DIR
    return sorted(spool.iterdir()) if spool.exists() else []


def test_lock_timeout_without_spool_raises(journal, lock_holder) -> None:
    journal.append("before")
    lock_holder()
    with pytest.raises(LockTimeout, match="locked by another process"):
        journal.append_many([NewEvent("x")], lock_timeout=0.05)
    assert _spooled(journal.root) == []
    assert journal.last_seq() == 1


@pytest.mark.parametrize("segment_bytes", [64 * 1024 * 1024, 4096], ids=["one-segment", "merge-rolls"])
def test_spool_while_locked_then_merge_once(journal_dir: Path, lock_holder, lock_clock, segment_bytes: int) -> None:
    journal = Journal.open(journal_dir, segment_bytes=segment_bytes)
    for i in range(3):
        journal.append("before", {"i": i})

    holder = lock_holder()
    first = journal.append_many([NewEvent("spooled", {"k": 1}), NewEvent("spooled", {"k": 2})],
                                lock_timeout=0.05, spool_on_timeout=True)
    second = journal.append_many([NewEvent("spooled", {"k": 3, "pad": "p" * 2000})],
                                 lock_timeout=0.05, spool_on_timeout=True)
    assert first == second == []
    # Each append waited its 0.05 s timeout on the lock's clock (it blocks, never polls), then spooled.
    assert 2 * 0.05 <= lock_clock.now < 2 * (0.05 + 0.01)
    spooled = _spooled(journal_dir)
    assert len(spooled) == 2
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in spooled)
    assert journal.last_seq() == 3  # nothing reached the log yet
    saved = journal_dir.parent / "saved-spool"
    saved.mkdir()
    for p in spooled:
        shutil.copy2(p, saved / p.name)
    holder.release()

    # The next append merges the spooled events first, in the order they were spooled.
    assert journal.append("after", {"k": 4, "pad": "q" * 2000}) == 7
    assert _spooled(journal_dir) == []
    events = list(journal.read(mode="strict"))
    assert [(e.seq, e.type, e.payload().get("k")) for e in events[3:]] == [
        (4, "spooled", 1), (5, "spooled", 2), (6, "spooled", 3), (7, "after", 4)]
    assert [e.src for e in events[3:]] == [spooled[0].name, spooled[0].name, spooled[1].name, None]

    # A crash after the merged write but before the spool unlink leaves the spool files
    # behind: the next append (another process: a fresh writer) must notice they were
    # merged and not merge them again.
    for p in saved.iterdir():
        shutil.copy2(p, journal_dir / SPOOL_DIR / p.name)
    assert Journal.open(journal_dir, segment_bytes=segment_bytes).append("later", {"k": 5}) == 8
    assert _spooled(journal_dir) == []
    events = list(journal.read(mode="strict"))
    assert [e.payload().get("k") for e in events[3:]] == [1, 2, 3, 4, 5]
    report = journal.verify()
    assert report.ok, report.to_dict()
    assert report.last_seq == 8


def test_a_writer_that_already_looked_merges_what_another_spools_next(journal_dir: Path, lock_holder, lock_clock) -> None:
    """Writers look in spool/ only when the lock file's mtime moved: a spooler touches it."""
    mine = Journal.open(journal_dir, durability="flush")
    looks: list[int] = []
    collect = mine._writer._collect_spool
    mine._writer._collect_spool = lambda *a: looks.append(1) or collect(*a)  # type: ignore[method-assign]
    assert mine.append("first") == 1  # looked: nothing spooled
    assert mine.append("second") == 2  # the lock file is unchanged: no look needed
    assert len(looks) == 1
    other = Journal.open(journal_dir, durability="flush")
    holder = lock_holder()
    assert other.append_many([NewEvent("spooled")], lock_timeout=0.05, spool_on_timeout=True) == []
    holder.release()
    assert len(_spooled(journal_dir)) == 1
    assert mine.append("third") == 4  # the spooler touched journal.lock: merged first
    assert len(looks) == 2
    assert _spooled(journal_dir) == []
    assert [e.type for e in mine.read()] == ["first", "second", "spooled", "third"]


def test_a_spool_file_nobody_announced_is_merged_anyway(journal_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spooler killed between its rename and its touch: a fresh writer looks on its first
    append, a long-lived one at least every `_LOOK_EVERY` seconds."""
    from journal.storage import writer as writer_module

    mine = Journal.open(journal_dir, durability="flush")
    assert mine.append("first") == 1
    spool = journal_dir / SPOOL_DIR
    spool.mkdir(mode=0o700, exist_ok=True)
    planted = spool / "00000000000000000001-1-abcdef.jsonl"
    planted.write_bytes(Journal.open(journal_dir)._writer.encode(NewEvent("planted")))
    planted.chmod(0o600)
    assert Journal.open(journal_dir).append("fresh") == 3  # a new writer looks at once
    assert _spooled(journal_dir) == []
    planted = spool / "00000000000000000002-1-abcdef.jsonl"
    planted.write_bytes(Journal.open(journal_dir)._writer.encode(NewEvent("planted-again")))
    planted.chmod(0o600)
    monkeypatch.setattr(writer_module, "_LOOK_EVERY", 0.0)  # as if a second had passed
    assert mine.append("later") == 5
    assert _spooled(journal_dir) == []
    assert [e.type for e in mine.read()] == ["first", "planted", "fresh", "planted-again", "later"]


@pytest.mark.slow
def test_verify_is_clean_while_writers_append_and_roll(journal_dir: Path) -> None:
    """A live journal verifies clean: a record being written is in flight, not a torn tail."""
    Journal.open(journal_dir)
    (journal_dir / "config.json").write_text('{"segment_bytes": 4096, "durability": "flush"}')
    go = journal_dir.parent / "go"
    go.touch()
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER.replace('assert journal.config.durability == "fsync"', ""),
                          str(journal_dir), str(w), "1000", str(go)], stderr=subprocess.PIPE, text=True)
        for w in range(3)
    ]
    journal = Journal.open(journal_dir)
    checks = 0
    while any(p.poll() is None for p in procs) or checks == 0:
        report = journal.verify()
        assert report.ok, f"verify #{checks} during appends: {report.to_dict()}"
        checks += 1
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert journal.verify().ok and journal.last_seq() == 3000
    assert checks >= 3, "the writers finished before verify could look at a live journal"


def test_verify_ignores_a_segment_rolled_in_after_it_looked(small_journal: Journal, kit,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic version of the race above: a writer rolls, then is mid-record in the new segment."""
    import journal.storage.verify as verify_module
    from journal.layout import list_segments, segment_name

    kit.fill(small_journal, 30)  # segment 26 active, 5 records
    real_reader = verify_module.Reader

    def reader_after_a_roll(*args, **kwargs):
        # Between verify's look at the active segment (under the lock) and its read: the
        # writer seals the segment and starts a record in the next one.
        small_journal.append("filler", {"pad": "f" * 4096})
        next_segment = list_segments(small_journal.root)[-1][1]
        assert next_segment.name == segment_name(32)
        with open(next_segment, "ab") as f:
            f.write(b'{"seq":32,"ts":"2026-11-25T')
        return real_reader(*args, **kwargs)

    monkeypatch.setattr(verify_module, "Reader", reader_after_a_roll)
    report = small_journal.verify()
    assert report.torn_tail is None, report.torn_tail
    assert report.ok, report.to_dict()
