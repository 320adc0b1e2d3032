"""A projection's state: a ``meta`` Struct and a `RecordMap` of records, decoded lazily.

Records may be *lazy*: a state loaded from a cache holds each record as an index
into the cache file and decodes it on first touch (`RecordMap.record`), so loading a
state costs O(number of keys), not O(bytes), and a fold touches only the records its
new events name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import msgspec

from journal.storage.codec import crc32
from journal.storage.events import Event
from projections.errors import CacheCorrupt

__all__ = ["Handler", "RecordMap", "State"]

#: A fold step: ``handler(state, event, view)`` updates *state* in place (no I/O).
Handler = Callable[["State", Event, Any], None]

_ENC = msgspec.msgpack.Encoder()


class RecordMap(dict):  # type: ignore[type-arg]
    """``key -> record`` where a record may still be an ``int``: its index in a cache blob.

    Insertion order is part of the state (projections use it for recency), so it is
    kept exactly through a cache round trip.
    """

    __slots__ = ("_blob", "_ends", "_crcs", "_decoder")

    def __init__(self, decoder: msgspec.msgpack.Decoder[Any] | None = None) -> None:
        super().__init__()
        self._blob: memoryview | None = None
        self._ends: list[int] = []
        self._crcs: list[int] = []
        self._decoder = decoder

    @classmethod
    def lazy(
        cls,
        decoder: msgspec.msgpack.Decoder[Any],
        keys: list[str],
        blob: memoryview,
        ends: list[int],
        crcs: list[int],
    ) -> RecordMap:
        """A map whose records are decoded from *blob* on first use."""
        m = cls(decoder)
        m._blob, m._ends, m._crcs = blob, ends, crcs
        m.update(zip(keys, range(len(keys)), strict=True))
        return m

    def load(self, key: str, index: int) -> Any:
        """Decode the record stored at *index* of the blob, keep it, and return it."""
        start = self._ends[index - 1] if index else 0
        assert self._blob is not None and self._decoder is not None
        chunk = self._blob[start : self._ends[index]]
        if crc32(chunk) != self._crcs[index]:
            raise CacheCorrupt(f"cached record {key!r} fails its checksum")
        try:
            rec = self._decoder.decode(chunk)
        except msgspec.DecodeError as e:
            raise CacheCorrupt(f"cached record {key!r} does not decode: {e}") from e
        dict.__setitem__(self, key, rec)
        return rec

    def record(self, key: str) -> Any:
        """The record of *key* (decoded if needed), or None."""
        rec = dict.get(self, key)
        if rec.__class__ is int:
            return self.load(key, rec)
        return rec

    def records(self) -> Iterator[tuple[str, Any]]:
        """Every ``(key, record)`` in order, decoding lazily."""
        for key in list(self):
            yield key, self.record(key)

    def records_reversed(self) -> Iterator[tuple[str, Any]]:
        """Every ``(key, record)`` newest first (reverse insertion order)."""
        for key in list(reversed(self)):
            yield key, self.record(key)

    def blobs(self) -> tuple[list[str], list[bytes | memoryview], list[int]]:
        """Keys, encoded records and their CRC-32s, in order.

        Untouched records are copied from the blob with their *stored* checksum, so a
        damaged cached record stays detectably damaged in the next cache file.
        """
        keys = list(self)
        out: list[bytes | memoryview] = []
        crcs: list[int] = []
        blob, ends, stored = self._blob, self._ends, self._crcs
        for key in keys:
            rec = dict.__getitem__(self, key)
            if rec.__class__ is int:
                assert blob is not None
                out.append(blob[ends[rec - 1] if rec else 0 : ends[rec]])
                crcs.append(stored[rec])
            else:
                data = _ENC.encode(rec)
                out.append(data)
                crcs.append(crc32(data))
        return keys, out, crcs


@dataclass(slots=True)
class State:
    """The state of one projection: ``meta`` (small, one Struct) and ``records``."""

    meta: Any
    records: RecordMap
