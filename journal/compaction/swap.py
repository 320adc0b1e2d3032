"""The compaction lock, the segment swap and recovery from a compaction that was interrupted.

`journal.compaction.compact.commit` writes a pending ``swap`` list into the manifest (the commit
point) and then carries it out with `apply_swap`; a crash in between leaves the list,
which `finish_swap` (or `recover`, which also deletes the stray files of an uncommitted
compaction) completes. `journal.compaction.scrub` also writes a ``swap_files`` list (renames and
deletes of files other than segments, by path inside the journal), done by
`apply_file_swap` the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from journal.compaction.archive import crash_point, orphan_archive_files
from journal.storage.crc_index import index_path
from journal.errors import JournalError, LockTimeout
from journal.layout import (
    ARCHIVE_DIR,
    COMPACT_LOCK,
    LOCK_FILE,
    MANIFEST_FILE,
    SEGMENTS_DIR,
    fsync_dir,
    log_error,
)
from journal.storage.locking import JournalLock
from journal.storage.manifest import SwapEntry, SwapFileEntry, load_manifest, save_manifest
from journal.storage.recovery import remove_dead_temporaries
from journal.compaction.staging import STAGED_SUFFIX

__all__ = ["CompactionBusy", "compaction_lock", "apply_swap", "apply_file_swap", "finish_swap", "recover",
           "SCRUB_SUFFIX"]

#: The staged copy of a file other than a segment (`journal.compaction.scrub`).
SCRUB_SUFFIX = ".scrubbing"


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


def apply_swap(root: Path, swap: list[SwapEntry]) -> None:
    """Carry out pending renames and unlinks, newest segment first (idempotent)."""
    segdir = root / SEGMENTS_DIR
    for item in sorted(swap, key=lambda s: s.segment, reverse=True):
        target = segdir / item.segment
        if item.staged:
            staged = segdir / item.staged
            if staged.exists():
                os.replace(staged, target)
        else:
            target.unlink(missing_ok=True)
        index_path(root, item.segment).unlink(missing_ok=True)  # its CRC index describes the old file
        crash_point("swap_step")
    fsync_dir(segdir)


def _inside(root: Path, rel: object) -> Path:
    """``root/rel`` for a relative path from the manifest that stays inside the journal,
    through real directories only (the manifest is not trusted)."""
    parts = Path(rel).parts if isinstance(rel, str) and rel else ()
    if not parts or Path(str(rel)).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise JournalError(f"the manifest's pending swap names {rel!r}, not a file inside the journal; "
                           "run `agent-journal verify --repair tolerate`")
    for i in range(1, len(parts)):
        if (root.joinpath(*parts[:i])).is_symlink():
            raise JournalError(f"the manifest's pending swap goes through the symlink {'/'.join(parts[:i])}")
    return root.joinpath(*parts)


def apply_file_swap(root: Path, items: list[SwapFileEntry]) -> None:
    """Carry out pending renames (``staged`` over ``path``) and deletes (no ``staged``) of
    files other than segments; idempotent."""
    targets = [(_inside(root, item.path), item.staged) for item in items]
    dirs = set()
    for target, staged in targets:
        if staged:
            source = _inside(root, staged)
            if source.exists():
                os.replace(source, target)
        else:
            target.unlink(missing_ok=True)
        dirs.add(target.parent)
        crash_point("swap_step")
    for directory in sorted(dirs):
        if directory.is_dir():
            fsync_dir(directory)


def finish_swap(root: Path, *, lock_timeout: float = 10.0) -> bool:
    """Complete a committed swap left pending by a crash; True if there was one."""
    pending = load_manifest(root)
    if not pending.swap and not pending.swap_files:
        return False
    with JournalLock(root / LOCK_FILE, lock_timeout):
        manifest = load_manifest(root)
        swap = manifest.swap
        files = manifest.swap_files
        if not swap and not files:
            return False
        apply_swap(root, swap or [])
        apply_file_swap(root, files or [])
        manifest.swap = manifest.swap_files = None
        save_manifest(root, manifest)
    log_error(root, "compaction_recovered", "finished the segment swap of a compaction that was interrupted")
    return True


def recover(root: Path, *, lock_timeout: float = 10.0) -> dict[str, Any]:
    """Finish a committed swap, delete what an uncommitted compaction left behind.

    Call with the compaction lock held. Returns what was done.
    """
    done: dict[str, Any] = {"finished_swap": finish_swap(root, lock_timeout=lock_timeout), "removed": []}
    manifest = load_manifest(root)
    pending = {s.staged for s in manifest.swap or []}
    segdir = root / SEGMENTS_DIR
    stray: list[Path] = []
    try:
        stray += [segdir / n for n in os.listdir(segdir) if n.endswith(STAGED_SUFFIX) and n not in pending]
    except FileNotFoundError:
        pass
    stray += orphan_archive_files(root, manifest)
    files_pending = {s.staged for s in manifest.swap_files or [] if s.staged}
    for top, _dirs, names in os.walk(root, followlinks=False):
        for n in names:
            if n.endswith(SCRUB_SUFFIX):
                path = Path(top) / n
                if str(path.relative_to(root)) not in files_pending:
                    stray.append(path)
    for path in stray:
        path.unlink(missing_ok=True)
        done["removed"].append(str(path.relative_to(root)))
    if stray:
        for directory in {p.parent for p in stray} | {segdir, root / ARCHIVE_DIR}:
            if directory.is_dir():
                fsync_dir(directory)
    # Temp files of write_atomic: only under the append lock, where no manifest write runs.
    temps = [p for p in root.glob(f".{MANIFEST_FILE}.*.tmp")]
    if temps:
        with JournalLock(root / LOCK_FILE, lock_timeout):
            for path in root.glob(f".{MANIFEST_FILE}.*.tmp"):
                path.unlink(missing_ok=True)
                done["removed"].append(path.name)
    # Temp files of killed writers elsewhere (a reader's CRC index under cache/crc, say).
    done["removed"].extend(remove_dead_temporaries(root))
    if done["removed"]:
        log_error(root, "compaction_cleanup", f"removed {len(done['removed'])} leftover file(s) of an "
                  "interrupted compaction or scrub", files=done["removed"][:20])
    return done
