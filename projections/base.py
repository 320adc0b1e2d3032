"""What a projection is: a named, versioned, pure fold ``(state, event) -> state``.

A projection's state (`projections.state`) is a small ``meta`` Struct plus ``records``:
one Struct per key (a session, an agent, ...), in a `RecordMap`. Handlers are plain functions
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
from typing import Any, Iterable, Mapping

import msgspec

from journal.storage.events import Event
from projections.snapshot import SNAPSHOT_TYPE, snapshot_handler
from projections.state import Handler, LazyRecordMap, PairHandler, RecordMap, State
from projections.views import VIEW_TYPES, decode_view

__all__ = [
    "SNAPSHOT_TYPE", "Handler", "LazyRecordMap", "PairHandler", "Projection", "RecordMap", "State", "apply", "fold",
    "plain", "to_builtins",
]


@dataclass(frozen=True)
class Projection:
    """A named fold: its record and meta types, and a handler per event type.

    ``version`` is the schema version of the cached state: bump it whenever the
    record types or the fold's meaning change, and old caches are replayed away.
    ``default`` handles every event type without a handler of its own.
    ``pairs`` optionally folds two adjacent events at once (`PairHandler`): the runner's
    shortcut for the common PreToolUse-then-PostToolUse of one call; it must give
    exactly what the two handlers give (tests/projections/test_properties.py checks).
    """

    name: str
    version: int
    record_type: type[msgspec.Struct]
    meta_type: type[msgspec.Struct]
    handlers: Mapping[str, Handler]
    default: Handler | None = None
    pairs: Mapping[tuple[str, str], PairHandler] = field(default_factory=dict)
    record_decoder: msgspec.msgpack.Decoder[Any] = field(init=False, repr=False, compare=False)
    meta_decoder: msgspec.msgpack.Decoder[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compaction (projections.compaction) replaces old events by ``journal.snapshot``
        # records that restore this projection's records and meta, so every projection,
        # including ones added later, folds them (`projections.snapshot`), never its default.
        if SNAPSHOT_TYPE not in self.handlers:
            restore = snapshot_handler(self.name, self.record_type, self.meta_type)
            object.__setattr__(self, "handlers", {**self.handlers, SNAPSHOT_TYPE: restore})
        object.__setattr__(self, "record_decoder", msgspec.msgpack.Decoder(self.record_type))
        object.__setattr__(self, "meta_decoder", msgspec.msgpack.Decoder(self.meta_type))

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
