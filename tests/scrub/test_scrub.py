"""`journal.compaction.scrub`: a leaked secret leaves every file, and the journal reads as if it never came.

The leaky journal (`tests.scrub.leaky`) holds the secret in sealed segments, the active
segment, the archive (after compaction), spool, quarantine, errors.log, projection caches
and context files inside the journal directory. After a scrub, ``grep -r`` finds it
nowhere, `verify` is clean, and the journal reads back exactly as its twin that had the
marker from the start: same seqs, same records, same projections.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from journal import Journal
from journal.compaction.scrub import Matcher, ScrubError, scrub
from projections.read.liveness import Liveness
from tests.compaction.observe import history, observe
from tests.scrub.leaky import NOW, SECRET, build, leaks


def _live() -> Liveness:
    return Liveness(now=NOW, probe=lambda pid: None, stale_after=1800)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("scrub")
    build(base / "leaky")
    build(base / "twin", secret=False)
    return base / "leaky", base / "twin"


def _copy(src: Path, dst: Path) -> Journal:
    shutil.copytree(src, dst)
    return Journal.open(dst, create=False, durability="flush")


def test_the_leaky_journal_holds_the_secret_everywhere(pair: Any) -> None:
    found = leaks(pair[0])
    kinds = {f.split("/")[0] for f in found}
    assert {"segments", "archive", "spool", "quarantine", "cache", "memory", "errors.log"} <= kinds, found
    manifest = Journal.open(pair[0], create=False).manifest()
    sealed = {s.name for s in manifest.segments}
    assert any(f.startswith("segments/") and f.split("/")[1] in sealed for f in found)
    assert any(f.startswith("segments/") and f.split("/")[1] not in sealed for f in found), "active segment"
    assert not leaks(pair[1])


def test_scrub_removes_every_occurrence_and_reads_like_the_twin(pair: Any, tmp_path: Path) -> None:
    leaky, twin = pair
    journal = _copy(leaky, tmp_path / "j")
    before = history(journal)
    expected = history(Journal.open(twin, create=False))
    assert [e[0] for e in before] == [e[0] for e in expected]

    result = scrub(journal.root, Matcher(SECRET))

    assert result.committed and result.verify_ok and not result.remaining
    # Binary caches were deleted (the search index too): they are remade on use.
    assert not [p for p in (journal.root / "cache").rglob("*")
                if p.is_file() and p.suffix not in (".json", ".lock", ".idx")]
    assert leaks(journal.root) == []
    grep = subprocess.run(["grep", "-r", "-F", "-e", SECRET, "-e", json.dumps(SECRET)[1:-1], str(journal.root)],
                          capture_output=True)
    assert grep.returncode == 1, grep.stdout[:500]
    report = journal.verify()
    assert report.ok and not report.leftovers and not report.pending_swap, report.to_dict()
    after = history(journal)
    assert [e[0] for e in after] == [e[0] for e in before], "seqs changed"
    assert after == expected
    assert observe(journal, _live()) == observe(Journal.open(twin, create=False), _live())
    kinds = {c.what for c in result.changes}
    assert {"segment", "active segment", "archive", "spool", "quarantine", "errors.log", "cache", "file"} <= kinds
    assert result.occurrences >= result.records > 20
    # Every scrubbed segment is byte for byte the twin's: same CRCs, same manifest entries.
    for name in os.listdir(twin / "segments"):
        assert (journal.root / "segments" / name).read_bytes() == (twin / "segments" / name).read_bytes(), name
    ours = {s.name: s.crc32 for s in journal.manifest().segments}
    theirs = {s.name: s.crc32 for s in Journal.open(twin, create=False).manifest().segments}
    assert {k: v for k, v in ours.items() if k in theirs} == theirs
    # A second run finds nothing and changes nothing.
    again = scrub(journal.root, Matcher(SECRET))
    assert not again.committed and not again.changes


def test_dry_run_lists_what_would_change_and_writes_nothing(pair: Any, tmp_path: Path) -> None:
    journal = _copy(pair[0], tmp_path / "j")
    snapshot = {p: p.read_bytes() for p in journal.root.rglob("*") if p.is_file()}
    result = scrub(journal.root, Matcher(SECRET), dry_run=True)
    assert {p: p.read_bytes() for p in journal.root.rglob("*") if p.is_file()} == snapshot
    assert not result.committed
    files = {f["path"] for f in result.to_dict()["files"]}
    assert files == {f for f in leaks(journal.root)}
    assert result.occurrences >= result.records > 20


def test_the_facade_merges_the_spool_and_appends_a_scrubbed_event(pair: Any, tmp_path: Path) -> None:
    journal = _copy(pair[0], tmp_path / "j")
    last = journal.last_seq()
    result = journal.scrub(SECRET)
    assert result.committed and not leaks(journal.root)
    events = list(journal.read(last + 1))
    assert [e.type for e in events] == ["note", "journal.scrubbed"]  # the merged spool, then ours
    data = events[-1].payload()
    assert data["kind"] == "scrubbed" and data["count"] == result.occurrences and data["mode"] == "string"
    assert SECRET not in json.dumps(data)
    assert journal.verify().ok
    # Appends go on after the scrub sealed the active segment.
    seq = journal.append("note", {"text": "later"})
    assert seq == events[-1].seq + 1 and journal.verify().ok


def test_a_pattern_scrubs_each_match_with_its_own_marker(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j", segment_bytes=4096, durability="flush")
    for i in range(40):
        journal.append("note", {"text": f"key acme_{i:04d}ffff and acme_{i:04d}ffff", "n": i})
    result = scrub(journal.root, Matcher(pattern=r"acme_\d{4}f+"))
    assert result.committed and result.occurrences == 80 and result.records == 40
    texts = [e.payload()["text"] for e in journal.read()]
    m0 = Matcher(pattern="x+").marker("acme_0000ffff")
    assert texts[0] == f"key {m0} and {m0}"
    assert len({t.split()[1] for t in texts}) == 40
    assert journal.verify().ok and not leaks(journal.root, "acme_0001ffff")


@pytest.mark.parametrize("raw", [
    b'{"text":"\\u0070lover-\\u00e9t\\u00e9-42"}',  # \u escapes of plain and non-ASCII characters
    b'{"text":"plover-\xc3\xa9t\xc3\xa9-42"}',  # raw UTF-8
    b'{"plover-\\u00e9t\\u00e9-42":[1,{"deep":"x plover-\xc3\xa9t\xc3\xa9-42 y"}]}',  # a key, nested values
])
def test_records_are_matched_on_their_decoded_strings(tmp_path: Path, raw: bytes) -> None:
    secret = "plover-été-42"
    journal = Journal.open(tmp_path / "j", durability="flush")
    journal.append("note", {"before": 1})
    journal.append("note", raw, session="s1")
    journal.append("note", {"after": 2}, session=secret)
    result = scrub(journal.root, Matcher(secret))
    assert result.committed and not result.remaining
    events = list(journal.read())
    assert [e.seq for e in events] == [1, 2, 3]
    assert secret not in json.dumps([e.payload() for e in events], ensure_ascii=False)
    assert events[2].session == Matcher(secret).marker(secret)
    assert journal.verify().ok and not leaks(journal.root, secret)


def test_a_secret_with_json_special_characters(tmp_path: Path) -> None:
    secret = 'pa"ss\\w/rd\tX'
    journal = Journal.open(tmp_path / "j", durability="flush")
    journal.append("note", {"text": f"<{secret}>"})
    journal.append("note", b'{"text":"' + json.dumps(secret)[1:-1].replace("/", "\\/").encode() + b'"}')
    result = scrub(journal.root, Matcher(secret))
    assert result.occurrences == 2
    marker = Matcher(secret).marker(secret)
    assert [e.payload()["text"] for e in journal.read()] == [f"<{marker}>", marker]
    assert not leaks(journal.root, secret) and journal.verify().ok


def test_a_damaged_record_in_the_active_segment_asks_for_a_repair_first(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j", durability="flush")
    for i in range(3):
        journal.append("note", {"text": f"n{i} LEAKYLEAKY"})
    seg = sorted((journal.root / "segments").iterdir())[-1]
    data = bytearray(seg.read_bytes())
    data[data.index(b"n1") + 1] = ord("9")  # n1 -> n9: its CRC no longer matches
    seg.write_bytes(bytes(data))
    snapshot = {p: p.read_bytes() for p in journal.root.rglob("*") if p.is_file()}
    with pytest.raises(ScrubError, match="damaged record at byte .*verify --repair"):
        scrub(journal.root, Matcher("LEAKYLEAKY"))
    after = {p: p.read_bytes() for p in journal.root.rglob("*") if p.is_file() and p.name != "compact.lock"}
    assert after == snapshot
    journal.repair("tolerate")
    assert leaks(journal.root, "LEAKYLEAKY")
    assert any(p.startswith("quarantine/") for p in leaks(journal.root, "LEAKYLEAKY"))
    result = scrub(journal.root, Matcher("LEAKYLEAKY"))
    assert result.verify_ok and not leaks(journal.root, "LEAKYLEAKY")
    assert [e.seq for e in journal.read()] == [1, 3]


@pytest.mark.parametrize("text,pattern,message", [
    ("", None, "at least 4"),
    ("abc", None, "at least 4"),
    ("  ab  ", None, "at least 4"),
    (None, "(", "invalid --pattern"),
    (None, "a*", "empty string"),
    (None, "", "empty"),
    (None, None, "either"),
    ("abcd", "abcd", "either"),
])
def test_bad_secrets_and_patterns_are_refused(text: str | None, pattern: str | None, message: str) -> None:
    with pytest.raises(ScrubError, match=message):
        Matcher(text, pattern=pattern)


def test_a_torn_tail_holding_the_secret_goes_to_quarantine_scrubbed(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j", durability="flush")
    for i in range(3):
        journal.append("note", {"text": f"n{i} TORNSECRET" if i == 1 else f"n{i}"})
    seg = sorted((journal.root / "segments").iterdir())[-1]
    with open(seg, "ab") as f:
        f.write(b'{"seq":4,"ts":"2026-01-01T00:00:00.000000Z","type":"note","v":1,"data":{"text":"TORNSECRET')
    result = scrub(journal.root, Matcher("TORNSECRET"))
    assert result.committed and result.verify_ok and not leaks(journal.root, "TORNSECRET")
    torn = list((journal.root / "quarantine").glob("*.torn"))
    assert len(torn) == 1 and Matcher("TORNSECRET").marker("TORNSECRET").encode() in torn[0].read_bytes()
    assert journal.append("note", {"text": "next"}) == 4 and journal.verify().ok


def test_a_pending_file_swap_outside_the_journal_is_refused(tmp_path: Path) -> None:
    from journal.errors import JournalError
    from journal.compaction.swap import finish_swap
    from journal.storage.manifest import SwapFileEntry, load_manifest, save_manifest

    journal = Journal.open(tmp_path / "j", durability="flush")
    journal.append("note", {"text": "x"})
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    for bad in ("../victim", str(victim), "", "segments/../../victim"):
        manifest = load_manifest(journal.root)
        manifest.swap_files = [SwapFileEntry(bad)]
        save_manifest(journal.root, manifest)
        with pytest.raises(JournalError, match="not a file inside the journal"):
            finish_swap(journal.root)
        assert victim.read_text() == "keep me"


def test_one_scrub_or_compaction_at_a_time(tmp_path: Path) -> None:
    from journal.compaction.swap import compaction_lock

    journal = Journal.open(tmp_path / "j", durability="flush")
    journal.append("note", {"text": "BUSYSECRET"})
    with compaction_lock(journal.root):
        with pytest.raises(ScrubError, match="another scrub .* is running"):
            scrub(journal.root, Matcher("BUSYSECRET"))
    assert leaks(journal.root, "BUSYSECRET")
    assert scrub(journal.root, Matcher("BUSYSECRET")).committed
