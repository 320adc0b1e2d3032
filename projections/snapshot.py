"""Restoring from ``journal.snapshot`` records: the handler every projection folds them with.

`projections.compaction.compact` writes these records (their format is described there);
`projections.base.Projection` registers `snapshot_handler` for ``journal.snapshot`` in
every projection, so a projection added later restores without knowing compaction.
Part of the fold kernel: it knows a projection's state (`projections.state`), not
compaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import msgspec

from projections.state import Handler, State

if TYPE_CHECKING:
    from journal.storage.events import Event

__all__ = ["SNAPSHOT_TYPE", "SNAPSHOT_FORMAT", "snapshot_handler"]

SNAPSHOT_TYPE = "journal.snapshot"
SNAPSHOT_FORMAT = 1


class _Payload(msgspec.Struct):
    """A snapshot record's data, as far as the restore handlers read it."""

    ops: dict[str, msgspec.Raw] = {}
    mops: dict[str, dict[str, msgspec.Raw]] = {}
    cells: dict[str, dict[str, msgspec.Raw]] = {}


_PAYLOAD = msgspec.json.Decoder(_Payload)
_last_decoded: list[Any] = [None, None]


def _payload(event: Event) -> _Payload:
    """The decoded payload of *event*, decoded once for all the projections that restore from it."""
    if _last_decoded[0] is not event:
        try:
            _last_decoded[1] = _PAYLOAD.decode(event.data)
        except msgspec.DecodeError:
            _last_decoded[1] = _Payload()
        _last_decoded[0] = event
    return _last_decoded[1]  # type: ignore[no-any-return]


def _meta_types(meta_type: type[msgspec.Struct]) -> dict[str, Any]:
    return {f.name: f.type for f in msgspec.structs.fields(meta_type)}


def _dict_value_type(tp: Any) -> Any:
    import typing

    args = typing.get_args(tp)
    return args[1] if len(args) == 2 else Any


def snapshot_handler(name: str, record_type: type[msgspec.Struct], meta_type: type[msgspec.Struct]) -> Handler:
    """The ``journal.snapshot`` handler of the projection *name* (its record and meta
    types given): apply its part of the restore.

    A fold must never fail, so a part that does not decode (a record of an older schema
    that breaks the evolution rule, or a hand-written ``journal.snapshot`` event) is
    restored as far as it goes, record by record, and the rest is skipped. The decoders
    are built on the first snapshot record: most journals were never compacted.
    """
    built: list[Any] = []

    def decoders() -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, Any]]:
        if not built:
            ops_decoder = msgspec.json.Decoder(list[tuple[str, str, Optional[record_type]]])  # type: ignore[valid-type]
            fields = _meta_types(meta_type)
            dict_fields = {f: _dict_value_type(tp) for f, tp in fields.items()
                           if getattr(tp, "__origin__", None) is dict}
            mops_decoders = {
                f: msgspec.json.Decoder(list[tuple[str, str, Optional[vt]]])  # type: ignore[valid-type]
                for f, vt in dict_fields.items()
            }
            built[:] = [ops_decoder, fields, dict_fields, mops_decoders]
        return built[0], built[1], built[2], built[3]

    def restore(state: State, event: Event, view: Any) -> None:
        ops_decoder, fields, dict_fields, mops_decoders = decoders()
        payload = _payload(event)
        raw = payload.ops.get(name)
        if raw is not None:
            _apply_ops(state.records, _decode_ops(ops_decoder, raw, record_type))
        for fname, raw in payload.mops.get(name, {}).items():
            decoder = mops_decoders.get(fname)
            if decoder is not None:
                _apply_ops(getattr(state.meta, fname), _decode_ops(decoder, raw, dict_fields[fname]))
        for fname, raw in payload.cells.get(name, {}).items():
            if fname in fields:
                try:
                    setattr(state.meta, fname, msgspec.json.decode(raw, type=fields[fname]))
                except msgspec.DecodeError:
                    pass

    return restore


def _decode_ops(decoder: Any, raw: msgspec.Raw, value_type: Any) -> list[tuple[str, str, Any]]:
    """Restore operations from *raw*; one by one (skipping what does not decode) if all at once fails."""
    try:
        return decoder.decode(raw)  # type: ignore[no-any-return]
    except msgspec.DecodeError:
        pass
    try:
        items = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return []
    out: list[tuple[str, str, Any]] = []
    for item in items if isinstance(items, list) else []:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and isinstance(item[1], str)):
            continue
        op, key, value = item
        if value is not None:
            try:
                value = msgspec.convert(value, value_type)
            except msgspec.ValidationError:
                continue
        out.append((op, key, value))
    return out


def _apply_ops(target: dict[str, Any], ops: list[tuple[str, str, Any]]) -> None:
    for op, key, value in ops:
        if op == "put":
            target.pop(key, None)
            target[key] = value
        elif op == "set":
            if key in target:
                dict.__setitem__(target, key, value)
            else:
                target[key] = value
        elif op == "del":
            target.pop(key, None)
