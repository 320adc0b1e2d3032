"""The compaction engine (journal.compaction.compact, journal.compaction.archive) on small hand-made plans.

The engine knows nothing about sessions: a plan removes seqs of sealed segments and
puts replacement records on some of them. These tests pin its contract: seqs keep
their meaning, kept records are untouched bytes, the archive gives removed records
back byte for byte, the newest segment is never touched, a conflicting or vetoed run
changes nothing, and what a crash leaves behind is either honoured or cleaned up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from journal import Journal
from journal.compaction.archive import read_archive_lines
from journal.compaction.compact import (
    STAGED_SUFFIX,
    CompactionBusy,
    CompactionConflict,
    CompactionVetoed,
    Plan,
    Replacement,
    _apply_swap,
    compaction_lock,
    finish_swap,
    merge_ranges,
    ranges_from_seqs,
    recover,
    sealed_upto,
)
from journal.layout import list_segments
from journal.storage.crc_index import CRC_INDEX_DIR, load_index
from journal.storage.manifest import SwapEntry
from journal.storage.reader import Reader, SeqHoles, seq_ranges_cover
from tests.compaction.observe import SEGMENT


def _journal(root: Path, n: int = 90) -> Journal:
    journal = Journal.open(root, segment_bytes=SEGMENT, durability="flush")
    for i in range(1, n + 1):
        journal.append(f"t{i % 3}", {"i": i, "pad": "x" * 60}, session=f"s{i % 3}", agent="a1" if i % 7 == 0 else None)
    return journal


def _lines(journal: Journal) -> dict[int, bytes]:
    out = {}
    for _, path in list_segments(journal.root):
        for line in path.read_bytes().split(b"\n")[:-1]:
            out[int(line[7 : line.index(b",", 7)])] = line
    return out


def _plan(journal: Journal, session: str, *, replace_last: bool = True, archive: bool = True) -> Plan:
    manifest = journal.manifest()
    limit = sealed_upto(journal.root, manifest)
    seqs = [e.seq for e in journal.read(to_seq=limit) if e.session == session]
    reps = {seqs[-1]: Replacement(seqs[-1], "journal.snapshot", b'{"n":%d}' % len(seqs), session=session)} \
        if replace_last else {}
    return Plan(ranges_from_seqs(seqs), reps, manifest, journal.last_seq(), archive=archive)


def test_seqs_keep_their_meaning_kept_records_are_untouched_and_holes_are_known(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    before = _lines(journal)
    list(journal.read())  # a full read: every sealed segment gets its CRC index
    indexed = {p.name for p in (journal.root / CRC_INDEX_DIR).iterdir()}
    assert indexed == {e.name + ".idx" for e in journal.manifest().segments}
    plan = _plan(journal, "s1")
    result = journal.compact(plan)
    after = _lines(journal)
    # The swap dropped the indexes of the segments it rewrote or removed; none is stale.
    entries = {e.name: e for e in journal.manifest().segments}
    left = [p.name[: -len(".idx")] for p in (journal.root / CRC_INDEX_DIR).iterdir()]
    assert len(left) < len(indexed) and all(load_index(journal.root, entries[name]) for name in left)
    removed = {s for a, b in plan.remove for s in range(a, b + 1)}
    (snap_seq,) = plan.replacements
    assert result.removed == len(removed) and result.replaced == 1
    assert set(after) == (set(before) - removed) | {snap_seq}
    assert all(after[s] == before[s] for s in after if s != snap_seq), "a kept record changed"
    snap = next(journal.read(snap_seq, to_seq=snap_seq))
    assert (snap.type, snap.session, snap.ts) == ("journal.snapshot", "s1", next(
        e for e in Journal.open(tmp_path / "j").read_archived(from_seq=snap_seq, to_seq=snap_seq)).ts)
    manifest = journal.manifest()
    assert manifest.compacted == merge_ranges(ranges_from_seqs(removed - {snap_seq}))
    assert manifest.epoch == 1 and manifest.swap is None and b'"swap"' not in (journal.root / "manifest.json").read_bytes()
    report = journal.verify()
    assert report.ok and not report.gaps and not report.leftovers, report.to_dict()
    for entry in manifest.segments:
        assert os.stat(journal.root / "segments" / entry.name).st_mode & 0o777 == 0o400


def test_the_archive_gives_back_every_removed_record_byte_for_byte(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    before = _lines(journal)
    original = [(e.seq, bytes(e.data)) for e in journal.read()]
    plan = _plan(journal, "s2")
    journal.compact(plan)
    archived = [line for entry in journal.manifest().archive for line in read_archive_lines(journal.root, entry)]
    removed = sorted(s for a, b in plan.remove for s in range(a, b + 1))
    assert archived == [before[s] for s in removed]
    assert [(e.seq, bytes(e.data)) for e in journal.read(archived=True)] == original
    assert [e.seq for e in journal.read_archived(session="s2")] == removed
    assert list(journal.read_archived(session="nobody")) == []
    # gzip members are a plain gzip file too
    import gzip

    entry = journal.manifest().archive[0]
    with gzip.open(journal.root / "archive" / entry.name) as f:
        assert f.read().count(b"\n") == entry.count


def test_drop_removes_without_archiving(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    result = journal.compact(_plan(journal, "s0", archive=False))
    assert result.removed and not result.archive_bytes
    assert not journal.manifest().archive
    assert not list((journal.root / "archive").glob("*")) if (journal.root / "archive").exists() else True
    assert journal.verify().ok


def test_the_newest_segment_is_never_compacted(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    manifest = journal.manifest()
    last = journal.last_seq()
    with pytest.raises(ValueError):
        journal.compact(Plan([[last, last]], {}, manifest, last))
    assert sealed_upto(journal.root, manifest) == list_segments(journal.root)[-1][0] - 1


def test_a_segment_left_empty_is_removed(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    first = journal.manifest().segments[0]
    plan = Plan([[first.first_seq, first.last_seq]], {}, journal.manifest(), journal.last_seq())
    result = journal.compact(plan)
    assert result.segments_deleted == 1
    assert first.name not in {p.name for _, p in list_segments(journal.root)}
    assert first.name not in {s.name for s in journal.manifest().segments}
    report = journal.verify()
    assert report.ok and report.first_seq == first.last_seq + 1, report.to_dict()
    assert journal.append("after", {}) == 91


def test_a_vetoed_compaction_changes_nothing(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    files = {p: p.read_bytes() for p in journal.root.rglob("*") if p.is_file()}

    def veto(events: Iterator[Any]) -> None:
        assert sum(1 for _ in events) > 0
        raise CompactionVetoed("no")

    with pytest.raises(CompactionVetoed):
        journal.compact(_plan(journal, "s1"), guard=veto)
    now = {p: p.read_bytes() for p in journal.root.rglob("*") if p.is_file()}

    def data(snapshot: dict[Path, bytes]) -> dict[Path, bytes]:
        # The locks, and cache/: derived data a read may write (the guard read the log).
        return {p: b for p, b in snapshot.items()
                if p.name not in ("compact.lock", "journal.lock") and "cache" not in p.relative_to(journal.root).parts}

    assert data(now) == data(files)
    assert not list(journal.root.glob("archive/*"))


def test_a_segment_changed_under_the_compaction_aborts_it(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    plan = _plan(journal, "s1")

    def meddle(events: Iterator[Any]) -> None:
        # A repair rewrote a segment between staging and commit.
        from journal.storage.manifest import load_manifest, save_manifest

        manifest = load_manifest(journal.root)
        manifest.segments[0].crc32 = "00000000"
        save_manifest(journal.root, manifest)

    with pytest.raises(CompactionConflict):
        journal.compact(plan, guard=meddle)
    assert not list(journal.root.glob("segments/*" + STAGED_SUFFIX))
    assert not list(journal.root.glob("archive/*"))
    assert journal.manifest().compacted == []


def test_one_compaction_at_a_time(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    with compaction_lock(journal.root):
        with pytest.raises(CompactionBusy):
            journal.compact(_plan(journal, "s1"))


def test_a_committed_swap_left_pending_is_read_in_place_and_finished(tmp_path: Path, monkeypatch: Any) -> None:
    journal = _journal(tmp_path / "j")
    original = [(e.seq, bytes(e.data)) for e in journal.read(archived=False)]

    def crash(root: Path, swap: list[Any]) -> None:
        raise KeyboardInterrupt  # as if killed right after the commit point

    import journal.compaction.compact as engine

    monkeypatch.setattr(engine, "_apply_swap", crash)
    with pytest.raises(KeyboardInterrupt):
        journal.compact(_plan(journal, "s1"))
    monkeypatch.undo()
    assert journal.manifest().swap
    assert list(journal.root.glob("segments/*" + STAGED_SUFFIX)), "staged files must survive the commit point"
    report = journal.verify()
    assert report.ok and report.pending_swap and not report.leftovers, report.to_dict()
    compacted = [(e.seq, bytes(e.data)) for e in journal.read()]
    assert len(compacted) < len(original)
    assert [(e.seq, bytes(e.data)) for e in journal.read(archived=True)] == original
    assert finish_swap(journal.root) is True
    assert finish_swap(journal.root) is False
    assert [(e.seq, bytes(e.data)) for e in journal.read()] == compacted
    report = journal.verify()
    assert report.ok and not report.pending_swap and not report.leftovers


def test_recover_deletes_what_an_uncommitted_compaction_left(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    name = journal.manifest().segments[0].name
    (journal.root / "segments" / (name + STAGED_SUFFIX)).write_bytes(b"half")
    (journal.root / "archive").mkdir()
    for stray in ("00000000000000000001.1.jsonl.gz", "00000000000000000001.1.index.json", ".x.1.tmp"):
        (journal.root / "archive" / stray).write_bytes(b"?")
    (journal.root / ".manifest.json.123.abcd.tmp").write_bytes(b"{")
    report = journal.verify()
    assert report.ok and len(report.leftovers) == 5, report.leftovers
    with compaction_lock(journal.root):
        done = recover(journal.root)
    assert len(done["removed"]) == 5 and not done["finished_swap"]
    assert not journal.verify().leftovers


def test_swap_is_idempotent(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    journal.compact(_plan(journal, "s1"))
    before = _lines(journal)
    swap = [SwapEntry(s.name, s.name + STAGED_SUFFIX) for s in journal.manifest().segments]
    _apply_swap(journal.root, swap)  # nothing staged any more: a no-op
    assert _lines(journal) == before


def test_holes_are_merged_once_and_bisected() -> None:
    holes = SeqHoles([[10, 12], [1, 3], [4, 5], [20, 20]])
    assert holes.cover(1, 5) and holes.cover(2, 12) is False and holes.cover(20, 20) and not holes.cover(19, 20)
    assert seq_ranges_cover([[1, 2], [3, 4]], 1, 4) and not seq_ranges_cover([[1, 2], [4, 4]], 1, 4)
    many = [[i, i] for i in range(1, 200_001, 2)]
    holes = SeqHoles(many)
    assert sum(holes.cover(s, s) for s in range(1, 2001)) == 1000


def test_a_compacted_journal_reads_on_the_fast_path(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j", n=400)
    for session in ("s0", "s1"):
        journal.compact(_plan(journal, session))
    reader = Reader(journal.root)
    calls = 0
    slow = reader._slow

    def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return slow(*args)

    reader._slow = counting  # type: ignore[method-assign]
    events = list(reader.events())
    assert events and not reader.damage
    assert calls == 0, "compacted stretches went through the per-line path"


def test_a_hand_written_or_damaged_snapshot_never_breaks_a_fold(tmp_path: Path) -> None:
    from projections.runner import load_views

    journal = Journal.open(tmp_path / "j", durability="flush")
    journal.append("SessionStart", {"source": "startup"}, session="s1")
    for data in ({"ops": 5}, {"ops": {"sessions": "x"}}, {"ops": {"sessions": [["put", "k", [1, 2]], "junk"]}},
                 {"cells": {"sessions": {"last": 7}}}, {"mops": {"agents": {"running": [[1]]}}}, {"x": 1}):
        journal.append("journal.snapshot", data, session="s1")
    journal.append("UserPromptSubmit", {"prompt": "still here"}, session="s1")
    views = load_views(journal, use_cache=False, save=False)
    rec = views.sessions.records.record("s1")
    assert rec is not None and rec.prompts == 1


def test_recover_removes_temporaries_of_killed_writers_anywhere_in_the_journal(tmp_path: Path) -> None:
    """A reader SIGKILLed while writing its CRC index leaves cache/crc/.x.idx.PID.tmp; the next
    compaction or scrub removes it (a live writer's temporary stays), so verify shows no leftover."""
    from journal.compaction.swap import recover

    root = tmp_path / "journal"
    journal = Journal.open(root)
    journal.append("note", {"n": 1})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    crc_dir = root / "cache" / "crc"
    crc_dir.mkdir(parents=True, exist_ok=True)
    orphan = crc_dir / f".00000000000000000001.idx.{dead.pid}.0badcafe.tmp"
    orphan.write_bytes(b"half an index")
    alive = crc_dir / f".00000000000000000001.idx.{os.getppid()}.0badcafe.tmp"
    alive.write_bytes(b"being written")
    assert str(orphan.relative_to(root)) in journal.verify().leftovers
    done = recover(root)
    assert str(orphan.relative_to(root)) in done["removed"] and not orphan.exists()
    assert alive.exists()
