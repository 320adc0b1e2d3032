"""Record framing: one event is one JSON line that ends in a CRC-32 of itself.

A record looks like::

    {"seq":7,"ts":"2026-11-25T12:00:00.123456Z","type":"PreToolUse","session":"s1","v":1,"data":{...},"crc":"1a2b3c4d"}

The ``crc`` member is always last and fixed width (18 bytes with its comma and the
closing brace), and it covers every byte before it. So a reader verifies a line
without parsing it, any flipped byte is caught, and the line stays valid JSON for
``jq`` and ``grep``. Encoding uses the stdlib's C JSON encoder on purpose (through
`journal.cjson`, which spares the import of `json` and `re`): this module is on
the hook's hot path, where importing msgspec would cost ~15-20 ms per hook process (see
bench/hook_latency.py); readers decode with msgspec.
"""

from __future__ import annotations

import time

from journal.errors import InvalidEvent
from journal.cjson import dumps

import sys

if sys.flags.no_site and sys.flags.isolated:
    # The hook (``python3 -I -S``): it frames one small record, where zlib's CRC is as good
    # and looking for isal (not even on the path, except in a pip install) costs more.
    from zlib import crc32
else:
    try:
        # ISA-L's CRC-32 (python-isal): the same function as zlib.crc32, same values, 12x
        # faster on a 256 KiB read and 4-6x on one record here (bench/crc_speed.py). It is
        # a dependency of the package; zlib's is the fallback.
        from isal.isal_zlib import crc32
    except ImportError:  # pragma: no cover - depends on the interpreter's path
        from zlib import crc32

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's hot path
if TYPE_CHECKING:
    from typing import Any, Iterable

__all__ = [
    "SCHEMA_VERSION",
    "crc32",
    "CRC_SUFFIX_LEN",
    "CRC_MARK",
    "SEQ_PREFIX",
    "encode_data",
    "encode_record",
    "frame",
    "renumber",
    "check_line",
    "check_lines",
    "peek_seq",
    "now_ts",
    "valid_type",
]

#: Version of the envelope written by this code; readers upcast older ones.
SCHEMA_VERSION = 1

#: ``,"crc":"xxxxxxxx"}`` - the fixed-width tail of every record (without ``\n``).
CRC_SUFFIX_LEN = 18
CRC_MARK = b',"crc":"'
SEQ_PREFIX = b'{"seq":'

_SEPARATORS = (",", ":")


def _utf8(value: Any) -> str:
    return dumps(value, ensure_ascii=False, separators=_SEPARATORS, allow_nan=False)


#: (second, its ``YYYY-MM-DDTHH:MM:SS`` text) of the last `now_ts`: appends in the same second reuse it.
_second: tuple[int, str] = (-1, "")


def now_ts(ns: int | None = None) -> str:
    """Return the current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sortable as text)."""
    global _second
    if ns is None:
        ns = time.time_ns()
    sec, rem = divmod(ns, 1_000_000_000)
    second = _second  # one read: another thread may replace it meanwhile
    if second[0] != sec:
        second = _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return second[1] + ".%06dZ" % (rem // 1000)


def _dumps(value: Any) -> bytes:
    try:
        text = _utf8(value)
    except (TypeError, ValueError) as e:
        raise InvalidEvent(f"event data is not JSON-encodable: {e}") from e
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (e.g. from a JSON "\ud800" escape) has no UTF-8 form and
        # strict JSON decoders (msgspec) reject it, so it becomes U+FFFD; a pair that
        # arrived as two halves is joined back into its character.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def encode_data(data: Any) -> bytes:
    """Encode an event payload (a JSON object) to compact JSON bytes."""
    if data is None:
        return b"{}"
    if not isinstance(data, dict):
        raise InvalidEvent(f"event data must be a JSON object, got {type(data).__name__}")
    return _dumps(data)


def valid_type(name: object) -> bool:
    """True if *name* can be an event type: 1-128 printable characters, no spaces."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= 128
        and name.isprintable()
        and not any(c.isspace() for c in name)
    )


#: JSON of event types (valid ones only) and of session and agent ids: they repeat from
#: record to record, so each is encoded once (at most `_REMEMBERED` of each kind kept).
_TYPES: dict[str, bytes] = {}
_IDS: dict[str, bytes] = {}
_REMEMBERED = 1024


def _remember(cache: dict[str, bytes], text: str) -> bytes:
    encoded = _dumps(text)
    if text.__class__ is str:  # a subclass could compare equal yet encode otherwise
        if len(cache) >= _REMEMBERED:
            cache.clear()
        cache[text] = encoded
    return encoded


_DATA_V1 = b',"v":%d,"data":' % SCHEMA_VERSION


def encode_record(
    seq: int,
    ts: str,
    type: str,
    data: bytes,
    *,
    session: str | None = None,
    agent: str | None = None,
    v: int = SCHEMA_VERSION,
) -> bytes:
    """Frame one record: the envelope, the pre-encoded *data* object, the CRC and ``\\n``."""
    type_json = _TYPES.get(type) if type.__class__ is str else None  # types repeat: checked and encoded once
    if type_json is None:
        if not valid_type(type):
            raise InvalidEvent(f"invalid event type {type!r}: use 1-128 printable characters without spaces")
        type_json = _remember(_TYPES, type)
    # ts goes into the line unescaped (it is fixed-format text); a quote, a backslash or
    # a non-ASCII character would make a CRC-valid record that no reader can decode.
    if not (isinstance(ts, str) and ts.isascii() and ts.isprintable() and '"' not in ts and "\\" not in ts):
        raise InvalidEvent(f"invalid timestamp {ts!r}: use UTC ISO 8601 text such as {now_ts(0)!r}")
    head = b'{"seq":%d,"ts":"%s","type":%s' % (seq, ts.encode("ascii"), type_json)
    if session is not None:  # readers decode the ids as text
        if not isinstance(session, str):
            raise InvalidEvent(f"session id must be a string, got {session.__class__.__name__}")
        head += b',"session":' + (_IDS.get(session) or _remember(_IDS, session))
    if agent is not None:
        if not isinstance(agent, str):
            raise InvalidEvent(f"agent id must be a string, got {agent.__class__.__name__}")
        head += b',"agent":' + (_IDS.get(agent) or _remember(_IDS, agent))
    return frame(b"".join((head, _DATA_V1 if v == SCHEMA_VERSION else b',"v":%d,"data":' % v, data)), b"\n")


def frame(body: bytes, end: bytes = b"") -> bytes:
    """Close the JSON object *body* (without its ``}``) with the CRC of its bytes, then *end*."""
    return body + b',"crc":"%08x"}%s' % (crc32(body), end)


def renumber(line: bytes, seq: int, src: str | None = None) -> bytes:
    """Give a verified record line (without ``\\n``) a new seq (and a source tag); re-CRC it."""
    end = line.index(b",", len(SEQ_PREFIX))
    body = SEQ_PREFIX + b"%d" % seq
    if src is not None:
        body += b',"src":' + _dumps(src)
    body += line[end:-CRC_SUFFIX_LEN]
    return frame(body, b"\n")


def check_lines(lines: Iterable[bytes]) -> bool:
    """True if every one of *lines* (without its ``\\n``) is a complete record whose CRC matches.

    The one definition of the record check: the reader runs it over a chunk's lines at
    once (a call per line would cost a third more on its per-record path), `check_line`
    over one. The whole ``,"crc":"<8 hex>"}`` suffix is compared as text: int(..., 16)
    would also accept "A-F", " ", "_" and "+", so some flipped CRC digits would go unnoticed.
    """
    return all(
        line[-CRC_SUFFIX_LEN:] == b',"crc":"%08x"}' % crc32(line[:-CRC_SUFFIX_LEN]) and len(line) >= 40
        for line in lines
    )


def check_line(line: bytes) -> bool:
    """True if *line* (without its ``\\n``) is a complete record whose CRC matches (`check_lines`)."""
    return check_lines((line,))


def peek_seq(line: bytes) -> int | None:
    """Read the seq from the start of a (possibly damaged) line, or None if it is unreadable."""
    if not line.startswith(SEQ_PREFIX):
        return None
    end = line.find(b",", len(SEQ_PREFIX), len(SEQ_PREFIX) + 21)
    if end < 0:
        return None
    digits = line[len(SEQ_PREFIX):end]
    return int(digits) if digits.isdigit() else None
