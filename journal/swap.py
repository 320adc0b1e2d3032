"""The compaction lock, the segment swap and recovery from a compaction that was interrupted.

`journal.compaction.commit` writes a pending ``swap`` list into the manifest (the commit
point) and then carries it out with `apply_swap`; a crash in between leaves the list,
which `finish_swap` (or `recover`, which also deletes the stray files of an uncommitted
compaction) completes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from journal.archive import crash_point, orphan_archive_files
from journal.crc_index import index_path
from journal.errors import LockTimeout
from journal.layout import (
    ARCHIVE_DIR,
    COMPACT_LOCK,
    LOCK_FILE,
    MANIFEST_FILE,
    SEGMENTS_DIR,
    fsync_dir,
    log_error,
    read_manifest,
    write_manifest,
)
from journal.locking import JournalLock
from journal.staging import STAGED_SUFFIX

__all__ = ["CompactionBusy", "compaction_lock", "apply_swap", "finish_swap", "recover"]


class CompactionBusy(LockTimeout):
    """Another compaction of this journal is running."""



class _CompactionLock(JournalLock):
    def __enter__(self) -> JournalLock:
        try:
            return super().__enter__()
        except LockTimeout as e:
            raise CompactionBusy(f"another compaction is running ({self.path} is locked)") from e


def compaction_lock(root: Path, timeout: float = 0.0) -> JournalLock:
    """The lock one compaction holds from start to end (appends never take it)."""
    return _CompactionLock(root / COMPACT_LOCK, timeout)


def apply_swap(root: Path, swap: list[dict[str, Any]]) -> None:
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
        index_path(root, item["segment"]).unlink(missing_ok=True)  # its CRC index describes the old file
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
        apply_swap(root, swap)
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
