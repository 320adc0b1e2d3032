"""Staging (phase 1 of `journal.compaction.compact`): write ``.compacting`` segments and the archive.

Nothing here touches the journal's live files: `stage` writes the rewritten sealed
segments next to them and the removed records to ``archive/``, `staged_events` reads the
journal as it will be for the guard, and `discard` deletes what will not be committed.
`measure` is the dry run.

Stdlib only except `staged_events` (msgspec, imported when called).
"""

from __future__ import annotations

import bisect
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from journal.compaction.archive import ArchiveWriter, archive_name, crash_point
from journal.storage.codec import check_lines, crc32, encode_record, peek_seq
from journal.compaction.plan import (
    CompactionConflict,
    CompactionVetoed,
    Plan,
    SeqCursor,
    affected_segments,
    check_plan,
    merge_ranges,
    subtract_seqs,
)
from journal.layout import ARCHIVE_DIR, SEGMENTS_DIR, fsync_dir, list_segments, open_private, read_private, write_all
from journal.storage.manifest import SegmentEntry

if TYPE_CHECKING:
    from journal.storage.events import Event

__all__ = ["STAGED_SUFFIX", "Staged", "stage", "measure", "discard", "staged_events"]

STAGED_SUFFIX = ".compacting"

_STR = rb'[^"\\]*(?:\\.[^"\\]*)*'  # the inside of a JSON string (unrolled: no backtracking)
_ENVELOPE = re.compile(
    rb'\{"seq":\d+(?:,"src":"' + _STR + rb'")?,"ts":"([^"]*)","type":"' + _STR + rb'"'
    rb'(?:,"session":"(' + _STR + rb')")?(?:,"agent":"(' + _STR + rb')")?'
)


@dataclass
class _SegmentPlan:
    entry: SegmentEntry
    path: Path
    staged: Path | None = None
    #: The entry of the staged file (None: the segment goes).
    info: SegmentEntry | None = None
    kept: int = 0
    removed: int = 0
    replaced: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    archive: dict[str, Any] | None = None


@dataclass
class Staged:
    """The files a compaction prepared, not yet part of the journal."""

    plan: Plan
    epoch: int
    segments: list[_SegmentPlan]
    holes: list[list[int]]
    #: Set at the commit point: from then on the files belong to the journal.
    committed: bool = False

    def files(self) -> list[Path]:
        out = [s.staged for s in self.segments if s.staged is not None]
        for s in self.segments:
            if s.archive is not None:
                out += [Path(p) for p in s.archive["_paths"]]
        return out



def stage(
    root: Path,
    plan: Plan,
    *,
    progress: Callable[[int], None] | None = None,
) -> Staged:
    """Write the ``.compacting`` segments and the archive files for *plan* (phase 1).

    *progress* is called with the bytes of each segment processed. On error every file
    written so far is removed.
    """
    check_plan(root, plan)
    epoch = plan.manifest.epoch + 1
    segdir = root / SEGMENTS_DIR
    staged = Staged(plan, epoch, [], [])
    archive = ArchiveWriter(root, level=plan.compress_level) if plan.archive else None
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        for entry in affected_segments(plan):
            seg = _stage_segment(root, segdir, entry, plan, epoch, archive, pool)
            if seg is not None:
                staged.segments.append(seg)
                crash_point("staged_segment")
            if progress is not None:
                progress(entry.bytes)
        if archive is not None:
            for seg, meta in zip(staged.segments, archive.finish(), strict=False):
                seg.archive = meta
            fsync_dir(root / ARCHIVE_DIR)
        fsync_dir(segdir)
        crash_point("staged")
    except BaseException:
        if archive is not None:
            archive.abort()
        discard(staged)
        raise
    finally:
        pool.shutdown(wait=True)
    staged.holes = subtract_seqs(plan.remove, plan.replacements)
    return staged


def _stage_segment(
    root: Path,
    segdir: Path,
    entry: SegmentEntry,
    plan: Plan,
    epoch: int,
    archive: ArchiveWriter | None,
    pool: ThreadPoolExecutor,
) -> _SegmentPlan | None:
    """Stage one segment; None if none of its records is removed after all."""
    name = entry.name
    path = segdir / name
    seg = _SegmentPlan(entry, path)
    try:
        data = read_private(path)
    except FileNotFoundError as e:
        raise CompactionConflict(f"sealed segment {name} is missing; run `agent-journal verify`") from e
    # The whole-file CRC (checked against the manifest) vouches for every line, kept or
    # removed; it runs in a thread (the CRC releases the GIL) while the lines are sorted out.
    crc = pool.submit(crc32, data)
    seg.bytes_before = len(data)
    if not data.endswith(b"\n"):
        raise CompactionConflict(f"sealed segment {name} does not end with a newline; run `agent-journal verify`")
    lines = data.split(b"\n")
    lines.pop()
    ranges = plan.remove
    nr = len(ranges)
    ri = bisect.bisect_left([r[1] for r in ranges], entry.first_seq)
    replacements = plan.replacements
    out: list[bytes] = []
    removed: list[bytes] = []
    removed_keys: list[tuple[int, bytes | None, bytes | None]] = []
    match = _ENVELOPE.match
    for line in lines:
        try:
            seq = int(line[7 : line.find(b",", 7)])
        except ValueError:
            raise CompactionConflict(f"a record of {name} has no readable seq; run `agent-journal verify`") from None
        while ri < nr and ranges[ri][1] < seq:
            ri += 1
        if ri == nr or ranges[ri][0] > seq:
            out.append(line)
            continue
        m = match(line)
        if m is None:
            raise CompactionConflict(f"record {seq} of {name} cannot be compacted (unreadable envelope)")
        removed.append(line)
        removed_keys.append((seq, m.group(2), m.group(3)))
        rep = replacements.get(seq)
        if rep is not None:
            ts = m.group(1).decode("ascii")
            out.append(encode_record(seq, ts, rep.type, rep.data, session=rep.session, agent=rep.agent)[:-1])
            seg.replaced += 1
    if len(data) != entry.bytes or "%08x" % crc.result() != entry.crc32:
        raise CompactionConflict(
            f"sealed segment {name} does not match its manifest entry (size or CRC); "
            "run `agent-journal verify` and repair it before compacting"
        )
    del data, lines
    if not removed:
        return None
    seg.removed = len(removed)
    seg.kept = len(out) - seg.replaced
    if archive is not None:
        archive.add(archive_name(name, epoch), name, epoch, removed, removed_keys)
    del removed
    if out:
        body = b"\n".join(out) + b"\n"
        seg.staged = segdir / (name + STAGED_SUFFIX)
        fd = open_private(seg.staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            write_all(fd, body)
            crash_point("staged_file")
            os.fsync(fd)
            os.fchmod(fd, 0o400)
        finally:
            os.close(fd)
        last = out[-1]
        seg.info = SegmentEntry(
            name=name,
            first_seq=entry.first_seq,
            last_seq=int(last[7 : last.find(b",", 7)]),
            count=len(out),
            bytes=len(body),
            crc32="%08x" % crc32(body),
        )
        seg.bytes_after = len(body)
    return seg


def measure(root: Path, plan: Plan) -> dict[str, int]:
    """What *plan* would do to the live segments, without writing anything (``--dry-run``)."""
    out = {"bytes_removed": 0, "bytes_added": 0, "records_removed": 0, "segments_rewritten": 0,
           "segments_deleted": 0}
    for entry in affected_segments(plan):
        try:
            data = read_private(root / SEGMENTS_DIR / entry.name)
        except FileNotFoundError:
            continue
        remove = SeqCursor(plan.remove)
        kept = removed = 0
        pos, size = 0, len(data)
        while pos < size:
            end = data.find(b"\n", pos)
            if end < 0:
                break
            seq = peek_seq(data[pos : pos + 32])
            if seq is not None and seq in remove:
                removed += 1
                out["bytes_removed"] += end + 1 - pos
                rep = plan.replacements.get(seq)
                if rep is not None:
                    kept += 1
                    out["bytes_added"] += len(encode_record(seq, "0" * 27, rep.type, rep.data,
                                                            session=rep.session, agent=rep.agent))
            else:
                kept += 1
            pos = end + 1
        out["records_removed"] += removed
        if removed:
            out["segments_rewritten" if kept else "segments_deleted"] += 1
    return out


def discard(staged: Staged) -> None:
    """Delete the files of a compaction that will not be committed (no-op once committed)."""
    if staged.committed:
        return
    for path in staged.files():
        path.unlink(missing_ok=True)


# -- the guard's view ------------------------------------------------------------------


def staged_events(root: Path, staged: Staged, *, strict: bool = True) -> Iterator[Event]:
    """The events of the journal as it will be after *staged* is committed, up to its plan's ``upto``.

    Reads each segment (the staged file in place of a rewritten one), checks every
    record's CRC and that seqs only rise, with jumps only over known holes (the old
    and the new ``compacted`` and ``lost`` ranges); raises `CompactionVetoed` otherwise.
    """
    import msgspec

    from journal.storage.events import EVENT_DECODER

    plan = staged.plan
    replaced = {s.entry.name: s for s in staged.segments}
    holes = merge_ranges(plan.manifest.holes + staged.holes)
    starts = [h[0] for h in holes]

    def covered(a: int, b: int) -> bool:
        i = bisect.bisect_right(starts, a) - 1
        return i >= 0 and holes[i][1] >= b

    expected = 1
    for first, path in list_segments(root):
        if first > plan.upto:
            break
        seg = replaced.get(path.name)
        if seg is not None:
            if seg.staged is None:
                continue
            path = seg.staged
        try:
            data = read_private(path)
        except FileNotFoundError:
            continue  # a segment another compaction removed? (we hold the lock: cannot happen)
        data = data[: data.rfind(b"\n") + 1]
        if not data:
            continue
        lines = data.split(b"\n")
        lines.pop()
        if strict and not check_lines(lines):
            raise CompactionVetoed(f"a staged record of {path.name} fails its CRC")
        try:
            events = EVENT_DECODER.decode_lines(data)
        except msgspec.DecodeError as e:
            raise CompactionVetoed(f"a staged record of {path.name} does not decode: {e}") from e
        for event in events:
            seq = event.seq
            if seq > plan.upto:
                return
            if seq < expected or (seq > expected and not covered(expected, seq - 1)):
                raise CompactionVetoed(
                    f"the compacted journal would not be in order at seq {seq} in {path.name} "
                    f"(expected {expected})"
                )
            expected = seq + 1
            yield event
