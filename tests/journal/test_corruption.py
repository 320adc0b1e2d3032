"""Mayhem: damage a journal on disk, then check that every kind is found, and precisely.

Each scenario damages the `filled` journal (seqs 1-25 and 26-50 in sealed segments A and
B, 51-60 in the active segment C) and states what must be reported: the damage kind,
file, byte offset and seq, as ``verify`` sees it and as each `RecoveryMode` sees it
(tolerate skips and reports, point-in-time stops, strict raises, salvage keeps what
parses). Then ``repair`` in each mode must leave ``verify`` clean, keep the evidence in
``quarantine/``, and let appends carry on with the right seq.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from journal import CorruptRecord, Journal, NewEvent, TornTail
from journal.storage.codec import check_line, encode_record, peek_seq
from journal.layout import QUARANTINE_DIR, list_segments
from journal.storage.reader import Damage

MODES = ["tolerate", "point-in-time", "strict", "salvage"]
REPAIRS = ["tolerate", "salvage", "point-in-time"]
ALL = list(range(1, 61))


def _seqs(*ranges: tuple[int, int]) -> list[int]:
    return [s for a, b in ranges for s in range(a, b + 1)]


@dataclass
class Expect:
    """What one kind of damage must look like."""

    #: (kind, file, offset, seq) of every finding, in the order a tolerate read meets them.
    damage: list[tuple[str, str, int, int | None]]
    #: Seqs each read mode yields (strict: the ones before it raises).
    reads: dict[str, list[int]]
    strict_error: type[CorruptRecord]
    #: Sealed segments whose manifest entry no longer matches the file.
    mismatched: list[str] = field(default_factory=list)
    #: Per repair mode: the seqs that survive it, and the seq the next append gets.
    repaired: dict[str, tuple[list[int], int]] = field(default_factory=dict)


def _segments(journal: Journal) -> tuple[Path, Path, Path]:
    a, b, c = (p for _, p in list_segments(journal.root))
    return a, b, c


def _rewrite(path: Path, data: bytes) -> None:
    os.chmod(path, 0o600)  # sealed segments are read-only; the damage does not care
    path.write_bytes(data)


# -- the scenarios ------------------------------------------------------------------------


def torn_active_segment(journal: Journal, spans: dict[int, Any]) -> Expect:
    """The active segment cut in the middle of record 55 (a crash mid-write)."""
    s = spans[55]
    os.truncate(s.path, s.offset + s.length // 2)
    after = (_seqs((1, 54)), 55)
    return Expect(
        damage=[("torn_tail", str(s.path), s.offset, 55)],
        reads={"tolerate": _seqs((1, 54)), "point-in-time": _seqs((1, 54)), "strict": _seqs((1, 54)),
               "salvage": _seqs((1, 54))},
        strict_error=TornTail,
        repaired={m: after for m in REPAIRS},
    )


def sealed_truncated_mid_record(journal: Journal, spans: dict[int, Any]) -> Expect:
    """Sealed segment B cut in the middle of record 40."""
    s, c = spans[40], spans[51]
    _rewrite(s.path, s.path.read_bytes()[: s.offset + 30])
    kept = _seqs((1, 39), (51, 60))
    return Expect(
        damage=[("unterminated_segment", str(s.path), s.offset, 40), ("gap", str(c.path), 0, 51)],
        reads={"tolerate": kept, "point-in-time": _seqs((1, 39)), "strict": _seqs((1, 39)), "salvage": kept},
        strict_error=CorruptRecord,
        mismatched=[s.path.name],
        repaired={"tolerate": (kept, 61), "salvage": (kept, 61), "point-in-time": (_seqs((1, 39)), 40)},
    )


def sealed_truncated_at_line(journal: Journal, spans: dict[int, Any]) -> Expect:
    """Sealed segment B cut right after record 40: no partial line, only missing records."""
    s, c = spans[40], spans[51]
    _rewrite(s.path, s.path.read_bytes()[: s.offset + s.length + 1])
    kept = _seqs((1, 40), (51, 60))
    return Expect(
        damage=[("gap", str(c.path), 0, 51)],
        reads={"tolerate": kept, "point-in-time": _seqs((1, 40)), "strict": _seqs((1, 40)), "salvage": kept},
        strict_error=CorruptRecord,
        mismatched=[s.path.name],
        repaired={"tolerate": (kept, 61), "salvage": (kept, 61), "point-in-time": (_seqs((1, 40)), 41)},
    )


def sealed_emptied(journal: Journal, spans: dict[int, Any]) -> Expect:
    """Sealed segment B is an empty file."""
    b, c = spans[26], spans[51]
    _rewrite(b.path, b"")
    kept = _seqs((1, 25), (51, 60))
    return Expect(
        damage=[("gap", str(c.path), 0, 51)],
        reads={"tolerate": kept, "point-in-time": _seqs((1, 25)), "strict": _seqs((1, 25)), "salvage": kept},
        strict_error=CorruptRecord,
        mismatched=[b.path.name],
        repaired={"tolerate": (kept, 61), "salvage": (kept, 61), "point-in-time": (_seqs((1, 25)), 26)},
    )


def flipped_byte(journal: Journal, spans: dict[int, Any]) -> Expect:
    """One byte of record 55 flipped (in the middle of its payload, so it still parses)."""
    s = spans[55]
    data = bytearray(s.path.read_bytes())
    data[s.offset + s.length - 30] ^= 0x01  # inside the "xxx..." text: 'x' -> 'y'
    _rewrite(s.path, bytes(data))
    rest = _seqs((1, 54), (56, 60))
    return Expect(
        damage=[("corrupt", str(s.path), s.offset, 55), ("salvaged", str(s.path), s.offset, 55)],
        reads={"tolerate": rest, "point-in-time": _seqs((1, 54)), "strict": _seqs((1, 54)), "salvage": ALL},
        strict_error=CorruptRecord,
        repaired={"tolerate": (rest, 61), "salvage": (ALL, 61), "point-in-time": (_seqs((1, 54)), 55)},
    )


def flipped_to_invalid_utf8(journal: Journal, spans: dict[int, Any]) -> Expect:
    """A flip that leaves invalid UTF-8 in record 55's payload: salvage cannot keep it either."""
    s = spans[55]
    data = bytearray(s.path.read_bytes())
    data[s.offset + s.length - 30] ^= 0x80  # 'x' -> 0xf8, never valid UTF-8
    _rewrite(s.path, bytes(data))
    rest = _seqs((1, 54), (56, 60))
    return Expect(
        damage=[("corrupt", str(s.path), s.offset, 55)],
        reads={"tolerate": rest, "point-in-time": _seqs((1, 54)), "strict": _seqs((1, 54)), "salvage": rest},
        strict_error=CorruptRecord,
        repaired={"tolerate": (rest, 61), "salvage": (rest, 61), "point-in-time": (_seqs((1, 54)), 55)},
    )


def garbage_line(journal: Journal, spans: dict[int, Any]) -> Expect:
    """A line that is not a record, between records 53 and 54."""
    s = spans[54]
    data = s.path.read_bytes()
    _rewrite(s.path, data[: s.offset] + b"this is not a journal record\n" + data[s.offset :])
    return Expect(
        damage=[("corrupt", str(s.path), s.offset, None)],
        reads={"tolerate": ALL, "point-in-time": _seqs((1, 53)), "strict": _seqs((1, 53)), "salvage": ALL},
        strict_error=CorruptRecord,
        repaired={"tolerate": (ALL, 61), "salvage": (ALL, 61), "point-in-time": (_seqs((1, 53)), 54)},
    )


def nul_filled_tail(journal: Journal, spans: dict[int, Any]) -> Expect:
    """Zeros after the last record (preallocated or unsynced space): a torn tail."""
    s = spans[60]
    with open(s.path, "ab") as f:
        f.write(b"\0" * 512)
    return Expect(
        damage=[("torn_tail", str(s.path), s.offset + s.length + 1, None)],
        reads={m: ALL for m in MODES},
        strict_error=TornTail,
        repaired={m: (ALL, 61) for m in REPAIRS},
    )


def nul_filled_record(journal: Journal, spans: dict[int, Any]) -> Expect:
    """Record 55 replaced by zeros (a page that never reached the disk), its newline kept."""
    s, n = spans[55], spans[56]
    data = bytearray(s.path.read_bytes())
    data[s.offset : s.offset + s.length] = b"\0" * s.length
    _rewrite(s.path, bytes(data))
    rest = _seqs((1, 54), (56, 60))
    return Expect(
        damage=[("nul_bytes", str(s.path), s.offset, None), ("gap", str(n.path), n.offset, 56)],
        reads={"tolerate": rest, "point-in-time": _seqs((1, 54)), "strict": _seqs((1, 54)), "salvage": rest},
        strict_error=CorruptRecord,
        repaired={"tolerate": (rest, 61), "salvage": (rest, 61), "point-in-time": (_seqs((1, 54)), 55)},
    )


def nul_run_before_record(journal: Journal, spans: dict[int, Any]) -> Expect:
    """Zeros glued in front of record 56: the record itself must survive."""
    s = spans[56]
    data = s.path.read_bytes()
    _rewrite(s.path, data[: s.offset] + b"\0" * 100 + data[s.offset :])
    return Expect(
        damage=[("nul_bytes", str(s.path), s.offset, 56)],
        reads={"tolerate": ALL, "point-in-time": ALL, "strict": _seqs((1, 55)), "salvage": ALL},
        strict_error=CorruptRecord,
        # Point-in-time repair cuts at the first damage of any kind, the zeros included.
        repaired={"tolerate": (ALL, 61), "salvage": (ALL, 61), "point-in-time": (_seqs((1, 55)), 56)},
    )


def missing_sealed_segment(journal: Journal, spans: dict[int, Any]) -> Expect:
    """Sealed segment B deleted."""
    b = spans[26]
    b.path.unlink()
    kept = _seqs((1, 25), (51, 60))
    return Expect(
        damage=[("missing_segment", b.path.name, -1, None)],
        reads={"tolerate": kept, "point-in-time": _seqs((1, 25)), "strict": _seqs((1, 25)), "salvage": kept},
        strict_error=CorruptRecord,
        repaired={"tolerate": (kept, 61), "salvage": (kept, 61), "point-in-time": (_seqs((1, 25)), 26)},
    )


def duplicated_line(journal: Journal, spans: dict[int, Any]) -> Expect:
    """Record 55 written twice."""
    s = spans[55]
    data = s.path.read_bytes()
    end = s.offset + s.length + 1
    _rewrite(s.path, data[:end] + data[s.offset : end] + data[end:])
    return Expect(
        damage=[("duplicate", str(s.path), end, 55)],
        reads={"tolerate": ALL, "point-in-time": _seqs((1, 55)), "strict": _seqs((1, 55)), "salvage": ALL},
        strict_error=CorruptRecord,
        repaired={"tolerate": (ALL, 61), "salvage": (ALL, 61), "point-in-time": (_seqs((1, 55)), 56)},
    )


def sealed_flipped_byte(journal: Journal, spans: dict[int, Any]) -> Expect:
    """One byte of record 30, in sealed segment B, flipped beyond parsing (its CRC digit)."""
    s = spans[30]
    data = bytearray(s.path.read_bytes())
    data[s.offset + s.length - 3] ^= 0xFF
    _rewrite(s.path, bytes(data))
    rest = _seqs((1, 29), (31, 60))
    return Expect(
        damage=[("corrupt", str(s.path), s.offset, 30)],
        reads={"tolerate": rest, "point-in-time": _seqs((1, 29)), "strict": _seqs((1, 29)), "salvage": rest},
        strict_error=CorruptRecord,
        mismatched=[s.path.name],
        repaired={"tolerate": (rest, 61), "salvage": (rest, 61), "point-in-time": (_seqs((1, 29)), 30)},
    )


SCENARIOS: list[Callable[[Journal, dict[int, Any]], Expect]] = [
    torn_active_segment,
    sealed_truncated_mid_record,
    sealed_truncated_at_line,
    sealed_emptied,
    flipped_byte,
    flipped_to_invalid_utf8,
    sealed_flipped_byte,
    garbage_line,
    nul_filled_tail,
    nul_filled_record,
    nul_run_before_record,
    missing_sealed_segment,
    duplicated_line,
]


@pytest.fixture(params=SCENARIOS, ids=lambda f: f.__name__)
def damaged(request, filled: Journal, kit) -> tuple[Journal, Expect]:
    return filled, request.param(filled, kit.record_spans(filled.root))


def _read(journal: Journal, mode: str) -> tuple[list[int], list[Damage], CorruptRecord | None]:
    seqs: list[int] = []
    found: list[Damage] = []
    try:
        for event in journal.read(mode=mode, on_damage=found.append):
            seqs.append(event.seq)
    except CorruptRecord as e:
        return seqs, found, e
    return seqs, found, None


def _where(d: Damage) -> tuple[str, str, int, int | None]:
    return d.kind, d.file, d.offset, d.seq


# -- detection ------------------------------------------------------------------------------


def test_tolerate_skips_and_reports(damaged) -> None:
    journal, expect = damaged
    seqs, found, error = _read(journal, "tolerate")
    assert error is None
    assert seqs == expect.reads["tolerate"]
    assert [_where(d) for d in found] == [d for d in expect.damage if d[0] != "salvaged"]
    assert all(d.detail for d in found)


def test_point_in_time_stops_at_first_damage(damaged) -> None:
    journal, expect = damaged
    seqs, found, error = _read(journal, "point-in-time")
    assert error is None
    assert seqs == expect.reads["point-in-time"]
    assert found and _where(found[0]) == expect.damage[0]


def test_strict_raises(damaged) -> None:
    journal, expect = damaged
    seqs, found, error = _read(journal, "strict")
    assert seqs == expect.reads["strict"]
    assert type(error) is expect.strict_error
    kind, file, offset, seq = expect.damage[0]
    assert (error.file, error.offset, error.seq) == (file, offset, seq)
    assert kind in str(error)


def test_salvage_keeps_what_parses(damaged) -> None:
    journal, expect = damaged
    seqs, found, error = _read(journal, "salvage")
    assert error is None
    assert seqs == expect.reads["salvage"]
    assert [_where(d) for d in found] == expect.damage


def test_verify_reports_precisely(damaged) -> None:
    journal, expect = damaged
    report = journal.verify()
    assert not report.ok
    want: dict[str, Any] = {"gaps": [], "corrupt": [], "torn_tail": None, "duplicates": [], "missing_segments": []}
    for kind, file, offset, seq in expect.damage:
        if kind == "salvaged":
            continue
        where = {"kind": kind, "file": file, "offset": offset} | ({} if seq is None else {"seq": seq})
        if kind == "torn_tail":
            want["torn_tail"] = where
        elif kind == "gap":
            pass  # checked below: a gap is reported as its missing range
        elif kind == "duplicate":
            want["duplicates"].append(where)
        elif kind == "missing_segment":
            want["missing_segments"].append(where)
        else:
            want["corrupt"].append(where)
    got = report.to_dict()

    def strip(d: dict[str, Any]) -> dict[str, Any]:
        return {k: d[k] for k in ("kind", "file", "offset", "seq") if k in d}

    assert (strip(got["torn_tail"]) if got["torn_tail"] else None) == want["torn_tail"]
    assert [strip(d) for d in got["corrupt"]] == want["corrupt"]
    assert [strip(d) for d in got["duplicates"]] == want["duplicates"]
    assert [strip(d) for d in got["missing_segments"]] == want["missing_segments"]
    expected_gaps = [d for d in expect.damage if d[0] == "gap"]
    assert len(report.gaps) == len(expected_gaps)
    assert [m["segment"] for m in report.segment_mismatches] == expect.mismatched
    assert report.events == len(expect.reads["tolerate"])


# -- repair -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", REPAIRS)
def test_repair_leaves_verify_clean_and_appends_continue(damaged, mode: str) -> None:
    journal, expect = damaged
    before = {e.seq: e for e in journal.read(mode="salvage")}
    quarantine = journal.root / QUARANTINE_DIR
    evidence_before = sorted(quarantine.iterdir()) if quarantine.exists() else []

    report = journal.repair(mode)
    assert report.changed

    survivors, next_seq = expect.repaired[mode]
    after = list(journal.read(mode="strict"))
    assert [e.seq for e in after] == survivors
    for event in after:  # repair never alters a record it keeps (salvaged ones get a fresh CRC)
        assert event.payload() == before[event.seq].payload()
    check = journal.verify()
    assert check.ok, check.to_dict()
    evidence = sorted(quarantine.iterdir()) if quarantine.exists() else []
    if expect.damage[0][0] not in ("gap", "missing_segment"):
        assert len(evidence) > len(evidence_before), "the damaged bytes were not kept in quarantine/"
    assert all(p.stat().st_size > 0 for p in evidence)

    assert journal.append("after-repair", {"ok": True}) == next_seq
    assert journal.append("after-repair", {"ok": True}) == next_seq + 1
    check = journal.verify()
    assert check.ok, check.to_dict()
    assert [e.seq for e in journal.read(mode="strict")][-2:] == [next_seq, next_seq + 1]
    # Idempotent: a second repair finds nothing to do.
    assert not journal.repair(mode).changed


@pytest.mark.parametrize("mode,survivors,next_seq", [
    ("tolerate", 40, 51), ("salvage", 40, 51), ("point-in-time", 40, 41)])
def test_sealed_segment_cut_short_with_nothing_after_it(small_journal: Journal, kit, mode: str,
                                                        survivors: int, next_seq: int) -> None:
    """Records cut off the end of the last sealed segment: no reader finding, but verify and repair see it."""
    kit.fill(small_journal, 50)  # 1-25, 26-50 sealed; the active segment is empty
    s = kit.record_spans(small_journal.root)[40]
    _rewrite(s.path, s.path.read_bytes()[: s.offset + s.length + 1])
    report = small_journal.verify()
    assert not report.ok
    [mismatch] = report.segment_mismatches
    assert mismatch["segment"] == s.path.name
    diffs = mismatch["manifest_vs_file"]
    assert set(diffs) == {"bytes", "count", "crc32", "last_seq"}
    assert (diffs["bytes"][1], diffs["count"], diffs["last_seq"]) == (s.offset + s.length + 1, [25, 15], [50, 40])
    repaired = small_journal.repair(mode)
    assert repaired.changed
    assert [e.seq for e in small_journal.read(mode="strict")] == list(range(1, survivors + 1))
    assert small_journal.verify().ok, small_journal.verify().to_dict()
    if mode != "point-in-time":
        assert small_journal.manifest().lost == [[41, 50]]
    assert small_journal.append("next") == next_seq
    assert small_journal.verify().ok


def test_strict_repair_is_refused(filled: Journal) -> None:
    with pytest.raises(ValueError, match="strict"):
        filled.repair("strict")


# -- every single-byte flip is caught ---------------------------------------------------------


def test_check_line_catches_every_byte_value_at_every_offset() -> None:
    line = encode_record(7, "2026-11-25T12:00:00.000000Z", "PostToolUse", b'{"a":[1,"\xc3\xa9"]}', session="s")[:-1]
    assert check_line(line)
    missed = []
    for offset in range(len(line)):
        for value in range(256):
            if value != line[offset]:
                mutated = line[:offset] + bytes([value]) + line[offset + 1 :]
                if check_line(mutated):
                    missed.append((offset, chr(line[offset]), chr(value)))
    assert missed == [], f"single-byte changes that pass the CRC check: {missed[:10]}"


@pytest.mark.parametrize("mask", [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF])
def test_verify_catches_a_flipped_byte_at_every_offset(journal_dir: Path, kit, mask: int) -> None:
    """Flip each byte of record 2 in turn (record 3 follows it): verify and strict always notice."""
    journal = Journal.open(journal_dir, durability="flush")
    for i in range(1, 4):
        journal.append("t", {"i": i, "text": "héllo"}, session="abc")
    span = kit.record_spans(journal_dir)[2]
    pristine = span.path.read_bytes()
    for k in range(span.length + 1):  # every byte of the line, and its newline
        at = span.offset + k
        data = bytearray(pristine)
        data[at] ^= mask
        span.path.write_bytes(bytes(data))
        report = journal.verify()
        where = f"byte {k} of record 2 ^ {mask:#x}"
        assert not report.ok, where
        first = (report.corrupt + report.duplicates + [report.torn_tail or {}])[0]
        assert first.get("offset") == span.offset, f"{where}: {report.to_dict()}"
        with pytest.raises(CorruptRecord):
            list(journal.read(mode="strict"))
        seqs, found, _ = _read(journal, "tolerate")
        assert 1 in seqs and 2 not in seqs, where
        assert found and found[0].offset == span.offset, where
    span.path.write_bytes(pristine)
    assert journal.verify().ok


def test_sealed_segment_flip_at_every_offset_is_caught(filled: Journal, kit) -> None:
    span = kit.record_spans(filled.root)[30]
    os.chmod(span.path, 0o600)
    pristine = span.path.read_bytes()
    for k in range(span.length + 1):
        data = bytearray(pristine)
        data[span.offset + k] ^= 0xFF
        span.path.write_bytes(bytes(data))
        report = filled.verify()
        assert not report.ok and report.segment_mismatches, f"byte {k}"
        assert report.corrupt and report.corrupt[0]["offset"] == span.offset, f"byte {k}: {report.to_dict()}"
    span.path.write_bytes(pristine)
    assert filled.verify().ok


# -- offsets stay exact across the reader's chunks ------------------------------------------------


def test_offsets_are_exact_in_a_segment_larger_than_a_read_chunk(journal_dir: Path, kit) -> None:
    """Damage placed around the reader's 1 MiB chunk boundaries is reported at the right byte."""
    journal = Journal.open(journal_dir, durability="flush")
    journal.append_many([NewEvent("big", {"i": i, "pad": "z" * 1000}) for i in range(3000)])
    spans = kit.record_spans(journal_dir)
    boundaries = [1 << 20, 2 << 20]
    victims = []
    for b in boundaries:
        straddling = next(s for s, sp in spans.items() if sp.offset < b <= sp.offset + sp.length)
        victims += [straddling - 1, straddling, straddling + 1]
    path = spans[1].path
    data = bytearray(path.read_bytes())
    for seq in victims:
        data[spans[seq].offset + 20] ^= 0x01
    path.write_bytes(bytes(data))
    found: list[Damage] = []
    seqs = [e.seq for e in journal.read(on_damage=found.append)]
    assert [(d.kind, d.offset, d.seq) for d in found] == [("corrupt", spans[s].offset, s) for s in victims]
    assert seqs == [s for s in range(1, 3001) if s not in victims]
    assert [c["offset"] for c in journal.verify().corrupt] == [spans[s].offset for s in victims]
    # Reading from the middle (the reader bisects to a line start) reports the same.
    found.clear()
    start = victims[3]
    assert [e.seq for e in journal.read(start, on_damage=found.append)] == [s for s in range(start, 3001)
                                                                             if s not in victims]
    assert [d.offset for d in found] == [spans[s].offset for s in victims if s >= start]


def test_peek_seq_reads_damaged_lines() -> None:
    assert peek_seq(b'{"seq":42,"ts":') == 42
    assert peek_seq(b'{"seq":4x2,"ts":') is None
    assert peek_seq(b"garbage") is None


def test_records_longer_than_a_read_chunk(journal_dir: Path, kit) -> None:
    """Lines of 1.5-3 MiB (over the reader's 1 MiB chunk) read back whole; damage after them is exact."""
    Journal.open(journal_dir)
    # Size limits above the biggest string, so that every record is stored whole.
    (journal_dir / "config.json").write_text('{"limits": {"max_string": 4000000, "max_event": 8000000}}')
    journal = Journal.open(journal_dir, durability="flush", max_record_bytes=8 * 1024 * 1024)
    sizes = [10, 1_500_000, 20, 3_000_000, 30, 2_200_000, 40, 50]
    for i, size in enumerate(sizes, 1):
        journal.append("t", {"i": i, "pad": "q" * size})
    assert [len(e.payload()["pad"]) for e in journal.read(mode="strict")] == sizes
    for first in range(1, len(sizes) + 2):
        assert [e.seq for e in journal.read(first)] == list(range(first, len(sizes) + 1))
    spans = kit.record_spans(journal_dir)
    data = bytearray(spans[1].path.read_bytes())
    for seq in (5, 7):
        data[spans[seq].offset + 10] ^= 0x01
    with open(spans[1].path, "wb") as f:
        f.write(bytes(data) + b'{"seq":9,"ts":"' + b"t" * 1_500_000)  # a long torn tail too
    found: list[Damage] = []
    assert [e.seq for e in journal.read(on_damage=found.append)] == [1, 2, 3, 4, 6, 8]
    assert [(d.kind, d.offset, d.seq) for d in found] == [
        ("corrupt", spans[5].offset, 5), ("corrupt", spans[7].offset, 7), ("torn_tail", len(data), 9)]
    assert journal.repair("tolerate").dropped_records == 2
    assert journal.verify().ok
    assert journal.append("after") == 9


@pytest.mark.parametrize("mode", REPAIRS)
@pytest.mark.parametrize("garbage", [b'{"segments": [', b'{"format": 1}', b"[]", b"\0" * 64])
def test_an_unreadable_manifest_is_rebuilt(filled: Journal, mode: str, garbage: bytes) -> None:
    """Derived data: verify (and any repair) rebuilds it from the segments and says so once."""
    sealed = filled.manifest().segments
    (filled.root / "manifest.json").write_bytes(garbage)
    assert filled.verify().ok
    assert len(filled.notices) == 1 and "rebuilt it from the segments" in filled.notices[0]
    [evidence] = (filled.root / QUARANTINE_DIR).glob("manifest.json.*.invalid")
    assert evidence.read_bytes() == garbage
    assert filled.manifest().segments == sealed
    (filled.root / "manifest.json").write_bytes(garbage)
    report = filled.repair(mode)
    assert report.changed and report.resealed == [s.name for s in sealed] and report.manifest_rebuilt
    assert filled.manifest().segments == sealed
    assert filled.verify().ok
    assert filled.append("after") == 61
    assert [e.seq for e in filled.read(mode="strict")] == list(range(1, 62))
