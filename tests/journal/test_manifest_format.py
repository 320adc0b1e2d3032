"""The manifest's typed format: old journals read as they are, writes keep the bytes,
and an invalid file is refused naming the file and the field."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import msgspec
import pytest

from journal import Journal
from journal.errors import InvalidManifest
from journal.layout import read_manifest, write_manifest
from journal.storage.manifest import (
    ArchiveEntry,
    DroppedEntry,
    Manifest,
    SegmentEntry,
    decode_manifest,
    encode_manifest,
    load_manifest,
    save_manifest,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture
def old_journal(tmp_path: Path) -> Path:
    """A journal written by the code before the typed manifest (branch ``lead`` at d5121b8):
    150 generated events in 6 KiB segments, compacted (archive, compacted ranges, epoch 1),
    a disk-full loss noted by the writer (``dropped``), 3 appends, then a sealed segment
    cut short and repaired (``lost``, epoch 2). ``old_journal.expected.json`` holds what
    that code read back from it."""
    with tarfile.open(DATA / "old_journal.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "journal"


def _digest(events: list[dict[str, object]]) -> str:
    return hashlib.sha256(json.dumps(events, sort_keys=True).encode()).hexdigest()


def test_a_journal_written_by_the_old_code_reads_with_the_new(old_journal: Path) -> None:
    expected = json.loads((DATA / "old_journal.expected.json").read_text())
    journal = Journal.open(old_journal, create=False)
    assert journal.notices == []  # valid as it is: nothing rebuilt
    manifest = journal.manifest()
    assert isinstance(manifest, Manifest) and isinstance(manifest.segments[0], SegmentEntry)
    assert isinstance(manifest.archive[0], ArchiveEntry) and isinstance(manifest.dropped[0], DroppedEntry)
    assert manifest.epoch == 2 and manifest.lost == [[146, 146]] and manifest.compacted
    assert manifest.dropped[0].types == {"PreToolUse": 2} and manifest.dropped[0].reason == "disk full"
    live = [e.to_dict() for e in journal.read(mode="strict")]
    assert len(live) == expected["events"] and _digest(live) == expected["live_sha256"]
    everything = [e.to_dict() for e in journal.read(archived=True)]
    assert len(everything) == expected["with_archived"] and _digest(everything) == expected["archived_sha256"]
    report = journal.verify()
    assert report.ok and report.lost == [[146, 146]] and report.dropped[0]["events"] == 2


def test_the_new_code_writes_the_old_bytes(old_journal: Path) -> None:
    raw = (old_journal / "manifest.json").read_bytes()
    assert encode_manifest(decode_manifest(raw, old_journal / "manifest.json")) == raw
    # The stdlib view (the hook's writer) and the typed one write the same file.
    save_manifest(old_journal, load_manifest(old_journal))
    assert (old_journal / "manifest.json").read_bytes() == raw
    write_manifest(old_journal, read_manifest(old_journal))
    assert (old_journal / "manifest.json").read_bytes() == raw


def test_a_new_journal_s_manifest_is_the_same_bytes_either_way(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j", segment_bytes=4096)
    for i in range(60):
        journal.append("t", {"i": i, "pad": "x" * 80})
    raw = (journal.root / "manifest.json").read_bytes()  # written by the (stdlib) writer's rolls
    assert len(journal.manifest().segments) >= 2
    assert encode_manifest(journal.manifest()) == raw
    assert list(json.loads(raw)) == ["compacted", "epoch", "format", "journal_id", "lost", "segments"]


def test_keys_of_a_newer_writer_survive_a_rewrite(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j", segment_bytes=4096)
    journal.append("t", {"i": 0})
    doc = json.loads((journal.root / "manifest.json").read_bytes())
    doc["future"] = {"kept": [1, 2]}
    (journal.root / "manifest.json").write_text(json.dumps(doc))
    manifest = load_manifest(journal.root)
    manifest.epoch += 1
    save_manifest(journal.root, manifest)
    again = json.loads((journal.root / "manifest.json").read_bytes())
    assert again["future"] == {"kept": [1, 2]} and again["epoch"] == doc["epoch"] + 1


@pytest.mark.parametrize(
    "change,where",
    [
        (lambda d: d["segments"][0].update(first_seq="1"), r"\$\.segments\[0\]\.first_seq"),
        (lambda d: d["segments"][0].update(name="../x"), r"\$\.segments\[0\]\.name"),
        (lambda d: d.update(lost=[[1, 2, 3]]), r"\$\.lost\[0\]"),
        (lambda d: d.update(archive=[{"name": "a"}]), r"\$\.archive\[0\]"),
        (lambda d: d.update(swap_files=[{"staged": "x"}]), r"\$\.swap_files\[0\]"),
        (lambda d: d.update(dropped=[{"events": -1}]), r"\$\.dropped\[0\]\.events"),
        (lambda d: d.pop("journal_id"), r"journal_id"),
    ],
)
def test_an_invalid_manifest_is_refused_naming_the_file_and_the_field(old_journal: Path, change, where) -> None:
    path = old_journal / "manifest.json"
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidManifest, match=rf"^{path} is not a valid manifest: .*{where}"):
        load_manifest(old_journal)


def test_not_json_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_bytes(b"{")
    with pytest.raises(InvalidManifest, match=rf"^{tmp_path / 'manifest.json'} is not valid JSON"):
        load_manifest(tmp_path)


def test_a_missing_manifest_reads_as_empty(tmp_path: Path) -> None:
    manifest = load_manifest(tmp_path)
    assert manifest.segments == [] and manifest.journal_id == "" and manifest.epoch == 0
    assert msgspec.to_builtins(manifest) == {"format": 1, "journal_id": "", "segments": []}
