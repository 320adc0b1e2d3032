"""A projection's state: a ``meta`` Struct and a `RecordMap` of records, decoded lazily.

A state loaded from a cache holds a `LazyRecordMap`: each record stays an index into
the cache file until something touches it, and every access path decodes it first, so
loading a state costs O(number of keys), not O(bytes), and a fold handler always sees
a record, never an index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import msgspec

from journal.storage.codec import crc32
from journal.storage.events import Event
from projections.errors import CacheCorrupt

__all__ = ["Handler", "LazyRecordMap", "PairHandler", "RecordMap", "State"]

#: A fold step: ``handler(state, event, view)`` updates *state* in place (no I/O).
Handler = Callable[["State", Event, Any], None]
#: A fold step for two adjacent events, ``pair(state, first, view, second, view) -> bool``:
#: either it updates *state* exactly as the two handlers one after the other would and
#: returns True, or it changes nothing and returns False (the handlers then run).
PairHandler = Callable[["State", Event, Any, Event, Any], bool]

_ENC = msgspec.msgpack.Encoder()


class RecordMap(dict):  # type: ignore[type-arg]
    """``key -> record``, in insertion order (projections use it for recency).

    A fresh state's map is a plain dict of records. A state loaded from a cache is a
    `LazyRecordMap`, which decodes each record on first access through *any* path
    (``m[k]``, ``get``, ``pop``, ``values``, ``items``, ...): a fold handler always
    sees a record. `record`, `records` and `records_reversed` read both kinds alike.
    """

    __slots__ = ("_decoder",)

    def __init__(self, decoder: msgspec.msgpack.Decoder[Any] | None = None) -> None:
        super().__init__()
        self._decoder = decoder

    @classmethod
    def lazy(
        cls,
        decoder: msgspec.msgpack.Decoder[Any],
        keys: list[str],
        blob: memoryview,
        ends: Sequence[int],
        crcs: Sequence[int],
        *,
        source: str = "",
    ) -> LazyRecordMap:
        """A map whose records are decoded from *blob* on first use (record *i* ends at
        ``ends[i]`` and has CRC-32 ``crcs[i]``; *source* names the file in errors)."""
        return LazyRecordMap(decoder, keys, blob, ends, crcs, source)

    def record(self, key: str) -> Any:
        """The record of *key*, or None."""
        return self.get(key)

    def records(self) -> Iterator[tuple[str, Any]]:
        """Every ``(key, record)`` in order (a snapshot of the keys: the map may change meanwhile)."""
        get = self.get
        for key in list(self):
            yield key, get(key)

    def records_reversed(self) -> Iterator[tuple[str, Any]]:
        """Every ``(key, record)`` newest first (reverse insertion order)."""
        get = self.get
        for key in list(reversed(self)):
            yield key, get(key)

    def blobs(self) -> tuple[list[str], list[bytes | memoryview], list[int]]:
        """Keys, encoded records and their CRC-32s, in order."""
        keys = list(self)
        out: list[bytes | memoryview] = []
        crcs: list[int] = []
        encode = _ENC.encode
        for rec in dict.values(self):
            data = encode(rec)
            out.append(data)
            crcs.append(crc32(data))
        return keys, out, crcs


class LazyRecordMap(RecordMap):
    """A `RecordMap` loaded from a cache: records not used yet are stored as their
    index in the cache blob, and every access path decodes them (checking their
    CRC-32 first) before returning them. Nothing outside this class sees an index.

    A record that fails its checksum or does not decode raises `CacheCorrupt`, naming
    the cache file and the key; callers replay the log (`projections.runner.query`).
    """

    __slots__ = ("_blob", "_ends", "_crcs", "_source", "_pending")

    def __init__(
        self,
        decoder: msgspec.msgpack.Decoder[Any],
        keys: list[str],
        blob: memoryview,
        ends: Sequence[int],
        crcs: Sequence[int],
        source: str = "",
    ) -> None:
        super().__init__(decoder)
        self._blob, self._ends, self._crcs, self._source = blob, ends, crcs, source
        dict.update(self, zip(keys, range(len(keys)), strict=True))
        #: How many values are still indexes (0: the map is a plain dict of records).
        self._pending = len(self)

    def _decode(self, key: str, index: int) -> Any:
        """Decode the record stored at *index* of the blob, keep it in place, and return it."""
        start = self._ends[index - 1] if index else 0
        assert self._blob is not None and self._decoder is not None
        chunk = self._blob[start : self._ends[index]]
        where = f"{self._source}: " if self._source else ""
        if crc32(chunk) != self._crcs[index]:
            raise CacheCorrupt(f"{where}cached record {key!r} fails its checksum")
        try:
            rec = self._decoder.decode(chunk)
        except msgspec.DecodeError as e:
            raise CacheCorrupt(f"{where}cached record {key!r} does not decode: {e}") from e
        dict.__setitem__(self, key, rec)
        self._pending -= 1
        return rec

    def _value(self, key: Any, value: Any) -> Any:
        return self._decode(key, value) if value.__class__ is int else value

    def __getitem__(self, key: str) -> Any:
        return self._value(key, dict.__getitem__(self, key))

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            return default
        return self._decode(key, value) if value.__class__ is int else value

    def pop(self, key: str, *default: Any) -> Any:
        if dict.__contains__(self, key):
            value = self._value(key, dict.__getitem__(self, key))
            dict.__delitem__(self, key)
            return value
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        key = next(reversed(self))
        return key, self.pop(key)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return self[key]
        dict.__setitem__(self, key, default)
        return default

    def __delitem__(self, key: str) -> None:
        if dict.__getitem__(self, key).__class__ is int:
            self._pending -= 1
        dict.__delitem__(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if dict.get(self, key).__class__ is int:
            self._pending -= 1
        dict.__setitem__(self, key, value)

    def __iter__(self) -> Iterator[str]:
        # Defined so that ``dict(m)`` and ``{**m}`` go through `keys` and `__getitem__`
        # (CPython copies a dict subclass's raw values when it keeps dict's own iterator).
        return dict.__iter__(self)

    def values(self) -> list[Any]:  # type: ignore[override]
        return [value for _, value in self.records()]

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        return list(self.records())

    def copy(self) -> dict[str, Any]:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, dict):
            return NotImplemented
        return dict(self.items()) == (dict(other.items()) if isinstance(other, LazyRecordMap) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"

    def blobs(self) -> tuple[list[str], list[bytes | memoryview], list[int]]:
        """Keys, encoded records and their CRC-32s, in order.

        Untouched records are copied from the blob with their *stored* checksum, so a
        damaged cached record stays detectably damaged in the next cache file.
        """
        if not self._pending:
            return RecordMap.blobs(self)
        keys = list(self)
        out: list[bytes | memoryview] = []
        crcs: list[int] = []
        blob, ends, stored = self._blob, self._ends, self._crcs
        encode = _ENC.encode
        for rec in dict.values(self):
            if rec.__class__ is int:
                out.append(blob[ends[rec - 1] if rec else 0 : ends[rec]])
                crcs.append(stored[rec])
            else:
                data = encode(rec)
                out.append(data)
                crcs.append(crc32(data))
        return keys, out, crcs


_MISSING: Any = object()


@dataclass(slots=True)
class State:
    """The state of one projection: ``meta`` (small, one Struct) and ``records``."""

    meta: Any
    records: RecordMap
