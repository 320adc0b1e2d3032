"""What a projection is: a named, versioned, pure fold ``(state, event) -> state``.

A projection's state is a small ``meta`` Struct plus ``records``: one Struct per key
(a session, an agent, ...), in a `RecordMap`. Handlers are plain functions
``handler(state, event, view)`` chosen by ``event.type`` from a dict; ``view`` is the
payload decoded with the type's view Struct (`projections.views`), decoded once per
event and shared by every projection that folds it. Handlers do no I/O.

Records may be *lazy*: a state loaded from a cache holds each record as an index
into the cache file and decodes it on first touch (`RecordMap.record`), so loading a
state costs O(number of keys), not O(bytes), and a fold touches only the records its
new events name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

import msgspec

from journal.storage.codec import crc32
from journal.storage.events import Event
from projections.errors import CacheCorrupt
from projections.views import VIEW_TYPES, decode_view

__all__ = ["SNAPSHOT_TYPE", "Handler", "Projection", "RecordMap", "State", "apply", "fold", "plain", "to_builtins"]

Handler = Callable[["State", Event, Any], None]

#: Compaction's restore records (see `projections.compaction.compact`); every projection folds them.
SNAPSHOT_TYPE = "journal.snapshot"

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
