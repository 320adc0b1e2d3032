"""Repairing a damaged journal, explicitly and never destroying evidence.

`repair` runs under the append lock and uses the reader's findings:

* ``tolerate``: cut a torn tail; move corrupt and duplicate records out of their
  segments into ``quarantine/``; record their seqs (and any gap, or a missing sealed
  segment's range) in the manifest's ``lost`` list, so `verify` is clean afterwards
  and still tells what was lost.
* ``salvage``: like tolerate, but a record that fails its CRC yet still parses is
  kept (re-framed with a fresh CRC), as is a good record glued behind garbage.
* ``point-in-time``: keep everything before the first damage; move the rest (the
  remainder of that segment and every later segment) to ``quarantine/``. Later
  appends reuse the seqs after the cut, as after RocksDB's point-in-time recovery.

Every repair that changes records bumps the manifest's ``epoch``, which tells
projection caches to rebuild.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journal.storage.codec import check_line, encode_record, peek_seq
from journal.errors import InvalidManifest
from journal.layout import (
    LOCK_FILE,
    fsync_dir,
    list_segments,
    log_error,
    open_private,
    read_private,
    temp_writer_pid,
    write_atomic,
)
from journal.storage.locking import JournalLock
from journal.storage.manifest import Manifest, SegmentEntry, load_manifest, save_manifest, segment_entry
from journal.storage.reader import Damage, Reader, RecoveryMode
from journal.storage.segments import quarantine, repair_tail

__all__ = ["RepairReport", "RepairPreview", "repair", "preview_repair", "remove_dead_temporaries"]


@dataclass
class RepairReport:
    """What `repair` changed."""

    mode: str
    torn_tail_bytes: int = 0
    dropped_records: int = 0
    salvaged_records: int = 0
    lost: list[list[int]] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    truncated_at: dict[str, Any] | None = None
    #: Sealed segments whose manifest entry was rewritten to match the file again.
    resealed: list[str] = field(default_factory=list)
    #: Temporary files of writers that died before renaming them (paths in the journal).
    removed: list[str] = field(default_factory=list)
    #: What was wrong with an invalid manifest this repair rebuilt, else None.
    manifest_rebuilt: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.torn_tail_bytes or self.dropped_records or self.salvaged_records or self.lost
                    or self.quarantined or self.truncated_at or self.resealed or self.removed
                    or self.manifest_rebuilt)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "changed": self.changed,
            "torn_tail_bytes": self.torn_tail_bytes,
            "dropped_records": self.dropped_records,
            "salvaged_records": self.salvaged_records,
            "lost": self.lost,
            "quarantined": self.quarantined,
            "truncated_at": self.truncated_at,
            "resealed": self.resealed,
            "removed": self.removed,
            "manifest_rebuilt": self.manifest_rebuilt,
        }


@dataclass
class RepairPreview:
    """What a repair in *mode* would take out of the live journal, before it runs.

    ``damaged`` counts the damaged records (corrupt, duplicate, torn, missing); ``intact``
    the readable events it would set aside too (only ``point-in-time`` does: everything
    after the first damage), with their seq range.
    """

    mode: str
    damaged: int = 0
    intact: int = 0
    intact_seqs: list[int] | None = None
    findings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "damaged": self.damaged, "intact": self.intact,
                "intact_seqs": self.intact_seqs, "findings": self.findings}

    def __str__(self) -> str:
        text = f"{self.mode} repair: {self.damaged} damaged record(s) set aside to quarantine/"
        if self.intact:
            first, last = self.intact_seqs or [0, 0]
            text += (f", and {self.intact} intact event(s) after the first damage (seq {first}-{last}) "
                     "with them")
        return text


def preview_repair(root: Path, mode: RecoveryMode | str) -> RepairPreview:
    """What `repair` in *mode* would remove from the journal at *root* (reads only)."""
    mode = RecoveryMode(mode)
    preview = RepairPreview(mode.value)
    manifest = load_manifest(root)
    damage = [d for d in _scan(root, manifest) if d.kind not in ("gap", "salvaged")]
    preview.damaged = len(damage)
    preview.findings = [str(d) for d in damage[:20]]
    stale = _stale(root, manifest)
    if mode is RecoveryMode.POINT_IN_TIME and (damage or stale):
        reader = Reader(root, RecoveryMode.POINT_IN_TIME, lambda d: None, manifest=manifest)
        kept = max((e.seq for e in reader.events()), default=0)  # it stops at the first damage (or gap)
        after = [e.seq for e in Reader(root, RecoveryMode.TOLERATE, lambda d: None, manifest=manifest).events()
                 if e.seq > kept]
        preview.intact = len(after)
        preview.intact_seqs = [after[0], after[-1]] if after else None
    return preview


def _scan(root: Path, manifest: Manifest) -> list[Damage]:
    found: list[Damage] = []
    for _ in Reader(root, RecoveryMode.TOLERATE, found.append, manifest=manifest).events():
        pass
    return found


def _stale(root: Path, manifest: Manifest) -> list[SegmentEntry]:
    """Manifest entries of sealed segments whose file no longer matches (verify's mismatch)."""
    out = []
    for entry in manifest.segments:
        path = root / "segments" / entry.name
        if path.exists() and segment_entry(path, entry.first_seq) != entry:
            out.append(entry)
    return out


def repair(root: Path, mode: RecoveryMode | str, *, lock_timeout: float = 30.0) -> RepairReport:
    """Fix the journal at *root* in *mode* (tolerate, salvage or point-in-time)."""
    mode = RecoveryMode(mode)
    if mode is RecoveryMode.STRICT:
        raise ValueError("strict mode never changes the journal; use verify, or repair with "
                         "tolerate, salvage or point-in-time")
    report = RepairReport(mode.value)
    with JournalLock(root / LOCK_FILE, lock_timeout):
        report.removed = remove_dead_temporaries(root)
        segments = list_segments(root)
        if segments:
            _, active = segments[-1]
            # A sealed (read-only) last segment cannot have a torn tail, and a non-root
            # user could not open it for writing anyway.
            fd = open_private(active, os.O_RDWR if os.lstat(active).st_mode & 0o200 else os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    report.torn_tail_bytes = size - repair_tail(root, fd, size, active)
            finally:
                os.close(fd)
        try:
            manifest = load_manifest(root)
            rebuilt = False
        except InvalidManifest as e:
            manifest = _rebuild_manifest(root, report, str(e))
            rebuilt = True
        damage = _scan(root, manifest)
        # A sealed segment cut short at a line boundary, or emptied, reads without a
        # finding of its own (a gap shows only if records follow): it is damage too.
        stale = _stale(root, manifest)
        if not damage and not stale and not rebuilt:
            return report
        if mode is RecoveryMode.POINT_IN_TIME:
            if damage or stale:  # else only the manifest was rebuilt
                _cut(root, manifest, damage[0] if damage else None, stale, report)
        else:
            _mend(root, manifest, damage, mode, report)
            # What such a segment still holds was checked above; the seqs past its end
            # are lost, and its entry must describe the file again or verify keeps failing.
            for entry in _stale(root, manifest):
                info = segment_entry(root / "segments" / entry.name, entry.first_seq)
                if info.last_seq < entry.last_seq:
                    report.lost.append([info.last_seq + 1, entry.last_seq])
                manifest.segments = [info if s.name == entry.name else s for s in manifest.segments]
                report.resealed.append(entry.name)
            # Records removed without a readable seq leave gaps: name them as lost.
            for d in _scan(root, manifest):
                if d.kind == "gap" and d.first_seq is not None and d.last_seq is not None:
                    report.lost.append([d.first_seq, d.last_seq])
            report.lost = _merge(report.lost)
            manifest.lost = _merge(manifest.lost + report.lost)
        manifest.epoch += 1
        save_manifest(root, manifest)
        log_error(root, "repaired", f"repair ({mode.value}) changed the journal", report=report.to_dict())
    return report


def remove_dead_temporaries(root: Path) -> list[str]:
    """Delete the temporary files (`journal.layout.temp_path`) whose writer died before renaming them.

    A temporary file is never read (its rename is the commit), so it holds nothing
    that was acknowledged. One whose writer still runs (a cache written without the
    lock, say) is left alone; a pid that was reused keeps its file until the next repair.
    """
    removed = []
    for tmp in sorted(root.rglob("*.tmp")):
        pid = temp_writer_pid(tmp)
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # alive (or another user's process: PermissionError below)
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        try:
            tmp.unlink()
        except OSError:
            continue
        removed.append(str(tmp.relative_to(root)))
    return removed


def _rebuild_manifest(root: Path, report: RepairReport, problem: str) -> Manifest:
    """A manifest made from the segments on disk, replacing an invalid one (kept in quarantine/)."""
    from journal.storage.manifest_rebuild import rebuild_manifest

    report.manifest_rebuilt = rebuild_manifest(root, problem)
    manifest = load_manifest(root)
    report.resealed.extend(s.name for s in manifest.segments)
    return manifest


def _merge(ranges: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def _chmod(path: Path, mode: int) -> None:
    """chmod a segment through an ``O_NOFOLLOW`` descriptor (never a link's target)."""
    fd = open_private(path, os.O_RDONLY)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _unseal(path: Path) -> None:
    _chmod(path, 0o600)


def _cut(root: Path, manifest: Manifest, first: Damage | None, stale: list[SegmentEntry],
         report: RepairReport) -> None:
    """Point-in-time: keep what precedes the first damage; quarantine the rest.

    The first damage is the reader's first finding or the end of a *stale* sealed
    segment (one that lost records at its end), whichever comes first in the log.
    """
    segments = list_segments(root)
    starts = {p.name: f for f, p in segments}
    cuts: list[tuple[int, int, Path | None, dict[str, Any]]] = []
    if first is not None and first.kind == "missing_segment":
        cuts.append((first.first_seq or 0, 0, None, first.to_dict()))
    elif first is not None:
        cuts.append((starts.get(Path(first.file).name, 0), first.offset, Path(first.file), first.to_dict()))
    for entry in stale:
        path = root / "segments" / entry.name
        end = path.stat().st_size
        cuts.append((entry.first_seq, end, path,
                     {"kind": "segment_mismatch", "file": str(path), "offset": end}))
    cut_seq, cut_offset, cut_file, where = min(cuts, key=lambda c: (c[0], c[1]))
    for seg_first, path in segments:
        if path == cut_file:
            data = read_private(path)
            if data[cut_offset:]:
                qpath = quarantine(root, f"{path.name}.{cut_offset}.pit", data[cut_offset:])
                report.quarantined.append(str(qpath))
            _unseal(path)
            write_atomic(path, data[:cut_offset])
        elif seg_first > cut_seq:
            qpath = quarantine(root, path.name + ".pit", read_private(path))
            report.quarantined.append(str(qpath))
            _unseal(path)
            path.unlink()
    # An empty segment left last would number the next append from its name, past the
    # seqs just set aside; drop it, so the segment before it carries on the numbering.
    remaining = list_segments(root)
    while len(remaining) > 1 and remaining[-1][1].stat().st_size == 0:
        remaining.pop()[1].unlink()
    fsync_dir(root / "segments")
    keep_names = {p.name for _, p in list_segments(root)}
    manifest.segments = [
        s for s in manifest.segments
        if s.name in keep_names and (cut_file is None or s.name != cut_file.name)
        and s.first_seq < cut_seq
    ]
    report.truncated_at = where


def _mend(root: Path, manifest: Manifest, damage: list[Damage], mode: RecoveryMode,
          report: RepairReport) -> None:
    """Tolerate/salvage: rewrite each damaged segment without its bad records."""
    bad: dict[str, dict[int, str]] = {}
    for d in damage:
        if d.kind == "missing_segment":
            manifest.segments = [s for s in manifest.segments if s.name != d.file]
            report.lost.append([d.first_seq or 0, d.last_seq or 0])
        elif d.kind == "gap":
            report.lost.append([d.first_seq or 0, d.last_seq or 0])
        elif d.kind in ("corrupt", "duplicate", "unterminated_segment", "nul_bytes"):
            bad.setdefault(d.file, {})[d.offset] = d.kind
    sealed = {s.name: s for s in manifest.segments}
    for name, offsets in bad.items():
        path = Path(name)
        data = read_private(path)
        kept: list[bytes] = []
        dropped: list[bytes] = []
        offset = 0
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" for a segment ending in "\n"
        for line in lines:
            here = offset
            offset += len(line) + 1
            record = line.lstrip(b"\0")
            at = here + len(line) - len(record)
            kind = offsets.get(at) or (offsets.get(here) if offsets.get(here) != "nul_bytes" else None)
            if not record:
                dropped.append(line)
                continue
            if kind is None:
                kept.append(record)
                continue
            dropped.append(line)
            if kind == "corrupt" and mode is RecoveryMode.SALVAGE:
                event = Reader._salvage(record)
                if event is not None:
                    kept.append(encode_record(event.seq, event.ts, event.type, bytes(event.data),
                                              session=event.session, agent=event.agent, v=event.v)[:-1])
                    report.salvaged_records += 1
                    continue
            if kind != "duplicate":
                seq = peek_seq(record) if not check_line(record) else None
                if seq is not None:
                    report.lost.append([seq, seq])
            report.dropped_records += 1
        if tail:
            dropped.append(tail)
        qpath = quarantine(root, f"{path.name}.corrupt", b"\n".join(dropped) + b"\n")
        report.quarantined.append(str(qpath))
        entry = sealed.get(path.name)
        if entry is not None:
            _unseal(path)
        write_atomic(path, b"".join(k + b"\n" for k in kept))
        if entry is not None:
            info = segment_entry(path, int(path.stem))
            manifest.segments = [s if s.name != path.name else info for s in manifest.segments]
            _chmod(path, 0o400)
