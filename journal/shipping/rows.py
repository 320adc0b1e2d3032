"""Events as rows of PostgreSQL's COPY text format, built in bulk (the shipping hot loop).

One line per event, tab-separated, in `journal.shipping.schema.COLUMNS` order. The
payload is the record's own JSON bytes (never decoded and re-encoded), with
backslashes doubled for COPY; ``jsonb`` cannot hold U+0000, so a payload containing
``\\u0000`` (rare) is decoded once and gets U+FFFD instead. A timestamp PostgreSQL
could not read (a hand-made ``append --ts``) becomes NULL rather than failing a batch.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import msgspec

__all__ = ["copy_rows"]

_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_fromiso = _dt.datetime.fromisoformat
_PAYLOAD = msgspec.json.Decoder()


def _text(value: str | None) -> bytes:
    """A COPY text-format field."""
    if value is None:
        return b"\\N"
    return value.translate(_TEXT_ESCAPES).encode("utf-8", "replace")


def _clean_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean_nul(k): _clean_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_nul(v) for v in value]
    return value


def _payload(data: bytes) -> bytes:
    """The payload as a COPY field: jsonb has no U+0000, so those become U+FFFD (rare path)."""
    if b"\\u0000" in data:
        try:
            data = msgspec.json.encode(_clean_nul(_PAYLOAD.decode(data)))
        except msgspec.DecodeError:
            pass
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    return data


def _ts(ts: str) -> bytes:
    """The timestamp, or NULL if PostgreSQL could not read it (a hand-made ``append --ts``)."""
    if len(ts) == 27 and ts[4] == "-" and ts[10] == "T" and ts[26] == "Z":
        try:
            _fromiso(ts)  # checks month, day, hour ranges too
            return ts.encode("ascii")
        except ValueError:
            return b"\\N"
    try:
        parsed = _fromiso(ts)
    except ValueError:
        return b"\\N"
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.isoformat().encode("ascii")


def copy_rows(journal_id: str, events: list[Any]) -> bytes:
    """COPY text rows for *events* (all columns of `journal.shipping.schema.COLUMNS`, in order)."""
    jid = journal_id.encode("ascii")
    out: list[bytes] = []
    append = out.append
    texts: dict[str | None, bytes] = {None: b"\\N"}  # types, sessions, agents repeat: escape each once
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
        data = bytes(e.data)
        if b"\\" in data:
            data = _payload(data)
        crc = e.crc
        append(b"%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n" % (
            jid, e.seq, _ts(e.ts), t, s, a, e.v, crc.encode() if crc.isascii() else b"", data))
    return b"".join(out)
