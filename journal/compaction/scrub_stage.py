"""Staging for `journal.compaction.scrub`: find every file that holds the secret and write its scrubbed copy.

Nothing here changes a live file. Each changed file gets a staged copy beside it (a
segment ``<name>.compacting``, as compaction's staged segments, so readers, `verify`
and `recover` already know them; any other file ``<name>.scrubbing``), an archive file
a new archive file under a new name, and derived caches are marked for deletion. The
commit (`journal.compaction.scrub`) swaps them in. Files that grow while we read them (the
active segment, ``errors.log``) are read up to a size noted in the `Change`, and the
commit scrubs what was appended after it under the append lock.

Stdlib only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from journal.compaction.archive import ARCHIVE_SUFFIX, ArchiveWriter, crash_point, read_archive_lines
from journal.storage.codec import check_line, crc32
from journal.layout import (
    ARCHIVE_DIR,
    COMPACT_LOCK,
    ERROR_LOG,
    LOCK_FILE,
    MANIFEST_FILE,
    QUARANTINE_DIR,
    SEGMENTS_DIR,
    SPOOL_DIR,
    open_private,
    write_all,
)
from journal.compaction.scrub_match import Matcher, ScrubError
from journal.compaction.staging import STAGED_SUFFIX
from journal.compaction.swap import SCRUB_SUFFIX
from journal.storage.manifest import ArchiveEntry, SegmentEntry

__all__ = ["SCRUB_SUFFIX", "Change", "scrub_lines", "scan_sealed", "scan_growing", "scan_archive",
           "scan_file", "other_files", "write_staged", "CACHE_DIR"]

CACHE_DIR = "cache"
_CONFIG = "config.json"
#: Files scrub never rewrites: locks, the manifest (no event text), the user's own config.
_UNTOUCHED = {LOCK_FILE, COMPACT_LOCK, MANIFEST_FILE, ".gitignore", _CONFIG}
_STR = rb'[^"\\]*(?:\\.[^"\\]*)*'
_KEYS = re.compile(rb'\{"seq":(\d+)(?:,"src":"' + _STR + rb'")?,"ts":"[^"]*","type":"' + _STR + rb'"'
                   rb'(?:,"session":"(' + _STR + rb')")?(?:,"agent":"(' + _STR + rb')")?')


@dataclass
class Change:
    """One file that holds the secret (or a derived cache to drop), and what scrub does to it."""

    path: str  #: relative to the journal directory
    what: str  #: segment, active segment, archive, spool, quarantine, errors.log, cache, temporary, file
    records: int = 0  #: records (or lines) changed
    occurrences: int = 0
    action: str = "rewrite"  #: or "delete"
    staged: Path | None = None
    #: Sealed segment or archive: its manifest entry now, and the one it gets.
    old_entry: SegmentEntry | ArchiveEntry | None = None
    entry: SegmentEntry | ArchiveEntry | None = None
    #: A growing file: bytes read (whole lines), and the CRC of those bytes.
    scanned: int = 0
    scanned_crc: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "what": self.what, "action": self.action, "records": self.records,
                "occurrences": self.occurrences}


def scrub_lines(matcher: Matcher, data: bytes) -> tuple[list[bytes] | None, int, int]:
    """The record lines of *data* (complete lines) with the secret replaced: ``(lines or
    None if none changed, records changed, occurrences)``. A line that fails its CRC is
    scrubbed as text and stays damaged."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    records = occurrences = 0
    may_hold = matcher.may_hold
    for i, line in enumerate(lines):
        if not may_hold(line):
            continue
        if check_line(line):
            done = matcher.scrub_record(line)
            if done is None:
                continue
            lines[i], n = done
        else:
            lines[i], changed, n = matcher.scrub_text(line)
            if not changed:
                continue
        records += 1
        occurrences += n
    return (lines if records else None), records, occurrences


def write_staged(path: Path, chunks: list[bytes], *, mode: int = 0o600, append: bool = False) -> None:
    """Write (or append) *chunks* to the staged file *path* durably, then set *mode*."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = open_private(path, flags)
    try:
        for chunk in chunks:
            write_all(fd, chunk)
        crash_point("scrub_staged_file")
        os.fsync(fd)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _joined(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n" if lines else b""


def scan_sealed(root: Path, matcher: Matcher, entry: SegmentEntry, *, stage: bool) -> Change | None:
    """A sealed segment: check it against its manifest entry, scrub it, stage ``<name>.compacting``."""
    name = entry.name
    path = root / SEGMENTS_DIR / name
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise ScrubError(f"sealed segment {name} is missing; run `agent-journal verify` first") from e
    if len(data) != entry.bytes or "%08x" % crc32(data) != entry.crc32:
        raise ScrubError(f"sealed segment {name} does not match its manifest entry (size or CRC); run "
                         "`agent-journal verify --repair tolerate` before scrubbing")
    lines, records, occurrences = scrub_lines(matcher, data)
    del data
    if lines is None:
        return None
    change = Change(f"{SEGMENTS_DIR}/{name}", "segment", records, occurrences, old_entry=entry)
    if stage:
        body = _joined(lines)
        change.staged = path.with_name(name + STAGED_SUFFIX)
        write_staged(change.staged, [body], mode=0o400)
        change.entry = msgspec.structs.replace(entry, bytes=len(body), crc32="%08x" % crc32(body))
    return change


def scan_growing(root: Path, rel: str, what: str, matcher: Matcher, *, stage: bool, records: bool,
                 start: int = 0, change: Change | None = None) -> Change | None:
    """A file that appenders extend (an unsealed segment, ``errors.log``): scrub its complete
    lines from *start* (where *change* stopped); stage or extend the scrubbed copy. Returns
    the `Change` (with no occurrences if none was found), None if the file is gone."""
    path = root / rel
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return change
    data = data[: data.rfind(b"\n") + 1]
    if records:
        lines, n_records, n = scrub_lines(matcher, data)
        new = _joined(lines) if lines is not None else data
        if n or (change is not None and change.occurrences):
            _check_records(rel, data, start)
    else:
        new, n_records, n = matcher.scrub_text(data, records=False)
    if change is None:
        change = Change(rel, what)  # kept even without a hit: it notes how far the file was read
    if start == 0:
        change.scanned_crc = crc32(data)
    change.records += n_records
    change.occurrences += n
    if stage and (n or change.staged is not None):
        staged = path.with_name(path.name + (STAGED_SUFFIX if what.endswith("segment") else SCRUB_SUFFIX))
        if change.staged is None:
            # Changes only now: the bytes before *start* are copied as they are.
            with open(path, "rb") as f:
                head = f.read(start)
            change.staged = staged
            write_staged(staged, [head, new])
        else:
            write_staged(staged, [new], append=True)
    change.scanned = start + len(data)
    return change


def _check_records(rel: str, data: bytes, start: int) -> None:
    """Refuse to seal a segment with a damaged record: the whole-file CRC would vouch for it."""
    offset = start
    for line in data.split(b"\n")[:-1]:
        if not check_line(line):
            raise ScrubError(f"{rel} has a damaged record at byte {offset}; run `agent-journal verify --repair "
                             "tolerate` first (it moves the record to quarantine/, which scrub then cleans)")
        offset += len(line) + 1


def scan_archive(root: Path, matcher: Matcher, entry: ArchiveEntry, writer: ArchiveWriter | None,
                 epoch: int) -> Change | None:
    """An archive file: scrub its records; queue the new archive file (a new name) on *writer*."""
    try:
        lines = list(read_archive_lines(root, entry))
    except (OSError, EOFError, ValueError) as e:
        raise ScrubError(f"archive file {entry.name} cannot be read ({e}); run `agent-journal verify`") from e
    new, records, occurrences = scrub_lines(matcher, b"\n".join(lines) + b"\n")
    if new is None:
        return None
    change = Change(f"{ARCHIVE_DIR}/{entry.name}", "archive", records, occurrences, old_entry=entry)
    if writer is not None:
        stem = entry.name[: -len(ARCHIVE_SUFFIX)]
        stem = re.sub(r"\.s\d+$", "", stem)  # an earlier scrub's mark
        name = f"{stem}.s{epoch}{ARCHIVE_SUFFIX}"
        keys = []
        for line in new:
            m = _KEYS.match(line)
            if m is None:
                raise ScrubError(f"a record of archive file {entry.name} has no readable envelope")
            keys.append((int(m.group(1)), m.group(2), m.group(3)))
        writer.add(name, entry.segment, entry.epoch, new, keys)
        change.extra["name"] = name
    return change


def scan_file(root: Path, rel: str, what: str, matcher: Matcher, *, stage: bool, records: bool = False,
              json_lines: bool = True) -> Change | None:
    """Any other file: scrub it as text (its records re-framed with *records*); stage ``<name>.scrubbing``."""
    path = root / rel
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    new, lines, occurrences = matcher.scrub_text(data, records=records, json_lines=json_lines)
    if not occurrences:
        return None
    change = Change(rel, what, lines, occurrences)
    if stage:
        change.staged = path.with_name(path.name + SCRUB_SUFFIX)
        write_staged(change.staged, [new], mode=os.stat(path).st_mode & 0o600 or 0o600)
    return change


def other_files(root: Path) -> list[tuple[str, str]]:
    """``(relative path, kind)`` of every regular file outside the segments and the archive
    (symlinks are never followed, staged copies are skipped)."""
    out: list[tuple[str, str]] = []
    for top, dirs, files in os.walk(root, followlinks=False):
        rel_top = os.path.relpath(top, root)
        if rel_top in (SEGMENTS_DIR, ARCHIVE_DIR):
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(files):
            rel = name if rel_top == "." else f"{rel_top}/{name}"
            if rel in _UNTOUCHED or name.endswith(SCRUB_SUFFIX) or os.path.islink(root / rel):
                continue
            first = rel.split("/", 1)[0]
            if name.endswith(".tmp"):
                kind = "temporary"
            elif first == CACHE_DIR:
                kind = "cache"
            elif first == SPOOL_DIR:
                kind = "spool"
            elif first == QUARANTINE_DIR:
                kind = "quarantine"
            elif rel == ERROR_LOG:
                kind = "errors.log"
            else:
                kind = "file"
            out.append((rel, kind))
    return out

