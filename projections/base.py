"""What a projection is: a named, versioned, pure fold ``(state, event) -> state``.

A projection's state is a small ``meta`` Struct plus ``records``: one Struct per key
(a session, an agent, ...), in a `RecordMap`. Handlers are plain functions
``handler(state, event, view)`` chosen by ``event.type`` from a dict; ``view`` is the
payload decoded with the type's view Struct (`projections.views`), decoded once per
event and shared by every projection that folds it. Handlers do no I/O.

Records may be *lazy*: a state loaded from a cache (`LazyRecordMap`) decodes each
record on first access, whatever the access path, so loading a state costs O(number of
keys), not O(bytes), a fold touches only the records its new events name, and a
handler always sees a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import msgspec

from journal.storage.codec import crc32
from journal.storage.events import Event
from projections.errors import CacheCorrupt
from projections.views import VIEW_TYPES, decode_view

__all__ = [
    "SNAPSHOT_TYPE", "Handler", "LazyRecordMap", "Projection", "RecordMap", "State", "apply", "fold", "plain",
    "to_builtins",
]

Handler = Callable[["State", Event, Any], None]

#: Compaction's restore records (see `projections.compaction.compact`); every projection folds them.
SNAPSHOT_TYPE = "journal.snapshot"

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


class _SnapshotHandler:
    """``journal.snapshot`` (compaction's restore records), resolved on first use.

    `projections.compaction.compact` writes these records and knows how every projection
    restores from them; it is imported only when a compacted journal is folded.
    """

    __slots__ = ("projection", "handler")

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.handler: Handler | None = None

    def __call__(self, state: State, event: Event, view: Any) -> None:
        if self.handler is None:
            try:
                from projections.compaction.compact import snapshot_handler
            except ImportError:  # no compaction in this build: the record is just another event
                self.handler = self.projection.default or (lambda s, e, v: None)
            else:
                self.handler = snapshot_handler(self.projection)
        self.handler(state, event, view)


@dataclass(frozen=True)
class Projection:
    """A named fold: its record and meta types, and a handler per event type.

    ``version`` is the schema version of the cached state: bump it whenever the
    record types or the fold's meaning change, and old caches are replayed away.
    ``default`` handles every event type without a handler of its own.
    """

    name: str
    version: int
    record_type: type[msgspec.Struct]
    meta_type: type[msgspec.Struct]
    handlers: Mapping[str, Handler]
    default: Handler | None = None
    record_decoder: msgspec.msgpack.Decoder[Any] = field(init=False, repr=False, compare=False)
    meta_decoder: msgspec.msgpack.Decoder[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if SNAPSHOT_TYPE not in self.handlers:
            object.__setattr__(self, "handlers", {**self.handlers, SNAPSHOT_TYPE: _SnapshotHandler(self)})
        object.__setattr__(self, "record_decoder", msgspec.msgpack.Decoder(self.record_type))
        object.__setattr__(self, "meta_decoder", msgspec.msgpack.Decoder(self.meta_type))
        # Compaction hook (projections/compaction/compact.py): compaction replaces old events by
        # ``journal.snapshot`` records that restore this projection's records and meta, so
        # every projection, including ones added later, folds them, never its default.
        if "journal.snapshot" not in self.handlers:
            from projections.compaction.compact import snapshot_handler

            handlers = {**self.handlers, "journal.snapshot": snapshot_handler(self)}
            object.__setattr__(self, "handlers", handlers)

    def initial(self) -> State:
        """The state before any event."""
        return State(self.meta_type(), RecordMap(self.record_decoder))

    def handler(self, type_: str) -> Handler | None:
        """The handler for events of *type_* (the default handler if it has none)."""
        return self.handlers.get(type_, self.default)


def view_of(event: Event) -> Any:
    """The payload view of *event* (``None`` for types without one)."""
    view_type = VIEW_TYPES.get(event.type)
    return decode_view(view_type, event.data) if view_type is not None else None


def apply(projection: Projection, state: State, event: Event) -> State:
    """Fold one event into *state* (updated in place) and return it."""
    handler = projection.handler(event.type)
    if handler is not None:
        handler(state, event, view_of(event))
    return state


def fold(projection: Projection, state: State, events: Iterable[Event]) -> State:
    """Fold *events* in order into *state* and return it."""
    for event in events:
        apply(projection, state, event)
    return state


def plain(value: Any) -> Any:
    """*value* as JSON-ready data, Structs as dicts (also the compact ``array_like`` ones)."""
    if isinstance(value, msgspec.Struct):
        return {name: plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def to_builtins(state: State) -> dict[str, Any]:
    """The whole state as plain data (every lazy record decoded), for comparisons and JSON."""
    return {
        "meta": plain(state.meta),
        "records": {key: plain(rec) for key, rec in state.records.records()},
    }
