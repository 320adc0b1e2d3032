"""The per-chunk CRC index of sealed segments: made by the first full read, used by the next,
and never changing what a read yields or reports, whatever happens to the segment or the index."""

from __future__ import annotations

import json
import random
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

import journal.storage.reader as reader_module
from journal import Journal
from journal.storage.codec import crc32, frame
from journal.storage.crc_index import CRC_INDEX_DIR, IndexBuilder, index_path, load_index
from journal.storage.reader import Reader

SEED = 20261125
#: Small reads, so that each 4 KiB test segment is a dozen chunks.
CHUNK = 400


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader_module, "_CHUNK", CHUNK)


def read_all(root: Path) -> tuple[list[tuple[int, str, bytes]], list[tuple[str, str, int, int | None]]]:
    """Every event and every finding of a tolerate read (files by name: copies compare equal)."""
    reader = Reader(root)
    events = [(e.seq, e.type, bytes(e.data)) for e in reader.events()]
    return events, [(d.kind, Path(d.file).name, d.offset, d.seq) for d in reader.damage]


def sealed(journal: Journal) -> list[dict[str, Any]]:
    return list(journal.manifest().segments)


def test_the_first_full_read_writes_the_index_and_later_reads_use_it(
    filled: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = filled.root
    assert not (root / CRC_INDEX_DIR).exists()
    first = read_all(root)
    assert [seq for seq, _, _ in first[0]] == list(range(1, 61)) and first[1] == []
    for entry in sealed(filled):
        index = load_index(root, entry)
        assert index is not None, entry.name
        chunks = index.chunks()
        assert len(chunks) > 5 and chunks[0][0] == 0 and chunks[-1][1] == entry.bytes
        data = (root / "segments" / entry.name).read_bytes()
        assert all(data[end - 1 : end] == b"\n" and crc32(data[a:end]) == c for a, end, c in chunks)
        assert stat.S_IMODE(index_path(root, entry.name).stat().st_mode) == 0o600
    assert stat.S_IMODE((root / CRC_INDEX_DIR).stat().st_mode) == 0o700
    assert sorted(p.name for p in (root / CRC_INDEX_DIR).iterdir()) == sorted(e.name + ".idx" for e in sealed(filled))

    def no_whole_pass(self: Reader, fd: int, size: int) -> str:
        raise AssertionError("a segment with an index is not read twice")

    monkeypatch.setattr(Reader, "_whole_crc", no_whole_pass)
    assert read_all(root) == first


def test_a_partial_read_writes_no_index(filled: Journal) -> None:
    assert [e.seq for e in Reader(filled.root).events(1, to_seq=10)] == list(range(1, 11))
    assert not any(index_path(filled.root, e.name).exists() for e in sealed(filled))


def _flip(path: Path, offset: int, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= rng.randrange(1, 256)
    path.chmod(0o600)
    path.write_bytes(bytes(data))


def test_damage_reads_the_same_with_and_without_the_index(filled: Journal, tmp_path: Path) -> None:
    """A flipped byte anywhere in a sealed segment (its size unchanged, so the index still
    applies): the events and the findings are those of a reader that has no index."""
    read_all(filled.root)  # makes the indexes
    rng = random.Random(SEED)
    entries = sealed(filled)
    for trial in range(60):
        entry = rng.choice(entries)
        data = (filled.root / "segments" / entry.name).read_bytes()
        newlines = [i for i, b in enumerate(data) if b == 0x0A]
        # Every third trial hits a newline: the chunk then no longer ends where the index says.
        offset = rng.choice(newlines) if trial % 3 == 0 else rng.randrange(len(data))
        with_index, without = tmp_path / f"with-{trial}", tmp_path / f"without-{trial}"
        shutil.copytree(filled.root, with_index)
        shutil.copytree(filled.root, without)
        shutil.rmtree(without / CRC_INDEX_DIR)
        for root in (with_index, without):
            _flip(root / "segments" / entry.name, offset, rng.__class__(trial))
        assert load_index(with_index, entry) is not None
        got, want = read_all(with_index), read_all(without)
        assert got == want, f"seed {SEED}, trial {trial}: {entry.name} byte {offset}"
        assert want[1], f"seed {SEED}, trial {trial}: a flipped byte is always found"


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "not json", "other contents", "short ends",
                                    "ends not rising", "other segment", "other version"])
def test_a_damaged_or_stale_index_is_ignored_and_remade(filled: Journal, damage: str) -> None:
    root = filled.root
    expected = read_all(root)
    entry = sealed(filled)[0]
    path = index_path(root, entry.name)
    good = path.read_bytes()
    doc = json.loads(good)

    def reframe(**changes: Any) -> bytes:
        body = json.dumps({**doc, **changes}, separators=(",", ":")).encode()
        return frame(body[: body.rindex(b',"crc":')])

    bad = {
        "flipped byte": good[:20] + bytes([good[20] ^ 1]) + good[21:],
        "truncated": good[: len(good) // 2],
        "not json": frame(b"{" + b"x" * 40),
        "other contents": reframe(crc32="00000000"),
        "short ends": reframe(ends=doc["ends"][:-1], crcs=doc["crcs"][:-1]),
        "ends not rising": reframe(ends=[doc["ends"][1], doc["ends"][0], *doc["ends"][2:]]),
        "other segment": reframe(segment="00000000000000000999.jsonl"),
        "other version": reframe(v=99),
    }[damage]
    path.write_bytes(bad)
    assert load_index(root, entry) is None
    assert read_all(root) == expected
    assert load_index(root, entry) is not None and path.read_bytes() == good  # remade by that read


def test_a_journal_whose_cache_cannot_be_written_still_reads(filled: Journal) -> None:
    (filled.root / "cache").write_text("a file where the cache directory would go\n")
    events, damage = read_all(filled.root)
    assert [seq for seq, _, _ in events] == list(range(1, 61)) and damage == []
    assert (filled.root / "cache").read_text().startswith("a file")


def test_a_builder_saves_only_a_whole_segment(filled: Journal) -> None:
    entry = sealed(filled)[0]
    data = (filled.root / "segments" / entry.name).read_bytes()
    half = data.rindex(b"\n", 0, len(data) // 2) + 1
    builder = IndexBuilder(entry)
    builder.add(half, data[:half])
    assert not builder.save(filled.root) and not index_path(filled.root, entry.name).exists()
    builder.add(len(data), data[half:])
    assert builder.save(filled.root)
    assert [c[:2] for c in load_index(filled.root, entry).chunks()] == [(0, half), (half, len(data))]  # type: ignore[union-attr]
