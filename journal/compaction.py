"""Compaction: take records out of sealed segments, keep them in ``archive/``, swap atomically.

The engine knows nothing about Claude Code. A `Plan` names the seqs to remove from
sealed segments and the records (`Replacement`) that take some of those seqs; the
caller decides which (`projections.compaction` plans per session). Seqs keep their
meaning (Kafka: "the offset for a message never changes"): kept records are copied
byte for byte, a replacement is framed with the seq and timestamp of the record it
replaces, and removed seqs that nothing replaces are added to the manifest's
``compacted`` ranges, which readers and `verify` treat as known holes, not gaps.

The protocol (journal-anchors §1.4, Kafka's ``.cleaned``/``.swap``; §7.5):

1. **stage**, without the append lock: for each sealed segment that loses records,
   write ``segments/<name>.compacting`` (kept and replacement lines, fsync, 0400; none
   if nothing is left) and, unless dropping, the removed lines to the archive
   (`journal.archive`: gzip file and index, each tmp + fsync + rename);
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

Stdlib only except `staged_events` (msgspec, imported when called).
"""

from __future__ import annotations

import bisect
import os
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from journal.archive import ArchiveWriter, archive_name, crash_point, orphan_archive_files
from journal.codec import check_line, encode_record, peek_seq
from journal.errors import JournalError, LockTimeout
from journal.layout import (
    ARCHIVE_DIR,
    COMPACT_LOCK,
    LOCK_FILE,
    MANIFEST_FILE,
    SEGMENTS_DIR,
    fsync_dir,
    list_segments,
    log_error,
    open_private,
    read_manifest,
    write_manifest,
)
from journal.locking import JournalLock

if TYPE_CHECKING:
    from journal.events import Event

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

STAGED_SUFFIX = ".compacting"


class CompactionBusy(LockTimeout):
    """Another compaction of this journal is running."""


class CompactionConflict(JournalError):
    """The journal changed under a compaction in a way it cannot merge (nothing was changed)."""


class CompactionVetoed(JournalError):
    """The guard rejected the compacted journal (nothing was changed)."""


# -- seq ranges ----------------------------------------------------------------------


def merge_ranges(ranges: Iterable[Iterable[int]]) -> list[list[int]]:
    """Sorted, disjoint, non-adjacent inclusive ranges covering the same seqs."""
    out: list[list[int]] = []
    for a, b in sorted((int(r[0]), int(r[1])) for r in ranges):  # type: ignore[index]
        if out and a <= out[-1][1] + 1:
            if b > out[-1][1]:
                out[-1][1] = b
        else:
            out.append([a, b])
    return out


def ranges_from_seqs(seqs: Iterable[int]) -> list[list[int]]:
    """Inclusive ranges covering exactly *seqs*."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def _subtract(ranges: list[list[int]], seqs: Iterable[int]) -> list[list[int]]:
    """*ranges* without the single *seqs* (each of which lies inside one of them); linear."""
    out: list[list[int]] = []
    points = sorted(seqs)
    j = 0
    for a, b in ranges:
        while j < len(points) and points[j] < a:
            j += 1
        start = a
        while j < len(points) and points[j] <= b:
            if points[j] > start:
                out.append([start, points[j] - 1])
            start = points[j] + 1
            j += 1
        if start <= b:
            out.append([start, b])
    return out


class _Cursor:
    """Membership in sorted disjoint ranges for seqs asked in increasing order."""

    __slots__ = ("_ranges", "_i")

    def __init__(self, ranges: list[list[int]]) -> None:
        self._ranges = ranges
        self._i = 0

    def __contains__(self, seq: int) -> bool:
        ranges, i = self._ranges, self._i
        n = len(ranges)
        while i < n and ranges[i][1] < seq:
            i += 1
        self._i = i
        return i < n and ranges[i][0] <= seq


# -- the plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class Replacement:
    """A record that takes the seq (and timestamp) of a removed one."""

    seq: int
    type: str
    data: bytes
    session: str | None = None
    agent: str | None = None


@dataclass
class Plan:
    """What to compact, made against one manifest (``manifest``) and the log up to ``upto``.

    ``remove`` holds sorted inclusive seq ranges, all inside sealed segments of
    ``manifest``; each `Replacement` takes one removed seq. ``archive`` False drops
    the removed records instead of archiving them.
    """

    remove: list[list[int]]
    replacements: dict[int, Replacement]
    manifest: dict[str, Any]
    upto: int
    archive: bool = True
    compress_level: int = 1
    note: dict[str, Any] = field(default_factory=dict)

    def removed_count(self) -> int:
        return sum(b - a + 1 for a, b in self.remove)


def sealed_upto(root: Path, manifest: dict[str, Any]) -> int:
    """The highest seq a plan may remove: the end of the sealed segments before the newest one.

    The newest segment on disk is never compacted, sealed or not: writers read the next
    seq from its last record (a crash between sealing it and creating the next one
    leaves it newest), so that record must stay.
    """
    segments = list_segments(root)
    if not segments:
        return 0
    listed = max([int(s["last_seq"]) for s in manifest["segments"]] + [0])
    return min(segments[-1][0] - 1, listed)  # a segment sealed after *manifest* was read is not ours


# -- locking and recovery ------------------------------------------------------------


class _CompactionLock(JournalLock):
    def __enter__(self) -> JournalLock:
        try:
            return super().__enter__()
        except LockTimeout as e:
            raise CompactionBusy(f"another compaction is running ({self.path} is locked)") from e


def compaction_lock(root: Path, timeout: float = 0.0) -> JournalLock:
    """The lock one compaction holds from start to end (appends never take it)."""
    return _CompactionLock(root / COMPACT_LOCK, timeout)


def _apply_swap(root: Path, swap: list[dict[str, Any]]) -> None:
    """Carry out pending renames and unlinks, newest segment first (idempotent)."""
    segdir = root / SEGMENTS_DIR
    for item in sorted(swap, key=lambda s: s["segment"], reverse=True):
        target = segdir / item["segment"]
        if item.get("staged"):
            staged = segdir / item["staged"]
            if staged.exists():
                os.replace(staged, target)
        else:
            target.unlink(missing_ok=True)
        crash_point("swap_step")
    fsync_dir(segdir)


def finish_swap(root: Path, *, lock_timeout: float = 10.0) -> bool:
    """Complete a committed swap left pending by a crash; True if there was one."""
    if not read_manifest(root).get("swap"):
        return False
    with JournalLock(root / LOCK_FILE, lock_timeout):
        manifest = read_manifest(root)
        swap = manifest.get("swap")
        if not swap:
            return False
        _apply_swap(root, swap)
        del manifest["swap"]
        write_manifest(root, manifest)
    log_error(root, "compaction_recovered", "finished the segment swap of a compaction that was interrupted")
    return True


def recover(root: Path, *, lock_timeout: float = 10.0) -> dict[str, Any]:
    """Finish a committed swap, delete what an uncommitted compaction left behind.

    Call with the compaction lock held. Returns what was done.
    """
    done: dict[str, Any] = {"finished_swap": finish_swap(root, lock_timeout=lock_timeout), "removed": []}
    manifest = read_manifest(root)
    pending = {s.get("staged") for s in manifest.get("swap") or []}
    segdir = root / SEGMENTS_DIR
    stray: list[Path] = []
    try:
        stray += [segdir / n for n in os.listdir(segdir) if n.endswith(STAGED_SUFFIX) and n not in pending]
    except FileNotFoundError:
        pass
    stray += orphan_archive_files(root, manifest)
    for path in stray:
        path.unlink(missing_ok=True)
        done["removed"].append(str(path.relative_to(root)))
    if stray:
        fsync_dir(segdir) if segdir.exists() else None
        if (root / ARCHIVE_DIR).exists():
            fsync_dir(root / ARCHIVE_DIR)
    # Temp files of write_atomic: only under the append lock, where no manifest write runs.
    temps = [p for p in root.glob(f".{MANIFEST_FILE}.*.tmp")]
    if temps:
        with JournalLock(root / LOCK_FILE, lock_timeout):
            for path in root.glob(f".{MANIFEST_FILE}.*.tmp"):
                path.unlink(missing_ok=True)
                done["removed"].append(path.name)
    if done["removed"]:
        log_error(root, "compaction_cleanup", f"removed {len(done['removed'])} leftover file(s) of an "
                  "interrupted compaction", files=done["removed"][:20])
    return done


# -- staging -------------------------------------------------------------------------

_STR = rb'[^"\\]*(?:\\.[^"\\]*)*'  # the inside of a JSON string (unrolled: no backtracking)
_ENVELOPE = re.compile(
    rb'\{"seq":\d+(?:,"src":"' + _STR + rb'")?,"ts":"([^"]*)","type":"' + _STR + rb'"'
    rb'(?:,"session":"(' + _STR + rb')")?(?:,"agent":"(' + _STR + rb')")?'
)


@dataclass
class _SegmentPlan:
    entry: dict[str, Any]
    path: Path
    staged: Path | None = None
    info: dict[str, Any] | None = None
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


def affected_segments(plan: Plan) -> list[dict[str, Any]]:
    """The manifest entries of the sealed segments holding removed seqs (by seq)."""
    entries = sorted(plan.manifest["segments"], key=lambda s: s["first_seq"])
    starts = [r[0] for r in plan.remove]
    out = []
    for entry in entries:
        first, last = int(entry["first_seq"]), int(entry["last_seq"])
        i = bisect.bisect_right(starts, last) - 1
        if i >= 0 and plan.remove[i][1] >= first:
            out.append(entry)
    return out


def _check_plan(root: Path, plan: Plan) -> None:
    if plan.upto < 0 or any(a > b for a, b in plan.remove):
        raise ValueError("a plan's seq ranges must be ordered pairs")
    limit = max([int(s["last_seq"]) for s in plan.manifest["segments"]] + [0])
    if plan.remove and plan.remove[-1][1] > limit:
        raise ValueError(f"a plan may only remove seqs of sealed segments (up to {limit})")
    covered = _Cursor(plan.remove)
    for seq in sorted(plan.replacements):
        if seq not in covered:
            raise ValueError(f"replacement at seq {seq} does not take a removed seq")


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
    _check_plan(root, plan)
    epoch = int(plan.manifest.get("epoch", 0)) + 1
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
                progress(int(entry.get("bytes", 0)))
        if archive is not None:
            for seg, meta in zip(staged.segments, archive.finish()):
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
    staged.holes = _subtract(plan.remove, plan.replacements)
    return staged


def _stage_segment(
    root: Path,
    segdir: Path,
    entry: dict[str, Any],
    plan: Plan,
    epoch: int,
    archive: ArchiveWriter | None,
    pool: ThreadPoolExecutor,
) -> _SegmentPlan | None:
    """Stage one segment; None if none of its records is removed after all."""
    name = entry["name"]
    path = segdir / name
    seg = _SegmentPlan(entry, path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise CompactionConflict(f"sealed segment {name} is missing; run `agent-journal verify`") from e
    # The whole-file CRC (checked against the manifest) vouches for every line, kept or
    # removed; it runs in a thread (zlib releases the GIL) while the lines are sorted out.
    crc = pool.submit(zlib.crc32, data)
    seg.bytes_before = len(data)
    if not data.endswith(b"\n"):
        raise CompactionConflict(f"sealed segment {name} does not end with a newline; run `agent-journal verify`")
    lines = data.split(b"\n")
    lines.pop()
    ranges = plan.remove
    nr = len(ranges)
    ri = bisect.bisect_left([r[1] for r in ranges], int(entry["first_seq"]))
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
    if len(data) != entry.get("bytes") or "%08x" % crc.result() != entry.get("crc32"):
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
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view[: 16 * 1024 * 1024]) :]
            crash_point("staged_file")
            os.fsync(fd)
            os.fchmod(fd, 0o400)
        finally:
            os.close(fd)
        last = out[-1]
        seg.info = {
            "name": name,
            "first_seq": int(entry["first_seq"]),
            "last_seq": int(last[7 : last.find(b",", 7)]),
            "count": len(out),
            "bytes": len(body),
            "crc32": "%08x" % zlib.crc32(body),
        }
        seg.bytes_after = len(body)
    return seg


def measure(root: Path, plan: Plan) -> dict[str, int]:
    """What *plan* would do to the live segments, without writing anything (``--dry-run``)."""
    out = {"bytes_removed": 0, "bytes_added": 0, "records_removed": 0, "segments_rewritten": 0,
           "segments_deleted": 0}
    for entry in affected_segments(plan):
        try:
            data = (root / SEGMENTS_DIR / entry["name"]).read_bytes()
        except FileNotFoundError:
            continue
        remove = _Cursor(plan.remove)
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

    from journal.events import EVENT_DECODER

    plan = staged.plan
    replaced = {s.entry["name"]: s for s in staged.segments}
    holes = merge_ranges(plan.manifest.get("compacted", []) + plan.manifest.get("lost", []) + staged.holes)
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
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue  # a segment another compaction removed? (we hold the lock: cannot happen)
        data = data[: data.rfind(b"\n") + 1]
        if not data:
            continue
        lines = data.split(b"\n")
        lines.pop()
        if strict and not all(check_line(line) for line in lines):
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
        manifest = read_manifest(root)
        if manifest.get("journal_id") != plan.manifest.get("journal_id"):
            raise CompactionConflict("the journal was replaced while compacting")
        if manifest.get("swap"):
            raise CompactionConflict("another compaction's swap is pending; run compact again")
        current = {s["name"]: s for s in manifest["segments"]}
        for seg in staged.segments:
            now = current.get(seg.entry["name"])
            if now is None or now.get("crc32") != seg.entry.get("crc32") or now.get("bytes") != seg.entry.get("bytes"):
                raise CompactionConflict(
                    f"segment {seg.entry['name']} changed while compacting (a repair?); nothing was changed"
                )
        new_entries = {s.entry["name"]: s.info for s in staged.segments}
        segments = []
        for entry in manifest["segments"]:
            if entry["name"] in new_entries:
                if new_entries[entry["name"]] is not None:
                    segments.append(new_entries[entry["name"]])
            else:
                segments.append(entry)
        manifest["segments"] = segments
        manifest["compacted"] = merge_ranges(manifest.get("compacted", []) + staged.holes)
        if plan.archive:
            manifest["archive"] = list(manifest.get("archive", [])) + [
                {k: v for k, v in s.archive.items() if not k.startswith("_")}
                for s in staged.segments if s.archive is not None
            ]
        manifest["epoch"] = max(int(manifest.get("epoch", 0)) + 1, staged.epoch)
        swap = [{"segment": s.entry["name"], "staged": s.staged.name if s.staged else None} for s in staged.segments]
        manifest["swap"] = swap
        crash_point("before_commit")
        write_manifest(root, manifest)  # the commit point
        staged.committed = True
        crash_point("committed")
        _apply_swap(root, swap)
        crash_point("swapped")
        del manifest["swap"]
        write_manifest(root, manifest)
    result.live_bytes_after = _live_bytes(root)
    result.epoch = manifest["epoch"]
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
        return CompactionResult(archived=plan.archive, epoch=int(plan.manifest.get("epoch", 0)))
    staged = stage(root, plan, progress=progress)
    try:
        if guard is not None:
            guard(staged_events(root, staged))
        crash_point("guarded")
        return commit(root, staged, lock_timeout=lock_timeout)
    except BaseException:
        discard(staged)  # a no-op after the commit point
        raise

