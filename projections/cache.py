"""Projection caches on disk: ``<journal>/cache/<projection>.msgpack``.

A cache is a baseline, never the truth: anything wrong with it (missing, torn,
checksum mismatch, a header field of the wrong type or range, another journal, an
older epoch or schema version, a seq beyond the log's end) makes `load_cache` return
None and the caller replays the log. Damage (as opposed to a cache that is merely out
of date) is described, naming the file and the header field (`read_state`).

File layout::

    b"AJPC" | u32 header length | u32 header CRC-32 | header (msgpack) | record blobs

The header (`CacheHeader`) names the projection, its schema ``version``, the
journal id and ``epoch``, the ``seq`` the state covers, the small ``meta`` state,
and for the records: their keys in order, where each one ends in the blob region,
and each one's CRC-32. Records are decoded lazily (`projections.base.RecordMap`),
from a read-only memory map, so loading costs O(keys) and a record's checksum is
checked when it is first used. Files are written with `journal.layout.write_atomic`
(temp file, fsync, rename, 0600).
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path
from typing import Annotated, Any, Callable

import msgspec

from journal.storage.codec import crc32
from journal.errors import JournalError
from journal.layout import ensure_subdir, open_private, write_atomic
from projections.base import Projection, RecordMap, State
from projections.errors import CacheCorrupt

__all__ = ["CACHE_DIR", "CacheHeader", "cache_path", "load_cache", "save_cache", "encode_state", "decode_state",
           "read_state"]

CACHE_DIR = "cache"
_MAGIC = b"AJPC"
_PREFIX = struct.Struct("<4sII")


_U32 = Annotated[int, msgspec.Meta(ge=0, le=0xFFFFFFFF)]
_NAT = Annotated[int, msgspec.Meta(ge=0)]


class CacheHeader(msgspec.Struct):
    """Where a cached state comes from and how its records are laid out.

    Decoded and validated by msgspec on read (types and ranges of every field), then
    checked against the blob region (`check`); a header that fails either is damage,
    reported by `read_state` as `CacheCorrupt` naming the file and the field.
    """

    projection: str
    version: _NAT
    journal_id: str
    epoch: _NAT
    seq: _NAT
    meta: msgspec.Raw
    keys: list[str]
    ends: list[_NAT]
    crcs: list[_U32]

    def check(self, blob_size: int) -> None:
        """Raise `ValueError` naming the field when the layout does not fit *blob_size* bytes of records."""
        if not len(self.keys) == len(self.ends) == len(self.crcs):
            raise ValueError(f"`keys`, `ends` and `crcs` differ in length "
                             f"({len(self.keys)}, {len(self.ends)}, {len(self.crcs)}) - at `$.ends`")
        if (self.ends[-1] if self.ends else 0) != blob_size:
            raise ValueError(f"`ends` stops at byte {self.ends[-1] if self.ends else 0} of a {blob_size}-byte "
                             "record region - at `$.ends`")


_HEADER_DEC = msgspec.msgpack.Decoder(CacheHeader)
_ENC = msgspec.msgpack.Encoder()


def cache_path(root: Path, projection: Projection) -> Path:
    """Where *projection*'s cache of the journal at *root* lives."""
    return root / CACHE_DIR / f"{projection.name}.msgpack"


def encode_state(projection: Projection, state: State, *, journal_id: str, epoch: int, seq: int) -> bytes:
    """The cache file bytes for *state*, which covers the log up to *seq*."""
    keys, blobs, crcs = state.records.blobs()
    ends: list[int] = []
    pos = 0
    for blob in blobs:
        pos += len(blob)
        ends.append(pos)
    header = _ENC.encode(
        CacheHeader(projection.name, projection.version, journal_id, epoch, seq,
                    msgspec.Raw(_ENC.encode(state.meta)), keys, ends, crcs)
    )
    return b"".join([_PREFIX.pack(_MAGIC, len(header), crc32(header)), header, *blobs])


def read_state(
    projection: Projection, buf: Any, *, journal_id: str, epoch: int, source: str = "cache"
) -> tuple[int, State] | None:
    """``(seq, state)`` from cache bytes (or a memory map).

    None when the cache is sound but does not fit (another projection, schema version,
    journal or epoch: it is simply out of date); `CacheCorrupt` naming *source* and the
    field when it is damaged (torn, checksum, a header field of the wrong type or range).
    """
    view = memoryview(buf)
    if len(view) < _PREFIX.size:
        raise CacheCorrupt(f"{source}: {len(view)} bytes, shorter than the {_PREFIX.size}-byte prefix")
    magic, size, crc = _PREFIX.unpack(view[: _PREFIX.size])
    start = _PREFIX.size
    raw = view[start : start + size]
    if magic != _MAGIC:
        raise CacheCorrupt(f"{source}: not a projection cache (magic {bytes(magic)!r})")
    if len(raw) != size or crc32(raw) != crc:
        raise CacheCorrupt(f"{source}: the header fails its checksum (torn or altered)")
    try:
        header = _HEADER_DEC.decode(raw)
    except msgspec.DecodeError as e:  # includes ValidationError: "Expected `int` >= 0 - at `$.seq`"
        raise CacheCorrupt(f"{source}: bad header: {e}") from e
    if (header.projection, header.version, header.journal_id, header.epoch) != (
        projection.name, projection.version, journal_id, epoch
    ):
        return None
    blob = view[start + size :]
    try:
        header.check(len(blob))
        meta = projection.meta_decoder.decode(header.meta)
    except msgspec.DecodeError as e:
        raise CacheCorrupt(f"{source}: bad header: {e} - in `$.meta`") from e
    except ValueError as e:
        raise CacheCorrupt(f"{source}: bad header: {e}") from e
    records = RecordMap.lazy(projection.record_decoder, header.keys, blob, header.ends, header.crcs, source=source)
    if len(records) != len(header.keys):
        raise CacheCorrupt(f"{source}: bad header: a key occurs twice - at `$.keys`")
    return header.seq, State(meta, records)


def decode_state(
    projection: Projection, buf: Any, *, journal_id: str, epoch: int
) -> tuple[int, State] | None:
    """`read_state`, with None for a damaged cache too."""
    try:
        return read_state(projection, buf, journal_id=journal_id, epoch=epoch)
    except CacheCorrupt:
        return None


def load_cache(
    root: Path, projection: Projection, *, journal_id: str, epoch: int,
    on_damage: Callable[[str], None] | None = None,
) -> tuple[int, State] | None:
    """The cached ``(seq, state)`` of *projection*, or None when there is no usable cache.

    A damaged file is not an error (the caller replays the log and writes a new one);
    *on_damage* is told what is wrong with it (the file and the field).
    """
    path = cache_path(root, projection)
    try:
        fd = open_private(path, os.O_RDONLY)
    except (OSError, JournalError):  # a planted link is not followed: the cache is rebuilt
        return None
    try:
        size = os.fstat(fd).st_size
        try:
            buf: Any = mmap.mmap(fd, size, access=mmap.ACCESS_READ) if size else b""
        except (OSError, ValueError):
            buf = os.pread(fd, size, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return read_state(projection, buf, journal_id=journal_id, epoch=epoch, source=str(path))
    except CacheCorrupt as e:
        if on_damage is not None:
            on_damage(str(e))
        return None


def save_cache(root: Path, projection: Projection, state: State, *, journal_id: str, epoch: int, seq: int) -> None:
    """Write *projection*'s cache atomically (a concurrent writer's file may win; both are valid)."""
    data = encode_state(projection, state, journal_id=journal_id, epoch=epoch, seq=seq)
    write_atomic(ensure_subdir(root, CACHE_DIR) / f"{projection.name}.msgpack", data)
