"""The storage contract over every configuration, and the writer's crash windows one by one."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

from journal import Journal, NewEvent
from journal.storage.codec import encode_data, encode_record, now_ts
from journal.layout import ERROR_LOG, LOCK_FILE, QUARANTINE_DIR, SPOOL_DIR, list_segments, open_private

SEED = 1125

# -- one contract, every configuration ---------------------------------------------------------

CONFIGS = [
    pytest.param({"segment_bytes": 4096, "durability": "fsync"}, id="small-segments-fsync"),
    pytest.param({"segment_bytes": 4096, "durability": "flush"}, id="small-segments-flush"),
    pytest.param({"segment_bytes": 64 * 1024 * 1024, "durability": "fsync"}, id="one-segment-fsync"),
    pytest.param({"segment_bytes": 64 * 1024 * 1024, "durability": "flush"}, id="one-segment-flush"),
]


@pytest.mark.parametrize("settings", CONFIGS)
def test_storage_contract(journal_dir: Path, settings: dict[str, object]) -> None:
    rng = random.Random(SEED)
    journal = Journal.open(journal_dir, **settings)
    model = []
    for i in range(150):
        data = {"i": i, "pad": "ü" * rng.randrange(0, 120)}
        if rng.random() < 0.2:
            batch = [NewEvent("batch", dict(data, k=k), session="s2") for k in range(rng.randrange(1, 5))]
            assert journal.append_many(batch) == list(range(len(model) + 1, len(model) + 1 + len(batch)))
            model += [(e.type, e.session, e.data) for e in batch]
        else:
            assert journal.append("one", data, session="s1", agent="a") == len(model) + 1
            model.append(("one", "s1", data))
    for reopened in (journal, Journal.open(journal_dir, **settings)):
        events = list(reopened.read(mode="strict"))
        assert [(e.type, e.session, e.payload()) for e in events] == model
        assert [e.seq for e in events] == list(range(1, len(model) + 1))
        assert all(len(e.ts) == 27 and e.ts.endswith("Z") for e in events)
        assert reopened.last_seq() == len(model)
        for first, last in [(1, None), (37, None), (len(model), None), (len(model) + 1, None), (10, 20), (99, 98)]:
            got = [e.seq for e in reopened.read(first, to_seq=last)]
            assert got == list(range(first, min(last or len(model), len(model)) + 1))
        report = reopened.verify()
        assert report.ok and (report.events, report.first_seq, report.last_seq) == (len(model), 1, len(model))
    sealed = journal.manifest().segments
    assert (len(sealed) > 2) == (settings["segment_bytes"] == 4096)
    for entry, (first, path) in zip(sealed, list_segments(journal_dir), strict=False):  # + the active segment
        assert (entry.name, entry.first_seq, entry.bytes) == (path.name, first, path.stat().st_size)
        assert os.stat(path).st_mode & 0o777 == 0o400


def test_empty_journal(journal: Journal) -> None:
    assert list(journal.read(mode="strict")) == []
    assert journal.last_seq() == 0
    report = journal.verify()
    assert report.ok and (report.events, report.first_seq, report.last_seq) == (0, None, None)
    assert journal.stats()["events"] == 0


def test_reading_from_any_seq_in_big_segments(journal_dir: Path) -> None:
    """Reads from a seq bisect big segments; every start point must give exactly the tail."""
    journal = Journal.open(journal_dir, segment_bytes=256 * 1024, durability="flush")
    rng = random.Random(SEED)
    for start in range(0, 2500, 100):  # a batch never straddles segments, so several batches
        journal.append_many([NewEvent("t", {"i": i, "pad": "p" * rng.randrange(10, 400)})
                             for i in range(start, start + 100)])
    assert len(list_segments(journal_dir)) > 2
    for first in sorted({1, 2, 2499, 2500, 2501, *rng.sample(range(1, 2501), 40)}):
        seqs = [e.seq for e in journal.read(first)]
        assert seqs == list(range(first, 2501)), f"read from {first} (seed {SEED})"
        assert [e.seq for e in journal.read(first, to_seq=first + 5)] == list(range(first, min(first + 5, 2500) + 1))


# -- the writer's crash windows ------------------------------------------------------------------


def test_torn_bytes_that_fill_the_segment_do_not_seal_it(small_journal: Journal, kit) -> None:
    """Regression: after repairing such a tail, the writer rolled and sealed a short segment."""
    kit.fill(small_journal, 26)  # segment 1 sealed at 25; 26 alone in the active segment
    active = list_segments(small_journal.root)[-1][1]
    offset = active.stat().st_size
    with open(active, "ab") as f:
        f.write(b"\0" * (4096 - offset + 1))  # a zero-filled tail past the roll size
    assert small_journal.verify().torn_tail["offset"] == offset
    assert small_journal.append("next") == 27
    assert list_segments(small_journal.root)[-1][1] == active
    assert active.stat().st_mode & 0o777 == 0o600
    assert small_journal.verify().ok
    assert [e.seq for e in small_journal.read(mode="strict")] == list(range(1, 28))


def test_torn_tail_in_an_empty_active_segment(small_journal: Journal, kit) -> None:
    kit.fill(small_journal, 25)  # the roll leaves an empty active segment 26
    active = list_segments(small_journal.root)[-1][1]
    assert active.stat().st_size == 0
    with open(active, "ab") as f:
        f.write(b'{"seq":26,"ts":"2026')
    assert [e.seq for e in small_journal.read()][-1] == 25
    assert small_journal.append("next") == 26
    assert (small_journal.root / QUARANTINE_DIR / f"{active.name}.0.torn").read_bytes() == b'{"seq":26,"ts":"2026'
    assert small_journal.verify().ok


def test_crash_after_sealing_before_the_next_segment(small_journal: Journal, kit) -> None:
    kit.fill(small_journal, 25)
    segments = list_segments(small_journal.root)
    segments[-1][1].unlink()  # as if the writer died between chmod 0400 and creating segment 26
    assert small_journal.verify().ok
    assert small_journal.append("next") == 26
    assert [first for first, _ in list_segments(small_journal.root)] == [1, 26]
    assert small_journal.verify().ok


def test_crash_after_the_manifest_before_the_chmod(small_journal: Journal, kit) -> None:
    kit.fill(small_journal, 25)
    first_seg = list_segments(small_journal.root)[0][1]
    list_segments(small_journal.root)[-1][1].unlink()
    os.chmod(first_seg, 0o600)  # manifest says sealed, the file is still writable
    assert small_journal.append("next") == 26
    assert os.stat(first_seg).st_mode & 0o777 == 0o400
    assert small_journal.verify().ok


def test_a_corrupt_last_line_still_uses_up_its_seq(journal: Journal) -> None:
    """Numbering never reuses a seq: a complete but corrupt last line counts as one record."""
    journal.append("a")
    journal.append("b")
    active = list_segments(journal.root)[-1][1]
    line = active.read_bytes().splitlines()[-1]
    with open(active, "ab") as f:
        f.write(line.replace(b'"b"', b'"c"') + b"\n")  # seq 2 again, CRC now wrong: was it 3?
    assert journal.append("d") == 4
    found = []
    assert [e.seq for e in journal.read(on_damage=found.append)] == [1, 2, 4]
    assert [d.kind for d in found] == ["corrupt"]  # and no gap: seq 3 is that corrupt line


# -- spool ---------------------------------------------------------------------------------------


def _spool_file(root: Path, name: str, lines: list[bytes]) -> Path:
    spool = root / SPOOL_DIR
    spool.mkdir(mode=0o700, exist_ok=True)
    path = spool / name
    fd = open_private(path, os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"".join(lines))
    os.close(fd)
    now = time.time_ns()  # then touch the lock file, as `Writer.spool` does: holders look again
    os.utime(root / LOCK_FILE, ns=(now, now))
    return path


def _template(type_: str, data: dict[str, object]) -> bytes:
    return encode_record(0, now_ts(), type_, encode_data(data))


def test_spool_files_merge_oldest_first_and_drop_damaged_lines(journal: Journal) -> None:
    journal.append("first")
    bad = bytearray(_template("spooled", {"n": 99}))
    bad[20] ^= 0x01
    _spool_file(journal.root, "%020d-1-aaaaaa.jsonl" % 2, [_template("spooled", {"n": 3})])
    _spool_file(journal.root, "%020d-1-bbbbbb.jsonl" % 1, [_template("spooled", {"n": 1}), bytes(bad),
                                                            _template("spooled", {"n": 2})])
    assert journal.append("last") == 5
    events = list(journal.read(mode="strict"))
    assert [(e.type, e.payload().get("n")) for e in events] == [
        ("first", None), ("spooled", 1), ("spooled", 2), ("spooled", 3), ("last", None)]
    assert os.listdir(journal.root / SPOOL_DIR) == []
    logged = [json.loads(line) for line in (journal.root / ERROR_LOG).read_text().splitlines()]
    assert [e["kind"] for e in logged] == ["spool_record_dropped"]
    assert journal.verify().ok


def test_a_spool_file_being_written_is_not_merged_half_way(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process's append lands while a spool file is being written: nothing may be lost."""
    import journal.storage.writer as writer

    journal.append("first")
    real_write_all = writer.write_all
    merged: list[int] = []

    def write_all_after_a_merge(fd: int, data: bytes) -> None:
        if not merged and b'"spooled"' in data:
            # The spool file exists but is still empty: a lock holder merges now.
            merged.append(Journal.open(journal.root).append("concurrent"))
        real_write_all(fd, data)

    monkeypatch.setattr(writer, "write_all", write_all_after_a_merge)
    spooled = journal._writer.spool([journal._writer.encode(NewEvent("spooled", {"n": 1}))])
    monkeypatch.setattr(writer, "write_all", real_write_all)
    assert merged == [2]
    assert os.path.exists(spooled), "the spool file was merged (empty) and unlinked while being written"
    assert journal.append("last") == 4
    assert [e.type for e in journal.read(mode="strict")] == ["first", "concurrent", "spooled", "last"]
