"""Compaction: take records out of sealed segments, keep them in ``archive/``, swap atomically.

The engine knows nothing about Claude Code. A `Plan` names the seqs to remove from
sealed segments and the records (`Replacement`) that take some of those seqs; the
caller decides which (`projections.compaction.compact` plans per session). Seqs keep their
meaning (Kafka: "the offset for a message never changes"): kept records are copied
byte for byte, a replacement is framed with the seq and timestamp of the record it
replaces, and removed seqs that nothing replaces are added to the manifest's
``compacted`` ranges, which readers and `verify` treat as known holes, not gaps.

The protocol (journal-anchors §1.4, Kafka's ``.cleaned``/``.swap``; §7.5):

1. **stage**, without the append lock: for each sealed segment that loses records,
   write ``segments/<name>.compacting`` (kept and replacement lines, fsync, 0400; none
   if nothing is left) and, unless dropping, the removed lines to the archive
   (`journal.compaction.archive`: gzip file and index, each tmp + fsync + rename);
2. **guard**: the caller reads the journal as it will be (`staged_events`) and may veto;
3. **commit**, under the append lock for a few milliseconds: re-read the manifest (a
   roll may have sealed another segment, which is fine; a repair may have rewritten one
   of ours, which aborts), write it with the new segment entries, the merged
   ``compacted`` ranges, the archive entries, a bumped ``epoch`` and a pending ``swap``
   list (the commit point); rename each ``.compacting`` over its segment and unlink the
   emptied ones, newest segment first; fsync the directory; write the manifest again
   without ``swap``.

A SIGKILL before the commit point leaves the old journal plus stray files, which
`recover` deletes; after it, the new journal, whose pending renames `recover` (or any
reader, which reads a pending ``.compacting`` in place of its segment) completes.
Renaming newest first means a reader listing the directory mid-swap never reads an old
segment after a new one, so it sees each compacted history either whole (old files) or
with its replacement (new). Appends go on throughout: they only ever touch the active
segment, which compaction never touches, and they wait only for the swap.

The parts: `journal.compaction.plan` (`Plan`, seq ranges, errors), `journal.compaction.staging`
(phase 1 and the guard's view), `journal.compaction.swap` (the compaction lock, the swap and
`recover`); this module commits (phase 3) and runs the three phases (`compact`).

Stdlib only except `staged_events` (msgspec, imported when called).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from journal.compaction.archive import crash_point
from journal.compaction.plan import (
    CompactionConflict,
    CompactionVetoed,
    Plan,
    Replacement,
    affected_segments,
    merge_ranges,
    ranges_from_seqs,
    sealed_upto,
)
from journal.layout import LOCK_FILE, list_segments
from journal.storage.locking import JournalLock
from journal.storage.manifest import ArchiveEntry, SwapEntry, load_manifest, save_manifest
from journal.compaction.staging import STAGED_SUFFIX, Staged, discard, measure, stage, staged_events

# `commit` calls the swap through this module's name, which the crash tests patch.
from journal.compaction.swap import CompactionBusy, compaction_lock, finish_swap, recover
from journal.compaction.swap import apply_swap as _apply_swap

if TYPE_CHECKING:
    from journal.storage.events import Event

__all__ = [
    "STAGED_SUFFIX",
    "Replacement",
    "Plan",
    "Staged",
    "CompactionResult",
    "CompactionBusy",
    "CompactionConflict",
    "CompactionVetoed",
    "merge_ranges",
    "ranges_from_seqs",
    "sealed_upto",
    "compaction_lock",
    "recover",
    "finish_swap",
    "affected_segments",
    "measure",
    "stage",
    "staged_events",
    "commit",
    "discard",
    "compact",
    "crash_point",
]


@dataclass
class CompactionResult:
    """What a compaction did (or, for a dry run, would do)."""

    removed: int = 0
    replaced: int = 0
    segments_rewritten: int = 0
    segments_deleted: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    live_bytes_before: int = 0
    live_bytes_after: int = 0
    archive_bytes: int = 0
    archived: bool = True
    epoch: int = 0
    compacted: list[list[int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "removed_events": self.removed,
            "snapshots": self.replaced,
            "segments_rewritten": self.segments_rewritten,
            "segments_deleted": self.segments_deleted,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "live_bytes_before": self.live_bytes_before,
            "live_bytes_after": self.live_bytes_after,
            "archive_bytes": self.archive_bytes,
            "archived": self.archived,
            "epoch": self.epoch,
        }


# -- commit ----------------------------------------------------------------------------


def _live_bytes(root: Path) -> int:
    total = 0
    for _, path in list_segments(root):
        try:
            total += path.stat().st_size
        except FileNotFoundError:  # swapped out meanwhile
            pass
    return total


def commit(root: Path, staged: Staged, *, lock_timeout: float = 10.0) -> CompactionResult:
    """Make *staged* the journal (phase 3): the manifest write under the append lock commits."""
    plan = staged.plan
    result = CompactionResult(archived=plan.archive)
    result.live_bytes_before = _live_bytes(root)
    with JournalLock(root / LOCK_FILE, lock_timeout):
        manifest = load_manifest(root)
        if manifest.journal_id != plan.manifest.journal_id:
            raise CompactionConflict("the journal was replaced while compacting")
        if manifest.swap:
            raise CompactionConflict("another compaction's swap is pending; run compact again")
        current = {s.name: s for s in manifest.segments}
        for seg in staged.segments:
            now = current.get(seg.entry.name)
            if now is None or now.crc32 != seg.entry.crc32 or now.bytes != seg.entry.bytes:
                raise CompactionConflict(
                    f"segment {seg.entry.name} changed while compacting (a repair?); nothing was changed"
                )
        new_entries = {s.entry.name: s.info for s in staged.segments}
        segments = []
        for entry in manifest.segments:
            if entry.name in new_entries:
                new = new_entries[entry.name]
                if new is not None:
                    segments.append(new)
            else:
                segments.append(entry)
        manifest.segments = segments
        manifest.compacted = merge_ranges(manifest.compacted + staged.holes)
        if plan.archive:
            manifest.archive = manifest.archive + [
                ArchiveEntry(**{k: v for k, v in s.archive.items() if not k.startswith("_")})
                for s in staged.segments if s.archive is not None
            ]
        manifest.epoch = max(manifest.epoch + 1, staged.epoch)
        swap = [SwapEntry(s.entry.name, s.staged.name if s.staged else None) for s in staged.segments]
        manifest.swap = swap
        crash_point("before_commit")
        save_manifest(root, manifest)  # the commit point
        staged.committed = True
        crash_point("committed")
        _apply_swap(root, swap)
        crash_point("swapped")
        manifest.swap = None
        save_manifest(root, manifest)
    result.live_bytes_after = _live_bytes(root)
    result.epoch = manifest.epoch
    result.removed = sum(s.removed for s in staged.segments)
    result.replaced = sum(s.replaced for s in staged.segments)
    result.segments_rewritten = sum(1 for s in staged.segments if s.staged is not None)
    result.segments_deleted = sum(1 for s in staged.segments if s.staged is None)
    result.bytes_before = sum(s.bytes_before for s in staged.segments)
    result.bytes_after = sum(s.bytes_after for s in staged.segments)
    result.archive_bytes = sum(int(s.archive["bytes"]) for s in staged.segments if s.archive is not None)
    result.compacted = staged.holes
    return result


def compact(
    root: Path,
    plan: Plan,
    *,
    guard: Callable[[Iterator[Event]], None] | None = None,
    progress: Callable[[int], None] | None = None,
    lock_timeout: float = 10.0,
) -> CompactionResult:
    """Stage, guard and commit *plan*; the caller holds `compaction_lock`.

    *guard* receives `staged_events` and raises (e.g. `CompactionVetoed`) to abort;
    then nothing changes and the staged files are deleted.
    """
    if not plan.remove:
        return CompactionResult(archived=plan.archive, epoch=plan.manifest.epoch)
    staged = stage(root, plan, progress=progress)
    try:
        if guard is not None:
            guard(staged_events(root, staged))
        crash_point("guarded")
        return commit(root, staged, lock_timeout=lock_timeout)
    except BaseException:
        discard(staged)  # a no-op after the commit point
        raise
