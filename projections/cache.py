"""Projection caches on disk: ``<journal>/cache/<projection>.msgpack``.

A cache is a baseline, never the truth: anything wrong with it (missing, torn,
checksum mismatch, another journal, an older epoch or schema version, a seq beyond
the log's end) makes `load_cache` return None and the caller replays the log.

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
from typing import Any

import msgspec

from journal.storage.codec import crc32
from journal.errors import JournalError
from journal.layout import ensure_subdir, open_private, write_atomic
from projections.base import Projection, RecordMap, State

__all__ = ["CACHE_DIR", "CacheHeader", "cache_path", "load_cache", "save_cache", "encode_state", "decode_state"]

CACHE_DIR = "cache"
_MAGIC = b"AJPC"
_PREFIX = struct.Struct("<4sII")


class CacheHeader(msgspec.Struct):
    """Where a cached state comes from and how its records are laid out."""

    projection: str
    version: int
    journal_id: str
    epoch: int
    seq: int
    meta: msgspec.Raw
    keys: list[str]
    ends: list[int]
    crcs: list[int]


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


def decode_state(
    projection: Projection, buf: Any, *, journal_id: str, epoch: int
) -> tuple[int, State] | None:
    """``(seq, state)`` from cache bytes (or a memory map), or None if they do not fit."""
    view = memoryview(buf)
    if len(view) < _PREFIX.size:
        return None
    magic, size, crc = _PREFIX.unpack(view[: _PREFIX.size])
    start = _PREFIX.size
    raw = view[start : start + size]
    if magic != _MAGIC or len(raw) != size or crc32(raw) != crc:
        return None
    try:
        header = _HEADER_DEC.decode(raw)
        meta = projection.meta_decoder.decode(header.meta)
    except msgspec.DecodeError:
        return None
    blob = view[start + size :]
    if (
        header.projection != projection.name
        or header.version != projection.version
        or header.journal_id != journal_id
        or header.epoch != epoch
        or header.seq < 0
        or not len(header.keys) == len(header.ends) == len(header.crcs)
        or (header.ends[-1] if header.ends else 0) != len(blob)
    ):
        return None
    records = RecordMap.lazy(projection.record_decoder, header.keys, blob, header.ends, header.crcs)
    if len(records) != len(header.keys):
        return None  # duplicate keys: not a file we wrote
    return header.seq, State(meta, records)


def load_cache(root: Path, projection: Projection, *, journal_id: str, epoch: int) -> tuple[int, State] | None:
    """The cached ``(seq, state)`` of *projection*, or None when there is no usable cache."""
    try:
        fd = open_private(cache_path(root, projection), os.O_RDONLY)
    except (OSError, JournalError):  # a planted link is not followed: the cache is rebuilt
        return None
    try:
        size = os.fstat(fd).st_size
        if size < _PREFIX.size:
            return None
        try:
            buf: Any = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            buf = os.pread(fd, size, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    return decode_state(projection, buf, journal_id=journal_id, epoch=epoch)


def save_cache(root: Path, projection: Projection, state: State, *, journal_id: str, epoch: int, seq: int) -> None:
    """Write *projection*'s cache atomically (a concurrent writer's file may win; both are valid)."""
    data = encode_state(projection, state, journal_id=journal_id, epoch=epoch, seq=seq)
    write_atomic(ensure_subdir(root, CACHE_DIR) / f"{projection.name}.msgpack", data)
