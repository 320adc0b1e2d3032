"""The archive: raw records that compaction took out of the live segments.

One compaction of one sealed segment writes two files to ``archive/``:

* ``<segment stem>.<epoch>.jsonl.gz``: the removed lines, byte for byte (so each
  keeps its CRC), as a series of gzip members of about 1 MiB each. It is one valid
  gzip file (``zcat`` reads it whole), and a reader can inflate just the members it
  needs;
* ``<segment stem>.<epoch>.index.json``: the members (byte offset, length, first and
  last seq, record count) and which members hold each session and agent id (the
  envelope's ``session`` and ``agent`` fields).

The manifest lists every committed archive file (``archive``: name, segment, epoch,
seq range, counts, bytes, CRC-32 of the file); a file it does not list belongs to a
compaction that never committed and `orphan_archive_files` finds it for deletion.
Compression runs in worker threads (zlib releases the GIL), overlapping the scan of
the next segment. Stdlib only, except the event readers (msgspec, imported on use).
"""

from __future__ import annotations

import heapq
import json
import os
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from journal.storage.codec import check_line, crc32
from journal.storage.damage import Damage
from journal.errors import CorruptRecord, JournalError
from journal.layout import (
    ARCHIVE_DIR,
    ensure_subdir,
    log_error,
    open_private,
    read_private,
    write_all,
    write_atomic,
)
from journal.storage.manifest import ArchiveEntry, Manifest, load_manifest

if TYPE_CHECKING:
    from journal.storage.events import Event

__all__ = [
    "ARCHIVE_SUFFIX",
    "INDEX_SUFFIX",
    "ArchiveWriter",
    "archive_name",
    "index_name",
    "orphan_archive_files",
    "load_index",
    "read_archive_lines",
    "read_archived",
    "verify_archive",
    "crash_point",
]

#: Test seam: ``AGENT_JOURNAL_CRASH_AT=<point>:<n>`` SIGKILLs the process the n-th time it
#: reaches `crash_point(point)` (compaction's crash-injection tests; never set in use).
_CRASH_ENV = "AGENT_JOURNAL_CRASH_AT"
_crash_counts: dict[str, int] = {}

ARCHIVE_SUFFIX = ".jsonl.gz"
INDEX_SUFFIX = ".index.json"
MEMBER_BYTES = 1024 * 1024
_PENDING = 2


def crash_point(name: str) -> None:
    """Die here (SIGKILL) if the crash-injection test seam asks for it; otherwise nothing."""
    spec = os.environ.get(_CRASH_ENV)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] == int(nth or 1):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def archive_name(segment: str, epoch: int) -> str:
    """The archive file of the records *segment* lost in the compaction that made *epoch*."""
    stem = segment[: -len(".jsonl")] if segment.endswith(".jsonl") else segment
    return f"{stem}.{epoch}{ARCHIVE_SUFFIX}"


def index_name(archive: str) -> str:
    """The index file beside the archive file *archive*."""
    return archive[: -len(ARCHIVE_SUFFIX)] + INDEX_SUFFIX


def _unescape(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    if b"\\" in raw:
        return str(json.loads(b'"' + raw + b'"'))
    return raw.decode("utf-8", "replace")


def _write_file(path: Path, chunks: list[bytes]) -> None:
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for chunk in chunks:
            write_all(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)


def _build(
    directory: Path,
    name: str,
    segment: str,
    epoch: int,
    lines: list[bytes],
    keys: list[tuple[int, bytes | None, bytes | None]],
    level: int,
) -> dict[str, Any]:
    """Compress *lines* into gzip members, write the archive and its index (tmp + rename)."""
    members: list[list[int]] = []
    blobs: list[bytes] = []
    sessions: dict[str, list[int]] = {}
    agents: dict[str, list[int]] = {}
    offset = 0
    raw_bytes = 0
    crc = 0
    i = 0
    n = len(lines)
    while i < n:
        j = i
        size = 0
        while j < n and (size < MEMBER_BYTES or j == i):
            size += len(lines[j]) + 1
            j += 1
        member = len(members)
        comp = zlib.compressobj(level, zlib.DEFLATED, 31)
        blob = comp.compress(b"\n".join(lines[i:j])) + comp.compress(b"\n") + comp.flush()
        blobs.append(blob)
        crc = crc32(blob, crc)
        members.append([offset, len(blob), keys[i][0], keys[j - 1][0], j - i])
        for _, session, agent in keys[i:j]:
            for table, raw in ((sessions, session), (agents, agent)):
                key = _unescape(raw)
                if key is not None:
                    found = table.get(key)
                    if found is None:
                        table[key] = [member]
                    elif found[-1] != member:
                        found.append(member)
        offset += len(blob)
        raw_bytes += size
        i = j
    path = directory / name
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    _write_file(tmp, blobs)
    crash_point("archive_tmp")
    entry = {
        "name": name,
        "segment": segment,
        "epoch": epoch,
        "first_seq": keys[0][0],
        "last_seq": keys[-1][0],
        "count": n,
        "bytes": offset,
        "raw_bytes": raw_bytes,
        "crc32": "%08x" % crc,
        "index": index_name(name),
    }
    index = dict(entry, format=1, members=members, sessions=sessions, agents=agents)
    write_atomic(directory / index_name(name), json.dumps(index, separators=(",", ":")).encode())
    crash_point("archive_index")
    os.replace(tmp, path)
    return entry


class ArchiveWriter:
    """Writes archive files in worker threads; `finish` waits and returns their manifest entries."""

    def __init__(self, root: Path, *, level: int = 1, workers: int | None = None) -> None:
        self.dir = ensure_subdir(root, ARCHIVE_DIR)
        self.level = level
        self._pool = ThreadPoolExecutor(max_workers=workers or max(1, min(2, os.cpu_count() or 1)))
        self._jobs: list[tuple[str, Future[dict[str, Any]] | None]] = []

    def add(
        self,
        name: str,
        segment: str,
        epoch: int,
        lines: list[bytes],
        keys: list[tuple[int, bytes | None, bytes | None]],
    ) -> None:
        """Queue the archive file *name* of *lines* (records without their ``\\n``; their seq,
        session and agent in *keys*)."""
        running = [f for _, f in self._jobs if f is not None and not f.done()]
        if len(running) >= _PENDING:
            running[0].result()  # bound the memory held by queued lines
        job = self._pool.submit(_build, self.dir, name, segment, epoch, lines, keys, self.level) if lines else None
        self._jobs.append((name, job))

    def finish(self) -> list[dict[str, Any] | None]:
        """Wait for every file; their manifest entries in `add` order (None where nothing was removed)."""
        try:
            out: list[dict[str, Any] | None] = []
            for name, job in self._jobs:
                if job is None:
                    out.append(None)
                    continue
                entry = job.result()
                entry["_paths"] = [str(self.dir / name), str(self.dir / index_name(name))]
                out.append(entry)
            return out
        finally:
            self._pool.shutdown(wait=True)

    def abort(self) -> None:
        """Stop and delete whatever was written."""
        for _, job in self._jobs:
            if job is not None:
                job.cancel()
        self._pool.shutdown(wait=True)
        for name, _ in self._jobs:
            for path in (self.dir / name, self.dir / index_name(name)):
                path.unlink(missing_ok=True)
        for tmp in self.dir.glob(".*.tmp"):
            if f".{os.getpid()}." in tmp.name:
                tmp.unlink(missing_ok=True)


def orphan_archive_files(root: Path, manifest: Manifest) -> list[Path]:
    """Files in ``archive/`` that no committed compaction owns (temp files, uncommitted output)."""
    directory = root / ARCHIVE_DIR
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    owned = set()
    for entry in manifest.archive:
        owned.add(entry.name)
        owned.add(entry.index or index_name(entry.name))
    return sorted(directory / n for n in names if n not in owned)


def load_index(root: Path, entry: ArchiveEntry) -> dict[str, Any]:
    """The index of the archive file of manifest *entry*."""
    path = root / ARCHIVE_DIR / (entry.index or index_name(entry.name))
    return json.loads(read_private(path))  # type: ignore[no-any-return]


def read_archive_lines(
    root: Path,
    entry: ArchiveEntry,
    members: list[list[int]] | None = None,
    on_damage: Callable[[Damage], None] | None = None,
) -> Iterator[bytes]:
    """The record lines (without ``\\n``) of an archive file, or of some of its members.

    A damaged gzip stream raises `CorruptRecord`, or with *on_damage*, is reported
    there and read as far as it goes (each member of about 1 MiB is a fresh start).
    """
    path = root / ARCHIVE_DIR / entry.name
    fd = open_private(path, os.O_RDONLY)
    try:
        if members is None:
            size = os.fstat(fd).st_size
            spans = [(0, size)]
        else:
            spans = [(m[0], m[1]) for m in members]
        for offset, length in spans:
            blob = os.pread(fd, length, offset)
            raw, problem = _inflate(blob)
            lines = raw.split(b"\n")
            lines.pop()  # b"" after the last line; a cut-off line where the stream broke
            yield from lines
            if problem is not None:
                damage = Damage("damaged_archive", str(path), offset + problem[0], None,
                                f"archive gzip stream is damaged ({problem[1]}); "
                                f"{len(lines)} records before it were read, the rest of this part is skipped")
                if on_damage is None:
                    raise CorruptRecord(str(damage), file=str(path), offset=damage.offset)
                on_damage(damage)
    finally:
        os.close(fd)


def _inflate(blob: bytes) -> tuple[bytes, tuple[int, str] | None]:
    """Every gzip member in *blob*, inflated and joined, and where and why inflating stopped
    early (None if it did not): what inflated before the damage is kept."""
    out = []
    at = 0
    while at < len(blob):
        d = zlib.decompressobj(31)
        try:
            out.append(d.decompress(blob[at:]))
            out.append(d.flush())
        except zlib.error as e:
            return b"".join(out), (at, str(e))
        if not d.eof:
            return b"".join(out), (at, "the stream ends early")
        at = len(blob) - len(d.unused_data)
    return b"".join(out), None


def read_archived(
    root: Path,
    from_seq: int = 1,
    to_seq: int | None = None,
    *,
    session: str | None = None,
    agent: str | None = None,
    manifest: Manifest | None = None,
    on_damage: Callable[[Damage], None] | None = None,
) -> Iterator[Event]:
    """Archived events with ``from_seq <= seq <= to_seq`` (of *session* / *agent* if given), in seq order.

    A seq archived twice (a replacement record compacted again later) yields the
    oldest version: the original event. A damaged archive (missing, unreadable index,
    broken gzip stream) is reported to *on_damage* (else to ``errors.log``) and what is
    readable is still returned.
    """
    if on_damage is None:
        on_damage = _log_damage(root)
    from journal.storage.events import EVENT_DECODER

    manifest = load_manifest(root) if manifest is None else manifest
    last = to_seq if to_seq is not None else float("inf")
    streams = []
    for rank, entry in enumerate(sorted(manifest.archive, key=lambda e: (e.epoch, e.name))):
        if entry.last_seq < from_seq or entry.first_seq > last:
            continue
        try:
            index = load_index(root, entry)
            members_list = index["members"]
            if not isinstance(members_list, list):
                raise ValueError("no member list")
        except (OSError, ValueError, KeyError, TypeError, JournalError) as e:
            on_damage(Damage("damaged_archive", str(root / ARCHIVE_DIR / entry.name), -1, None,
                             f"its index cannot be read ({e}); its {entry.count} archived "
                             f"events (seq {entry.first_seq}-{entry.last_seq}) are not shown"))
            continue
        wanted = range(len(index["members"]))
        picks: set[int] | None = None
        for table, key in (("sessions", session), ("agents", agent)):
            if key is not None:
                ids = set(index.get(table, {}).get(key, []))
                picks = ids if picks is None else picks & ids
        members = [
            index["members"][i] for i in wanted
            if (picks is None or i in picks) and index["members"][i][3] >= from_seq and index["members"][i][2] <= last
        ]
        if members:
            streams.append(_decoded(root, entry, members, rank, from_seq, last, session, agent, EVENT_DECODER,
                                    on_damage))
    seen = -1
    for seq, _, event in heapq.merge(*streams):
        if seq == seen:
            continue
        seen = seq
        yield event


def _log_damage(root: Path) -> Callable[[Damage], None]:
    def note(damage: Damage) -> None:
        log_error(root, "damaged_archive", str(damage), file=damage.file, offset=damage.offset)

    return note


def _decoded(root: Path, entry: ArchiveEntry, members: list[list[int]], rank: int, first: int,
             last: float, session: str | None, agent: str | None, decoder: Any,
             on_damage: Callable[[Damage], None]) -> Iterator[tuple[int, int, Any]]:
    try:
        for line in read_archive_lines(root, entry, members, on_damage):
            if not check_line(line):
                continue  # verify_archive reports damage; a reader skips it like the tolerate mode
            try:
                event = decoder.decode(line)
            except Exception:  # a valid CRC over bytes that are not an event: skip it like a bad one
                continue
            if event.seq < first or event.seq > last:
                continue
            if (session is not None and event.session != session) or (agent is not None and event.agent != agent):
                continue
            yield event.seq, rank, event
    except (OSError, JournalError) as e:
        on_damage(Damage("damaged_archive", str(root / ARCHIVE_DIR / entry.name), -1, None,
                         f"the archive cannot be read ({getattr(e, 'strerror', None) or e}); its events are not shown"))


def verify_archive(root: Path, manifest: Manifest | None = None) -> list[dict[str, Any]]:
    """Problems with the committed archive files: missing, or not the bytes the manifest names."""
    manifest = load_manifest(root) if manifest is None else manifest
    problems = []
    for entry in manifest.archive:
        path = root / ARCHIVE_DIR / entry.name
        try:
            data = read_private(path)
        except FileNotFoundError:
            problems.append({"archive": entry.name, "problem": "missing"})
            continue
        except (OSError, JournalError) as e:
            reason = getattr(e, "strerror", None) or e
            problems.append({"archive": entry.name, "problem": f"cannot be read: {reason}"})
            continue
        if len(data) != entry.bytes or "%08x" % crc32(data) != entry.crc32:
            problems.append({"archive": entry.name, "problem": "size or CRC does not match the manifest"})
        if not (root / ARCHIVE_DIR / (entry.index or index_name(entry.name))).exists():
            problems.append({"archive": entry.name, "problem": "index missing"})
    return problems
