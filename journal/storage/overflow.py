"""Where events go when the journal's disk is full, and how any loss is counted.

An append that fails with ``ENOSPC`` or ``EDQUOT`` must not lose its events with only a
stderr line. They are parked in a small spool on another filesystem: a private
(0700) directory per user and journal under ``$XDG_RUNTIME_DIR`` (else ``/dev/shm``),
named by a hash of the journal's path::

    <runtime>/agent-journal-<uid>/<16 hex of sha256(journal path)>/
        <ns>-<pid>-<hex>.jsonl   framed records (seq 0), like the journal's own spool/
        lost.json                events that did not fit either: count, bytes, types, times
        lock                     flock serialising the two above

The next append that can write merges the parked records first, in order (exactly
like ``spool/``), and turns ``lost.json`` into a ``journal.events_lost`` event plus an
entry in the manifest's ``dropped`` list, which `verify` and the next SessionStart
context show. The spool is bounded (`LIMIT_BYTES`): it lives in memory. Nothing here
is trusted either: a directory that is a link or not ours is not used. Stdlib only:
this is the hook's path.
"""

from __future__ import annotations

import errno
import os
import stat
import time

from journal.cjson import dumps, loads
from journal.storage.codec import now_ts
from journal.layout import write_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DISK_FULL", "LIMIT_BYTES", "overflow_dir", "overflow_top", "park", "pending", "take_losses", "status",
           "cleanup"]

#: The errors that mean "no room": the disk, or the user's quota, is full.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
#: At most this many bytes of records wait in memory-backed storage per journal
#: (``AGENT_JOURNAL_OVERFLOW_BYTES`` overrides it).
LIMIT_BYTES = 16 * 1024 * 1024
LOST_FILE = "lost.json"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _base(environ: Any = None) -> str | None:
    env = os.environ if environ is None else environ
    for candidate in (env.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isabs(candidate) and os.path.isdir(candidate):
            return str(candidate)
    return None


def _private_dir(path: str) -> bool:
    """Make or check *path*: a real 0700 directory of ours (else it is not used)."""
    try:
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    uid = os.geteuid() if hasattr(os, "geteuid") else st.st_uid
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and stat.S_IMODE(st.st_mode) == 0o700


def overflow_top(environ: Any = None) -> str | None:
    """The per-user directory holding every journal's overflow spool (None: no usable base)."""
    base = _base(environ)
    if base is None:
        return None
    uid = os.geteuid() if hasattr(os, "geteuid") else 0
    return os.path.join(base, f"agent-journal-{uid}")


def overflow_dir(root: str | os.PathLike[str], *, create: bool = False, environ: Any = None) -> str | None:
    """The overflow spool of the journal at *root* (None if there is no usable one); paths of
    this module are strings (the hook never imports pathlib)."""

    top = overflow_top(environ)
    if top is None:
        return None
    if not create and not os.path.isdir(top):
        return None  # every append asks: one stat, no hashing, when the disk was never full
    import hashlib  # only now: it costs a hook milliseconds to import
    from journal.location import absolute

    digest = hashlib.sha256(absolute(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    path = os.path.join(top, digest)
    try:
        if create:
            if not (_private_dir(top) and _private_dir(path)):
                return None
        elif not (os.path.lexists(path) and _private_dir(top) and _private_dir(path)):
            return None
    except OSError:
        return None
    return path


def _open_lock(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)


class _Locked:
    """The overflow directory's lock (`journal.storage.locking.FileLock`), waited for without
    a deadline: it is only ever held to write one small file. Failures are `OSError`s."""

    def __init__(self, directory: str) -> None:
        from journal.storage.locking import FileLock

        self.lock = FileLock(os.path.join(directory, "lock"), opener=_open_lock)

    def __enter__(self) -> _Locked:
        from journal.errors import JournalError

        try:
            self.lock.lock(None)
        except JournalError as e:
            self.lock.close()
            raise OSError(str(e)) from e
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.unlock()
        self.lock.close()


def _write_new(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def _used(directory: str) -> int:
    total = 0
    for name in os.listdir(directory):
        if name.endswith(".jsonl"):
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except FileNotFoundError:
                pass
    return total


def _types(templates: list[bytes]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in templates:
        start = line.find(b'"type":"')
        if start >= 0:
            end = line.find(b'"', start + 8)
            name = line[start + 8:end].decode("utf-8", "replace")[:128]
            out[name] = out.get(name, 0) + 1
    return out


def park(root: str | os.PathLike[str], templates: list[bytes]) -> str:
    """Keep *templates* (framed records, seq 0) for the next append to merge: ``"parked"``,
    or ``"counted"`` when there is no room (they are lost, and counted), or ``"unavailable"``."""
    directory = overflow_dir(root, create=True)
    if directory is None:
        return "unavailable"
    data = b"".join(templates)
    try:
        with _Locked(directory):
            limit = int(os.environ.get("AGENT_JOURNAL_OVERFLOW_BYTES") or LIMIT_BYTES)
            if _used(directory) + len(data) <= limit:
                name = "%020d-%d-%s.jsonl" % (time.time_ns(), os.getpid(), os.urandom(3).hex())
                tmp = os.path.join(directory, f".{name}.tmp")
                try:
                    _write_new(tmp, data)
                    os.rename(tmp, os.path.join(directory, name))
                    return "parked"
                except OSError as e:
                    try:
                        os.unlink(tmp)
                    except OSError:
                        pass
                    if e.errno not in DISK_FULL:
                        raise
            _count_loss(directory, templates, len(data))
            return "counted"
    except OSError:
        return "unavailable"


def _count_loss(directory: str, templates: list[bytes], size: int) -> None:
    path = os.path.join(directory, LOST_FILE)
    try:
        with open(os.open(path, os.O_RDONLY | _NOFOLLOW), "rb") as f:
            lost = loads(f.read())
        if not isinstance(lost, dict):
            raise ValueError
    except (OSError, ValueError):
        lost = {"events": 0, "bytes": 0, "first_ts": now_ts(), "types": {}}
    lost["events"] = int(lost.get("events", 0)) + len(templates)
    lost["bytes"] = int(lost.get("bytes", 0)) + size
    lost["last_ts"] = now_ts()
    types = lost.setdefault("types", {})
    for name, n in _types(templates).items():
        types[name] = int(types.get(name, 0)) + n
    tmp = os.path.join(directory, f".{LOST_FILE}.{os.getpid()}.tmp")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    _write_new(tmp, dumps(lost, sort_keys=True).encode())  # small: fits where records did not
    os.rename(tmp, path)


def pending(root: str | os.PathLike[str], directory: str | None = None) -> list[str]:
    """The parked record files of the journal at *root* (in its *directory*, if known), oldest first."""
    directory = directory or overflow_dir(root)
    if directory is None:
        return []
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".jsonl") and not n.startswith("."))
    except OSError:
        return []
    return [os.path.join(directory, n) for n in names]


def take_losses(root: str | os.PathLike[str], directory: str | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """The counted losses of the journal at *root* and the file holding them (delete it once
    they are recorded in the journal), or ``(None, None)``."""
    directory = directory or overflow_dir(root)
    if directory is None:
        return None, None
    path = os.path.join(directory, LOST_FILE)
    try:
        with open(os.open(path, os.O_RDONLY | _NOFOLLOW), "rb") as f:
            lost = loads(f.read())
    except (OSError, ValueError):
        return None, None
    if not isinstance(lost, dict) or not lost.get("events"):
        return None, None
    return lost, path


def status(root: str | os.PathLike[str]) -> dict[str, Any]:
    """What waits in the overflow spool: ``{"dir", "pending_events", "pending_bytes", "lost_events"}``."""
    directory = overflow_dir(root)
    out: dict[str, Any] = {"dir": str(directory) if directory else None, "pending_events": 0,
                           "pending_bytes": 0, "lost_events": 0}
    for path in pending(root):
        try:
            with open(os.open(path, os.O_RDONLY | _NOFOLLOW), "rb") as f:
                data = f.read()
        except OSError:
            continue
        out["pending_events"] += data.count(b"\n")
        out["pending_bytes"] += len(data)
    lost, _ = take_losses(root)
    if lost:
        out["lost_events"] = int(lost.get("events", 0))
    return out


def cleanup(root: str | os.PathLike[str]) -> None:
    """Remove the journal's overflow directory once it is empty (and the user's, if empty too)."""
    directory = overflow_dir(root)
    if directory is None:
        return
    try:
        names = [n for n in os.listdir(directory) if n != "lock"]
        if names:
            return
        os.unlink(os.path.join(directory, "lock"))
        os.rmdir(directory)
        os.rmdir(os.path.dirname(directory))
    except OSError:
        pass  # another journal's directory is still there, or a writer raced us: harmless
