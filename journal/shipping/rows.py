"""Events as PostgreSQL binary COPY data, built in bulk (the shipping hot loop).

One tuple per event, in `journal.shipping.schema.COLUMNS` order, every field
length-prefixed: the server reads each field as is, without scanning the line for
delimiters and escapes as the text format makes it do (a fifth of its CPU per event
went there). The payload is the record's own JSON bytes behind jsonb's version byte
(never decoded and re-encoded); ``jsonb`` cannot hold U+0000, so a payload containing
``\\u0000`` (rare) is decoded once and gets U+FFFD instead, as text fields do. The
timestamp goes as microseconds since 2000-01-01 UTC; one PostgreSQL could not read
(a hand-made ``append --ts``) becomes NULL rather than failing a batch.
"""

from __future__ import annotations

import datetime as _dt
from struct import Struct
from typing import Any

import msgspec

__all__ = ["COPY_OPTIONS", "copy_rows"]

#: How the COPY statement must read what `copy_rows` makes.
COPY_OPTIONS = "(FORMAT binary)"

_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # signature, flags, no extension
_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
#: seq (int8), then the timestamp's length word; v (int4); the payload's length and jsonb version 1.
_SEQ_TS = Struct(">iqiq")
_SEQ_NO_TS = Struct(">iq4s")
_V = Struct(">ii")
_DATA = Struct(">ib")
_LEN = Struct(">i")

_PG_EPOCH = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)
_US = _dt.timedelta(microseconds=1)
_fromiso = _dt.datetime.fromisoformat
_PAYLOAD = msgspec.json.Decoder()


def _text(value: str | None) -> bytes:
    """A text field with its length word (NULL: length -1); U+0000, which text cannot hold, becomes U+FFFD."""
    if value is None:
        return _NULL
    raw = value.replace("\x00", "\ufffd").encode("utf-8", "replace")
    return _LEN.pack(len(raw)) + raw


def _clean_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean_nul(k): _clean_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_nul(v) for v in value]
    return value


def _payload(data: bytes) -> bytes:
    """The payload without U+0000 (jsonb has none): decoded, cleaned, encoded again (rare path)."""
    try:
        return msgspec.json.encode(_clean_nul(_PAYLOAD.decode(data)))
    except msgspec.DecodeError:
        return data


def _micros(ts: str) -> int | None:
    """Microseconds from 2000-01-01 UTC (PostgreSQL's timestamptz), or None if *ts* is no timestamp.

    A timestamp without a zone is taken as UTC, as the journal writes them.
    """
    try:
        parsed = _fromiso(ts)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.UTC)
    return (parsed - _PG_EPOCH) // _US


def copy_rows(journal_id: str, events: list[Any]) -> bytes:
    """A whole binary COPY stream (header, one tuple per event, trailer) for *events*, all
    columns of `journal.shipping.schema.COLUMNS`, in order; read it with `COPY_OPTIONS`."""
    jid = journal_id.encode("ascii")
    lead = b"\x00\x09" + _LEN.pack(len(jid)) + jid  # field count, journal_id
    seq_ts, seq_no_ts, v_pack, data_pack = _SEQ_TS.pack, _SEQ_NO_TS.pack, _V.pack, _DATA.pack
    out: list[Any] = [_HEADER]
    append = out.append
    texts: dict[str | None, bytes] = {None: _NULL}  # types, sessions, agents repeat: encode each once
    for e in events:
        type_, session, agent = e.type, e.session, e.agent
        t = texts.get(type_)
        if t is None:
            t = texts[type_] = _text(type_)
        s = texts.get(session)
        if s is None:
            s = texts[session] = _text(session)
        a = texts.get(agent)
        if a is None:
            a = texts[agent] = _text(agent)
        us = _micros(e.ts)
        crc = e.crc.encode() if e.crc.isascii() else b""
        data = bytes(e.data)
        if b"\\u0000" in data:
            data = _payload(data)
        append(lead)
        append(seq_ts(8, e.seq, 8, us) if us is not None else seq_no_ts(8, e.seq, _NULL))
        append(t)
        append(s)
        append(a)
        append(v_pack(4, e.v))
        append(_LEN.pack(len(crc)))
        append(crc)
        append(data_pack(len(data) + 1, 1))
        append(data)
    append(_TRAILER)
    return b"".join(out)
