"""The precomputed SessionStart context: ``cache/context.json``, read by the hook (stdlib only).

A full render (`hooks.render.session_start`) and the detached job SessionEnd starts
(`hooks.index_job`) also render the context the *next* ``startup`` session of the same
project would get (`hooks.render.next_context`), and store it here with everything it
depends on: the journal position it reflects (the seq of the last event folded), the
manifest and segment directory it was read from, digests of config.json and of the
``AGENT_JOURNAL_*`` environment (never their values: a shipping URL may hold a password),
the rendering code, the moment it was rendered and how long its stale/old thresholds
decide the same, and every process probe it made. Its relative phrases
("crashed 2d4h ago") are stored as tokens and written out when it is printed (`expand`).

The SessionStart hook prints it (`cached`) only when it provably equals what the full
render would print now: the hook's own SessionStart is the event right after the stamped
position (nothing else was appended, compacted or repaired since), the session starts
fresh (``startup``) in the same project, the config, environment and code are the same,
on the same git branch, the clock is inside the stored window, and every probed process is in the same state.
The session must be new to the journal (its id is not among the ones listed).
Anything else, including a file that is not ours (not a regular 0600 file of this user,
over `MAX_BYTES`, unparsable, of another version), is a miss: the hook renders as before.
The cached text is made from redacted events only, like every rendered context.
"""

from __future__ import annotations

import os
import stat
import time

from journal.cjson import dumps, loads
from journal.durations import format_duration
from journal.procstat import probe as proc_probe

TYPE_CHECKING = False  # no typing at run time: this is the hook's path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CODE_ROOT", "FILE", "MARK", "END", "MAX_BYTES", "VERSION", "cached", "closed", "code_stamp",
           "config_text", "environment", "expand", "format_duration", "proc_probe", "stamp", "write"]

#: The directory holding ``hooks/`` and ``projections/`` (`hooks.main.CODE_ROOT`).
CODE_ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
#: The cache file, under the journal's ``cache/``.
FILE = "context.json"
#: A larger file is not ours (a context is capped at 10,000 characters; the known session
#: ids take 9 bytes a session).
MAX_BYTES = 2 * 1024 * 1024
#: The entry format; another value is a miss.
VERSION = 4
#: Around a "how long ago" phrase of the stored text: ``MARK nonce ":" epoch-seconds END``
#: (Unicode private-use characters), replaced by `format_duration` at the moment of printing.
MARK, END = "\ue000", "\ue001"
#: ``AGENT_JOURNAL_*`` variables that cannot change a rendered context (which journal: its
#: files are stamped; how the hook finds its interpreter and whether it starts jobs);
#: every other one is part of the stamp.
_NOT_RENDERING = frozenset({"AGENT_JOURNAL_DIR", "AGENT_JOURNAL_PYTHON", "AGENT_JOURNAL_NO_BOOTSTRAP",
                            "AGENT_JOURNAL_NO_INDEX_JOB"})
#: The rendering code whose change invalidates an entry (an upgrade in place, a reinstall).
_CODE = ("projections/read/context.py", "projections/read/markdown.py", "hooks/render.py")


def _stat_key(path: str, *, size: bool = True) -> list[int] | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return [st.st_ino, st.st_size if size else 0, st.st_mtime_ns]


def stamp(root: str) -> list[Any]:
    """What changes when the journal is rewritten rather than appended to: the manifest
    (seal, compaction, scrub, recovery) and the segments directory (a new segment)."""
    return [_stat_key(os.path.join(root, "manifest.json")),
            _stat_key(os.path.join(root, "segments"), size=False)]


def _digest(data: bytes) -> str:
    """An unkeyed BLAKE2b digest: what the entry keeps of a setting instead of its value
    (``AGENT_JOURNAL_SHIP_URL`` may hold a password, and the cache must never copy one)."""
    try:
        from _blake2 import blake2b  # the C module: hashlib's import is not needed here
    except ImportError:  # pragma: no cover - a Python built without it
        from hashlib import blake2b
    return blake2b(data, digest_size=16).hexdigest()


def environment() -> str:
    """A digest of the ``AGENT_JOURNAL_*`` settings a render could read (config precedence:
    they win); their values are never stored."""
    items = sorted((k, v) for k, v in os.environ.items() if k.startswith("AGENT_JOURNAL_") and k not in _NOT_RENDERING)
    return _digest("\0".join(f"{k}={v}" for k, v in items).encode("utf-8", "surrogateescape"))


def config_text(root: str) -> str | None:
    """A digest of config.json as it is on disk (None if there is none or it cannot be read)."""
    from journal.errors import JournalError
    from journal.layout import read_private

    try:
        return _digest(read_private(os.path.join(root, "config.json")))
    except (OSError, JournalError):  # missing, unreadable, or not a regular file of ours
        return None


def code_stamp(code_root: str) -> list[Any]:
    """Where the rendering code lives and the state of its files."""
    return [os.path.realpath(code_root)] + [_stat_key(os.path.join(code_root, name)) for name in _CODE]


def expand(text: str, nonce: str, now: float) -> str | None:
    """*text* with each token of this *nonce* replaced by how long before *now* it counts
    from (None if a token is malformed or not this render's)."""
    parts = text.split(MARK)
    if END in parts[0]:
        return None
    out = [parts[0]]
    for part in parts[1:]:
        token, closed, rest = part.partition(END)
        tag, colon, at = token.partition(":")
        if not closed or tag != nonce or not colon or END in rest:
            return None
        try:
            since = float(at)
        except ValueError:
            return None
        if since != since or since in (float("inf"), float("-inf")):
            return None
        out.append(format_duration(now - since))
        out.append(rest)
    return "".join(out)


def closed(body: str, footers: list[str], max_chars: int) -> str:
    """`projections.read.context.Packer.text`: the lines (*body*), closed by the first of
    *footers* that fits in the room they leave under *max_chars*."""
    room = max_chars - len(body) - 1
    footer = next((f for f in footers if len(f) <= room), "")
    return body + footer + "\n" if footer else body


def write(root: str, entry: dict[str, Any]) -> None:
    """Store *entry* (built by `hooks.render.next_context`) atomically, 0600."""
    from journal.layout import write_atomic

    directory = os.path.join(root, "cache")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    write_atomic(os.path.join(directory, FILE), dumps(entry, ensure_ascii=False).encode("utf-8"), durable=False)


def _read(root: str) -> Any:
    """The parsed cache file, or None when it is missing or not a file this user wrote."""
    try:
        fd = os.open(os.path.join(root, "cache", FILE), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077
                or st.st_size > MAX_BYTES):
            return None
        data = os.read(fd, MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        return None
    try:
        return loads(data)
    except Exception:  # noqa: BLE001 - a damaged file is a miss, never an error
        return None


def cached(root: str, *, seq: int, session: str, project: object, branch: object, code_root: str,
           now: float | None = None) -> str | None:
    """The stored context when it is exactly what rendering it now would give a ``startup``
    of the new session *session* in *project* on git *branch*, whose SessionStart got *seq*;
    else None (render it)."""
    if not isinstance(project, str) or not project or seq <= 1 or not session:
        return None
    entry = _read(root)
    if not isinstance(entry, dict) or entry.get("v") != VERSION:
        return None
    text, footers, t0, until, nonce, limit, known = (
        entry.get(k) for k in ("context", "footers", "t0", "until", "nonce", "max_chars", "known"))
    if not isinstance(known, str) or f",{session[:8]}," in f",{known},":
        return None  # (or an id the journal knows: its SessionStart reads as a restart)
    if (entry.get("seq") != seq - 1 or entry.get("project") != project or entry.get("branch") != (branch or "")
            or not isinstance(text, str) or not isinstance(nonce, str) or not nonce or not isinstance(limit, int)
            or not isinstance(footers, list) or not all(isinstance(f, str) for f in footers)
            or not isinstance(t0, (int, float)) or not (until is None or isinstance(until, (int, float)))):
        return None
    moment = time.time() if now is None else now
    if moment < t0 or (until is not None and moment >= until):
        return None  # a stale or old threshold would decide differently now
    if (entry.get("stamp") != stamp(root) or entry.get("config") != config_text(root)
            or entry.get("env") != environment() or entry.get("code") != code_stamp(code_root)):
        return None
    probes = entry.get("probes")
    if not isinstance(probes, list):
        return None
    for item in probes:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)
                and not isinstance(item[0], bool) and item[0] > 0 and (item[1] is None or isinstance(item[1], str))):
            return None
        if proc_probe(item[0]) != item[1]:
            return None  # a process it saw alive is gone (or the reverse)
    from journal.storage.overflow import overflow_dir

    if overflow_dir(root) is not None:
        return None  # the disk was full lately: the render leads with a notice
    shown = expand(text, nonce, moment)
    if shown is None or len(shown) > len(text):
        return None
    return closed(shown, footers, limit)
