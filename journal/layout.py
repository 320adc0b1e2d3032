"""What lives where inside a journal directory, and how files are made safely.

::

    <journal>/
      .gitignore          "*": the journal never lands in git
      journal.lock        the append lock; permanent, never renamed or unlinked
      config.json         optional settings (see journal.config)
      manifest.json       sealed segments, compacted and lost seq ranges, journal id, epoch
      segments/<first seq, 20 digits>.jsonl   the log; the highest-numbered one is active
      spool/              events written while the lock was busy, merged by the next append
      quarantine/         torn tails and corrupt records removed by repair (never deleted)
      archive/            raw records removed by compaction, gzipped per segment (journal.storage.archive)
      compact.lock        held by a running compaction (one at a time; appends are not blocked)
      errors.log          one JSON line per internal error or repair (journal.errorlog)
      cache/              derived, rebuildable data: projection checkpoints (owned by `projections`)
      cache/crc/          per-chunk CRCs of sealed segments (journal.storage.crc_index)

Directories are 0700 and files 0600 whatever the umask. Nothing in the directory is
trusted (a project's ``.claude/`` can come from a cloned repository): every file is
opened with ``O_NOFOLLOW`` and must be a regular file of ours, every directory is checked
with ``lstat``, and a symbolic link or another user's entry is refused with one line
(`JournalPermissionError`), before anything is written through it. Stdlib only (hot path).

Paths are given and returned as the caller's type: the hook passes strings (importing
pathlib costs it ~8 ms), everyone else `pathlib.Path` objects; `join`, `parent` and
`sibling` keep the type.
"""

from __future__ import annotations

import errno as _errno
import os
import stat

from journal.cjson import dumps, loads
from journal.errors import InvalidManifest, JournalError, JournalPermissionError

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's hot path
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, TypeVar

    P = TypeVar("P", str, Path)

__all__ = [
    "LOCK_FILE",
    "MANIFEST_FILE",
    "SEGMENTS_DIR",
    "SPOOL_DIR",
    "QUARANTINE_DIR",
    "ARCHIVE_DIR",
    "COMPACT_LOCK",
    "ERROR_LOG",
    "join",
    "parent",
    "sibling",
    "unlink_if_there",
    "segment_name",
    "segment_first_seq",
    "list_segments",
    "ensure_journal_dir",
    "ensure_subdir",
    "open_private",
    "read_private",
    "check_dir",
    "check_journal_dir",
    "write_all",
    "write_atomic",
    "temp_path",
    "temp_writer_pid",
    "fsync_dir",
    "read_manifest",
    "write_manifest",
    "new_manifest",
    "manifest_bytes",
    "MANIFEST_FORMAT",
]

LOCK_FILE = "journal.lock"
MANIFEST_FILE = "manifest.json"
SEGMENTS_DIR = "segments"
SPOOL_DIR = "spool"
QUARANTINE_DIR = "quarantine"
ARCHIVE_DIR = "archive"
COMPACT_LOCK = "compact.lock"
ERROR_LOG = "errors.log"
MANIFEST_FORMAT = 1
_ELOOP = _errno.ELOOP
_ENXIO = _errno.ENXIO
_SEGMENT_SUFFIX = ".jsonl"
#: The most one `write_all` call hands to ``os.write``: the size of the largest record
#: (a record is one write; bigger writes tear more easily on SIGKILL).
_WRITE_CHUNK = 1024 * 1024


def join(base: P, *names: str) -> P:
    """``base / name / ...`` of *base*'s own type (a string stays a string)."""
    if isinstance(base, str):
        return os.path.join(base, *names)
    return base.joinpath(*names)


def parent(path: P) -> P:
    """``path.parent`` of *path*'s own type."""
    if isinstance(path, str):
        return os.path.dirname(path)
    return path.parent


def sibling(path: P, name: str) -> P:
    """``path.with_name(name)`` of *path*'s own type."""
    return join(parent(path), name)


def unlink_if_there(path: str | os.PathLike[str]) -> None:
    """``path.unlink(missing_ok=True)`` for a string or a path."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def segment_name(first_seq: int) -> str:
    """File name of the segment whose first record has *first_seq* (sorts numerically)."""
    return "%020d%s" % (first_seq, _SEGMENT_SUFFIX)


def segment_first_seq(name: str) -> int | None:
    """Inverse of `segment_name`; None for a file that is not a segment."""
    stem = name[: -len(_SEGMENT_SUFFIX)]
    if name.endswith(_SEGMENT_SUFFIX) and len(stem) == 20 and stem.isdigit():
        return int(stem)
    return None


def list_segments(root: P) -> list[tuple[int, P]]:
    """All segment files of the journal, ordered by first seq."""
    try:
        names = os.listdir(join(root, SEGMENTS_DIR))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        first = segment_first_seq(name)
        if first is not None:
            found.append((first, join(root, SEGMENTS_DIR, name)))
    found.sort()
    return found


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a create, rename or unlink inside *path* durable."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_REMEDY = "a journal file must be a regular file owned by you; remove it (a cloned repository can plant one)"


def _uid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _refuse_entry(path: str | os.PathLike[str], st: os.stat_result, want_dir: bool) -> None:
    """Raise `JournalPermissionError` unless *st* (an ``lstat``) is ours and of the wanted kind."""
    if stat.S_ISLNK(st.st_mode):
        try:
            target = f" (to {os.readlink(path)})"
        except OSError:
            target = ""
        raise JournalPermissionError(f"refusing {path}: it is a symbolic link{target}; {_REMEDY}")
    uid = _uid()
    if uid is not None and st.st_uid != uid:
        raise JournalPermissionError(
            f"refusing {path}: it is owned by uid {st.st_uid}, not by you (uid {uid}); {_REMEDY}"
        )
    if want_dir and not stat.S_ISDIR(st.st_mode):
        raise JournalPermissionError(f"refusing {path}: it is not a directory; {_REMEDY}")
    if not want_dir and not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise JournalPermissionError(f"refusing {path}: it is not a regular file; {_REMEDY}")


def check_dir(path: P) -> P:
    """*path* if it is a real directory (not a symbolic link) owned by us; else refuse it."""
    _refuse_entry(path, os.lstat(path), True)
    return path


def check_journal_dir(root: str | os.PathLike[str]) -> None:
    """Refuse the journal at *root* if it, or any entry directly in it, is a symbolic link
    or not ours (entries deeper down are refused when opened: ``O_NOFOLLOW``)."""
    st = os.lstat(root)
    uid = _uid()
    if stat.S_ISLNK(st.st_mode):
        raise JournalPermissionError(
            f"refusing to use journal directory {root}: it is a symbolic link; a journal directory must be "
            "a real directory of yours (set AGENT_JOURNAL_DIR or --journal to one)"
        )
    if uid is not None and st.st_uid != uid:
        raise JournalPermissionError(
            f"refusing to use journal directory {root}: it is owned by uid {st.st_uid}, not by you "
            f"(uid {uid}); set AGENT_JOURNAL_DIR or --journal to a directory of your own"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise JournalPermissionError(f"{root} exists and is not a directory")
    with os.scandir(root) as entries:
        for entry in entries:
            try:
                if entry.is_symlink() or (uid is not None and entry.stat(follow_symlinks=False).st_uid != uid):
                    _refuse_entry(entry.path, entry.stat(follow_symlinks=False), entry.is_dir(follow_symlinks=False))
            except FileNotFoundError:
                continue  # gone since the listing (another writer's temporary file, renamed): nothing to check


def ensure_subdir(root: P, name: str) -> P:
    """Create ``root/name`` (0700) if needed and return it (an existing one must be a real
    directory of ours)."""
    path = join(root, name)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return check_dir(path)
    os.chmod(path, 0o700)
    return path


def ensure_journal_dir(root: P) -> P:
    """Create the journal directory (0700, with a ``.gitignore``) or check an existing one."""
    try:
        try:
            os.lstat(root)
        except FileNotFoundError:
            _make_private_parents(parent(root))
            try:
                os.mkdir(root, 0o700)
                os.chmod(root, 0o700)  # mkdir's mode is filtered by the umask
            except FileExistsError:
                pass  # made meanwhile (or a dangling link): checked below, never chmod'ed blindly
        check_journal_dir(root)
        if not os.access(root, os.W_OK | os.X_OK):
            raise JournalPermissionError(f"journal directory {root} is not writable")
        gitignore = join(root, ".gitignore")
        if not os.path.lexists(gitignore):
            # Also for a directory that existed before its first event (``mkdir -p``, a
            # config.json put there first): it is adopted as private and kept out of git.
            os.chmod(root, 0o700)
            fd = open_private(gitignore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            try:
                os.write(fd, b"*\n")
            finally:
                os.close(fd)
        ensure_subdir(root, SEGMENTS_DIR)
        if not os.path.lexists(join(root, MANIFEST_FILE)):
            write_manifest(root, new_manifest())
    except JournalError:
        raise
    except OSError as e:
        raise JournalPermissionError(
            f"cannot create or open journal directory {root}: {e.strerror or e}"
        ) from e
    return root


def _make_private_parents(path: P) -> None:
    """``mkdir -p`` *path*; the directories this creates (e.g. a project's ``.claude``)
    are 0700 whatever the umask, existing ones are left as they are."""
    missing = []
    while not os.path.lexists(path) and path != parent(path):
        missing.append(path)
        path = parent(path)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue
        os.chmod(directory, 0o700)


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """``os.open`` a journal file: never through a symbolic link (``O_NOFOLLOW``), only a
    regular file of ours, and created 0600 whatever the umask."""
    try:
        # O_NONBLOCK: a planted FIFO must not hang the hook (no effect on regular files).
        fd = os.open(path, flags | _CLOEXEC | _NOFOLLOW | _NONBLOCK, 0o600)
    except OSError as e:
        if e.errno in (_ELOOP, _ENXIO):
            _refuse_entry(path, os.lstat(path), False)
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (_uid() is not None and st.st_uid != _uid()):
            _refuse_entry(path, st, False)
        if flags & os.O_CREAT and st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_private(path: str | os.PathLike[str]) -> bytes:
    """The whole content of the journal file *path* (opened as `open_private` does)."""
    fd = open_private(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        chunks = []
        while True:
            chunk = os.read(fd, max(size, 65536))
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def temp_path(path: P) -> P:
    """Where to write *path* before renaming it into place: ``.<name>.<pid>.<8 hex>.tmp``
    beside it (the pid tells `temp_writer_pid` whether its writer still runs)."""
    return sibling(path, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def temp_writer_pid(tmp: str | os.PathLike[str]) -> int | None:
    """The pid of the process that made *tmp* with `temp_path`, or None if *tmp* is not one."""
    parts = os.path.basename(tmp).split(".")
    if len(parts) >= 5 and parts[0] == "" and parts[-1] == "tmp" and parts[-3].isdigit() and len(parts[-2]) == 8:
        return int(parts[-3])
    return None


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of *data* at *fd*'s position: ``os.write`` may write less than it is given
    (a signal, a full disk, 2 GiB per call on Linux), so loop, at most 1 MiB per call."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:_WRITE_CHUNK]) :]


def write_atomic(path: P, data: bytes, *, durable: bool = True, mode: int = 0o600) -> None:
    """Replace *path* with *data* atomically: a temp file beside it (`temp_path`, made as
    `open_private` makes files, then given *mode*), fsync, rename, fsync of the directory.

    ``durable=False`` skips both fsyncs, for files whose loss after a power cut costs
    nothing (they are rebuilt); the replace stays atomic either way.
    """
    tmp = temp_path(path)
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        write_all(fd, data)
        if mode != 0o600:
            os.fchmod(fd, mode)
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        unlink_if_there(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(parent(path))


def new_manifest() -> dict[str, Any]:
    """An empty manifest for a new journal."""
    return {
        "format": MANIFEST_FORMAT,
        "journal_id": os.urandom(8).hex(),
        "epoch": 0,
        "segments": [],
        "compacted": [],
        "lost": [],
    }


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The journal's manifest as a dict, for the hook's stdlib path only; a missing one reads as empty.

    The writer (sealing a segment, noting a disk-full loss) and `ensure_journal_id` use
    this; everything else reads the typed `journal.storage.manifest.load_manifest`.
    Checks the shape the writer relies on and raises `InvalidManifest` otherwise;
    `journal.storage.manifest_rebuild` makes a new one from the segments.
    """
    path = os.path.join(root, MANIFEST_FILE)
    try:
        raw = read_private(path)
    except FileNotFoundError:
        return new_manifest() | {"journal_id": ""}
    try:
        doc = loads(raw)
    except ValueError as e:
        raise InvalidManifest(f"{path} is not valid JSON ({e})") from e
    problem = _manifest_problem(doc)
    if problem:
        raise InvalidManifest(f"{path} is not a valid manifest: {problem}")
    doc.setdefault("compacted", [])
    doc.setdefault("lost", [])
    doc.setdefault("epoch", 0)
    return doc  # type: ignore[no-any-return]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _manifest_problem(doc: Any) -> str | None:
    """What is wrong with the parts of a manifest that readers and writers index into."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    if not isinstance(doc.get("segments"), list):
        return "no segments list"
    for i, entry in enumerate(doc["segments"]):
        if not isinstance(entry, dict):
            return f"segments[{i}] is not an object"
        name = entry.get("name")
        if not isinstance(name, str) or segment_first_seq(name) is None:
            return f"segments[{i}].name is missing or not a segment name"
        for key in ("first_seq", "last_seq", "count", "bytes"):
            if not _is_int(entry.get(key)):
                return f"segments[{i}].{key} is missing or not a count"
    for key in ("compacted", "lost"):
        ranges = doc.get(key, [])
        if not isinstance(ranges, list) or not all(
            isinstance(r, list) and len(r) == 2 and _is_int(r[0]) and _is_int(r[1]) for r in ranges
        ):
            return f"{key} is not a list of [first, last] seq ranges"
    if not _is_int(doc.get("epoch", 0)):
        return "epoch is not a count"
    for key in ("archive", "swap"):
        if not isinstance(doc.get(key) or [], list) or not all(isinstance(e, dict) for e in doc.get(key) or []):
            return f"{key} is not a list of objects"
    return None


def manifest_bytes(doc: dict[str, Any]) -> bytes:
    """The bytes of ``manifest.json`` holding *doc*: the one serializer of both manifest
    writers (this module's dict one on the hook path, `journal.storage.manifest`'s typed one)."""
    return dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def write_manifest(root: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Atomically replace the manifest from its dict (the hook's stdlib path: rolls, rebuilds)."""
    write_atomic(os.path.join(root, MANIFEST_FILE), manifest_bytes(manifest))
