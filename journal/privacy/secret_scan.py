"""What a detector is and what it runs on: `Detector` (a regex, the cheap tests that skip
it, a resolver), `span` (the plain resolver), the `Scan` that one pass over a string shares
between resolvers, and the gate masks that skip detectors a string cannot match.

The detectors themselves, and why each costs linear time, are in `journal.privacy.secrets_patterns`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

    Span = tuple[str, int, int]
    Resolve = Callable[["re.Match[str]", str, "Scan"], "Span | None"]

__all__ = ["MIN_CANDIDATE", "Detector", "Scan", "candidate_mask", "shapes_patterns", "span"]


class Scan:
    """One redaction pass over one string: the spans claimed so far, and what resolvers
    remember between matches so that none of them rescans text (see `journal.privacy.secrets_patterns`)."""

    __slots__ = (
        "text", "taken", "spans", "next_key", "next_key_end", "next_key_named", "absorb_end",
        "block_end", "end_from", "end_match",
    )

    def __init__(self, text: str) -> None:
        self.text = text
        self.taken: bytearray | None = None  # 1 where a span is claimed
        self.spans: list[tuple[int, int, str | None]] = []  # kind None: a marker already there
        self.next_key = self.next_key_end = len(text)  # assignments: the key on the right,
        self.next_key_named = True  # ... whether it reads like a name,
        self.absorb_end = -1  # ... and where its value ends, when it has none of its own
        self.block_end = 0  # PEM: the end of the last block scanned
        self.end_from = -1  # PEM: where the last END search started, and what it found
        self.end_match: re.Match[str] | None = None

    def claim(self, start: int, end: int, kind: str | None) -> None:
        if self.taken is None:
            self.taken = bytearray(len(self.text))
        self.taken[start:end] = b"\x01" * (end - start)
        self.spans.append((start, end, kind))

    def overlaps(self, start: int, end: int) -> bool:
        return self.taken is not None and self.taken.find(1, start, end) >= 0

    def first_taken(self, start: int, end: int) -> int:
        return -1 if self.taken is None else self.taken.find(1, start, end)


class Detector:
    """One secret shape: a regex, cheap trigger substrings, and a resolver for the span."""

    __slots__ = ("pattern", "flags", "_regex", "mask", "needles", "pretest", "lower", "reverse", "left", "resolve",
                 "user", "shape")

    def __init__(
        self,
        pattern: str,
        resolve: Resolve,
        gate: str = "",
        needles: tuple[str, ...] = (),
        *,
        lower: bool = False,
        reverse: bool = False,
        left: frozenset[str] = frozenset(),
        flags: int = 0,
        user: bool = False,
        pretest: Callable[[str], bool] | None = None,
        shape: tuple[str, ...] = (),
    ) -> None:
        self.pattern = pattern
        self.flags = flags
        self._regex: re.Pattern[str] | None = None
        self.resolve = resolve
        # Characters one of which must occur, else the regex is skipped (see `gate_mask`).
        self.mask = gate_mask(gate)
        # Substrings one of which must occur, tested after the gate: cheaper than a regex
        # call, and in a short-lived hook process they spare compiling regexes not needed.
        self.needles = needles
        # A string test every match passes, run after the needles: where a needle is common
        # ("." in paths), it spares the regex (and importing `re`) on strings it rules out.
        self.pretest = pretest
        self.lower = lower or reverse  # pattern is lowercase and runs on the lowercased text
        self.reverse = reverse  # ... reversed: `resolve` gets positions in the reversed text
        self.left = left  # characters that must not precede the match (word boundary)
        self.user = user  # a pattern from the config: run in bounded windows, under a time budget
        # Regexes, one of which matches the lowercased text wherever ``pattern`` finds
        # something (see `shapes_patterns`); by default the needles, which every match holds.
        if not shape and needles:
            shape = tuple(_escape(n.lower()[:: -1 if reverse else 1]) for n in needles)
        self.shape = shape

    @property
    def regex(self) -> re.Pattern[str]:
        if self._regex is None:  # compiled on first use, see `journal.privacy.secret_heuristics.lazy`
            import re

            self._regex = re.compile(self.pattern, self.flags)
        return self._regex


def _escape(literal: str) -> str:
    return "".join("\\" + c if c in _SPECIAL else c for c in literal)


_SPECIAL = frozenset(".^$*+?{}[]\\|()")


def shapes_patterns(detectors: tuple[Detector, ...]) -> tuple[list[str], list[str]] | None:
    """Regexes for the lowercased text and for it reversed, one of which finds something
    in every string where one of ``detectors`` could; None if one of them has no shape.

    A detector's shape is a necessary condition of its finding anything, written for the
    lowercased text (reversed, for a detector that runs on the reversed text): wherever
    its regex matches a string (or the lowercased or reversed form it runs on), one of its
    shapes matches ``text.lower()``, or ``text.translate(ASCII lowercase)`` for non-ASCII
    text. Where neither regex finds anything, no detector changes the string: two
    C-level searches replace the per-detector gate, needle and pretest checks for most
    strings, and the rest take the full path (`tests/privacy/test_fast_path.py` holds
    every detector to its shape, on the corpus and on generated text).

    Each shape starts with one literal character, its anchor, picked rare (``-``, ``_``,
    ``.``, ``z``; look-behinds check what comes before it) or shared with other shapes
    (every distinct anchor costs an attempt wherever it occurs), then, if it likes, a
    look-ahead guard. Shapes are grouped by anchor and guard, one regex per group: `re` skips to
    the next occurrence of a regex's first character at C speed (not so for a set of
    first characters), and tries a group's shapes only where its guard holds
    (``_(?=[a-z0-9_-]{16})``: a long token follows). The alternation of a list finds
    what one of its regexes finds: one search is cheaper on short strings.
    """
    groups: tuple[dict[str, list[str]], dict[str, list[str]]] = ({}, {})
    for det in detectors:
        if not det.shape:
            return None
        for shape in det.shape:
            head = 2 if shape[0] == "\\" else 1
            if shape.startswith("(?=", head):
                head = _group_end(shape, head)
            groups[det.reverse].setdefault(shape[:head], []).append(shape[head:])
    forward, backward = ([f"{head}(?:{'|'.join(rests)})" for head, rests in group.items()] for group in groups)
    return forward, backward


def _group_end(pattern: str, start: int) -> int:
    """The index after the group that opens at ``pattern[start]`` (escapes and classes skipped)."""
    depth = 0
    i = start
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if not depth:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced group in shape {pattern!r}")


def span(kind: str, group: int | str = 0, test: Callable[[str], bool] | None = None) -> Resolve:
    """A resolver that redacts ``group`` of the match as ``kind`` (if ``test`` accepts it)."""

    def resolve(m: re.Match[str], s: str, scan: Scan) -> Span | None:
        start, end = m.span(group)
        if test is not None and not test(s[start:end]):
            return None
        return kind, start, end

    return resolve


# Every detector names a gate: characters one of which must occur in a string for its
# regex to be worth running. Testing one character is a memchr, far cheaper than a regex
# scan or a longer substring test; "b" stands for "b" or "B" (bearer).
_GATE_CHARS = "=:@-_/AJ.Sdwb"  # "b" last (see gate_mask)
_SEPARATOR_BITS = 0b111  # "=", ":", "@"
# Strings shorter than this cannot hold any built-in secret shape ("pass=abc" is 8), and
# shorter than _MIN_SHAPE only an assignment, "user:pw@" or "--flag value" (all built-in
# token shapes are at least 20 characters).
MIN_CANDIDATE = 8
_MIN_SHAPE = 20


def gate_mask(s: str) -> int:
    """One bit per gate character present in ``s``."""
    # _GATE_CHARS spelt out (tests/privacy/test_fast_path.py checks it): a loop over
    # them costs twice as much in the interpreter.
    return (
        ("=" in s) | (":" in s) << 1 | ("@" in s) << 2 | ("-" in s) << 3 | ("_" in s) << 4 | ("/" in s) << 5
        | ("A" in s) << 6 | ("J" in s) << 7 | ("." in s) << 8 | ("S" in s) << 9 | ("d" in s) << 10
        | ("w" in s) << 11 | ("b" in s or "B" in s) << 12
    )


def candidate_mask(s: str) -> int:
    """The gate mask of ``s``, or 0 when no built-in detector can match it."""
    n = len(s)
    if n < MIN_CANDIDATE:
        return 0
    mask = gate_mask(s)
    if n < _MIN_SHAPE and not mask & _SEPARATOR_BITS and " " not in s:
        return 0
    return mask
