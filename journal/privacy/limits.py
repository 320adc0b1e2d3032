"""Size limits for journal events: long strings are cut, oversized events shrunk, in linear time.

One huge tool output must not bloat the journal, and the hook that records it must finish
fast. Pure (no I/O), stdlib only and cheap to import: it runs in the hook process.

``max_string`` counts characters (``len``), which needs no encoding and keeps slicing safe;
a longer string becomes ``<head>…[TRUNCATED: original <n> chars, sha256 <hex>]…<tail>``,
where ``n`` and the hash describe the whole original string as it arrived (before any
redaction, see `journal.privacy.redaction`). A string stays a string, so types never change.
``max_event`` counts the UTF-8 bytes of the compact JSON encoding (what the writer stores).
Containers nested deeper than `MAX_DEPTH` become ``[OMITTED: ... nested deeper than ...]``.

How an event is brought under ``max_event``
--------------------------------------------
1. Sizes are measured bottom-up in one pass, without copying anything: the encoded size of
   the event with strings cut to ``max_string``, and its *floor*, the size if every string
   longer than `_MIN_CAP` bytes were cut to that.
2. If even the floor is over the budget, cutting strings cannot be enough, so containers
   are summarized first, as ``[OMITTED: list with <n> items, <b> bytes]``: the smallest
   one whose removal is enough, else the largest ones in turn. Only containers of at least
   ``max_event / 256`` bytes are candidates, which bounds the bookkeeping. If that is not
   enough either, top-level keys are dropped (largest first; from the end when there are
   more than `_WIDE`), never those in `KEEP_KEYS`, and then kept values over `_MIN_CAP`
   bytes are summarized. A non-dict event that is still too big becomes one summary.
3. The surviving strings are cut to one common cap, just low enough to fit ("water
   filling"): the largest strings shrink, the small ones are kept whole.
4. One copy of what survives is built; a summarized subtree is never copied or scanned.

Each step is linear in the size of the event (sorting aside), so a 17 MB tool response
costs one measuring pass and a copy of the 256 KB that is kept. `shrink` takes a ``scrub``
callback through which `journal.privacy.redaction.sanitize` redacts exactly the strings, and the
parts of strings, that are kept.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    #: What a cut string is cut from: head source, tail source, the original string (the
    #: note gives its length and sha256), and the cut string itself (which also keeps its
    #: ``id``, the key of a pieces table, from being reused).
    Pieces = tuple[str, str, str, str]
    #: (string, its dict key or "", characters per side that will be kept, or None for
    #: the whole string) -> the redacted string, or redacted (head window, tail window).
    Scrub = Callable[[str, str, "int | None"], "str | tuple[str, str]"]

__all__ = [
    "DEFAULT_MAX_EVENT",
    "DEFAULT_MAX_STRING",
    "KEEP_KEYS",
    "MAX_DEPTH",
    "MIN_MAX_EVENT",
    "MIN_MAX_STRING",
    "limit",
]

DEFAULT_MAX_STRING = 16 * 1024
DEFAULT_MAX_EVENT = 256 * 1024
#: The smallest limits that still leave room for a truncation note and the kept keys.
MIN_MAX_STRING = 256
MIN_MAX_EVENT = 1024
#: Top-level keys that `limit` never drops: without them an event cannot be attributed.
KEEP_KEYS = ("session_id", "hook_event_name", "agent_id", "tool_use_id", "tool_name")
#: Containers deeper than this are replaced by a marker string; writers recurse.
MAX_DEPTH = 100

# Water filling never shrinks a string below this many encoded bytes (note + some context).
_MIN_CAP = 160
# Strings this short encode to at most _MIN_CAP bytes (6 a character): never cut.
_SHORT = (_MIN_CAP - 2) // 6
# The most bytes a summary marker takes; it decides which container is "enough".
_SUMMARY_ROOM = 80
# A root with more children than this drops them from the end instead of sorting them.
_WIDE = 10_000
_DEEP = {kind: f"[OMITTED: {kind} nested deeper than {MAX_DEPTH} levels]" for kind in ("dict", "list")}
_DEEP_SIZE = len(_DEEP["dict"]) + 2
# Every byte JSON writes verbatim; deleting them leaves the ones that need an escape.
_UNESCAPED = bytes(c for c in range(256) if c >= 0x20 and c not in b'"\\')
_ELLIPSIS = "\u2026"
_HUGE_INT = 10**15


def check_limit(where: str, value: Any, minimum: int) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise ValueError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}: expected an integer >= {minimum}, got {value!r}")
    return value


def sha256_hex(text: str) -> str:
    """The sha256 of the UTF-8 bytes of ``text`` (lone surrogates kept), in hex."""
    # Only once a secret or a long string shows up. The built-in module, not hashlib, which
    # loads OpenSSL: 2.9-4.3 ms against 0.27-0.35 ms (-X importtime, -I -S), paid by a hook that redacts.
    try:
        from _sha256 import sha256  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # pragma: no cover - another Python implementation
        from hashlib import sha256

    digest: str = sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return digest


def str_size(s: str) -> int:
    """Bytes of ``s`` as a compact JSON string (UTF-8, quotes and escapes included)."""
    data = s.encode("utf-8", "surrogatepass")
    escaped = data.translate(None, _UNESCAPED)  # bytes.translate: ~1 ns a byte
    if not escaped:
        return len(data) + 2
    # Each escaped char takes one more byte (\n, \"), rare controls five more (\u001b).
    return len(data) + 2 + len(escaped) + 4 * len(escaped.translate(None, b'"\\\n\t\r\b\f'))


def _scalar_size(value: Any) -> int:
    """An upper bound of the encoded size of a non-container, non-string value."""
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, int):
        # str() of huge ints raises (int_max_str_digits); bits * log10(2) bounds the digits.
        return len(str(value)) if -_HUGE_INT < value < _HUGE_INT else value.bit_length() * 30103 // 100000 + 2
    if isinstance(value, float):
        return len(repr(value)) if value - value == 0 else 9  # finite (inf - inf and nan are nan)
    return len(repr(value)) + 2


def _key_size(key: Any) -> int:
    return str_size(key) if isinstance(key, str) else _scalar_size(key) + 2


def fits(obj: Any, max_string: int, max_event: int, *, deep: bool = False) -> bool:
    """Cheap proof that ``obj`` needs no cut: short strings, shallow (unless ``deep``), small.

    Sizes are bounded by 6 bytes a character (the longest JSON escape, ``\\u001f``), so
    the common case costs a ``len`` per string instead of an exact encoded size. The walk
    is depth first, one iterator per level, and stops as soon as the bound is over
    ``max_event``: its time and memory do not grow with what lies beyond the budget.
    """
    if isinstance(obj, str):
        return len(obj) <= max_string and 6 * len(obj) + 2 <= max_event
    if not isinstance(obj, (dict, list, tuple)):
        return _scalar_size(obj) <= max_event
    total = 0
    stack: list[tuple[Any, int]] = []
    node, depth = obj, 0
    while True:
        # Enter ``node``: brackets, commas and keys now, its values one by one below.
        total += 1 + max(len(node), 1)
        if total > max_event:
            return False  # before looking at the items of a wide container
        if isinstance(node, dict):
            for key in node:
                if isinstance(key, str):
                    if len(key) > max_string:
                        return False
                    total += 6 * len(key) + 3
                else:
                    total += _scalar_size(key) + 3
            stack.append((iter(node.values()), depth))
        else:
            stack.append((iter(node), depth))
        if total > max_event:
            return False
        while stack:
            children, depth = stack[-1]
            for child in children:
                if isinstance(child, str):
                    if len(child) > max_string:
                        return False
                    total += 6 * len(child) + 2
                    if total > max_event:
                        return False
                elif isinstance(child, (dict, list, tuple)):
                    depth += 1
                    if depth >= MAX_DEPTH and not deep:
                        return False
                    node = child
                    break
                else:
                    total += _scalar_size(child)
            else:
                stack.pop()
                continue
            break
        else:
            return total <= max_event


# --------------------------------------------------------------------------- cutting strings


def _note(length: int, digest: str) -> str:
    return f"{_ELLIPSIS}[TRUNCATED: original {length} chars, sha256 {digest}]{_ELLIPSIS}"


def _note_len(length: int) -> int:
    return len(_note(length, "0" * 64))


def _fit(piece: str, budget: int, from_end: bool) -> str:
    """The longest head (or tail) of ``piece`` whose JSON body fits in ``budget`` bytes."""
    k = min(len(piece), budget)
    while k > 0:
        part = piece[len(piece) - k :] if from_end else piece[:k]
        size = str_size(part) - 2
        if size <= budget:
            return part
        k = min(k - 1, k * budget // size)
    return ""


def _halves(room: int) -> tuple[int, int]:
    return room - room // 2, room // 2


def _cut(head: str, tail: str, original: str, max_chars: int, max_bytes: int | None = None) -> str:
    """``original`` cut to ``max_chars`` characters (and ``max_bytes`` encoded bytes):
    a prefix of ``head``, the note, a suffix of ``tail``."""
    note = _note(len(original), sha256_hex(original))
    h, t = _halves(max(max_chars - len(note), 0))
    head, tail = head[:h], (tail[len(tail) - t :] if t else "")
    if max_bytes is not None:
        h, t = _halves(max(max_bytes - str_size(note), 0))
        head, tail = _fit(head, h, from_end=False), (_fit(tail, t, from_end=True) if t else "")
    return head + note + tail


def _cut_size(s: str, max_chars: int) -> int:
    """The encoded size of ``_cut(s, s, s, max_chars)``, without hashing ``s``."""
    note = _note_len(len(s))
    h, t = _halves(max(max_chars - note, 0))
    # Bodies of head and tail, the note (two 3-byte ellipses), two quotes.
    return str_size(s[:h]) + (str_size(s[len(s) - t :]) if t else 2) - 4 + note + 4 + 2


def _window(length: int, max_chars: int, cap: int | None) -> int:
    """How many characters a cut of a ``length``-character string keeps at most per side."""
    note = _note_len(length)
    side = _halves(max(max_chars - note, 0))[0]
    if cap is not None:
        side = min(side, _halves(max(cap - note - 6, 0))[0])
    return side


def _summary(value: Any, size: int) -> str:
    if isinstance(value, dict):
        return f"[OMITTED: dict with {len(value)} keys, {size} bytes]"
    if isinstance(value, (list, tuple)):
        return f"[OMITTED: list with {len(value)} items, {size} bytes]"
    return f"[OMITTED: {type(value).__name__} of {size} bytes]"


# ------------------------------------------------------------------------------- measuring


class _Sizes:
    """Encoded sizes of a JSON-like value, measured bottom-up in one pass, without a copy.

    ``total``: bytes once strings are cut to ``max_string`` and deep containers replaced;
    ``saving``: what cutting every string over `_MIN_CAP` bytes to that would save more.
    ``bigs``: one ``[container, size, saving, parent index]`` per container of at least
    ``big`` bytes, children before parents; ``weights``: for a dict root, the bytes of
    each item (key, colon, value); ``longs``: sizes of strings over `_MIN_CAP` bytes, while
    there are at most ``max_long``. ``omit`` and ``drop`` (see `_plan`) measure what is
    left once they are applied. Recursion is bounded by `MAX_DEPTH`.
    """

    __slots__ = ("total", "saving", "changed", "bigs", "weights", "child_saving", "child_big", "longs")

    def __init__(
        self,
        obj: Any,
        max_string: int,
        big: int,
        max_long: int,
        omit: dict[int, str] | None = None,
        drop: dict[int, str | None] | None = None,
    ) -> None:
        bigs: list[list[Any]] = []
        orphans: list[int] = []  # recorded containers whose parent is still being measured
        longs: list[int] = []
        key_sizes: dict[Any, int] = {}
        saving = 0
        changed = False

        def string(s: str) -> int:
            nonlocal saving, changed
            if len(s) > max_string:
                changed = True
                size = _cut_size(s, max_string)
            else:
                size = str_size(s)
            if size > _MIN_CAP:
                saving += size - _MIN_CAP
                if len(longs) <= max_long:
                    longs.append(size)
            return size

        def key(k: Any) -> int:
            nonlocal changed
            if isinstance(k, str) and len(k) > max_string:
                changed = True
                return _cut_size(k, max_string) + 1
            if len(key_sizes) >= 4096:
                key_sizes.clear()
            size = key_sizes[k] = _key_size(k) + 1
            return size

        def value(v: Any, depth: int) -> int:
            if isinstance(v, str):
                return string(v)
            if isinstance(v, (dict, list, tuple)):
                if omit is not None and id(v) in omit:
                    return len(omit[id(v)]) + 2
                return container(v, depth)
            return _scalar_size(v)

        def container(node: Any, depth: int) -> int:
            nonlocal changed
            if depth >= MAX_DEPTH:
                changed = True
                return _DEEP_SIZE
            before, mark = saving, len(orphans)
            size = 1 + (len(node) or 1)  # brackets and commas
            deeper = depth + 1
            # The hot loop: exact types first, anything else through `value`.
            if isinstance(node, dict):
                for k, v in node.items():
                    size += key_sizes.get(k) or key(k) if type(k) is str else key(k)
                    t = type(v)
                    if t is str:
                        size += str_size(v) if len(v) <= _SHORT else string(v)
                    elif (t is dict or t is list) and (omit is None or id(v) not in omit):
                        size += container(v, deeper)
                    elif t is int and -_HUGE_INT < v < _HUGE_INT:
                        size += len(repr(v))
                    else:
                        size += value(v, deeper)
            else:
                for v in node:
                    t = type(v)
                    if t is str:
                        size += str_size(v) if len(v) <= _SHORT else string(v)
                    elif (t is dict or t is list) and (omit is None or id(v) not in omit):
                        size += container(v, deeper)
                    elif t is int and -_HUGE_INT < v < _HUGE_INT:
                        size += len(repr(v))
                    else:
                        size += value(v, deeper)
            if size >= big:
                index = len(bigs)
                for child in orphans[mark:]:
                    bigs[child][3] = index
                del orphans[mark:]
                orphans.append(index)
                bigs.append([node, size, saving - before, -1])
            return size

        self.weights: list[int] = []
        self.child_saving: dict[int, int] = {}  # dict root: item index -> its saving, if any
        self.child_big: dict[int, int] = {}  # dict root: bigs index -> item index
        if isinstance(obj, dict):
            before, mark = saving, len(orphans)
            kept = 0
            size = 2
            for index, (k, v) in enumerate(obj.items()):
                if drop is not None and index in drop:
                    replacement = drop[index]
                    if replacement is None:
                        continue
                    weight = key(k) + len(replacement) + 2
                else:
                    item_saving, count = saving, len(bigs)
                    weight = key(k) + value(v, 1)
                    if saving != item_saving:
                        self.child_saving[index] = saving - item_saving
                    if len(bigs) > count and bigs[-1][0] is v:
                        self.child_big[len(bigs) - 1] = index
                self.weights.append(weight)
                size += weight
                kept += 1
            size += max(kept - 1, 0)
            if size >= big:
                for child in orphans[mark:]:
                    bigs[child][3] = len(bigs)
                bigs.append([obj, size, saving - before, -1])
            self.total = size
        else:
            self.total = value(obj, 0)
        self.saving, self.changed, self.bigs, self.longs = saving, changed, bigs, longs


# -------------------------------------------------------------------------------- planning


def _plan(obj: Any, sizes: _Sizes, max_event: int, keep: tuple[str, ...]) -> Any:
    """What to omit when even the floor of ``sizes`` is over ``max_event`` (step 2 above).

    Return ``(omit, drop)``: summaries by container id, and dropped (None) or summarized
    items of a dict root by position; or the summary that replaces a non-dict root.
    """
    bigs = sizes.bigs
    floor = sizes.total - sizes.saving
    root = len(bigs) - 1 if bigs and bigs[-1][0] is obj else -1
    omit: dict[int, str] = {}
    dead: set[int] = set()
    reduced: dict[int, int] = {}  # dict root: item index -> floor bytes its summaries saved

    def summarize(i: int) -> None:
        nonlocal floor
        node, size, saving, _ = bigs[i]
        text = omit[id(node)] = _summary(node, size)
        dead.add(i)
        gain = size - saving - len(text) - 2
        floor -= gain
        while bigs[i][3] != root:
            i = bigs[i][3]
        if i in sizes.child_big:
            item = sizes.child_big[i]
            reduced[item] = reduced.get(item, 0) + gain

    def alive(i: int) -> bool:
        while i != -1:
            if i in dead:
                return False
            i = bigs[i][3]
        return True

    def floor_of(i: int) -> int:
        return bigs[i][1] - bigs[i][2]  # type: ignore[no-any-return]

    candidates = [i for i in range(len(bigs)) if i != root]
    excess = floor - max_event
    enough = [i for i in candidates if floor_of(i) - _SUMMARY_ROOM >= excess]
    if enough:
        summarize(min(enough, key=floor_of))
    else:
        for i in sorted(candidates, key=floor_of, reverse=True):
            if floor <= max_event:
                break
            if alive(i):
                summarize(i)
    if floor <= max_event:
        return omit, None
    if not isinstance(obj, dict):
        return _summary(obj, sizes.total)
    # The root must give way: drop items, then summarize what is kept.
    keys = list(obj)
    items = [sizes.weights[i] - sizes.child_saving.get(i, 0) - reduced.get(i, 0) for i in range(len(keys))]
    drop: dict[int, str | None] = {}
    left = len(keys)
    if len(keys) <= _WIDE:
        order: Any = sorted(range(len(keys)), key=items.__getitem__, reverse=True)
    else:
        order = range(len(keys) - 1, -1, -1)
    for i in order:
        if floor <= max_event:
            break
        if keys[i] in keep:
            continue
        drop[i] = None
        floor -= items[i] + (1 if left > 1 else 0)  # and its comma
        left -= 1
    for i, k in enumerate(keys):
        if floor <= max_event:
            break
        value_floor = items[i] - _key_size(k) - 1
        if i not in drop and value_floor > _MIN_CAP and not isinstance(obj[k], str):
            text = drop[i] = _summary(obj[k], sizes.weights[i] - _key_size(k) - 1)
            floor -= value_floor - len(text) - 2
    return omit, drop


def _water_level(longs: list[int], total: int, max_event: int) -> int:
    """The cap that cuts the largest strings just enough to remove the excess (step 3)."""
    excess = total - max_event
    sizes = sorted(longs, reverse=True)
    prefix = 0
    for j, size in enumerate(sizes, 1):
        prefix += size
        best = (prefix - excess) // j  # the cap that removes exactly the excess
        if best >= (sizes[j] if j < len(sizes) else _MIN_CAP):
            return max(best, _MIN_CAP)
    return _MIN_CAP


# -------------------------------------------------------------------------------- building


class _Builder:
    """Builds the one copy of what survives: summaries in, strings cut and scrubbed (step 4)."""

    __slots__ = ("max_string", "cap", "omit", "drop", "scrub", "pieces", "table", "cut")

    def __init__(
        self,
        max_string: int,
        cap: int | None,
        omit: dict[int, str] | None,
        drop: dict[int, str | None] | None,
        scrub: Scrub | None,
        pieces: dict[int, Pieces] | None,
        table: dict[int, Pieces] | None,
    ) -> None:
        self.max_string, self.cap, self.omit, self.drop = max_string, cap, omit, drop
        self.scrub, self.pieces, self.table = scrub, pieces, table
        self.cut = False

    def text(self, s: str, key: str, cap: int | None) -> str:
        scrub = self.scrub
        if len(s) <= self.max_string and (cap is None or 6 * len(s) + 2 <= cap or str_size(s) <= cap):
            return s if scrub is None else scrub(s, key, None)  # type: ignore[return-value]
        source = None if self.pieces is None else self.pieces.get(id(s))
        if source is not None and source[3] is s:
            head, tail, original, _ = source
        else:
            head = tail = original = s
            if scrub is not None:
                kept = scrub(s, key, _window(len(s), self.max_string, cap))
                if isinstance(kept, str):  # scanned whole: it may fit now (a marker, say)
                    if len(kept) <= self.max_string and (cap is None or str_size(kept) <= cap):
                        return kept
                    head = tail = kept
                else:
                    head, tail = kept
        self.cut = True
        out = _cut(head, tail, original, self.max_string, cap)
        if self.table is not None:
            self.table[id(out)] = (head, tail, original, out)
        return out

    def key(self, k: Any) -> Any:
        if not isinstance(k, str):
            return k
        if len(k) > self.max_string:
            return self.text(k, "", None)  # keys are never water-filled
        return k if self.scrub is None else self.scrub(k, "", None)

    def value(self, v: Any, key: str, depth: int) -> Any:
        if isinstance(v, str):
            return self.text(v, key, self.cap)
        if isinstance(v, (dict, list, tuple)):
            if self.omit is not None and id(v) in self.omit:
                return self.omit[id(v)]
            return self.container(v, depth)
        return v

    def container(self, node: Any, depth: int) -> Any:
        if depth >= MAX_DEPTH:
            self.cut = True
            return _DEEP["dict" if isinstance(node, dict) else "list"]
        if not isinstance(node, dict):
            return [self.value(v, "", depth + 1) for v in node]
        out = {}
        drop = self.drop if depth == 0 else None
        for index, (k, v) in enumerate(node.items()):
            if drop is not None and index in drop:
                replacement = drop[index]
                if replacement is None:
                    continue
                out[self.key(k)] = replacement
                continue
            k = self.key(k)
            out[k] = self.value(v, k if isinstance(k, str) else "", depth + 1)
        return out


def shrink(
    obj: Any,
    max_string: int,
    max_event: int,
    keep: tuple[str, ...] = KEEP_KEYS,
    *,
    scrub: Scrub | None = None,
    pieces: dict[int, Pieces] | None = None,
    table: dict[int, Pieces] | None = None,
) -> tuple[Any, bool]:
    """The work of `limit`, for `journal.privacy.redaction`: return the value and whether it was cut.

    ``scrub`` redacts each kept string (or its kept head and tail) and is applied even if
    nothing is cut; ``pieces`` (by ``id`` of a string in ``obj``) says what an already-cut
    string can be cut again from; ``table`` receives the pieces of the strings cut here.
    """
    big = max(max_event // 256, 64)
    max_long = max_event // _MIN_CAP + 1
    sizes = _Sizes(obj, max_string, big, max_long)
    omit = drop = None
    if sizes.total - sizes.saving > max_event:  # cutting strings cannot be enough
        plan = _plan(obj, sizes, max_event, keep)
        if isinstance(plan, str):
            return plan, True
        omit, drop = plan
        sizes = _Sizes(obj, max_string, sizes.total + 1, max_long, omit, drop)
    cap = _water_level(sizes.longs, sizes.total, max_event) if sizes.total > max_event else None
    if not (sizes.changed or omit or drop or cap or scrub):
        return obj, False
    builder = _Builder(max_string, cap, omit, drop, scrub, pieces, table)
    out = builder.value(obj, "", 0)
    # Not sizes.changed: a long string that redaction turned into one marker was not cut.
    return out, bool(omit or drop) or builder.cut


def limit(
    obj: Any,
    max_string: int = DEFAULT_MAX_STRING,
    max_event: int = DEFAULT_MAX_EVENT,
    *,
    keep: tuple[str, ...] = KEEP_KEYS,
) -> tuple[Any, bool]:
    """Cap string lengths and the encoded event size; return the value and whether it changed.

    An unchanged value is returned as is (no copy). See the module docstring for the order
    in which things are cut. Raise ValueError if a limit is below `MIN_MAX_STRING` or
    `MIN_MAX_EVENT`.
    """
    check_limit("max_string", max_string, MIN_MAX_STRING)
    check_limit("max_event", max_event, MIN_MAX_EVENT)
    if fits(obj, max_string, max_event):
        return obj, False
    return shrink(obj, max_string, max_event, keep)
