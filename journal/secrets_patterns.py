"""The secret shapes `journal.redaction` looks for, and how a candidate value is judged.

`DETECTORS` is the table: one entry per shape (vendor tokens, PEM keys, JWTs, header and
URL credentials, assignments to secret-named keys, env-style high-entropy values), in
priority order. The value tests (`value_is_secret`, `key_value_kind`...) decide whether a
value assigned to a secret-sounding key is a secret or a placeholder, a reference, a path.

Linear time, on any input
-------------------------
Every detector costs time linear in the text, including text built to hurt it ("token="
48,000 times, 100,000 "eyJ", 20,000 ``password=`` pairs). The rules that ensure it:

* A regex never restarts a long scan inside a run it already scanned: patterns are either
  anchored on a rare literal and consume what they scan (possessive runs), or, when a
  run can hold the literal again (the JWT ``eyJ``), the literal must start the run
  (a look-behind right after it, which keeps the regex module's fast literal search).
* No lazy scan to a far terminator: the PEM ``-----END`` line is searched once and the
  result reused by every ``BEGIN`` before it; a body scan is never repeated.
* Assignment values do not overlap: the bare value of ``key=value`` ends where the next
  assignment to a secret-named key begins, or where a span already claimed begins, so
  ``a=b=c=...`` costs one scan, not one per ``=``. Only a key that reads like a name
  (``DB_PASSWORD``, ``clientSecret``) ends a value; in ``x9Qs7TkZpassword=`` the value
  runs on through that "key", and an assignment with no real value of its own
  (``token=Zm9vYmFy3pwd=``) belongs to the value on its left.
* What a pass has claimed is a bytearray, so an overlap test is one ``find``.
* Value tests are C-level string operations, and the entropy of a value is one `Counter`.
"""

from __future__ import annotations

import math
import re
from collections import Counter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Span = tuple[str, int, int]
    Resolve = Callable[["re.Match[str]", str, "Scan"], "Span | None"]

__all__ = ["DETECTORS", "Detector", "MARKER_RE", "Scan", "candidate_mask", "key_value_kind", "lazy", "span"]


def lazy(pattern: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """Compile on first use. Compiling is most of the import cost of the privacy layer, and
    most payloads never reach a given detector or validator."""
    compiled: list[re.Pattern[str]] = []

    def get() -> re.Pattern[str]:
        if not compiled:
            compiled.append(re.compile(pattern, flags))
        return compiled[0]

    return get


MARKER_RE = lazy(r"\[REDACTED:[A-Za-z0-9_]{1,40}:[0-9a-f]{8}\]")

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_WORD = _ALNUM | {"_"}
_TOKEN = _WORD | {"-"}
_KEY = _TOKEN | {"."}

# --------------------------------------------------------------------------- value tests

_PLACEHOLDER_WORDS = frozenset(
    """
    changeme change_me change-me password passwd pass pwd secret secrets token key apikey
    api_key xxx none null nil true false undefined example sample placeholder dummy fake
    redacted hidden masked str string bytes int bool any optional secretstr required todo
    tbd test testing foo bar baz value default empty n/a na auth credentials credential
    """.split()
)
_MASK_CHARS = "*xX#._\u2022-"
_WORD_CHARS = {ord(c): None for c in "abcdefghijklmnopqrstuvwxyz_- "}
# References rather than values: DEFAULT_PASSWORD, self.token, process.env.API_KEY.
_REFERENCE_RE = lazy(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+")
_CAMEL_RE = lazy(r"[A-Za-z][a-z]+(?:[A-Z][a-z0-9]*)+")  # hashedPassword, SecretStr
_PATH_RE = lazy(r"(?:~|\.{1,2})?/[A-Za-z0-9_.~/-]*|[A-Za-z]:\\.*")
_PLAIN_WORDS_RE = lazy(r"[A-Za-z]+(?:[ _./-][A-Za-z]+)*")
_HEXISH_RE = lazy(r"[0-9a-fA-F-]+")
_DIGIT_RE = lazy(r"[0-9]")
_ALPHA_RE = lazy(r"[A-Za-z]")
_B64_RUN_RE = lazy(r"[A-Za-z0-9+/]{32}")
_NOT_ALNUM_RE = lazy(r"[^A-Za-z0-9]+")
_CLASS_RUN_RE = lazy(r"a+|A+|0+")
_CLASSES = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "a" * 26 + "A" * 26 + "0" * 10
)
# "your_api_key"-style placeholders are short; the (slow) word test skips longer values.
_SHORT_PLACEHOLDER = 256


def is_placeholder(value: str, key: str = "") -> bool:
    """True for values that stand for a secret without being one (``<TOKEN>``, ``$X``...).

    Plain string tests rather than one big regex: this runs only on candidates, but its
    first use would otherwise pay a costly compile in every short-lived hook process.
    """
    v = value.strip()
    if not v:
        return True
    low = v.lower()
    if low in _PLACEHOLDER_WORDS or (key and low == key.lower().lstrip("-")):
        return True
    if "EXAMPLE" in v or "***" in v or "..." in v or "\u2022\u2022\u2022" in v:
        return True  # AWS documentation keys (AKIAIOSFODNN7EXAMPLE); masked or elided values
    first, last = v[0], v[-1]
    if (first, last) in (("<", ">"), ("{", "}"), ("[", "]")):
        return True  # <YOUR_TOKEN>, {{ template }}, {name}, [REDACTED:...]
    if first == "$" and (v[1:2] in ("{", "(") or v[1:].replace("_", "a").isalnum()):
        return True  # ${VAR}, $(cmd), $VAR
    if first == "%" and (last == "%" or v == "%s" or (v[1:2] == "(" and last in "sd")):
        return True  # %VAR%, %s, %(name)s
    if len(v) >= 3 and not v.strip(_MASK_CHARS):
        return True  # xxxx, ----
    if len(v) <= _SHORT_PLACEHOLDER and not low.translate(_WORD_CHARS) and (
        low.startswith(("your", "my", "insert", "enter", "put")) or low.endswith(("here", "placeholder"))
    ):
        return True  # your_api_key, my-secret, token_here
    # References: DEFAULT_PASSWORD, self.token. A random token can have this shape too
    # (hvs.CAES...), but references read like words: few case changes.
    return ("_" in v or "." in v) and _REFERENCE_RE().fullmatch(v) is not None and classes_and_transitions(v)[1] < 0.25


def _mixed(value: str) -> bool:
    return _DIGIT_RE().search(value) is not None and _ALPHA_RE().search(value) is not None


def classes_and_transitions(value: str) -> tuple[int, float]:
    """Character classes used (lower/upper/digit) and class changes per ASCII alphanumeric."""
    alnum = _NOT_ALNUM_RE().sub("", value).translate(_CLASSES)
    if not alnum:
        return 0, 0.0
    classes = ("a" in alnum) + ("A" in alnum) + ("0" in alnum)
    return classes, (_CLASS_RUN_RE().subn("", alnum)[1] - 1) / len(alnum)


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _looks_random(value: str, hex_ok: bool = False) -> bool:
    """A long value that looks machine-generated: high entropy, mixed classes, no words.

    Hex is left out unless ``hex_ok``: unnamed hex values are digests and commit ids.
    """
    if len(value) < 20 or value[0] in "/~." or (not hex_ok and _HEXISH_RE().fullmatch(value)):
        return False
    classes, transitions = classes_and_transitions(value)
    return classes >= 2 and transitions >= 0.2 and _entropy(value) >= 3.5


def _is_path(value: str) -> bool:
    """A file path (``/home/me/x``) rather than a base64 secret that starts with a slash."""
    return _PATH_RE().fullmatch(value) is not None and classes_and_transitions(value)[1] < 0.3


def credential_like(value: str) -> bool:
    """A value that can be a token or key: long enough, not a number, not plain words."""
    if len(value) < 8 or value.isdigit() or _is_path(value):
        return False
    if _PLAIN_WORDS_RE().fullmatch(value):
        # Letters only: a token only if it is long and switches case like random text.
        return len(value) >= 16 and classes_and_transitions(value)[1] >= 0.3
    return True


def value_is_secret(kind: str, key: str, value: str, style: str) -> bool:
    """Decide for a value assigned to a secret-sounding key.

    ``style`` is ``quoted`` ("x" / structured values), ``bare`` (KEY=x, query strings),
    ``yaml`` (key: x) or ``code`` (key = x): the more a line looks like source code, the
    more a bare value is a reference rather than the secret itself.
    """
    if is_placeholder(value, key):
        return False
    if kind not in ("password", "secret") or style == "code":
        return credential_like(value)
    if _is_path(value):  # PWD=/home/me
        return False
    if style == "yaml" and _CAMEL_RE().fullmatch(value):  # password: PasswordType
        return False
    return len(value) >= 3


# A key names a secret when it ends with one of these (separators "_", "-", "." ignored),
# checked in order: DB_PASSWORD, clientSecret, x-api-key, aws_secret_access_key.
_KEY_SUFFIXES = (
    ("secretaccesskey", "aws_secret_access_key"),
    ("privatekey", "private_key"),
    ("secretkey", "secret"),
    *((f"{word}key", "api_key") for word in (
        "api", "access", "auth", "client", "app", "service", "signing", "encryption", "master",
        "license", "subscription", "account",
    )),
    ("secret", "secret"),
    ("credential", "secret"),
    ("credentials", "secret"),
    ("password", "password"),
    ("passwd", "password"),
    ("passphrase", "password"),
    ("token", "token"),
)  # fmt: skip
# Short words count only as a whole word: DB_PASS and BASIC_AUTH, not bypass or oauth.
_KEY_WORDS = (("pass", "password"), ("pwd", "password"), ("auth", "token"))
_ENV_KEY_RE = lazy(r"[A-Z][A-Z0-9_]{1,63}")
# Words that make an env name secret wherever they stand: SECRET_KEY_BASE, DB_PASSWORD_V2.
_ENV_WORDS = {
    "PASSWORD": "password", "PASSWD": "password", "PASS": "password", "PWD": "password",
    "SECRET": "secret", "CREDENTIALS": "secret", "TOKEN": "token", "APIKEY": "api_key",
}  # fmt: skip
_KEY_KINDS: dict[str, str | None] = {}  # keys repeat within and across events: cache


def key_kind(key: str) -> str | None:
    """The secret kind a key name announces (``DB_PASSWORD`` -> ``password``), if any."""
    try:
        return _KEY_KINDS[key]
    except KeyError:
        pass
    low = key.lower()
    flat = low.replace("_", "").replace("-", "").replace(".", "")
    kind = next((kind for suffix, kind in _KEY_SUFFIXES if flat.endswith(suffix)), None)
    if kind is None:
        for word, word_kind in _KEY_WORDS:
            if low.endswith(word) and (len(low) == len(word) or not low[-len(word) - 1].isalpha()):
                kind = word_kind
                break
    if len(_KEY_KINDS) >= 4096:
        _KEY_KINDS.clear()
    _KEY_KINDS[key] = kind
    return kind


def _env_kind(key: str, value: str) -> str | None:
    """The kind of a long ``value`` assigned to the env-style name ``key``, if a secret."""
    if is_placeholder(value):
        return None
    named = next((_ENV_WORDS[w] for w in key.split("_") if w in _ENV_WORDS), None)
    if named is not None:
        return named if _looks_random(value, hex_ok=True) else None
    return "high_entropy" if _looks_random(value) else None


def key_value_kind(key: str, value: str) -> str | None:
    """The kind of a whole string value stored under ``key`` in a dict, if it is a secret."""
    kind = key_kind(key)
    if kind is not None:
        return kind if value_is_secret(kind, key, value, "quoted") else None
    if key.isupper() and _ENV_KEY_RE().fullmatch(key):
        return _env_kind(key, value)
    return None


# ------------------------------------------------------------------------ scan and detectors


class Scan:
    """One redaction pass over one string: the spans claimed so far, and what resolvers
    remember between matches so that none of them rescans text (see the module docstring)."""

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

    __slots__ = ("pattern", "flags", "_regex", "mask", "needles", "lower", "reverse", "left", "resolve")

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
        self.lower = lower or reverse  # pattern is lowercase and runs on the lowercased text
        self.reverse = reverse  # ... reversed: `resolve` gets positions in the reversed text
        self.left = left  # characters that must not precede the match (word boundary)

    @property
    def regex(self) -> re.Pattern[str]:
        if self._regex is None:  # compiled on first use, see `lazy`
            self._regex = re.compile(self.pattern, self.flags)
        return self._regex


def span(kind: str, group: int | str = 0, test: Callable[[str], bool] | None = None) -> Resolve:
    """A resolver that redacts ``group`` of the match as ``kind`` (if ``test`` accepts it)."""

    def resolve(m: re.Match[str], s: str, scan: Scan) -> Span | None:
        start, end = m.span(group)
        if test is not None and not test(s[start:end]):
            return None
        return kind, start, end

    return resolve


def _mixed_after(prefix_len: int) -> Callable[[str], bool]:
    """Random tokens mix digits and letters after their prefix; "sk-proj-setup-guide" does not."""
    return lambda token: _mixed(token[prefix_len:])


def _aws_id_ok(token: str) -> bool:
    return "EXAMPLE" not in token and len(set(token[4:])) >= 6


def _jwt_ok(token: str) -> bool:
    import binascii  # only when something JWT-shaped shows up

    head = token.split(".", 1)[0]
    try:
        raw = binascii.a2b_base64(head.replace("-", "+").replace("_", "/") + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return False
    return b'"alg"' in raw or b'"typ"' in raw


_PEM_END_RE = lazy(r"-----END[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY_RE = lazy(r"(?:[A-Za-z0-9+/=\s:,-]|\\[nr])*+")


def _resolve_pem(m: re.Match[str], s: str, scan: Scan) -> Span | None:
    # The block runs to the first END line after the header, else over base64-ish body
    # text (a truncated key). One END search serves every BEGIN before the END it found.
    start, pos = m.span()
    if start < scan.block_end:
        return None  # a header inside a block already scanned
    found = scan.end_match
    if scan.end_from < 0 or (found is not None and found.start() < pos):
        found = scan.end_match = _PEM_END_RE().search(s, pos)
        scan.end_from = pos
    end = found.end() if found is not None else _PEM_BODY_RE().match(s, pos).end()  # type: ignore[union-attr]
    scan.block_end = end
    return ("private_key", start, end) if _B64_RUN_RE().search(s, start, end) else None


def _resolve_stripe(m: re.Match[str], s: str, scan: Scan) -> Span | None:
    # The regex starts at "k_" for its literal prefix; the "s" or "r" is checked here.
    start = m.start() - 1
    if start < 0 or s[start] not in "sr" or (start and s[start - 1] in _WORD) or not _mixed(m.group()[7:]):
        return None
    return "stripe_key", start, m.end()


def _resolve_authorization(m: re.Match[str], s: str, scan: Scan) -> Span | None:
    start, end = m.span("s")
    value = s[start:end]
    if is_placeholder(value) or not (m.group("scheme") or credential_like(value)):
        return None
    return "authorization", start, end


_FLAG_KINDS = {
    "password": "password", "passwd": "password", "pass": "password",
    "token": "token", "access-token": "token", "auth-token": "token",
    "api-key": "api_key", "apikey": "api_key", "secret": "secret", "client-secret": "secret",
}  # fmt: skip


def _resolve_flag(m: re.Match[str], s: str, scan: Scan) -> Span | None:
    kind = _FLAG_KINDS[m.group("k")]
    start, end = m.span("s")
    value = s[start:end]
    if is_placeholder(value):
        return None
    ok = len(value) >= 3 if kind == "password" else credential_like(value)
    return (kind, start, end) if ok else None


def _resolve_user(m: re.Match[str], s: str, scan: Scan) -> Span | None:
    user = s[m.start("u") : m.end("u")]
    start, end = m.span("s")
    value = s[start:end]
    if is_placeholder(value) or (user.isdigit() and value.isdigit()):  # docker -u 1000:1000
        return None
    return "password", start, end


_VALUE_LEAD_RE = lazy(r"""[ \t]*+(?:\\{0,3}+(["']))?""")
_DQ_RE = lazy(r'[^"\\\r\n]*+')
_SQ_RE = lazy(r"[^'\\\r\n]*+")
_BARE_RE = lazy(r"""[^\s"'`,;(){}\[\]<>|&\\]++""")
_ABSORB_MAX = 8  # a rejected bare value this short is no value of its own


def _resolve_assignment(m: re.Match[str], s: str, scan: Scan) -> Span | None:
    # ``m`` matched the reversed, lowercased text: a separator, an optional quote, then the
    # key's last word backwards. Forward index of reversed index j: len(s) - 1 - j. Matches
    # come right to left, so ``scan`` knows the secret-named key to the right, if any.
    n = len(s)
    i = n - m.end("kw")
    while i and s[i - 1] in _KEY:
        i -= 1
    key = s[i : n - m.start("kw")]
    kind = key_kind(key)
    if kind is None:
        return None
    bound, bound_end, named, absorb = scan.next_key, scan.next_key_end, scan.next_key_named, scan.absorb_end
    scan.next_key, scan.next_key_end, scan.absorb_end = i, n - m.start("kw"), -1
    # "DB_PASSWORD", "clientSecret": a name. "...x9QsToken" is a value that runs into a key.
    prefix = n - m.end("kw") - i
    scan.next_key_named = not prefix or classes_and_transitions(s[i : i + prefix])[1] < 0.3
    sep_start = sep_end = n - 1 - m.start()  # the ":" or "=" the match starts at
    sep_end += 1
    if s[sep_start] == "=":
        if m.group("colon"):
            sep_start -= 1  # :=
        if s.startswith(">", sep_end):
            sep_end += 1  # =>
    lead = _VALUE_LEAD_RE().match(s, sep_end)
    start = lead.end()  # type: ignore[union-attr]
    quote = lead.group(1)  # type: ignore[union-attr]
    if quote:
        end = (_DQ_RE() if quote == '"' else _SQ_RE()).match(s, start).end()  # type: ignore[union-attr]
        style = "quoted"
    else:
        # A bare value stops at the key on its right if that key reads like a name and
        # does not start right here; else it takes the key in (and that assignment's
        # value too, if it has none of its own). It stops before a span already claimed:
        # the marker that replaces it starts with "[", which ends a value as "(" does.
        if start < bound and named:
            stop = bound
        else:
            stop = absorb if absorb > start else bound_end
        taken = scan.first_taken(start, stop)
        v = _BARE_RE().match(s, start, stop if taken < 0 else taken)
        if v is None:
            scan.absorb_end = start
            return None
        end = v.end()
        if end == taken or (end < n and s[end] in "(["):  # a call or an index, not a value
            return None
        sep = s[sep_start:sep_end]
        if sep == ":":
            style = "yaml"
        elif sep != "=" or s[sep_start - 1] in " \t" or s[sep_end] in " \t":
            style = "code"
        else:
            style = "bare"
    if value_is_secret(kind, key, s[start:end], style):
        return kind, start, end
    if not quote and end - start <= _ABSORB_MAX:
        scan.absorb_end = end
    return None


_ENV_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_ENV_VALUE_END = frozenset("\"'`;&|,)]}")


def _resolve_env(m: re.Match[str], s: str, scan: Scan) -> Span | None:
    # ``m`` starts at the "=": the key is the upper-case name right before it. The value
    # must end the token (checked here, not in the regex, so a failed run is not rescanned
    # from each "=" inside it).
    start, end = m.span("s")
    if end < len(s) and not (s[end].isspace() or s[end] in _ENV_VALUE_END):
        return None
    i = j = m.start()
    while i and s[i - 1] in _ENV_KEY_CHARS:
        i -= 1
    if j - i < 2 or not ("A" <= s[i] <= "Z") or (i and s[i - 1] in _WORD):
        return None
    kind = _env_kind(s[i:j], s[start:end])
    return None if kind is None else (kind, start, end)


# Every detector names a gate: characters one of which must occur in a string for its
# regex to be worth running. Testing one character is a memchr, far cheaper than a regex
# scan or a longer substring test; "b" stands for "b" or "B" (bearer).
_GATE_CHARS = "=:@-_/AJb"
_SEPARATOR_BITS = 0b111  # "=", ":", "@"
# Strings shorter than this cannot hold any built-in secret shape ("pass=abc" is 8), and
# shorter than _MIN_SHAPE only an assignment, "user:pw@" or "--flag value" (all built-in
# token shapes are at least 20 characters).
_MIN_CANDIDATE = 8
_MIN_SHAPE = 20


def gate_mask(s: str) -> int:
    """One bit per gate character present in ``s``."""
    mask = 0
    bit = 1
    for char in _GATE_CHARS:
        if char in s:
            mask |= bit
        bit <<= 1
    if "B" in s:
        mask |= bit >> 1
    return mask


def candidate_mask(s: str) -> int:
    """The gate mask of ``s``, or 0 when no built-in detector can match it."""
    n = len(s)
    if n < _MIN_CANDIDATE:
        return 0
    mask = gate_mask(s)
    if n < _MIN_SHAPE and not mask & _SEPARATOR_BITS and " " not in s:
        return 0
    return mask


# Every key `key_kind` knows contains one of these (lowercase).
_KEY_NEEDLES = ("key", "pass", "pwd", "secret", "token", "auth", "credential")
# The last word of every key `key_kind` knows, reversed.
_KEY_WORDS_REVERSED = r"(?P<kw>yek|drowssap|dwssap|esarhpssap|ssap|dwp|terces|s?laitnederc|nekot|htua)"

# Order is priority: when two matches overlap, the earlier detector wins.
DETECTORS = (
    Detector(r"-----BEGIN[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----", _resolve_pem, "-", ("PRIVATE KEY",)),
    Detector(
        r"sk-ant-[A-Za-z0-9]{2,16}-[A-Za-z0-9_-]{20,}+",
        span("anthropic_api_key", 0, _mixed_after(7)),
        "-",
        ("sk-ant-",),
        left=_TOKEN,
    ),
    Detector(
        r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}+|[A-Za-z0-9]{32,}+(?![A-Za-z0-9_-]))",
        span("openai_api_key", 0, _mixed_after(3)),
        "-",
        ("sk-",),
        left=_TOKEN,
    ),
    Detector(r"k_(?:live|test)_[A-Za-z0-9]{16,}+", _resolve_stripe, "_", ("k_live_", "k_test_")),
    Detector(
        r"gh[pousr]_[A-Za-z0-9]{30,}+|github_pat_[A-Za-z0-9_]{30,}+",
        span("github_token", 0, _mixed_after(4)),
        "_",
        ("gh", "github_pat_"),
        left=_WORD,
    ),
    Detector(
        r"gl(?:pat|dt|rt|ptt|soat|cbt)-[A-Za-z0-9_-]{20,}+",
        span("gitlab_token", 0, _mixed_after(5)),
        "-",
        ("gl",),
        left=_TOKEN,
    ),
    Detector(
        r"xox[abprse]-[A-Za-z0-9-]{15,}+", span("slack_token", 0, _mixed_after(5)), "-", ("xox",), left=_WORD
    ),
    Detector(
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9_/-]{16,}+)",
        span("slack_webhook", "s"),
        "/",
        ("hooks.slack",),
    ),
    Detector(r"AIza[0-9A-Za-z_-]{35}", span("google_api_key"), "A", ("AIza",), left=_TOKEN),
    Detector(
        r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", span("npm_token", 0, _mixed_after(4)), "_", ("npm_",), left=_WORD
    ),
    Detector(
        r"hf_[A-Za-z0-9]{30,}+(?![A-Za-z0-9_])",
        span("huggingface_token", 0, _mixed_after(3)),
        "_",
        ("hf_",),
        left=_WORD,
    ),
    Detector(
        r"A(?:KIA|SIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        span("aws_access_key_id", 0, _aws_id_ok),
        "A",
        ("AKIA", "ASIA"),
        left=_ALNUM,
    ),
    # The look-behind makes "eyJ" start a token: a run of "eyJeyJ..." is scanned once.
    Detector(
        r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}+\.eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{16,}+",
        span("jwt", 0, _jwt_ok),
        "J",
        ("eyJ",),
    ),
    Detector(
        r"""://[^\s:@/?#"'<>\\]*+:(?P<s>[^\s/?#"'<>\\]+)@""",
        span("url_password", "s", lambda v: not is_placeholder(v)),
        "@",
        ("://",),
    ),
    Detector(
        r"bearer[ \t]++(?P<s>[a-z0-9._~+/-]{16,}+=*+)",
        span("bearer_token", "s", credential_like),
        "b",
        ("bearer",),
        lower=True,
        left=_WORD,
    ),
    Detector(
        r"""authorization\\{0,3}["']?[ \t]*[:=][ \t]*\\{0,3}["']?"""
        r"(?:(?P<scheme>basic|token|negotiate|apikey|sso-key)[ \t]+)?(?P<s>[a-z0-9._~+/=%-]{8,}+)",
        _resolve_authorization,
        ":=",
        ("authorization",),
        lower=True,
    ),
    Detector(
        r"""--(?P<k>password|passwd|pass|token|access-token|auth-token|api-key|apikey|secret"""
        r"""|client-secret)(?:[ \t]+|=)["']?(?P<s>[^\s"'-][^\s"']*+)""",
        _resolve_flag,
        "-",
        ("--",),
        lower=True,
        left=_WORD,
    ),
    Detector(
        r"""(?:-u|--user)(?:[ \t]++|=)["']?(?P<u>[^\s:"'@]++):(?P<s>[^\s"']++)""",
        _resolve_user,
        ":",
        ("-u", "--user"),
        left=_TOKEN,
    ),
    # Assignments to secret-sounding keys run on the reversed text, so that each regex
    # starts at a rare literal separator and checks the key's last word right there;
    # forward, the regex would start at every p, s, t, k, a, c of a long text.
    Detector(
        r""":(?<![=:]:)[ \t]*(?:["']\\{0,3})?""" + _KEY_WORDS_REVERSED,  # key: v, "key": "v"
        _resolve_assignment,
        ":",
        _KEY_NEEDLES,
        reverse=True,
    ),
    Detector(
        r"""=(?<!==)(?P<colon>:)?(?![=!<>])[ \t]*(?:["']\\{0,3})?""" + _KEY_WORDS_REVERSED,  # = := =>
        _resolve_assignment,
        "=",
        _KEY_NEEDLES,
        reverse=True,
    ),
    Detector(r"""=["']?(?P<s>[A-Za-z0-9+/=_.~-]{20,}+)""", _resolve_env, "="),
)
