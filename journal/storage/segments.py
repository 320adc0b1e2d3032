"""One segment file's tail, seal and quarantine: where its last record ends and which seq
it holds, its manifest entry when sealed, and moving torn or bad bytes to ``quarantine/``.

`journal.storage.writer` appends with these under the lock; `journal.storage.recovery`, `journal.storage.verify`
and `journal.store` use them too. Stdlib only: this module is on the hook's hot path.
"""

from __future__ import annotations

import os

from journal.storage.codec import check_line, crc32, peek_seq
from journal.errorlog import log_error
from journal.layout import QUARANTINE_DIR, ensure_subdir, fsync_dir, join, open_private, write_all

TYPE_CHECKING = False  # no typing or dataclasses at run time: this is the hook's hot path
if TYPE_CHECKING:
    from typing import Any

    from journal.layout import P

__all__ = ["seal_info", "repair_tail", "quarantine", "last_newline", "tail_seq"]

_TAIL = 64 * 1024
#: The first read of `tail_seq`: holds the last record of almost every segment.
_TAIL_FIRST = 4096
_READ_CHUNK = 1024 * 1024
_fdatasync = getattr(os, "fdatasync", os.fsync)


def _read_at(fd: int, offset: int, size: int) -> bytes:
    return os.pread(fd, size, offset)


def last_newline(fd: int, size: int) -> int:
    """Offset just past the last ``\\n`` in the file (0 if there is none)."""
    end = size
    while end > 0:
        start = max(0, end - _TAIL)
        chunk = _read_at(fd, start, end - start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        end = start
    return 0


def tail_seq(fd: int, size: int, first_seq: int, tail: bytes = b"") -> int:
    """The seq of the last record in a segment that ends in ``\\n``.

    The last line with a valid CRC gives the seq; each complete but corrupt line
    after it still consumed one seq (so numbering never reuses one). A segment
    with no valid line at all counts its lines from the segment's first seq.
    *tail*, if given, is the segment's last ``min(size, 4096)`` bytes, already read.
    """
    corrupt_after = 0
    end = size
    carry = b""
    step = _TAIL_FIRST  # every append calls this: read (and split) 4 KiB, not 64, when that suffices
    while end > 0:
        start = max(0, end - step)
        step = _TAIL
        chunk = (tail if end == size and len(tail) == end - start else _read_at(fd, start, end - start)) + carry
        lines = chunk.split(b"\n")
        # lines[0] may be cut at `start`; keep it for the next (earlier) chunk.
        carry = lines[0] if start > 0 else b""
        for line in reversed(lines if start == 0 else lines[1:]):
            if not line:
                continue
            if check_line(line.lstrip(b"\0")):
                seq = peek_seq(line.lstrip(b"\0"))
                if seq is not None:
                    return seq + corrupt_after
            corrupt_after += 1
        end = start
    return first_seq - 1 + corrupt_after


def seal_info(path: str | os.PathLike[str], first_seq: int) -> dict[str, Any]:
    """The manifest entry of a sealed segment: seq range, count, bytes and whole-file CRC."""
    crc = 0
    count = 0
    size = 0
    fd = open_private(path, os.O_RDONLY)
    try:
        while chunk := os.read(fd, _READ_CHUNK):
            crc = crc32(chunk, crc)
            count += chunk.count(b"\n")
            size += len(chunk)
        last = tail_seq(fd, size, first_seq) if size else first_seq - 1
    finally:
        os.close(fd)
    return {
        "name": os.path.basename(path),
        "first_seq": first_seq,
        "last_seq": last,
        "count": count,
        "bytes": size,
        "crc32": "%08x" % crc,
    }


def repair_tail(root: P, fd: int, size: int, path: str | os.PathLike[str]) -> int:
    """Quarantine and cut the bytes after the last ``\\n`` of *fd*; return the new size.

    Call with the append lock held. The torn bytes are kept in ``quarantine/`` (never
    delete evidence) and the repair is noted in ``errors.log``.
    """
    keep = last_newline(fd, size)
    torn = _read_at(fd, keep, size - keep)
    name = os.path.basename(path)
    qpath = quarantine(root, f"{name}.{keep}.torn", torn)
    os.ftruncate(fd, keep)
    _fdatasync(fd)
    log_error(
        root,
        "torn_tail_repaired",
        f"dropped {len(torn)} torn bytes at the end of {name} (offset {keep}); kept in {qpath}",
        segment=name,
        offset=keep,
        bytes=len(torn),
        quarantine=str(qpath),
    )
    return keep


def quarantine(root: P, name: str, data: bytes) -> P:
    """Durably keep *data* under ``quarantine/`` (0600) and return its path."""
    qdir = ensure_subdir(root, QUARANTINE_DIR)
    qpath = join(qdir, name)
    qfd = open_private(qpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        write_all(qfd, data)
        os.fsync(qfd)
    finally:
        os.close(qfd)
    fsync_dir(qdir)
    return qpath
