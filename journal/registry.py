"""The user-level registry of journals: which directories on this machine hold one.

``$XDG_DATA_HOME/agent-journal/projects.json`` (default ``~/.local/share/...``), so
that a command run from anywhere can reach every project (``search --all-projects``,
``sessions --all-projects``)::

    {"format": 1, "journals": [{"journal": "/src/shop/.claude/journal",
                                "project": "/src/shop", "added": "2026-12-07T16:00:00Z"}]}

It holds paths only, never content. `register` is called when a journal directory is
first created (a hook's first event in a project, so it must stay cheap: stdlib only,
one small file rewritten under a lock) and by readers that open a journal the registry
does not know yet. `journals` drops entries whose directory no longer exists and
rewrites the file without them. The directory is 0700 and the file 0600. Stdlib only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from journal.storage.codec import now_ts
from journal.errors import LockTimeout
from journal.layout import write_atomic

TYPE_CHECKING = False  # no typing at run time: the hook imports this on a journal's first event
if TYPE_CHECKING:
    from typing import Any, Mapping

    from journal.storage.locking import FileLock

__all__ = ["REGISTRY_FORMAT", "registry_path", "register", "journals", "unregister"]

REGISTRY_FORMAT = 1
_APP = "agent-journal"
_FILE = "projects.json"
_LOCK = "projects.lock"


def registry_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the registry lives: ``$XDG_DATA_HOME/agent-journal/projects.json``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME")
    if not base or not os.path.isabs(base):  # the XDG spec: a relative value is ignored
        base = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "share")
    return Path(base) / _APP / _FILE


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return []  # missing or damaged: the registry is rebuilt as journals are seen again
    items = doc.get("journals") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return []
    return [e for e in items if isinstance(e, dict) and isinstance(e.get("journal"), str)]


def _write(path: Path, entries: list[dict[str, Any]]) -> None:
    data = json.dumps({"format": REGISTRY_FORMAT, "journals": entries}, indent=1).encode() + b"\n"
    write_atomic(path, data, durable=False)  # no fsync: a lost registry costs a re-registration, never data


def _ensure_dir(path: Path) -> None:
    if not path.is_dir():
        os.makedirs(path, 0o700, exist_ok=True)
        os.chmod(path, 0o700)


#: Seconds to wait for the registry lock (it is held for one small read and rename).
LOCK_TIMEOUT = 1.0


class _Locked:
    """The registry's flock (``projects.lock``): one writer at a time across processes.

    Gives up with `LockTimeout` after `LOCK_TIMEOUT` seconds: a hook must never hang on
    a registry some stuck process holds (the journal is registered again later).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.lock: FileLock | None = None

    def __enter__(self) -> _Locked:
        from journal.storage.locking import FileLock, deadline

        _ensure_dir(self.directory)
        lock = FileLock(self.directory / _LOCK)
        try:
            lock.lock(deadline(LOCK_TIMEOUT))
        except LockTimeout:
            lock.close()
            raise LockTimeout(f"the journal registry {self.directory / _FILE} stayed locked for "
                              f"{LOCK_TIMEOUT:g}s") from None
        self.lock = lock
        return self

    def __exit__(self, *exc: object) -> None:
        if self.lock is not None:
            self.lock.unlock()
            self.lock.close()
            self.lock = None


def register(journal_root: str | os.PathLike[str], project: str | os.PathLike[str] | None = None,
             *, environ: Mapping[str, str] | None = None) -> bool:
    """Add the journal at *journal_root* to the registry; True if it was not there yet."""
    root = os.path.abspath(journal_root)
    path = registry_path(environ)
    with _Locked(path.parent):
        entries = _read(path)
        if any(e["journal"] == root for e in entries):
            return False
        if project is None:
            # <project>/.claude/journal -> <project>; any other directory stands for itself
            parent = os.path.dirname(root)
            project = os.path.dirname(parent) if os.path.basename(parent) == ".claude" else root
        entries.append({"journal": root, "project": os.path.abspath(project), "added": now_ts()})
        _write(path, entries)
    return True


def unregister(journal_root: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> bool:
    """Remove the journal at *journal_root* from the registry; True if it was there."""
    root = os.path.abspath(journal_root)
    path = registry_path(environ)
    if not path.exists():
        return False
    with _Locked(path.parent):
        entries = _read(path)
        kept = [e for e in entries if e["journal"] != root]
        if len(kept) == len(entries):
            return False
        _write(path, kept)
    return True


def journals(*, environ: Mapping[str, str] | None = None, prune: bool = True) -> list[dict[str, Any]]:
    """Every registered journal that still exists, oldest registration first.

    With *prune*, entries whose directory is gone are removed from the file.
    """
    path = registry_path(environ)
    entries = _read(path)
    alive = [e for e in entries if os.path.isdir(e["journal"])]
    if prune and len(alive) != len(entries):
        try:
            with _Locked(path.parent):
                current = _read(path)
                _write(path, [e for e in current if os.path.isdir(e["journal"])])
        except (OSError, LockTimeout):
            pass  # a read-only or busy registry still lists; it is pruned next time
    return alive
