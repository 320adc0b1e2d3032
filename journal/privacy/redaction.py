"""Secret redaction, applied with the size limits to every hook payload before it is written.

Hook payloads carry prompts, shell commands, tool outputs and environment dumps, and all of
them routinely contain credentials; a journal lives for a long time and gets copied around.
So secrets are removed at the door, and sizes are capped (`journal.privacy.limits`) so that one
huge tool output cannot bloat the journal. Pure (no I/O), stdlib only, and cheap to import:
it runs in the hook process twice per tool call. The shapes it looks for are in
`journal.privacy.secrets_patterns`, how a value is judged in `journal.privacy.secret_heuristics`, and the
configuration (`RedactionConfig`) in `journal.privacy.redaction_config`.

Markers
-------
A secret is replaced by ``[REDACTED:<kind>:<hash8>]``, e.g. ``[REDACTED:github_token:3f2a9c1b]``.

* ``kind`` names what was removed (``github_token``, ``password``, ``high_entropy``, ...), so
  a reader still understands ``curl -H "Authorization: Bearer [REDACTED:bearer_token:...]"``.
* ``hash8`` is the first 8 hex digits of ``sha256(salt + "\\0" + secret)``, or of
  ``sha256(secret)`` when the salt is empty. Two mentions of one secret get one marker, so a
  reader can tell that the token exported in one command is the one used in the next,
  while the secret itself cannot be read back. A per-journal salt stops anyone from
  confirming a guessed low-entropy password against the journal; 32 bits are enough to
  correlate mentions within a journal and too few to act as a fingerprint.
* In assignments only the value goes: ``password=[REDACTED:password:ab12cd34]``; the key
  name is kept because it says what the secret was for.

Kinds: vendor token shapes (``anthropic_api_key``, ``openai_api_key``, ``github_token``,
``gitlab_token``, ``slack_token``, ``slack_webhook``, ``aws_access_key_id``, ``stripe_key``,
``google_api_key``, ``npm_token``, ``huggingface_token``, ``jwt``, ``private_key``, and the
formats of `journal.privacy.secret_rules`: ``twilio_api_key``, ``sendgrid_api_key``, ``pypi_token``,
``vault_token``, ...), passwords in prose and in mysql's ``-p<pw>`` (``password``), header
and URL credentials (``bearer_token``, ``authorization``, ``url_password``), values of
secret-named keys in assignments, JSON, YAML, flags and dicts (``password``, ``secret``,
``token``, ``api_key``, ``private_key``, ``aws_secret_access_key``), long random values of
other env-style names (``high_entropy``), and the names of user patterns.

Markers are never redacted again, so `Redactor.redact` is idempotent. One pass does the
work: every detector sees the spans claimed before it, a bare value stops where a claimed
span starts (as it will stop at the marker's "[" in any later pass), and a secret glued
to the end of another is tried again once that one is claimed (its marker will end in
"]", a word boundary). A second pass checks that nothing is left; it finds something
only when a value ran into a secret that a later detector claimed (25 of 40,000
adversarial texts in testing), and a third pass, the cap, never did.

Fast path
---------
Most strings of an event are the ones of the event before (ids, paths, names, keys), and
almost none hold anything a detector could take. So a `Redactor` remembers the strings no
detector changes (`_CLEAN_MAX` of them, up to `_CLEAN_MAX_LEN` characters; longer ones up
to `_CLEAN_LONG_CHARS` characters in all: a PostToolUse repeats its PreToolUse's
``tool_input``, and a Write or Edit response echoes its content), and rules out
most others with two C-level searches for the detectors' *shapes* (what every match of a
detector holds, see `journal.privacy.secret_scan.shapes_patterns`) instead of testing each
detector in turn; only a string where a shape is found takes the full path, and only
the detectors of the side where it is found (forward, or reversed) run on it (a false
alarm such as ``secret: str`` in code needs the 2 reversed ones, not all 43). `sanitize`
first checks, without copying, whether nothing in an event would change (`_unchanged`):
then it returns the event itself, with the strings not seen before searched all at once.
The writer's sanitiser (`sanitize_plain`) first encodes the event as the writer will
(msgspec, `journal.cjson.plain_bytes`): an event that encodes small enough cannot need a
cut, so its walk (`_unchanged_small`) checks no sizes, and the writer reuses the bytes.
The shapes are compiled at a redactor's `_SHAPES_FROM`-th event (before, the detectors
judge the strings not seen before): a hook process records one event and never imports
`re` for it, nor does a command that records a few. User patterns (``redaction.patterns``)
turn the fast path off, so that their time budget sees every string.
``Redactor(fast=False)`` is the full path; ``tests/privacy/test_fast_path.py`` checks
that both redact the same.

Values that are obviously not secrets are left alone: placeholders (``<YOUR_TOKEN>``,
``${GITHUB_TOKEN}``, ``changeme``, ``xxxx``), type names in code (``password: str``), code
references (``token = self.token``), and the documented AWS ``...EXAMPLE`` keys. Hex strings
and UUIDs are not treated as high-entropy secrets (they are commit ids, digests and request
ids) unless their key names a secret.

Cost
----
Redaction takes time linear in the text (see `journal.privacy.secrets_patterns` for how), and
`sanitize` scans only what is kept. An event within its budget (nesting aside) is
redacted whole, every secret counted, then cut if it must be (nesting deeper than
`MAX_DEPTH`, markers longer than their secrets). A bigger event is cut first, on its raw
sizes (`journal.privacy.limits.shrink`), and only what is kept is redacted, then checked against
the budget once more, since a marker is rarely as long as its secret. A string longer
than ``max_string`` is cut anyway, so
only its kept head and tail, plus `_MARGIN` characters beyond each cut so that a secret
across a cut is seen whole, are scanned: a secret in what is stored is always redacted;
one in the dropped middle is dropped, not counted. The truncation note's sha256 is of the
original string as it arrived, secrets included: the hash cannot be read back, and lets a
reader match the stored head and tail with a file they hold. (Like an unsalted marker, it
lets someone who knows all of the rest of a long string confirm a guess of its secret.)
Subtrees omitted to meet ``max_event`` are never scanned. A user pattern
(``redaction.patterns``) runs on the same bounded texts, checked for catastrophic
backtracking when it is loaded (`journal.privacy.pattern_safety`), in windows of `USER_WINDOW`
characters, under a time budget (`USER_BUDGET`, and in the main thread a timer,
`USER_HARD_LIMIT`): over it, `RedactionTimeout` is raised and the caller withholds the
event (`journal.privacy.sanitizer`).
"""

from __future__ import annotations

from journal.privacy.limits import (
    DEFAULT_MAX_EVENT,
    DEFAULT_MAX_STRING,
    KEEP_KEYS,
    MAX_DEPTH,
    MIN_MAX_EVENT,
    MIN_MAX_STRING,
    fits,
    limit,
    sha256_hex,
    shrink,
)
from journal.privacy.limits import _scalar_size
from journal.privacy.limits import str_size as _str_size  # noqa: F401  (the size contract tests rely on)
from journal.cjson import plain_bytes
from journal.privacy.redaction_config import RedactionConfig, compile_pattern
from journal.privacy.secret_heuristics import key_kind, key_value_kind
from journal.privacy.secret_scan import MIN_CANDIDATE, Detector, Scan, candidate_mask, span
from journal.privacy.secrets_patterns import DETECTORS, MARKER_RE, SHAPES

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterator, Mapping
    from typing import Any

    from journal.privacy.limits import Pieces

__all__ = [
    "DEFAULT_MAX_EVENT",
    "DEFAULT_MAX_STRING",
    "KEEP_KEYS",
    "MAX_DEPTH",
    "MIN_MAX_EVENT",
    "MIN_MAX_STRING",
    "RedactionConfig",
    "RedactionTimeout",
    "Redactor",
    "limit",
    "redact",
    "sanitize",
    "sanitize_plain",
]

# Passes over one string: the first does the work, the second finds nothing (a check).
_MAX_PASSES = 3
# Characters scanned beyond each cut of a long string: a secret across the cut (up to a
# 4096-bit RSA key in PEM) is seen whole, so what is kept of it is redacted.
_MARGIN = 4096
# Redacted strings shorter than this are never cut (see journal.privacy.limits._SHORT).
_NEVER_CUT = 26
#: User patterns run on windows of this many characters, overlapping by `USER_OVERLAP`
#: (the longest match a user pattern is sure to find whole).
USER_WINDOW = 4096
USER_OVERLAP = 1024
#: Seconds user patterns may take over one `sanitize` (or `redact`) call before it gives
#: up with `RedactionTimeout`; in the main thread a timer also interrupts a single
#: window after `USER_HARD_LIMIT` seconds. The event is then withheld, never written raw.
USER_BUDGET = 0.5
USER_HARD_LIMIT = 1.0
# Strings that no detector changes are remembered (ids, paths, names and keys repeat in
# every event of a session), up to this length and this many; the table is then cleared.
_CLEAN_MAX_LEN = 256
_CLEAN_MAX = 4096
# Longer strings that no detector changes are remembered apart, up to this length and
# this many characters in all (the table is then cleared): a file's content or an edit's
# strings come twice or three times in a row (PreToolUse, then PostToolUse's input and
# its response), and a lookup hashes a string at ~1 ns a character where the shapes'
# search costs ~10.
_CLEAN_LONG_LEN = 64 * 1024
_CLEAN_LONG_CHARS = 1024 * 1024
# The event from which a redactor searches shapes: compiling them costs ~5-10 ms, and they
# save ~10-15 µs an event (bench/redaction_speed.py), so a hook process (one event) or a
# command (a few) never compiles them, and a process that records many soon does.
_SHAPES_FROM = 16


_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}
# Which of the shapes match a string (`_Shapes.sides`): forward ones, reversed ones, or both.
_FORWARD = 1
_BACKWARD = 2
_BOTH = _FORWARD | _BACKWARD


class RedactionTimeout(Exception):
    """User patterns (``redaction.patterns``) took longer than their time budget."""

    def __init__(self, det: Detector | None = None, limit: float = USER_BUDGET) -> None:
        what = f"redaction.patterns {det.pattern!r}" if det is not None else "redaction.patterns"
        super().__init__(f"{what} took over {limit:g}s; payloads are withheld until it is fixed")


# ------------------------------------------------------------------------------ redactor


class Redactor:
    """Replaces secrets in strings and JSON-like values by correlatable markers."""

    __slots__ = ("config", "_allow", "_salt", "_detectors", "_has_extra", "_plans", "_spent", "_fast", "_clean",
                 "_plain_keys", "_plain_key_max", "_shapes", "_events", "_clean_long", "_long_chars")

    def __init__(self, config: RedactionConfig | None = None, *, fast: bool = True) -> None:
        self.config = config if config is not None else RedactionConfig()
        self._allow = frozenset(self.config.allow)
        self._salt = self.config.salt + "\0" if self.config.salt else ""
        extra = []
        for name, regex in self.config.extra_patterns:
            compiled = compile_pattern(f"pattern {name!r}", name, regex)
            group: int | str = "secret" if "secret" in compiled.groupindex else 0
            extra.append(Detector(regex, span(name, group), user=True))
        # Gate mask -> the detectors worth running for it, in priority order; user
        # patterns have no gate and always run.
        self._plans: dict[int, tuple[Detector, ...]] = {}
        self._has_extra = bool(extra)
        # User patterns come first: an explicit rule labels what it matches.
        self._detectors = (*extra, *DETECTORS)
        self._spent = 0.0  # seconds spent in user patterns since the last `start`
        # The fast path (see "Fast path" in the module docstring); never with user patterns,
        # whose time budget must see every string. ``fast=False`` is the reference the
        # tests compare it with.
        self._fast = fast and not extra
        self._clean: dict[str, None] = {}  # strings no detector changes
        self._clean_long: dict[str, None] = {}  # ... longer than `_CLEAN_MAX_LEN`,
        self._long_chars = 0  # ... of this many characters in all
        self._plain_keys: set[str] = set()  # ... which, as dict keys, name no secret either
        self._plain_key_max = 0  # the length of the longest key ever in `_plain_keys`
        self._shapes: _Shapes | None = None  # from the `_SHAPES_FROM`-th event on
        self._events = 0

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None, *, salt: str | None = None) -> Redactor:
        """Build a redactor from a journal config dict; raise ValueError naming the bad field."""
        return cls(RedactionConfig.from_dict(data, salt=salt))

    def marker(self, kind: str, secret: str) -> str:
        """The marker that replaces ``secret``: ``[REDACTED:<kind>:<hash8>]``."""
        return f"[REDACTED:{kind}:{sha256_hex(self._salt + secret)[:8]}]"

    def redact(self, obj: Any) -> tuple[Any, int]:
        """Return a redacted copy of a JSON-like value and the number of secrets replaced.

        Every string is scanned: dict values, list items and dict keys. A string value under
        a secret-sounding key (``"password": "..."``) is redacted as a whole. Non-string
        scalars are kept; tuples come back as lists.
        """
        self._spent = 0.0
        return self._walk(obj, None)

    def redact_text(self, text: str) -> tuple[str, int]:
        """Redact one string; return it and the number of secrets replaced."""
        if self._fast and (text in self._clean or len(text) < MIN_CANDIDATE):
            return text, 0  # (an id, a type name, a timestamp: every event has them)
        self._spent = 0.0
        return self._redact_string(text, "")

    def _user_matches(self, det: Detector, s: str) -> Iterator[re.Match[str]]:
        """Matches of a user pattern, found in windows of `USER_WINDOW` characters.

        A user's regex may backtrack badly on long text (`journal.privacy.pattern_safety` rejects
        the known shapes); run on bounded windows that overlap by `USER_OVERLAP`, its cost
        stays bounded per window, and the time spent is checked against `USER_BUDGET`.
        Matches longer than the overlap may be missed at a window's edge.
        """
        from time import monotonic

        regex = det.regex
        n = len(s)
        start = 0
        while True:
            end = min(n, start + USER_WINDOW)
            began = monotonic()
            for m in regex.finditer(s, start, end):
                self._spent += monotonic() - began
                if self._spent > USER_BUDGET:
                    raise RedactionTimeout(det)
                yield m
                began = monotonic()
            self._spent += monotonic() - began
            if self._spent > USER_BUDGET:
                raise RedactionTimeout(det)
            if end >= n:
                return
            start = end - USER_OVERLAP

    def _walk(self, obj: Any, originals: dict[int, Pieces] | None) -> tuple[Any, int]:
        # ``originals``, if given, receives (by id) each changed string that may be cut
        # later, so that a truncation note can describe the string as it arrived.
        if isinstance(obj, str):
            return self._redact_string(obj, "")
        if not isinstance(obj, (dict, list, tuple)):
            return obj, 0
        scan = self._redact_string
        count = 0
        root: Any = {} if isinstance(obj, dict) else []
        # Frames of (items left, copy being filled); a container's copy is attached to its
        # parent before it is filled, so key order and list positions are kept. An explicit
        # stack: 10,000 levels of nesting must not exhaust the Python stack.
        stack: list[tuple[Iterator[Any], Any]] = [(_items(obj), root)]
        while stack:
            items, out = stack[-1]
            is_dict = isinstance(out, dict)
            for key, value in items:
                if is_dict and isinstance(key, str):
                    key, n = scan(key, "")
                    count += n
                if isinstance(value, str):
                    new, n = scan(value, key if is_dict and isinstance(key, str) else "")
                    if n:
                        count += n
                        if originals is not None and len(new) >= _NEVER_CUT:
                            originals[id(new)] = (new, new, value, new)
                    value = new
                elif isinstance(value, (dict, list, tuple)):
                    child: Any = {} if isinstance(value, dict) else []
                    if is_dict:
                        out[key] = child
                    else:
                        out.append(child)
                    stack.append((_items(value), child))
                    break
                if is_dict:
                    out[key] = value
                else:
                    out.append(value)
            else:
                stack.pop()
        return root, count

    def _redact_string(self, text: str, key: str) -> tuple[str, int]:
        fast = self._fast
        sides = _BOTH
        if fast:
            if text in self._clean or len(text) < MIN_CANDIDATE or text in self._clean_long:
                return self._by_key(text, key)
            if self._shapes is not None:
                sides = self._shape_sides(text)
                if not sides:
                    self._remember(text)
                    return self._by_key(text, key)
        mask = candidate_mask(text)
        if not mask and not self._has_extra:  # the hot path: no detector can match
            if fast:
                self._remember(text)
            return self._by_key(text, key)
        first, total = self._pass(text, mask, sides)  # (later passes run every detector: the text changed)
        if not total:
            if fast:
                self._remember(text)
            return self._by_key(text, key)
        text = first
        for _ in range(_MAX_PASSES - 1):
            text, n = self._pass(text, candidate_mask(text))
            if not n:
                break
            total += n
        return text, total

    def _by_key(self, text: str, key: str) -> tuple[str, int]:
        """*text*, which no detector changes, or its marker if *key* names a secret it holds."""
        if key and "[REDACTED:" not in text and text not in self._allow:
            kind = key_value_kind(key, text)
            if kind is not None:
                return self.marker(kind, text), 1
        return text, 0

    def _remember(self, text: str) -> None:
        """Note that no detector changes *text* (fast path only)."""
        size = len(text)
        if size <= _CLEAN_MAX_LEN:
            clean = self._clean
            if len(clean) >= _CLEAN_MAX:
                clean.clear()
            clean[text] = None
        elif size <= _CLEAN_LONG_LEN:
            if self._long_chars + size > _CLEAN_LONG_CHARS:
                self._clean_long.clear()
                self._long_chars = 0
            self._clean_long[text] = None
            self._long_chars += size

    def _clean_shapes(self, texts: list[str]) -> bool:
        """True when no detector changes any of *texts* (remembered then): no shape is
        found in them, or the detectors find nothing in those that hold one."""
        if self._shapes is None:  # the first event: each goes through the detectors
            return all(self._clean_shape(text) for text in texts)
        if min(map(len, texts)) < MIN_CANDIDATE:  # too short for any detector (`_unchanged_small` sends them)
            for text in texts:
                if len(text) < MIN_CANDIDATE:
                    self._remember(text)
            texts = [text for text in texts if len(text) >= MIN_CANDIDATE]
            if not texts:
                return True
        # One search over them all, joined by newlines: no shape matches a newline or looks
        # past one, so a shape found in the join is found in one of them.
        if len(texts) > 1 and self._no_shape("\n".join(texts)):
            for text in texts:
                self._remember(text)
            return True
        # A shape is mostly a false alarm (``secret: str`` in code): the detectors decide,
        # on the strings that hold one, as `_redact_string` would; the event is passed
        # through if they change none of them.
        for text in texts:
            sides = self._shape_sides(text)
            if not sides:
                self._remember(text)
            elif not self._no_change(text, sides):
                return False
        return True

    def _no_change(self, text: str, sides: int = _BOTH) -> bool:
        """True (and *text* remembered) when no detector changes *text*: `_redact_string`'s
        full path, for a string that holds a shape (fast path only). *sides* (see
        `_Shapes.sides`) says which detectors can find anything: the others are skipped."""
        mask = candidate_mask(text)
        if mask and self._pass(text, mask, sides)[1]:
            return False
        self._remember(text)
        return True

    def _clean_shape(self, text: str) -> bool:
        """True when no detector can change *text*: too short, or no shape found in it."""
        if len(text) < MIN_CANDIDATE:
            return True
        if not self._no_shape(text):
            return False
        self._remember(text)
        return True

    def _no_shape(self, text: str) -> bool:
        """No shape matches *text*, lowercased (see `_Shapes`); before the shapes are
        compiled, no detector finds anything in it."""
        shapes = self._shapes
        if shapes is None:
            mask = candidate_mask(text)
            return not mask or not self._pass(text, mask)[1]
        if shapes.found(text.lower()):
            return False
        # Detectors may see non-ASCII text ASCII-lowercased, and str.lower() maps a few
        # non-ASCII letters to ASCII ones (the Kelvin sign to k): try that form too.
        return text.isascii() or not shapes.found(text.translate(_ASCII_LOWER))

    def _shape_sides(self, text: str) -> int:
        """Which shapes match *text* (see `_Shapes.sides`): 0 if none, so no detector
        changes it; `_BOTH` before the shapes are compiled."""
        shapes = self._shapes
        if shapes is None:
            return _BOTH
        sides = shapes.sides(text.lower())
        if sides != _BOTH and not text.isascii():  # the other form the detectors may see (`_no_shape`)
            sides |= shapes.sides(text.translate(_ASCII_LOWER))
        return sides

    def _plan(self, mask: int, sides: int = _BOTH) -> tuple[Detector, ...]:
        key = mask << 2 | sides
        plan = self._plans.get(key)
        if plan is None:
            # A detector whose side (forward or reversed) has no shape in the text cannot
            # match it (`journal.privacy.secret_scan.shapes_patterns`): one that finds
            # nothing claims nothing and leaves the `Scan` as it was, so skipping it
            # changes no other detector's result.
            plan = self._plans[key] = tuple(
                d for d in self._detectors
                if (not d.mask or d.mask & mask) and sides & (_BACKWARD if d.reverse else _FORWARD))
        return plan

    def _pass(self, s: str, mask: int, sides: int = _BOTH) -> tuple[str, int]:
        scan = Scan(s)
        # Existing markers are claimed first: nothing inside or across them is redacted again.
        has_marker = "[REDACTED:" in s
        if has_marker:
            for m in MARKER_RE().finditer(s):
                scan.claim(m.start(), m.end(), None)
        # Matches that failed only their word-boundary test: a secret glued to the end of
        # another one. If that one is claimed by a later detector, its marker will end
        # with "]", a boundary, so they are tried again at the end of this pass.
        glued: list[tuple[Detector, re.Match[str]]] = []
        found = 0
        low = rev = ""
        for det in self._plan(mask, sides):
            if det.lower:
                if not low:
                    low = s.lower()
                    if len(low) != len(s):  # a few non-ASCII letters lowercase to two chars
                        low = s.translate(_ASCII_LOWER)
                hay = low
            else:
                hay = s
            if det.needles:  # cheaper than a regex call, and spares compiling unneeded regexes
                for needle in det.needles:
                    if needle in hay:
                        break
                else:
                    continue
            if det.pretest is not None and not det.pretest(hay):
                continue
            left = det.left
            if det.reverse:
                hay = rev = rev or low[::-1]
                scan.next_key = scan.next_key_end = len(s)
                scan.absorb_end = -1
            for m in self._user_matches(det, hay) if det.user else det.regex.finditer(hay):
                at = m.start()
                if left and at and hay[at - 1] in left and not _escape_before(hay, at):
                    if not (scan.taken and scan.taken[at - 1]):
                        glued.append((det, m))
                        continue
                    if scan.overlaps(at, m.end()):
                        continue  # inside a claimed span, not glued to its end
                found += self._take(det, m, s, scan)
        for det, m in glued:
            at = m.start()
            if scan.taken and scan.taken[at - 1] and not scan.overlaps(at, m.end()):
                found += self._take(det, m, s, scan)
        if not found:
            return s, 0
        parts = []
        pos = 0
        for start, end, label in sorted(scan.spans):
            if label is not None:  # None: a marker that was already there
                parts.append(s[pos:start])
                parts.append(self.marker(label, s[start:end]))
                pos = end
        parts.append(s[pos:])
        return "".join(parts), found

    def _take(self, det: Detector, m: re.Match[str], s: str, scan: Scan) -> bool:
        """Resolve one match and claim its span, unless it is allowed or overlaps a claim."""
        found = det.resolve(m, s, scan)
        if found is None:
            return False
        kind, start, end = found
        if start == end or s[start:end] in self._allow or scan.overlaps(start, end):
            return False
        if not det.reverse and s[m.start() : m.end()] in self._allow:
            return False
        scan.claim(start, end, kind)
        return True


# From this length on, each forward shape group is searched on its own (see `_Shapes`).
_SPLIT_AT = 1024


class _Shapes:
    """`journal.privacy.secrets_patterns.SHAPES`, compiled: does a lowercased string hold
    what a detector needs to find anything?"""

    __slots__ = ("forward", "forward_parts", "backward_parts")

    def __init__(self, forward: list[str], backward: list[str]) -> None:
        import re

        self.forward = re.compile("|".join(forward) or "(?!)").search
        self.forward_parts = tuple(re.compile(part).search for part in forward)
        self.backward_parts = tuple(re.compile(part).search for part in backward)

    def found(self, low: str) -> bool:
        """True if a shape matches ``low``, a lowercased string (or ``low`` reversed)."""
        # `re` skips to the next occurrence of one literal first character at C speed, not
        # to the next of a set of them. Measured on generated sessions and payloads
        # (bench/redaction_speed.py): the two reversed groups (":" and "=", frequent in
        # code) are cheaper searched one by one; the forward groups in one alternation
        # up to `_SPLIT_AT` characters, then one by one. The reversed groups go first: a
        # key word before ":" or "=" is the likeliest find in code and configs.
        rev = low[::-1]
        for search in self.backward_parts:
            if search(rev) is not None:
                return True
        if len(low) < _SPLIT_AT:
            return self.forward(low) is not None
        for search in self.forward_parts:
            if search(low) is not None:
                return True
        return False

    def sides(self, low: str) -> int:
        """Which shapes match ``low``: `_FORWARD` (a forward shape), `_BACKWARD` (a shape
        of ``low`` reversed), both or 0. Every search runs: where only one side holds a
        shape, only its detectors need to run (see `Redactor._plan`)."""
        sides = 0
        rev = low[::-1]
        for search in self.backward_parts:
            if search(rev) is not None:
                sides = _BACKWARD
                break
        if len(low) < _SPLIT_AT:
            return sides | _FORWARD if self.forward(low) is not None else sides
        for search in self.forward_parts:
            if search(low) is not None:
                return sides | _FORWARD
        return sides


_SHAPES: list[_Shapes] = []


def _compiled_shapes() -> _Shapes | None:
    if SHAPES is None:
        return None  # a detector without a shape: every string takes the full path
    if not _SHAPES:
        _SHAPES.append(_Shapes(*SHAPES))
        # The reversed detectors (assignments to secret-named keys) clear the likeliest
        # false alarm (``secret: str`` in code): compiled now, with the shapes, rather
        # than at the first such string a long-lived writer meets.
        for det in DETECTORS:
            if det.reverse:
                _ = det.regex  # (compiled on first use: see `Detector.regex`)
    return _SHAPES[0]


def _escape_before(hay: str, at: int) -> bool:
    """True when the character before *at* ends an escape (``\\n``, ``\\t``): a token after
    an escaped newline (a repr, a JSON string seen as text) starts a word."""
    return at >= 2 and hay[at - 2] == "\\" and hay[at - 1] in "nrtNRT"


def _items(obj: Any) -> Iterator[tuple[Any, Any]]:
    return iter(obj.items()) if isinstance(obj, dict) else ((None, v) for v in obj)


class _Scrub:
    """How `sanitize` lets `journal.privacy.limits.shrink` redact the strings it keeps.

    Called with a ``window`` (characters per side that will be kept) for a string that is
    going to be cut: only its head and tail are scanned, `_MARGIN` characters beyond each
    cut included, and the two redacted windows are returned for shrink to cut from.
    """

    __slots__ = ("redactor", "count")

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.count = 0

    def __call__(self, text: str, key: str, window: int | None) -> str | tuple[str, str]:
        redactor = self.redactor
        size = -1 if window is None else window + _MARGIN
        if size < 0 or 2 * size >= len(text):
            out, n = redactor._redact_string(text, key)
            self.count += n
            return out
        head, n = redactor._redact_string(text[:size], "")
        tail, m = redactor._redact_string(text[len(text) - size :], "")
        if not (n or m) and key and "[REDACTED:" not in head and text not in redactor._allow:
            kind = key_value_kind(key, text[:size])  # a long value is judged by its head
            if kind is not None:
                self.count += 1
                return redactor.marker(kind, text)
        self.count += n + m
        return head, tail


_DEFAULT_REDACTOR: Redactor | None = None


def _default_redactor() -> Redactor:
    global _DEFAULT_REDACTOR
    if _DEFAULT_REDACTOR is None:
        _DEFAULT_REDACTOR = Redactor()
    return _DEFAULT_REDACTOR


def redact(obj: Any, redactor: Redactor | None = None) -> tuple[Any, int]:
    """Redact a JSON-like value with ``redactor`` (default rules if None); return it and the count."""
    return (redactor or _default_redactor()).redact(obj)


def sanitize(obj: Any, redactor: Redactor | None = None) -> tuple[Any, dict[str, Any]]:
    """Redact, and apply the redactor's size limits; report ``{"redacted": n, "truncated": bool}``.

    Time and memory are linear in the size of ``obj``, and what is cut away is not scanned
    (see the module docstring); only the kept part is ever copied, and a dict that nothing
    changes comes back as it is (as `limit` does).
    """
    out, report, _ = _sanitize(obj, redactor or _default_redactor(), encode=False)
    return out, report


class _hard_limit:
    """In the main thread with no timer running, interrupt the block after *seconds*
    (`re` matching checks for signals); elsewhere a no-op (the soft budget still holds)."""

    __slots__ = ("seconds", "previous", "armed")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = False

    def __enter__(self) -> None:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread() or signal.getitimer(signal.ITIMER_REAL)[0]:
            return
        seconds = self.seconds

        def expired(signum: int, frame: object) -> None:
            raise RedactionTimeout(None, seconds)

        self.previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        self.armed = True

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            import signal

            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


def sanitize_plain(obj: Any, redactor: Redactor) -> tuple[Any, dict[str, Any], bytes | None]:
    """`sanitize`, and the bytes the writer would encode the result to (`journal.storage.codec.encode_data`)
    when they come cheap: for an event a warm redactor (a long-lived writer, never a
    hook's) passes through, of plain JSON types only (exact dicts with str keys, lists,
    strs, bools, None and ints), encoded by msgspec (`journal.cjson.plain_bytes`); else None.

    The encoding comes first: an event whose encoding is at most `max_string` bytes and
    a sixth of `max_event` cannot need a cut (see `_unchanged_small`), so the walk that
    decides whether it passes through checks no sizes.
    """
    return _sanitize(obj, redactor, encode=True)


def _sanitize(obj: Any, redactor: Redactor, encode: bool) -> tuple[Any, dict[str, Any], bytes | None]:
    """`sanitize_plain` (`sanitize` with *encode* False: no bytes). User patterns run under
    a hard time limit, and then nothing is encoded."""
    redactor._spent = 0.0
    if redactor._has_extra:
        with _hard_limit(USER_HARD_LIMIT):
            return _sanitize_in_time(obj, redactor, False)
    return _sanitize_in_time(obj, redactor, encode)


def _sanitize_in_time(obj: Any, redactor: Redactor, encode: bool) -> tuple[Any, dict[str, Any], bytes | None]:
    max_string, max_event = redactor.config.max_string, redactor.config.max_event
    if redactor._fast:
        redactor._events += 1
        if redactor._events == _SHAPES_FROM:
            redactor._shapes = _compiled_shapes()
        if type(obj) is dict:
            encoded = plain_bytes(obj) if encode and redactor._shapes is not None else None
            if encoded is not None and len(encoded) <= min(max_string, max_event // 6):
                kept = _unchanged_small(redactor, obj)
                if kept == _PLAIN:
                    return obj, {"redacted": 0, "truncated": False}, encoded  # the typical event, as it came
                if kept == _CHANGED:
                    return (*_slow_sanitize(obj, redactor, max_string, max_event), None)
            kept = _unchanged(redactor, obj, max_string, max_event)  # (no encoding, or not only plain types)
            if kept:
                return obj, {"redacted": 0, "truncated": False}, encoded if kept == _PLAIN else None
    return (*_slow_sanitize(obj, redactor, max_string, max_event), None)


def _slow_sanitize(obj: Any, redactor: Redactor, max_string: int, max_event: int) -> tuple[Any, dict[str, Any]]:
    shallow = fits(obj, max_string, max_event)
    if shallow or fits(obj, max_string, max_event, deep=True):
        # Typical events: redact everything (every secret counted), then cut what is still
        # too big: containers nested too deep, strings grown by their markers.
        originals: dict[int, Pieces] = {}
        redacted, count = redactor._walk(obj, originals)
        if (shallow and not count) or fits(redacted, max_string, max_event):
            return redacted, {"redacted": count, "truncated": False}
        limited, truncated = shrink(redacted, max_string, max_event, KEEP_KEYS, pieces=originals)
        return limited, {"redacted": count, "truncated": truncated}
    # Big events: plan the cuts on the raw value, then redact only what is kept. Redaction
    # changes sizes a little (a marker is not as long as its secret), hence a second round.
    scrub = _Scrub(redactor)
    pieces: dict[int, Pieces] = {}
    first, truncated = shrink(obj, max_string, max_event, KEEP_KEYS, scrub=scrub, table=pieces)
    if not fits(first, max_string, max_event):
        first, again = shrink(first, max_string, max_event, KEEP_KEYS, pieces=pieces)
        truncated = truncated or again
    return first, {"redacted": scrub.count, "truncated": truncated}


class _Changed(Exception):
    """`_unchanged` met what it cannot pass through (see there)."""


# What `_unchanged` finds: a change, or none (in an event of plain JSON types only, or not).
_CHANGED, _KEPT, _PLAIN = 0, 1, 2
_UNSURE = 3  # (`_unchanged_small`: not only plain types)

# `_unchanged` bounds a dict's keys by the longest plain key, unless that bound is over
# this many characters: then it measures them (a wide dict).
_KEY_BOUND = 1024

# What `_unchanged` counts for one scalar: more than `journal.privacy.limits._scalar_size`
# of None, a bool, a float or an int under `_SMALL_INT` (a sign and 16 digits; a float's
# repr is at most 24 characters), plus the comma or colon next to it.
_SCALAR_BOUND = 27
_SMALL_INT = 10**15


def _unchanged(redactor: Redactor, obj: dict[Any, Any], max_string: int, max_event: int) -> int:
    """True (`_KEPT` or `_PLAIN`) if `_sanitize` would return an equal copy of ``obj``,
    found without copying; `_PLAIN` if its scalars are all exact strs, bools, None and ints
    under `_SMALL_INT` too (no float, no subclass, nothing else).

    That is: no detector changes a string of it (remembered in `Redactor._clean` or
    ``_clean_long``, too short, no shape found, or the detectors find nothing where one
    is), no key names a secret its value holds, its containers are plain dicts and lists
    (a copy turns tuples into lists), and `journal.privacy.limits.fits` accepts it: the
    same string lengths and depth, and a size bound at least as high as the one `fits`
    computes. False means only that the general path must decide. One walk, depth
    bounded by `MAX_DEPTH`; the keys of a dict are checked at once against the keys seen
    before (`Redactor._plain_keys`), and the strings not seen before are searched for
    shapes all at once at the end.
    """
    clean, clean_long = redactor._clean, redactor._clean_long
    plain_keys = redactor._plain_keys
    shortest, longest = MIN_CANDIDATE, _CLEAN_MAX_LEN
    unseen: list[str] = []
    judged: list[tuple[str, str]] = []  # (key, value) where the key could name a secret
    total = 0
    # Depth first, in one frame: a stack of the values left at each level instead of a nested
    # function per container and ``nonlocal`` counters (a quarter more on typical events).
    # The stack holds at most `MAX_DEPTH` iterators, and ``total`` is checked as each
    # container starts and ends: nothing grows with the size of what is skipped.
    stack: list[Any] = []  # the values left of each container above ``node``: its depth is len + 1
    push, pop, add = stack.append, stack.pop, unseen.append
    node: Any = obj
    deepest = MAX_DEPTH - 1  # a container at MAX_DEPTH is cut (see `fits`)
    plain = _PLAIN
    chars = 0  # characters of the strs so far: ``total`` counts 6 a character (the longest escape)
    key_max = redactor._plain_key_max
    while node is not None:
        if type(node) is dict:
            width = len(node)
            if plain_keys.issuperset(node):
                # Each key is a plain key, so no longer than the longest: a bound without
                # measuring them, unless it is a wide dict's (then they are measured).
                key_chars = key_max * width
                if key_chars > _KEY_BOUND:
                    key_chars = sum(map(len, node))
            else:
                try:
                    _check_keys(redactor, node, judged)
                except _Changed:
                    return False
                key_max = redactor._plain_key_max  # it may have grown
                key_chars = sum(map(len, node))
            # Brackets, and per item its key, quotes, colon and comma, plus 3 for a str's
            # quotes and comma (`fits` counts 2 a str; counting it for every item is higher).
            total += 5 + 7 * width + 6 * key_chars
            values: Any = iter(node.values())
        else:  # a list: only plain dicts and lists get here
            total += 2 + 4 * len(node)
            values = iter(node)
        if total + 6 * chars > max_event:
            return False
        node = None  # the next container to go down into, if any
        while node is None:
            for value in values:
                kind = type(value)
                if kind is str:
                    size = len(value)
                    chars += size
                    if size >= shortest:
                        if size <= longest:  # (`_CLEAN_MAX_LEN` <= `MIN_MAX_STRING` <= max_string)
                            if value not in clean:
                                add(value)
                        elif size > max_string:
                            return False
                        elif value not in clean_long:
                            add(value)
                elif kind is dict or kind is list:
                    if len(stack) >= deepest:
                        return False
                    push(values)
                    node = value
                    break
                elif value is None or kind is bool or (kind is int and -_SMALL_INT < value < _SMALL_INT):
                    total += _SCALAR_BOUND
                elif kind is float:
                    total += _SCALAR_BOUND
                    plain = _KEPT
                elif isinstance(value, str):  # a subclass: as above
                    plain = _KEPT
                    size = len(value)
                    if size > max_string:
                        return False
                    chars += size
                    if size >= shortest and (value not in clean if size <= longest else value not in clean_long):
                        add(value)
                elif isinstance(value, (dict, list, tuple)):
                    return False  # a copy is a plain dict or list
                else:
                    plain = _KEPT
                    total += _scalar_size(value) + 3
            else:  # these values are done: on with the parent's, if any
                if total + 6 * chars > max_event:
                    return False
                if not stack:
                    break
                values = pop()
    return _verdict(redactor, unseen, judged, plain)


def _unchanged_small(redactor: Redactor, obj: dict[Any, Any]) -> int:
    """`_unchanged` for an event whose encoding is at most ``min(max_string, max_event // 6)``
    bytes: `_PLAIN` if it passes through, `_CHANGED` if the general path must decide, and
    `_UNSURE` at the first value of another type than the plain ones (a float, a subclass,
    a tuple...: `_unchanged` then decides).

    No size is checked: no string of such an event is longer than ``max_string``, and
    `journal.privacy.limits.fits` counts at most 6 bytes for each byte of its encoding
    (6 a character of a key or a string, with its quotes; a scalar's or a bracket's own
    length; a separator), so it fits. Only the depth, the keys and the strings are checked,
    every string not remembered clean (`Redactor._clean` and ``_clean_long``) being searched.
    """
    clean, clean_long = redactor._clean, redactor._clean_long
    plain_keys = redactor._plain_keys
    unseen: list[str] = []
    judged: list[tuple[str, str]] = []
    stack: list[Any] = []  # the values left of each container above ``node``: its depth is len + 1
    push, pop, add = stack.append, stack.pop, unseen.append
    node: Any = obj
    deepest = MAX_DEPTH - 1
    while node is not None:
        if type(node) is dict:
            if not plain_keys.issuperset(node):
                try:
                    _check_keys(redactor, node, judged)
                except _Changed:
                    return _CHANGED
            values: Any = iter(node.values())
        else:
            values = iter(node)
        node = None
        while node is None:
            for value in values:
                kind = type(value)
                if kind is str:
                    if value not in clean and value not in clean_long:
                        add(value)
                elif kind is dict or kind is list:
                    if len(stack) >= deepest:
                        return _CHANGED
                    push(values)
                    node = value
                    break
                elif not (value is None or kind is bool or kind is int):
                    return _UNSURE
            else:
                if not stack:
                    break
                values = pop()
    return _verdict(redactor, unseen, judged, _PLAIN)


def _verdict(redactor: Redactor, unseen: list[str], judged: list[tuple[str, str]], plain: int) -> int:
    """The end of a walk: *plain* unless a detector changes one of the *unseen* strings or
    a key judges its value (*judged*: key and str value pairs), then `_CHANGED`."""
    if unseen and not redactor._clean_shapes(unseen):
        return _CHANGED
    # No detector changes these values, so (as in `Redactor._redact_string`) their key judges them.
    if judged and any(redactor._by_key(value, key)[1] for key, value in judged):
        return _CHANGED
    return plain


def _check_keys(redactor: Redactor, node: dict[Any, Any], judged: list[tuple[str, str]]) -> None:
    """Add to *judged* each key of ``node`` that could name a secret, with its value when
    that is a str (the key judges it); raise `_Changed` if a key is no string or one a
    detector changes. The others are plain keys, noted in `Redactor._plain_keys`."""
    plain_keys = redactor._plain_keys
    for key in node:
        if key in plain_keys:
            continue
        if type(key) is not str or len(key) > _CLEAN_MAX_LEN:
            raise _Changed  # (`_CLEAN_MAX_LEN` <= `MIN_MAX_STRING` <= max_string)
        if not (key in redactor._clean or redactor._clean_shape(key)):
            raise _Changed
        if key_kind(key) is not None or key.isupper():  # what `key_value_kind` judges by
            value = node[key]
            if isinstance(value, str):
                judged.append((key, value))
            continue
        if len(plain_keys) >= _CLEAN_MAX:
            plain_keys.clear()
        plain_keys.add(key)
        if len(key) > redactor._plain_key_max:
            redactor._plain_key_max = len(key)
