"""`json.loads` and `json.dumps` through the C accelerator alone, for the hook's hot path.

``import json`` costs a hook about as much as starting the interpreter: `json.decoder`
and `json.encoder` import `re` (and with it `enum`, `functools`, `collections`) for their
pure-Python fallbacks, which CPython never runs when its `_json` extension is there. This
module drives `_json`'s scanner and encoder directly, exactly as `json.JSONDecoder` and
`json.JSONEncoder` do, so results are identical; the `json` package is imported only when
something unusual needs it: an error (to raise the same exception with the same
message), a byte order mark or UTF-16/32 input, ``indent``, or no `_json` at all.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    from _json import encode_basestring as _encode_str
    from _json import encode_basestring_ascii as _encode_ascii
    from _json import make_encoder as _make_encoder
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - another Python implementation
    _make_scanner = _make_encoder = None  # type: ignore[misc,assignment]

__all__ = ["loads", "dumps", "plain_bytes"]

_WS = " \t\n\r"


class _Context:
    """What `_json.make_scanner` reads from a `json.JSONDecoder`."""

    __slots__ = ("strict", "object_hook", "object_pairs_hook", "parse_float", "parse_int", "parse_constant", "memo")

    def __init__(self, parse_float: Callable[[str], Any] | None, parse_constant: Callable[[str], Any] | None) -> None:
        self.strict = True
        self.object_hook = self.object_pairs_hook = None
        self.parse_float = parse_float or float
        self.parse_int = int
        self.parse_constant = parse_constant or _CONSTANTS.__getitem__
        self.memo: dict[str, str] = {}


_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}
_scanners: dict[tuple[Any, Any], Any] = {}


def loads(
    data: bytes | str,
    *,
    parse_float: Callable[[str], Any] | None = None,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """``json.loads(data, parse_float=..., parse_constant=...)``, without importing `json`."""
    if isinstance(data, (bytes, bytearray)):
        # json.detect_encoding: a BOM or a NUL in the first two bytes means another encoding.
        if data[:1] in (b"\xef", b"\xfe", b"\xff", b"\x00") or data[1:2] == b"\x00":
            return _slow_loads(data, parse_float, parse_constant)
        text = data.decode("utf-8", "surrogatepass")
    else:
        text = data
        if text.startswith("\ufeff"):
            return _slow_loads(data, parse_float, parse_constant)
    scan = _scanners.get((parse_float, parse_constant))
    if scan is None:
        if _make_scanner is None:
            return _slow_loads(data, parse_float, parse_constant)
        scan = _scanners[(parse_float, parse_constant)] = _make_scanner(_Context(parse_float, parse_constant))  # type: ignore[arg-type]
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = scan(text, start)
    except (StopIteration, SystemError):
        # Invalid JSON: json raises "Expecting value" for StopIteration, and the scanner
        # builds its other errors from json.decoder, failing with SystemError when that is
        # not imported yet. Either way json itself raises the exact error.
        return _slow_loads(data, parse_float, parse_constant)
    if end != len(text) and text[end:].strip(_WS):  # "Extra data"
        return _slow_loads(data, parse_float, parse_constant)
    return value


def _slow_loads(data: bytes | str, parse_float: Any, parse_constant: Any) -> Any:
    import json

    return json.loads(data, parse_float=parse_float, parse_constant=parse_constant)


def _default(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def dumps(
    value: Any,
    *,
    ensure_ascii: bool = True,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
    allow_nan: bool = True,
    default: Callable[[Any], Any] | None = None,
    indent: int | None = None,
) -> str:
    """``json.dumps`` with these arguments, without importing `json` (unless *indent* is set)."""
    if separators is None:  # json's defaults: no blank before a newline when indenting
        separators = (", ", ": ") if indent is None else (",", ": ")
    if indent is not None or _make_encoder is None:
        import json

        return json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, sort_keys=sort_keys,
                          allow_nan=allow_nan, default=default, indent=indent)
    encode_str = _encode_ascii if ensure_ascii else _encode_str
    if isinstance(value, str):
        return encode_str(value)
    encoder = _make_encoder({}, default or _default, encode_str, None, separators[1], separators[0], sort_keys,
                            False, allow_nan)
    return "".join(encoder(value, 0))


#: msgspec's JSON encoder's ``encode``, once `plain_bytes` first ran (False: no msgspec).
_plain_encode: Any = None


def plain_bytes(value: Any) -> bytes | None:
    """``dumps(value, ensure_ascii=False, separators=(",", ":")).encode()`` by msgspec's
    encoder (~4x faster), or None where msgspec refuses *value* (a lone surrogate, a str
    subclass, a bool key) or is missing.

    The same bytes only for plain JSON types: exact dicts with str keys, lists, strs,
    bools, None and ints (``tests/journal/test_plain_encoding.py`` compares them on every
    code point and on generated values). msgspec also writes floats its own way, and
    sets, bytes, tuples and dates that `dumps` refuses: the caller checks the types.
    Imports msgspec (~15 ms) on first use: never on a hook's path.
    """
    global _plain_encode
    encode = _plain_encode
    if encode is None:
        try:
            from msgspec.json import Encoder

            encode = Encoder().encode
        except ImportError:  # pragma: no cover - msgspec is a dependency
            encode = False
        _plain_encode = encode
    if encode is False:  # pragma: no cover
        return None
    try:
        return encode(value)  # type: ignore[no-any-return]
    except Exception:  # what `dumps` may write otherwise or refuse: the caller's encoder decides
        return None
