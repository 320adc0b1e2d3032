"""Scrub: take a leaked secret out of every file of the journal, crash-safely.

A secret our redaction rules missed sometimes gets in. `scrub` finds every file that
holds it (a literal string or a regular expression, see `journal.compaction.scrub_match`): sealed
and active segments, the archive, spool, quarantine, ``errors.log``, any other file in
the journal directory (``context --write`` files put there, say), and derived caches.
Each occurrence becomes ``[REDACTED:scrubbed:<8 hex>]``; a changed record gets a new
CRC and a sealed segment a new whole-file CRC in the manifest. Seqs, timestamps and
the number of records never change.

It uses the same crash-safe swap as compaction (`journal.compaction.compact`), under the
compaction lock (one compaction or scrub at a time):

1. **stage**, without the append lock: scrubbed copies beside the files
   (`journal.compaction.scrub_stage`), new archive files under new names;
2. **commit**, under the append lock: scrub what was appended meanwhile (the active
   segment's new lines, new spool and quarantine files, new ``errors.log`` lines);
   make each rewritten unsealed segment read-only, so appends go to a fresh segment
   from now on (a crash can never let an append land in a file the swap replaces);
   write the manifest with the new segment and archive entries, a bumped ``epoch``
   (projection caches rebuild), and the pending ``swap`` (segments) and
   ``swap_files`` (every other rename or delete) lists: the commit point; carry them
   out (`journal.compaction.swap`); write the manifest without them;
3. **check**: `verify` the journal and look for the secret in every file again.

A SIGKILL before the commit point leaves the old journal and stray staged files, which
the next scrub or compaction deletes (`journal.compaction.swap.recover`); after it, the new one,
whose pending renames readers already honour and `recover` completes. Appends go on
throughout and wait only for the commit. Tolerated races, both closed by running scrub
again: a line `log_error` appends to ``errors.log`` between the commit's last read of it
and its rename is copied over after the rename (lost only if scrub dies in between);
a reader that folded the old journal and saves a projection cache after the commit
saves one under the old epoch, which no one loads (`projections.runner` checks first).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import msgspec

from journal.compaction.archive import (
    ARCHIVE_SUFFIX,
    INDEX_SUFFIX,
    ArchiveWriter,
    crash_point,
    index_name,
    read_archive_lines,
)
from journal.storage.codec import crc32
from journal.layout import (
    ARCHIVE_DIR,
    ERROR_LOG,
    LOCK_FILE,
    QUARANTINE_DIR,
    SEGMENTS_DIR,
    SPOOL_DIR,
    list_segments,
    open_private,
    temp_writer_pid,
)
from journal.storage.locking import JournalLock
from journal.storage.manifest import (
    ArchiveEntry,
    Manifest,
    SegmentEntry,
    SwapEntry,
    SwapFileEntry,
    load_manifest,
    save_manifest,
    segment_entry,
)
from journal.compaction.scrub_match import Matcher, ScrubError
from journal.compaction.scrub_stage import (
    SCRUB_SUFFIX,
    Change,
    other_files,
    scan_archive,
    scan_file,
    scan_growing,
    scan_sealed,
    write_staged,
)
from journal.compaction.staging import STAGED_SUFFIX
from journal.compaction.swap import CompactionBusy, apply_file_swap, apply_swap, compaction_lock, recover

__all__ = ["ScrubResult", "ScrubError", "Matcher", "scrub", "find_remaining"]

Progress = Callable[[str, int, int], None]


@dataclass
class ScrubResult:
    """What a scrub changed (or, for a dry run, would change)."""

    mode: str
    kind: str
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    committed: bool = False
    epoch: int = 0
    verify_ok: bool | None = None
    #: Files that still hold the secret afterwards (e.g. the user's own config.json).
    remaining: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def occurrences(self) -> int:
        return sum(c.occurrences for c in self.changes)

    @property
    def records(self) -> int:
        return sum(c.records for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "mode": self.mode,
            "kind": self.kind,
            "files": [c.to_dict() for c in self.changes if c.occurrences],
            "records": self.records,
            "occurrences": self.occurrences,
            "committed": self.committed,
            "epoch": self.epoch,
            "verify_ok": self.verify_ok,
            "remaining": self.remaining,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Plan:
    manifest: Manifest
    sealed: list[Change] = field(default_factory=list)
    growing: dict[str, Change] = field(default_factory=dict)
    archive: list[Change] = field(default_factory=list)
    files: list[Change] = field(default_factory=list)
    errors: Change | None = None
    #: Every other file already looked at (changed or not), so the commit skips them.
    seen: set[str] = field(default_factory=set)
    committed: bool = False

    def changes(self) -> list[Change]:
        grown = [c for c in self.growing.values() if c.occurrences]
        errors = [self.errors] if self.errors is not None and self.errors.occurrences else []
        return self.sealed + grown + self.archive + self.files + errors

    def staged_paths(self) -> list[Path]:
        out = [c.staged for c in [*self.sealed, *self.growing.values(), *self.files] if c.staged is not None]
        if self.errors is not None and self.errors.staged is not None:
            out.append(self.errors.staged)
        for c in self.archive:
            out += [Path(p) for p in c.extra.get("paths", [])]
        return out


# -- stage -------------------------------------------------------------------------------


def _scan(root: Path, matcher: Matcher, *, stage: bool, progress: Progress | None) -> _Plan:
    manifest = load_manifest(root)
    plan = _Plan(manifest)
    epoch = manifest.epoch + 1
    sealed = {s.name for s in manifest.segments}
    total = sum(s.bytes for s in manifest.segments)
    done = 0
    try:
        for entry in manifest.segments:
            change = scan_sealed(root, matcher, entry, stage=stage)
            if change is not None:
                plan.sealed.append(change)
            done += entry.bytes
            if progress is not None:
                progress("segments", entry.bytes, total)
        for _, path in list_segments(root):
            if path.name not in sealed:
                change = scan_growing(root, f"{SEGMENTS_DIR}/{path.name}", "active segment", matcher,
                                      stage=stage, records=True)
                if change is not None:
                    plan.growing[path.name] = change
        _scan_archive(root, matcher, plan, epoch, stage=stage, progress=progress)
        for rel, kind in other_files(root):
            _scan_other(root, matcher, plan, rel, kind, stage=stage)
        crash_point("scrub_staged")
    except BaseException:
        _discard(plan)
        raise
    return plan


def _scan_archive(root: Path, matcher: Matcher, plan: _Plan, epoch: int, *, stage: bool,
                  progress: Progress | None) -> None:
    entries = list(plan.manifest.archive)
    writer = ArchiveWriter(root) if stage and entries else None
    try:
        for entry in entries:
            change = scan_archive(root, matcher, entry, writer, epoch)
            if change is not None:
                plan.archive.append(change)
            if progress is not None:
                progress("archive", 1, len(entries))
        if writer is not None:
            metas = [m for m in writer.finish() if m is not None]
            for change, meta in zip(plan.archive, metas, strict=False):
                change.extra["paths"] = meta["_paths"]
                change.entry = ArchiveEntry(**{k: v for k, v in meta.items() if not k.startswith("_")})
                change.staged = Path(meta["_paths"][0])
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


def _scan_other(root: Path, matcher: Matcher, plan: _Plan, rel: str, kind: str, *, stage: bool) -> None:
    plan.seen.add(rel)
    if kind == "errors.log":
        plan.errors = scan_growing(root, rel, kind, matcher, stage=stage, records=False)
        return
    if kind in ("cache", "temporary"):
        # Derived data, or never committed. Every binary cache goes at the commit (the new
        # epoch makes them stale anyway; a database such as the search index may hold the
        # secret split across its pages or in free pages, where no byte search finds it);
        # they are remade on use. A text (JSON) cache file or a temporary file goes when it
        # holds the secret, and so does the temporary file of a writer that died (as
        # `verify --repair` removes them); locks stay. Only holders are reported.
        if rel.endswith(".lock"):
            return
        try:
            data = (root / rel).read_bytes()
        except OSError:
            return
        n = matcher.scrub_text(data, json_lines=False)[2] if matcher.held_in(data) else 0
        if n or (kind == "cache" and not rel.endswith(".json")) or (kind == "temporary" and _dead_writer(root / rel)):
            plan.files.append(Change(rel, kind, 0, n, action="delete"))
        return
    records = kind in ("spool", "quarantine")
    change = scan_file(root, rel, kind, matcher, stage=stage, records=records,
                       json_lines=records or rel.endswith((".json", ".jsonl", ".log")))
    if change is not None:
        plan.files.append(change)


def _dead_writer(path: Path) -> bool:
    """True if *path* is a `journal.layout.temp_path` file whose writer no longer runs."""
    pid = temp_writer_pid(path)
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def _discard(plan: _Plan) -> None:
    """Delete what a scrub staged but did not commit (a no-op once committed)."""
    if plan.committed:
        return
    for path in plan.staged_paths():
        path.unlink(missing_ok=True)
    for change in plan.archive:
        name = change.extra.get("name")
        if name:
            (Path(change.extra.get("paths", [""])[0]).parent / index_name(name)).unlink(missing_ok=True)


# -- commit ------------------------------------------------------------------------------


def _catch_up(root: Path, matcher: Matcher, plan: _Plan) -> dict[str, SegmentEntry]:
    """Under the append lock: scrub what was appended since staging. Returns the manifest
    entries the rewritten unsealed segments get (they are sealed)."""
    manifest_names = {c.old_entry.name for c in plan.sealed if c.old_entry}
    sealed_at_plan = {s.name for s in plan.manifest.segments}
    entries: dict[str, SegmentEntry] = {}
    for first, path in list_segments(root):
        name = path.name
        if name in sealed_at_plan or name in manifest_names:
            continue
        rel = f"{SEGMENTS_DIR}/{name}"
        change = plan.growing.get(name)
        if change is not None and change.scanned:
            with open(path, "rb") as f:
                head = f.read(change.scanned)
            if len(head) != change.scanned or crc32(head) != change.scanned_crc:
                raise ScrubError(f"segment {name} was rewritten while scrubbing (a repair?); nothing was "
                                 "changed; run scrub again")
        change = scan_growing(root, rel, "active segment", matcher, stage=True, records=True,
                              start=change.scanned if change is not None else 0, change=change)
        if change is None:
            continue
        plan.growing[name] = change
        size = os.path.getsize(path)
        if size > change.scanned:  # a torn tail: its writer died (we hold the lock)
            with open(path, "rb") as f:
                f.seek(change.scanned)
                torn = f.read()
            if change.occurrences or matcher.held_in(torn):
                new, _, n = matcher.scrub_text(torn, json_lines=True)
                change.occurrences += n
                qname = f"{QUARANTINE_DIR}/{name}.{change.scanned}.torn"
                (root / QUARANTINE_DIR).mkdir(mode=0o700, exist_ok=True)
                staged = root / (qname + SCRUB_SUFFIX)
                write_staged(staged, [new])
                plan.files.append(Change(qname, "quarantine", 1, n, staged=staged))
                if change.staged is None:
                    with open(path, "rb") as f:
                        body = f.read(change.scanned)
                    change.staged = path.with_name(name + STAGED_SUFFIX)
                    write_staged(change.staged, [body])
        if not change.occurrences:
            continue
        assert change.staged is not None
        os.chmod(change.staged, 0o400)
        entries[name] = msgspec.structs.replace(segment_entry(change.staged, first), name=name)
    # Spool and quarantine files: merged ones are gone, new ones are scanned now.
    for rel, kind in _listing(root, (SPOOL_DIR, QUARANTINE_DIR)):
        if rel not in plan.seen:
            _scan_other(root, matcher, plan, rel, kind, stage=True)
    for change in list(plan.files):
        if change.what == "spool" and not (root / change.path).exists():
            if change.staged is not None:
                change.staged.unlink(missing_ok=True)
            plan.files.remove(change)
    if plan.errors is not None:
        plan.errors = scan_growing(root, ERROR_LOG, "errors.log", matcher, stage=True, records=False,
                                   start=plan.errors.scanned, change=plan.errors)
    elif (root / ERROR_LOG).exists():
        plan.errors = scan_growing(root, ERROR_LOG, "errors.log", matcher, stage=True, records=False)
    return entries


def _listing(root: Path, dirs: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for d in dirs:
        try:
            names = sorted(os.listdir(root / d))
        except FileNotFoundError:
            continue
        for n in names:
            if n.endswith((SCRUB_SUFFIX, ".tmp")) or not os.path.isfile(root / d / n) or os.path.islink(root / d / n):
                continue
            out.append((f"{d}/{n}", "spool" if d == SPOOL_DIR else "quarantine"))
    return out


def _commit(root: Path, matcher: Matcher, plan: _Plan, lock_timeout: float) -> int:
    """Make the staged files the journal (under the append lock); the new epoch, or 0 if
    nothing held the secret after all."""
    with JournalLock(root / LOCK_FILE, lock_timeout):
        manifest = load_manifest(root)
        if manifest.journal_id != plan.manifest.journal_id:
            raise ScrubError("the journal was replaced while scrubbing; nothing was changed")
        if manifest.swap or manifest.swap_files:
            raise ScrubError("a compaction's swap is pending; run scrub again")
        current = {s.name: s for s in manifest.segments}
        for change in plan.sealed:
            assert change.old_entry is not None
            now = current.get(change.old_entry.name)
            old = change.old_entry
            if now is None or now.crc32 != old.crc32 or now.bytes != old.bytes:
                raise ScrubError(f"segment {old.name} changed while scrubbing (a repair?); "
                                 "nothing was changed; run scrub again")
        sealed_now = _catch_up(root, matcher, plan)
        if not any(c.occurrences for c in plan.changes()):
            return 0
        for name in sealed_now:
            # Appends must never land in a file the swap replaces: from here on they roll.
            os.chmod(root / SEGMENTS_DIR / name, 0o400)
        segments = {s.name: s for s in manifest.segments}
        for change in plan.sealed:
            assert isinstance(change.entry, SegmentEntry)
            segments[change.entry.name] = change.entry
        segments.update(sealed_now)
        manifest.segments = sorted(segments.values(), key=lambda s: s.first_seq)
        swap = [SwapEntry(c.old_entry.name, c.old_entry.name + STAGED_SUFFIX)
                for c in plan.sealed if c.old_entry is not None]
        swap += [SwapEntry(name, name + STAGED_SUFFIX) for name in sealed_now]
        files: list[SwapFileEntry] = []
        if plan.archive:
            replaced = {c.old_entry.name: c.entry for c in plan.archive
                        if isinstance(c.old_entry, ArchiveEntry) and isinstance(c.entry, ArchiveEntry)}
            manifest.archive = [replaced.get(e.name) or e for e in manifest.archive]
            for change in plan.archive:
                assert isinstance(change.old_entry, ArchiveEntry)
                gone = change.old_entry.name
                files += [SwapFileEntry(f"{ARCHIVE_DIR}/{gone}"),
                          SwapFileEntry(f"{ARCHIVE_DIR}/{change.old_entry.index or index_name(gone)}")]
        for change in [*plan.files, *([plan.errors] if plan.errors is not None else [])]:
            if change.action == "delete" or change.staged is not None:
                staged = None if change.action == "delete" else str(change.staged.relative_to(root))  # type: ignore[union-attr]
                files.append(SwapFileEntry(change.path, staged))
        manifest.epoch += 1
        if swap:
            manifest.swap = swap
        manifest.swap_files = files
        crash_point("scrub_before_commit")
        save_manifest(root, manifest)  # the commit point
        plan.committed = True
        crash_point("scrub_committed")
        errors_fd = _open_quietly(root / ERROR_LOG)
        try:
            apply_swap(root, swap)
            apply_file_swap(root, files)
            crash_point("scrub_swapped")
            if errors_fd is not None and plan.errors is not None and plan.errors.staged is not None:
                _copy_late_lines(root, matcher, errors_fd, plan.errors.scanned)
        finally:
            if errors_fd is not None:
                os.close(errors_fd)
        manifest.swap = manifest.swap_files = None
        save_manifest(root, manifest)
        return manifest.epoch


def _open_quietly(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None


def _copy_late_lines(root: Path, matcher: Matcher, fd: int, scanned: int) -> None:
    """Lines `log_error` appended to the old ``errors.log`` after its last read: scrubbed, to the new one."""
    late = os.pread(fd, 1 << 24, scanned)
    if not late:
        return
    new = matcher.scrub_text(late, json_lines=True)[0]
    out = open_private(root / ERROR_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(out, new)
    finally:
        os.close(out)


# -- run ---------------------------------------------------------------------------------


def scrub(root: Path, matcher: Matcher, *, dry_run: bool = False, progress: Progress | None = None,
          lock_timeout: float = 10.0) -> ScrubResult:
    """Replace every occurrence *matcher* finds in the journal at *root* (see the module doc).

    With *dry_run* nothing is written: the result lists the files and how many records
    and occurrences would change. Raises `ScrubError` (also while a compaction or
    another scrub runs) with nothing changed.
    """
    started = time.monotonic()
    result = ScrubResult(matcher.mode, matcher.kind, dry_run)
    if dry_run:
        plan = _scan(root, matcher, stage=False, progress=progress)
        result.changes = [c for c in plan.changes() if c.occurrences]
        result.seconds = time.monotonic() - started
        return result
    try:
        lock = compaction_lock(root).__enter__()
    except CompactionBusy:
        raise ScrubError("a compaction or another scrub of this journal is running; run scrub again when it "
                         "has finished") from None
    try:
        recover(root, lock_timeout=lock_timeout)
        plan = _scan(root, matcher, stage=True, progress=progress)
        try:
            result.epoch = _commit(root, matcher, plan, lock_timeout)
        finally:
            _discard(plan)
    finally:
        lock.__exit__(None, None, None)
    result.committed = bool(result.epoch)
    result.changes = [c for c in plan.changes() if c.occurrences]
    from journal.storage.verify import verify

    if progress is not None:
        progress("checking", 0, 1)
    result.verify_ok = verify(root, lock_timeout=lock_timeout).ok
    result.remaining = find_remaining(root, matcher)
    result.seconds = time.monotonic() - started
    return result


def find_remaining(root: Path, matcher: Matcher) -> list[str]:
    """Files under *root* that still hold the secret (raw or JSON-escaped; archives inflated)."""
    found = []
    listed = {e.name: e for e in load_manifest(root).archive}
    for top, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(top) / name
            if path.is_symlink():
                continue
            rel = str(path.relative_to(root))
            try:
                if name.endswith(ARCHIVE_SUFFIX) and name in listed:
                    held = any(matcher.held_in(line) or (b"\\" in line and matcher.scrub_record(line) is not None)
                               for line in read_archive_lines(root, listed[name]))
                elif name.endswith(INDEX_SUFFIX) or not name.endswith(".gz"):
                    data = path.read_bytes()
                    held = matcher.held_in(data) or (
                        rel.startswith(SEGMENTS_DIR) and b"\\" in data
                        and any(matcher.scrub_record(line) is not None for line in data.split(b"\n") if line))
                else:
                    held = False
            except (OSError, EOFError, ValueError):
                continue
            if held:
                found.append(rel)
    return found
