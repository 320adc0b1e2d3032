"""One hook firing, one event, however many copies of the hook Claude Code runs.

The plugin's hooks and hooks merged into a settings file by ``agent-journal install``
(or two installs from different environments) all fire for the same event, in parallel,
with byte-identical stdin (checked on 2.1.328). Claude Code deduplicates identical
handlers across settings files, but not a plugin's copy, and our copies differ anyway
(another interpreter, another launcher path).

So every copy first *claims* the firing: under an flock on ``cache/firings`` it looks
for a claim of the same payload (a BLAKE2 hash of the stdin bytes) made in the last
`WINDOW` seconds by another copy and not yet matched by this one. If there is one,
this copy marks it matched and steps aside: it records nothing and prints nothing.
Otherwise it writes its own claim and records. Whichever copy gets the lock first
records; every interleaving gives one event per firing.

A copy is told apart by its launcher, interpreter and plugin root (`copy_id`). A claim
made by the same copy, or one this copy already matched, never counts: two firings with
identical payloads (a second ``Stop`` that ends with the same reply, a repeated
``SessionEnd`` of a resumed session) are two events, even when only one copy is left
to fire the second time. Stdlib and the journal's lock only (this runs on every hook).
"""

from __future__ import annotations

import os
import sys
import time

from journal.layout import join

from journal.errors import JournalError
from journal.storage.locking import FileLock, deadline

try:  # hashlib would load OpenSSL first (~2.5 ms of every hook); BLAKE2 is built in
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another Python implementation
    from hashlib import blake2b

__all__ = ["WINDOW", "FILE", "copy_id", "claim"]

#: Seconds a claim stands. The copies of one firing start together and Claude Code
#: kills a hook at its timeout (30 s at most for ours), so a later copy is another firing.
WINDOW = 30.0
#: The claims file, under the journal directory (derived, short-lived data).
FILE = "cache/firings"
#: How long to wait for the claims lock before recording anyway (a duplicate beats a loss).
LOCK_TIMEOUT = 0.5


def copy_id(launcher: str | os.PathLike[str], environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """Which installed copy of the hook this process is: its launcher, interpreter and plugin root."""
    env = os.environ if environ is None else environ
    ident = "\0".join((str(launcher), sys.executable, env.get("CLAUDE_PLUGIN_ROOT", "")))
    return blake2b(ident.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def _open(path: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        try:
            os.mkdir(os.path.dirname(path), 0o700)
        except FileExistsError:
            pass
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _lock(path: str, timeout: float) -> FileLock | None:
    """The claims file, locked (None if it cannot be within *timeout*: then record anyway)."""
    lock = FileLock(path, opener=_open)
    try:
        lock.lock(deadline(timeout))
    except JournalError:  # busy past the timeout, or the file cannot be opened or locked
        lock.close()
        return None
    return lock


def claim(root: str | os.PathLike[str], payload: bytes, copy: str, *, now: float | None = None) -> bool:
    """True if this copy should record the firing of *payload*; False if another copy has."""
    digest = blake2b(payload, digest_size=12).hexdigest()
    moment = time.time() if now is None else now
    path = join(os.fspath(root), FILE)
    if not os.path.isdir(root):
        return True  # no journal yet (it is made by the append, with its permissions)
    lock = _lock(path, LOCK_TIMEOUT)
    if lock is None:
        return True
    try:
        fd = lock.fileno()
        raw = b""
        while chunk := os.read(fd, 1 << 16):
            raw += chunk
        kept: list[list[bytes]] = []
        match = None
        me, wanted = copy.encode(), digest.encode()
        for line in raw.split(b"\n"):
            parts = line.split(b" ")
            if len(parts) != 4:
                continue  # a torn line from a crashed hook: claims are only hints
            try:
                at = float(parts[0])
            except ValueError:
                continue
            if moment - at > WINDOW:
                continue
            if match is None and parts[1] == wanted and parts[2] != me and me not in parts[3].split(b","):
                match = parts  # the oldest claim of this payload by another copy, not yet matched by us
            kept.append(parts)
        if match is not None:
            match[3] = me if match[3] == b"-" else match[3] + b"," + me
        else:
            kept.append([f"{moment:.3f}".encode(), wanted, me, b"-"])
        kept_lines = [b" ".join(parts) for parts in kept]
        data = b"\n".join(kept_lines) + b"\n"
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
        return match is None
    finally:
        lock.unlock()
        lock.close()
