"""Checking a whole journal: every record, every segment, the manifest.

`verify` returns findings and never changes anything (diskcache's ``check(fix=False)``);
`journal.storage.recovery.repair` is the separate, explicit fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journal.compaction.archive import orphan_archive_files, verify_archive
import msgspec

from journal.layout import LOCK_FILE, list_segments
from journal.storage.locking import JournalLock
from journal.storage.manifest import load_manifest
from journal.storage.reader import Damage, Reader, RecoveryMode
from journal.storage.segments import seal_info

__all__ = ["VerifyReport", "verify"]


@dataclass
class VerifyReport:
    """What `verify` found. ``ok`` is True only for a journal with no damage at all."""

    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    gaps: list[list[int]] = field(default_factory=list)
    corrupt: list[dict[str, Any]] = field(default_factory=list)
    torn_tail: dict[str, Any] | None = None
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    missing_segments: list[dict[str, Any]] = field(default_factory=list)
    segment_mismatches: list[dict[str, Any]] = field(default_factory=list)
    segments: int = 0
    bytes: int = 0
    compacted: list[list[int]] = field(default_factory=list)
    lost: list[list[int]] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    #: Archive files (compaction) that are missing or not the bytes the manifest names.
    archive: list[dict[str, Any]] = field(default_factory=list)
    #: A compaction committed but its renames were interrupted (readers already see its result).
    pending_swap: bool = False
    #: Events a full disk cost (the manifest's ``dropped`` entries: count, bytes, types, when).
    dropped: list[dict[str, Any]] = field(default_factory=list)
    #: Events parked on another filesystem while the disk is full, not merged yet
    #: (`journal.storage.overflow.status`): pending and counted-lost events, and where.
    overflow: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (
            self.gaps
            or self.corrupt
            or self.torn_tail
            or self.duplicates
            or self.missing_segments
            or self.segment_mismatches
            or self.archive
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "gaps": self.gaps,
            "corrupt": self.corrupt,
            "torn_tail": self.torn_tail,
            "duplicates": self.duplicates,
            "missing_segments": self.missing_segments,
            "segment_mismatches": self.segment_mismatches,
            "segments": self.segments,
            "bytes": self.bytes,
            "compacted": self.compacted,
            "lost": self.lost,
            "leftovers": self.leftovers,
            "archive": self.archive,
            "pending_swap": self.pending_swap,
            "dropped": self.dropped,
            "dropped_events": sum(int(d.get("events", 0)) for d in self.dropped),
            "overflow": self.overflow,
        }


def verify(root: Path, *, lock_timeout: float = 10.0) -> VerifyReport:
    """Check every record and segment of the journal at *root*; report, never fix."""
    report = VerifyReport()
    manifest = load_manifest(root)
    report.compacted = [list(r) for r in manifest.compacted]
    report.lost = [list(r) for r in manifest.lost]
    report.dropped = [msgspec.to_builtins(d) for d in manifest.dropped]
    from journal.storage.overflow import status

    waiting = status(root)
    if waiting["pending_events"] or waiting["lost_events"]:
        report.overflow = waiting
    segments = list_segments(root)
    # A compaction that committed but did not finish its renames: its staged files are the
    # segments (journal.compaction.compact; the next compaction finishes the renames).
    swap = {s.segment: s.staged for s in manifest.swap or []}
    report.pending_swap = bool(swap)
    paths = {p.name: p for _, p in segments}
    for name, staged in swap.items():
        if staged is None:
            paths.pop(name, None)
        elif name in paths and (paths[name].parent / staged).exists():
            paths[name] = paths[name].parent / staged
    names = [(first, p.name) for first, p in segments]
    segments = [(first, paths[name]) for first, name in names if name in paths]
    # The active segment and its size under the lock: bytes past it, or in a segment
    # rolled in since (the segment list is taken again under the lock and compared by
    # name), belong to an append in flight, not to a torn tail; a live journal verifies clean.
    live = (root / LOCK_FILE).exists()
    active: tuple[str, int] | None = None
    if live:
        with JournalLock(root / LOCK_FILE, lock_timeout):
            now = list_segments(root)
            if now:
                active = (str(now[-1][1]), os.path.getsize(now[-1][1]))
    report.segments = len(segments)
    report.bytes = sum(os.path.getsize(p) for _, p in segments)
    pending = {staged for staged in swap.values() if staged}
    report.leftovers = (
        sorted(str(p.relative_to(root)) for p in root.rglob("*.tmp") if p.is_file())
        + sorted(str(p.relative_to(root)) for p in root.glob("segments/*.compacting") if p.name not in pending)
        + sorted(str(p.relative_to(root)) for p in orphan_archive_files(root, manifest) if not p.name.endswith(".tmp"))
        + sorted(str(p.relative_to(root)) for p in root.rglob("*.scrubbing")  # journal.compaction.scrub's staged copies
                 if str(p.relative_to(root)) not in {s.staged for s in manifest.swap_files or []})
    )
    report.archive = verify_archive(root, manifest)

    def on_damage(d: Damage) -> None:
        if d.kind == "torn_tail":
            if not live or (active is not None and d.file == active[0] and d.offset < active[1]):
                report.torn_tail = d.to_dict()
        elif d.kind == "gap":
            report.gaps.append([d.first_seq or 0, d.last_seq or 0])
        elif d.kind == "duplicate":
            report.duplicates.append(d.to_dict())
        elif d.kind == "missing_segment":
            report.missing_segments.append(d.to_dict())
        else:
            report.corrupt.append(d.to_dict())

    reader = Reader(root, RecoveryMode.TOLERATE, on_damage, manifest=manifest)
    for event in reader.events():
        report.events += 1
        if report.first_seq is None:
            report.first_seq = event.seq
        report.last_seq = event.seq

    on_disk = {name: (first, paths[name]) for first, name in names if name in paths}
    for entry in manifest.segments:
        if entry.name not in on_disk:
            continue
        first, path = on_disk[entry.name]
        actual = seal_info(path, first)
        listed = msgspec.structs.asdict(entry)
        diffs = {k: [listed[k], actual[k]]
                 for k in ("bytes", "count", "crc32", "last_seq") if listed[k] != actual[k]}
        if diffs:
            report.segment_mismatches.append({"segment": entry.name, "manifest_vs_file": diffs})
    return report
