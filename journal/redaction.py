"""Secret redaction and size limits, applied to every hook payload before it is written.

Hook payloads carry prompts, shell commands, tool outputs and environment dumps, and all of
them routinely contain credentials; a journal lives for a long time and gets copied around.
So secrets are removed at the door, and sizes are capped so that one huge tool output
cannot bloat the journal. This module is pure (no I/O), stdlib only, and cheap to import:
it runs in the hook process twice per tool call.

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
``google_api_key``, ``npm_token``, ``huggingface_token``, ``jwt``, ``private_key``), header
and URL credentials (``bearer_token``, ``authorization``, ``url_password``), values of
secret-named keys in assignments, JSON, YAML, flags and dicts (``password``, ``secret``,
``token``, ``api_key``, ``private_key``, ``aws_secret_access_key``), long random values of
other env-style names (``high_entropy``), and the names of user patterns.

Markers are never redacted again, and redaction runs to a fixpoint, so `Redactor.redact`
is idempotent. Values that are obviously not secrets are left alone: placeholders
(``<YOUR_TOKEN>``, ``${GITHUB_TOKEN}``, ``changeme``, ``xxxx``), type names in code
(``password: str``), code references (``token = self.token``), and the documented AWS
``...EXAMPLE`` keys. Hex strings and UUIDs are not treated as high-entropy secrets (they
are commit ids, digests and request ids) unless their key names a secret.

Size limits
-----------
``max_string`` counts characters (``len``), which needs no encoding and keeps slicing safe;
a longer string becomes ``<head>…[TRUNCATED: original <n> chars, sha256 <hex>]…<tail>``,
where the hash is over the UTF-8 bytes of the whole original. A string stays a string, so
types never change. ``max_event`` counts the UTF-8 bytes of the compact JSON encoding (what
the writer stores); to meet it the largest strings are shrunk to a common cap, then the
largest containers are replaced by ``[OMITTED: dict with <n> keys, <b> bytes]``, and as a
last resort other top-level keys are dropped. The keys in `KEEP_KEYS` are never dropped.
Containers nested deeper than `MAX_DEPTH` become ``[OMITTED: ... nested deeper than ...]``.
Everything walks the tree with an explicit stack, so 10,000 levels of nesting cannot
exhaust the Python stack.
"""

from __future__ import annotations

import math
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

    _Span = tuple[str, int, int]
    _Resolve = Callable[["re.Match[str]", str], "_Span | None"]

__all__ = [
    "DEFAULT_MAX_EVENT",
    "DEFAULT_MAX_STRING",
    "KEEP_KEYS",
    "MAX_DEPTH",
    "MIN_MAX_EVENT",
    "MIN_MAX_STRING",
    "RedactionConfig",
    "Redactor",
    "limit",
    "redact",
    "sanitize",
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

# Strings shorter than this cannot hold any built-in secret shape ("pass=abc" is 8), and
# shorter than _MIN_SHAPE only an assignment, "user:pw@" or "--flag value" (all built-in
# token shapes are at least 20 characters).
_MIN_CANDIDATE = 8
_MIN_SHAPE = 20
# A fixpoint is normally reached after two passes; the cap only guards pathological input.
_MAX_PASSES = 16
# Water-filling never shrinks a string below this many encoded bytes (note + some context).
_MIN_CAP = 160


def _lazy(pattern: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """Compile on first use. Compiling is most of this module's import cost, and most
    payloads never reach a given detector or validator."""
    compiled: list[re.Pattern[str]] = []

    def get() -> re.Pattern[str]:
        if not compiled:
            compiled.append(re.compile(pattern, flags))
        return compiled[0]

    return get


_MARKER_RE = _lazy(r"\[REDACTED:[A-Za-z0-9_]{1,40}:[0-9a-f]{8}\]")
_NAME_RE = _lazy(r"[A-Za-z0-9_]{1,40}")

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_WORD = _ALNUM | {"_"}
_TOKEN = _WORD | {"-"}
_KEY = _TOKEN | {"."}
_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}


def _sha256_hex(text: str) -> str:
    # hashlib loads OpenSSL (~2.5 ms); import it only once a secret or a long string shows up.
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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
_REFERENCE_RE = _lazy(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+")
_CAMEL_RE = _lazy(r"[A-Za-z][a-z]+(?:[A-Z][a-z0-9]*)+")  # hashedPassword, SecretStr
_PATH_RE = _lazy(r"(?:~|\.{1,2})?/[A-Za-z0-9_.~/-]*|[A-Za-z]:\\.*")
_PLAIN_WORDS_RE = _lazy(r"[A-Za-z]+(?:[ _./-][A-Za-z]+)*")
_HEXISH_RE = _lazy(r"[0-9a-fA-F-]+")
_DIGIT_RE = _lazy(r"[0-9]")
_ALPHA_RE = _lazy(r"[A-Za-z]")
_B64_RUN_RE = _lazy(r"[A-Za-z0-9+/]{32}")


def _is_placeholder(value: str, key: str = "") -> bool:
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
    if not low.translate(_WORD_CHARS) and (
        low.startswith(("your", "my", "insert", "enter", "put")) or low.endswith(("here", "placeholder"))
    ):
        return True  # your_api_key, my-secret, token_here
    # References: DEFAULT_PASSWORD, self.token. A random token can have this shape too
    # (hvs.CAES...), but references read like words: few case changes.
    return (
        ("_" in v or "." in v)
        and _REFERENCE_RE().fullmatch(v) is not None
        and _classes_and_transitions(v)[1] < 0.25
    )


def _mixed(value: str) -> bool:
    return _DIGIT_RE().search(value) is not None and _ALPHA_RE().search(value) is not None


def _classes_and_transitions(value: str) -> tuple[int, float]:
    """Character classes used (lower/upper/digit) and class changes per alphanumeric char."""
    seen = 0
    changes = 0
    count = 0
    prev = 0
    for ch in value:
        if "a" <= ch <= "z":
            cls = 1
        elif "A" <= ch <= "Z":
            cls = 2
        elif "0" <= ch <= "9":
            cls = 4
        else:
            continue
        count += 1
        seen |= cls
        if prev and cls != prev:
            changes += 1
        prev = cls
    return bin(seen).count("1"), (changes / count if count else 0.0)


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in (value.count(ch) for ch in set(value)))


def _looks_random(value: str, hex_ok: bool = False) -> bool:
    """A long value that looks machine-generated: high entropy, mixed classes, no words.

    Hex is left out unless ``hex_ok``: unnamed hex values are digests and commit ids.
    """
    if len(value) < 20 or value[0] in "/~." or (not hex_ok and _HEXISH_RE().fullmatch(value)):
        return False
    classes, transitions = _classes_and_transitions(value)
    return classes >= 2 and transitions >= 0.2 and _entropy(value) >= 3.5


def _is_path(value: str) -> bool:
    """A file path (``/home/me/x``) rather than a base64 secret that starts with a slash."""
    return _PATH_RE().fullmatch(value) is not None and _classes_and_transitions(value)[1] < 0.3


def _credential_like(value: str) -> bool:
    """A value that can be a token or key: long enough, not a number, not plain words."""
    if len(value) < 8 or value.isdigit() or _is_path(value):
        return False
    if _PLAIN_WORDS_RE().fullmatch(value):
        # Letters only: a token only if it is long and switches case like random text.
        return len(value) >= 16 and _classes_and_transitions(value)[1] >= 0.3
    return True


def _value_is_secret(kind: str, key: str, value: str, style: str) -> bool:
    """Decide for a value assigned to a secret-sounding key.

    ``style`` is ``quoted`` ("x" / structured values), ``bare`` (KEY=x, query strings),
    ``yaml`` (key: x) or ``code`` (key = x): the more a line looks like source code, the
    more a bare value is a reference rather than the secret itself.
    """
    if _is_placeholder(value, key):
        return False
    if kind not in ("password", "secret"):
        return _credential_like(value)
    if style == "code":
        return _credential_like(value)
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
_ENV_KEY_RE = _lazy(r"[A-Z][A-Z0-9_]{1,63}")
# Words that make an env name secret wherever they stand: SECRET_KEY_BASE, DB_PASSWORD_V2.
_ENV_WORDS = {
    "PASSWORD": "password", "PASSWD": "password", "PASS": "password", "PWD": "password",
    "SECRET": "secret", "CREDENTIALS": "secret", "TOKEN": "token", "APIKEY": "api_key",
}  # fmt: skip
_KEY_KINDS: dict[str, str | None] = {}  # keys repeat within and across events: cache


def _key_kind(key: str) -> str | None:
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


# ---------------------------------------------------------------------------- detectors


class _Detector:
    """One secret shape: a regex, cheap trigger substrings, and a resolver for the span."""

    __slots__ = ("pattern", "flags", "_regex", "mask", "needles", "lower", "reverse", "left", "resolve")

    def __init__(
        self,
        pattern: str,
        resolve: _Resolve,
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
        # Characters one of which must occur, else the regex is skipped (see `_gate_mask`).
        self.mask = _gate_mask(gate)
        # Substrings one of which must occur, tested after the gate: cheaper than a regex
        # call, and in a short-lived hook process they spare compiling regexes not needed.
        self.needles = needles
        self.lower = lower or reverse  # pattern is lowercase and runs on the lowercased text
        self.reverse = reverse  # ... reversed: `resolve` gets positions in the reversed text
        self.left = left  # characters that must not precede the match (word boundary)

    @property
    def regex(self) -> re.Pattern[str]:
        if self._regex is None:  # compiled on first use, see `_lazy`
            self._regex = re.compile(self.pattern, self.flags)
        return self._regex


def _span(kind: str, group: int | str = 0, test: Callable[[str], bool] | None = None) -> _Resolve:
    def resolve(m: re.Match[str], s: str) -> _Span | None:
        start, end = m.span(group)
        if test is not None and not test(s[start:end]):
            return None
        return kind, start, end

    return resolve


def _pem_ok(block: str) -> bool:
    return _B64_RUN_RE().search(block) is not None


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


def _resolve_stripe(m: re.Match[str], s: str) -> _Span | None:
    # The regex starts at "k_" for its literal prefix; the "s" or "r" is checked here.
    start = m.start() - 1
    if start < 0 or s[start] not in "sr" or (start and s[start - 1] in _WORD) or not _mixed(m.group()[7:]):
        return None
    return "stripe_key", start, m.end()


def _resolve_authorization(m: re.Match[str], s: str) -> _Span | None:
    start, end = m.span("s")
    value = s[start:end]
    if _is_placeholder(value) or not (m.group("scheme") or _credential_like(value)):
        return None
    return "authorization", start, end


_FLAG_KINDS = {
    "password": "password", "passwd": "password", "pass": "password",
    "token": "token", "access-token": "token", "auth-token": "token",
    "api-key": "api_key", "apikey": "api_key", "secret": "secret", "client-secret": "secret",
}  # fmt: skip


def _resolve_flag(m: re.Match[str], s: str) -> _Span | None:
    kind = _FLAG_KINDS[m.group("k")]
    start, end = m.span("s")
    value = s[start:end]
    if _is_placeholder(value):
        return None
    ok = len(value) >= 3 if kind == "password" else _credential_like(value)
    return (kind, start, end) if ok else None


def _resolve_user(m: re.Match[str], s: str) -> _Span | None:
    user = s[m.start("u") : m.end("u")]
    start, end = m.span("s")
    value = s[start:end]
    if _is_placeholder(value) or (user.isdigit() and value.isdigit()):  # docker -u 1000:1000
        return None
    return "password", start, end


_VALUE_RE = _lazy(
    r"""[ \t]*(?:\\{0,3}"(?P<dq>[^"\\\r\n]*)|\\{0,3}'(?P<sq>[^'\\\r\n]*)"""
    r"""|(?P<bv>[^\s"'`,;(){}\[\]<>|&\\]++)(?![(\[]))"""
)


def _resolve_assignment(m: re.Match[str], s: str) -> _Span | None:
    # ``m`` matched the reversed, lowercased text: a separator, an optional quote, then the
    # key's last word backwards. Forward index of reversed index j: len(s) - 1 - j.
    n = len(s)
    i = n - m.end("kw")
    while i and s[i - 1] in _KEY:
        i -= 1
    key = s[i : n - m.start("kw")]
    kind = _key_kind(key)
    if kind is None:
        return None
    sep_start = sep_end = n - 1 - m.start()  # the ":" or "=" the match starts at
    sep_end += 1
    if s[sep_start] == "=":
        if m.group("colon"):
            sep_start -= 1  # :=
        if s.startswith(">", sep_end):
            sep_end += 1  # =>
    v = _VALUE_RE().match(s, sep_end)
    if v is None:
        return None
    for group in ("dq", "sq", "bv"):
        start, end = v.span(group)
        if start >= 0:
            break
    sep = s[sep_start:sep_end]
    if group != "bv":
        style = "quoted"
    elif sep == ":":
        style = "yaml"
    elif sep != "=" or s[sep_start - 1] in " \t" or s[sep_end] in " \t":
        style = "code"
    else:
        style = "bare"
    return (kind, start, end) if _value_is_secret(kind, key, s[start:end], style) else None


def _env_kind(key: str, value: str) -> str | None:
    """The kind of a long ``value`` assigned to the env-style name ``key``, if a secret."""
    if _is_placeholder(value):
        return None
    named = next((_ENV_WORDS[w] for w in key.split("_") if w in _ENV_WORDS), None)
    if named is not None:
        return named if _looks_random(value, hex_ok=True) else None
    return "high_entropy" if _looks_random(value) else None


def _resolve_env(m: re.Match[str], s: str) -> _Span | None:
    # ``m`` starts at the "=": the key is the upper-case name right before it.
    i = j = m.start()
    while i and s[i - 1] in _ENV_KEY_CHARS:
        i -= 1
    if j - i < 2 or not ("A" <= s[i] <= "Z") or (i and s[i - 1] in _WORD):
        return None
    start, end = m.span("s")
    kind = _env_kind(s[i:j], s[start:end])
    return None if kind is None else (kind, start, end)


_ENV_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


# Every detector names a gate: characters one of which must occur in a string for its
# regex to be worth running. Testing one character is a memchr, far cheaper than a regex
# scan or a longer substring test; "b" stands for "b" or "B" (bearer).
_GATE_CHARS = "=:@-_/AJb"
_SEPARATOR_BITS = 0b111  # "=", ":", "@"


def _gate_mask(s: str) -> int:
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


def _candidate_mask(s: str) -> int:
    """The gate mask of ``s``, or 0 when no built-in detector can match it."""
    n = len(s)
    if n < _MIN_CANDIDATE:
        return 0
    mask = _gate_mask(s)
    if n < _MIN_SHAPE and not mask & _SEPARATOR_BITS and " " not in s:
        return 0
    return mask


# Every key `_key_kind` knows contains one of these (lowercase).
_KEY_NEEDLES = ("key", "pass", "pwd", "secret", "token", "auth", "credential")
# The last word of every key `_key_kind` knows, reversed.
_KEY_WORDS_REVERSED = r"(?P<kw>yek|drowssap|dwssap|esarhpssap|ssap|dwp|terces|s?laitnederc|nekot|htua)"

# Order is priority: when two matches overlap, the earlier detector wins.
_DETECTORS = (
    _Detector(
        r"-----BEGIN[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----|(?:[A-Za-z0-9+/=\s:,-]|\\[nr])*)",
        _span("private_key", 0, _pem_ok),
        "-",
        ("PRIVATE KEY",),
        flags=re.S,
    ),
    _Detector(
        r"sk-ant-[A-Za-z0-9]{2,16}-[A-Za-z0-9_-]{20,}",
        _span("anthropic_api_key", 0, _mixed_after(7)),
        "-",
        ("sk-ant-",),
        left=_TOKEN,
    ),
    _Detector(
        r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{32,}(?![A-Za-z0-9_-]))",
        _span("openai_api_key", 0, _mixed_after(3)),
        "-",
        ("sk-",),
        left=_TOKEN,
    ),
    _Detector(r"k_(?:live|test)_[A-Za-z0-9]{16,}", _resolve_stripe, "_", ("k_live_", "k_test_")),
    _Detector(
        r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}",
        _span("github_token", 0, _mixed_after(4)),
        "_",
        ("gh", "github_pat_"),
        left=_WORD,
    ),
    _Detector(
        r"gl(?:pat|dt|rt|ptt|soat|cbt)-[A-Za-z0-9_-]{20,}",
        _span("gitlab_token", 0, _mixed_after(5)),
        "-",
        ("gl",),
        left=_TOKEN,
    ),
    _Detector(
        r"xox[abprse]-[A-Za-z0-9-]{15,}",
        _span("slack_token", 0, _mixed_after(5)),
        "-",
        ("xox",),
        left=_WORD,
    ),
    _Detector(
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9_/-]{16,})",
        _span("slack_webhook", "s"),
        "/",
        ("hooks.slack",),
    ),
    _Detector(r"AIza[0-9A-Za-z_-]{35}", _span("google_api_key"), "A", ("AIza",), left=_TOKEN),
    _Detector(
        r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])",
        _span("npm_token", 0, _mixed_after(4)),
        "_",
        ("npm_",),
        left=_WORD,
    ),
    _Detector(
        r"hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])",
        _span("huggingface_token", 0, _mixed_after(3)),
        "_",
        ("hf_",),
        left=_WORD,
    ),
    _Detector(
        r"A(?:KIA|SIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        _span("aws_access_key_id", 0, _aws_id_ok),
        "A",
        ("AKIA", "ASIA"),
        left=_ALNUM,
    ),
    _Detector(
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}",
        _span("jwt", 0, _jwt_ok),
        "J",
        ("eyJ",),
        left=_TOKEN,
    ),
    _Detector(
        r"""://[^\s:@/?#"'<>\\]*:(?P<s>[^\s/?#"'<>\\]+)@""",
        _span("url_password", "s", lambda v: not _is_placeholder(v)),
        "@",
        ("://",),
    ),
    _Detector(
        r"bearer[ \t]+(?P<s>[a-z0-9._~+/-]{16,}=*)",
        _span("bearer_token", "s", _credential_like),
        "b",
        ("bearer",),
        lower=True,
        left=_WORD,
    ),
    _Detector(
        r"""authorization\\{0,3}["']?[ \t]*[:=][ \t]*\\{0,3}["']?"""
        r"(?:(?P<scheme>basic|token|negotiate|apikey|sso-key)[ \t]+)?(?P<s>[a-z0-9._~+/=%-]{8,})",
        _resolve_authorization,
        ":=",
        ("authorization",),
        lower=True,
    ),
    _Detector(
        r"""--(?P<k>password|passwd|pass|token|access-token|auth-token|api-key|apikey|secret"""
        r"""|client-secret)(?:[ \t]+|=)["']?(?P<s>[^\s"'-][^\s"']*)""",
        _resolve_flag,
        "-",
        ("--",),
        lower=True,
        left=_WORD,
    ),
    _Detector(
        r"""(?:-u|--user)(?:[ \t]+|=)["']?(?P<u>[^\s:"'@]+):(?P<s>[^\s"']+)""",
        _resolve_user,
        ":",
        ("-u", "--user"),
        left=_TOKEN,
    ),
    # Assignments to secret-sounding keys run on the reversed text, so that each regex
    # starts at a rare literal separator and checks the key's last word right there;
    # forward, the regex would start at every p, s, t, k, a, c of a long text.
    _Detector(
        r""":(?<![=:]:)[ \t]*(?:["']\\{0,3})?""" + _KEY_WORDS_REVERSED,  # key: v, "key": "v"
        _resolve_assignment,
        ":",
        _KEY_NEEDLES,
        reverse=True,
    ),
    _Detector(
        r"""=(?<!==)(?P<colon>:)?(?![=!<>])[ \t]*(?:["']\\{0,3})?""" + _KEY_WORDS_REVERSED,  # = := =>
        _resolve_assignment,
        "=",
        _KEY_NEEDLES,
        reverse=True,
    ),
    _Detector(
        r"""=["']?(?P<s>[A-Za-z0-9+/=_.~-]{20,}+)(?=[\s"'`;&|,)\]}]|$)""",
        _resolve_env,
        "=",
    ),
)


# ------------------------------------------------------------------------------- config


class RedactionConfig:
    """What to redact beyond the built-in shapes, what to keep, and the size limits.

    ``extra_patterns`` are ``(name, regex)`` pairs; a regex with a group named ``secret``
    redacts only that group, otherwise the whole match. ``allow`` lists exact strings that
    are never redacted. ``salt`` keys the marker hashes (see the module docstring).
    """

    __slots__ = ("extra_patterns", "allow", "max_string", "max_event", "salt")

    def __init__(
        self,
        extra_patterns: list[tuple[str, str]] | None = None,
        allow: list[str] | None = None,
        max_string: int = DEFAULT_MAX_STRING,
        max_event: int = DEFAULT_MAX_EVENT,
        salt: str = "",
    ) -> None:
        self.extra_patterns: list[tuple[str, str]] = []
        for i, pattern in enumerate(extra_patterns or []):
            if not isinstance(pattern, (tuple, list)) or len(pattern) != 2:
                raise ValueError(f"extra_patterns[{i}]: expected a (name, regex) pair, got {pattern!r}")
            _compile_pattern(f"extra_patterns[{i}]", *pattern)
            self.extra_patterns.append((pattern[0], pattern[1]))
        self.allow = _check_allow("allow", list(allow or []))
        self.max_string = _check_int("max_string", max_string, MIN_MAX_STRING)
        self.max_event = _check_int("max_event", max_event, MIN_MAX_EVENT)
        self.salt = _check_salt("salt", salt)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name != "salt")
        return f"RedactionConfig({fields}, salt={'***' if self.salt else ''!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RedactionConfig):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable lists inside

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, salt: str | None = None) -> RedactionConfig:
        """Validate the ``redaction`` and ``limits`` sections of a journal config dict.

        Other top-level sections are ignored (they belong to other layers); unknown keys
        inside these two sections are errors, so a typo cannot silently disable a rule.
        """
        data = {} if data is None else data
        if not _is_mapping(data):
            raise ValueError(f"config: expected an object, got {type(data).__name__}")
        red = _section(data, "redaction", ("patterns", "allow", "salt"))
        lim = _section(data, "limits", ("max_string", "max_event"))
        patterns = red.get("patterns", [])
        if not isinstance(patterns, list):
            raise ValueError(f"redaction.patterns: expected a list, got {type(patterns).__name__}")
        pairs = []
        for i, item in enumerate(patterns):
            where = f"redaction.patterns[{i}]"
            if not _is_mapping(item):
                raise ValueError(f'{where}: expected an object with "name" and "regex", got {type(item).__name__}')
            unknown = sorted(set(item) - {"name", "regex"})
            if unknown:
                raise ValueError(f"{where}: unknown key {unknown[0]!r} (expected name, regex)")
            for field in ("name", "regex"):
                if field not in item:
                    raise ValueError(f"{where}: missing {field!r}")
            _compile_pattern(where, item["name"], item["regex"])
            pairs.append((item["name"], item["regex"]))
        allow = red.get("allow", [])
        if not isinstance(allow, list):
            raise ValueError(f"redaction.allow: expected a list of strings, got {type(allow).__name__}")
        return cls(
            extra_patterns=pairs,
            allow=_check_allow("redaction.allow", allow),
            max_string=_check_int("limits.max_string", lim.get("max_string", DEFAULT_MAX_STRING), MIN_MAX_STRING),
            max_event=_check_int("limits.max_event", lim.get("max_event", DEFAULT_MAX_EVENT), MIN_MAX_EVENT),
            salt=_check_salt("redaction.salt", red.get("salt", "")) if salt is None else salt,
        )


def _is_mapping(value: object) -> bool:
    return hasattr(value, "keys") and hasattr(value, "__getitem__")


def _section(data: Mapping[str, Any], name: str, known: tuple[str, ...]) -> Mapping[str, Any]:
    section = data.get(name, {})
    if section is None:
        return {}
    if not _is_mapping(section):
        raise ValueError(f"{name}: expected an object, got {type(section).__name__}")
    unknown = sorted(str(k) for k in section if k not in known)
    if unknown:
        raise ValueError(f"{name}: unknown key {unknown[0]!r} (expected one of: {', '.join(known)})")
    return section  # type: ignore[no-any-return]


def _check_int(where: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}: expected an integer >= {minimum}, got {value!r}")
    return value


def _check_allow(where: str, allow: list[Any]) -> list[str]:
    for i, item in enumerate(allow):
        if not isinstance(item, str) or not item:
            raise ValueError(f"{where}[{i}]: expected a non-empty string, got {item!r}")
    return allow


def _check_salt(where: str, salt: Any) -> str:
    if not isinstance(salt, str):
        raise ValueError(f"{where}: expected a string, got {type(salt).__name__}")
    return salt


def _compile_pattern(where: str, name: object, regex: object) -> re.Pattern[str]:
    if not isinstance(name, str) or not _NAME_RE().fullmatch(name):
        raise ValueError(f"{where}.name: expected 1-40 characters of [A-Za-z0-9_], got {name!r}")
    if not isinstance(regex, str) or not regex:
        raise ValueError(f"{where}.regex: expected a non-empty string, got {regex!r}")
    try:
        compiled = re.compile(regex)
    except re.error as e:
        raise ValueError(f"{where}.regex: invalid regular expression {regex!r}: {e}") from e
    if compiled.fullmatch(""):
        raise ValueError(f"{where}.regex: {regex!r} matches the empty string")
    return compiled


# ------------------------------------------------------------------------------ redactor


class Redactor:
    """Replaces secrets in strings and JSON-like values by correlatable markers."""

    __slots__ = ("config", "_allow", "_salt", "_detectors", "_has_extra", "_plans")

    def __init__(self, config: RedactionConfig | None = None) -> None:
        self.config = config if config is not None else RedactionConfig()
        self._allow = frozenset(self.config.allow)
        self._salt = self.config.salt + "\0" if self.config.salt else ""
        extra = []
        for name, regex in self.config.extra_patterns:
            compiled = _compile_pattern(f"pattern {name!r}", name, regex)
            group: int | str = "secret" if "secret" in compiled.groupindex else 0
            extra.append(_Detector(regex, _span(name, group)))
        # Gate mask -> the detectors worth running for it, in priority order; user
        # patterns have no gate and always run.
        self._plans: dict[int, tuple[_Detector, ...]] = {}
        self._has_extra = bool(extra)
        # User patterns come first: an explicit rule labels what it matches.
        self._detectors = (*extra, *_DETECTORS)

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None, *, salt: str | None = None) -> Redactor:
        """Build a redactor from a journal config dict; raise ValueError naming the bad field."""
        return cls(RedactionConfig.from_dict(data, salt=salt))

    def marker(self, kind: str, secret: str) -> str:
        """The marker that replaces ``secret``: ``[REDACTED:<kind>:<hash8>]``."""
        return f"[REDACTED:{kind}:{_sha256_hex(self._salt + secret)[:8]}]"

    def redact(self, obj: Any) -> tuple[Any, int]:
        """Return a redacted copy of a JSON-like value and the number of secrets replaced.

        Every string is scanned: dict values, list items and dict keys. A string value under
        a secret-sounding key (``"password": "..."``) is redacted as a whole. Non-string
        scalars are kept; tuples come back as lists.
        """
        if isinstance(obj, str):
            return self._redact_string(obj, "")
        if not isinstance(obj, (dict, list, tuple)):
            return obj, 0
        scan = self._redact_string
        count = 0
        root: Any = {} if isinstance(obj, dict) else []
        # Frames of (items left, copy being filled); a container's copy is attached to its
        # parent before it is filled, so key order and list positions are kept.
        stack: list[tuple[Iterator[Any], Any]] = [(_items(obj), root)]
        while stack:
            items, out = stack[-1]
            is_dict = isinstance(out, dict)
            for key, value in items:
                if is_dict and isinstance(key, str):
                    key, n = scan(key, "")
                    count += n
                if isinstance(value, str):
                    value, n = scan(value, key if is_dict and isinstance(key, str) else "")
                    count += n
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

    def redact_text(self, text: str) -> tuple[str, int]:
        """Redact one string; return it and the number of secrets replaced."""
        return self._redact_string(text, "")

    def _redact_string(self, text: str, key: str) -> tuple[str, int]:
        mask = _candidate_mask(text)
        if not mask and not self._has_extra:  # the hot path: no detector can match
            if key and "[REDACTED:" not in text and text not in self._allow:
                kind = _key_value_kind(key, text)
                if kind is not None:
                    return self.marker(kind, text), 1
            return text, 0
        total = 0
        for _ in range(_MAX_PASSES):  # to a fixpoint, so that redaction is idempotent
            text, n = self._pass(text, key, mask)
            if not n:
                break
            total += n
            mask = _candidate_mask(text)
        return text, total

    def _plan(self, mask: int) -> tuple[_Detector, ...]:
        plan = self._plans.get(mask)
        if plan is None:
            plan = self._plans[mask] = tuple(d for d in self._detectors if not d.mask or d.mask & mask)
        return plan

    def _pass(self, s: str, key: str, mask: int) -> tuple[str, int]:
        # Existing markers are claimed first: nothing inside or across them is redacted again.
        taken: list[tuple[int, int, str | None]] = []
        has_marker = "[REDACTED:" in s
        if has_marker:
            taken.extend((m.start(), m.end(), None) for m in _MARKER_RE().finditer(s))
        found = 0
        low = rev = ""
        for det in self._plan(mask):
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
            if det.reverse:
                hay = rev = rev or low[::-1]
            for m in det.regex.finditer(hay):
                if det.left and m.start() and hay[m.start() - 1] in det.left:
                    continue
                span = det.resolve(m, s)
                if span is None:
                    continue
                kind, start, end = span
                if start == end or s[start:end] in self._allow:
                    continue
                if not det.reverse and s[m.start() : m.end()] in self._allow:
                    continue
                if any(start < t_end and t_start < end for t_start, t_end, _ in taken):
                    continue
                taken.append((start, end, kind))
                found += 1
        if not found:
            if key and not has_marker and s not in self._allow:
                whole = _key_value_kind(key, s)
                if whole is not None:
                    return self.marker(whole, s), 1
            return s, 0
        parts = []
        pos = 0
        for start, end, label in sorted(taken):
            if label is not None:  # None: a marker that was already there
                parts.append(s[pos:start])
                parts.append(self.marker(label, s[start:end]))
                pos = end
        parts.append(s[pos:])
        return "".join(parts), found


def _items(obj: Any) -> Iterator[tuple[Any, Any]]:
    return iter(obj.items()) if isinstance(obj, dict) else ((None, v) for v in obj)


def _key_value_kind(key: str, value: str) -> str | None:
    """The kind of a whole string value stored under ``key`` in a dict, if it is a secret."""
    kind = _key_kind(key)
    if kind is not None:
        return kind if _value_is_secret(kind, key, value, "quoted") else None
    if key.isupper() and _ENV_KEY_RE().fullmatch(key):
        return _env_kind(key, value)
    return None


_DEFAULT_REDACTOR: Redactor | None = None


def redact(obj: Any, redactor: Redactor | None = None) -> tuple[Any, int]:
    """Redact a JSON-like value with ``redactor`` (default rules if None); return it and the count."""
    global _DEFAULT_REDACTOR
    if redactor is None:
        if _DEFAULT_REDACTOR is None:
            _DEFAULT_REDACTOR = Redactor()
        redactor = _DEFAULT_REDACTOR
    return redactor.redact(obj)


def sanitize(obj: Any, redactor: Redactor | None = None) -> tuple[Any, dict[str, Any]]:
    """Redact, then apply the redactor's size limits; report ``{"redacted": n, "truncated": bool}``."""
    redacted, count = redact(obj, redactor)
    if redactor is None:
        limited, truncated = limit(redacted)
    else:
        limited, truncated = limit(redacted, redactor.config.max_string, redactor.config.max_event)
    return limited, {"redacted": count, "truncated": truncated}


# ---------------------------------------------------------------------------- size limits

# Every byte JSON writes verbatim; deleting them leaves the ones that need an escape.
_UNESCAPED = bytes(c for c in range(256) if c >= 0x20 and c not in b'"\\')
_ELLIPSIS = "\u2026"


def _str_size(s: str) -> int:
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
        return len(str(value)) if -(10**15) < value < 10**15 else value.bit_length() * 30103 // 100000 + 2
    if isinstance(value, float):
        return len(repr(value)) if math.isfinite(value) else 9
    return len(repr(value)) + 2


def _key_size(key: Any) -> int:
    return _str_size(key) if isinstance(key, str) else _scalar_size(key) + 2


def _fits(obj: Any, max_string: int, max_event: int) -> bool:
    """Cheap proof that ``obj`` needs no cut: short strings, shallow, small enough.

    Sizes are bounded by 6 bytes a character (the longest JSON escape, ``\\u001f``), so
    the common case costs a ``len`` per string instead of an exact encoded size.
    """
    total = 0
    stack = [(obj, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if len(node) > max_string:
                return False
            total += 6 * len(node) + 2
        elif isinstance(node, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                return False
            total += 1 + max(len(node), 1)  # brackets and commas
            if isinstance(node, dict):
                for key in node:
                    if isinstance(key, str) and len(key) > max_string:
                        return False
                    total += 6 * len(key) + 3 if isinstance(key, str) else _scalar_size(key) + 3
                children: Any = node.values()
            else:
                children = node
            for child in children:
                if isinstance(child, str):
                    if len(child) > max_string:
                        return False
                    total += 6 * len(child) + 2
                elif isinstance(child, (dict, list, tuple)):
                    stack.append((child, depth + 1))
                else:
                    total += _scalar_size(child)
        else:
            total += _scalar_size(node)
    return total <= max_event


def _note(original_len: int, digest: str) -> str:
    return f"{_ELLIPSIS}[TRUNCATED: original {original_len} chars, sha256 {digest}]{_ELLIPSIS}"


def _cut_chars(s: str, max_chars: int, digest: str) -> str:
    """Cut ``s`` to at most ``max_chars`` characters, keeping its head and tail."""
    note = _note(len(s), digest)
    room = max(max_chars - len(note), 0)
    head, tail = room - room // 2, room // 2
    return s[:head] + note + (s[len(s) - tail :] if tail else "")


def _fit(piece: str, budget: int, from_end: bool) -> str:
    """The longest head (or tail) of ``piece`` whose JSON body fits in ``budget`` bytes."""
    k = min(len(piece), budget)
    while k > 0:
        part = piece[len(piece) - k :] if from_end else piece[:k]
        size = _str_size(part) - 2
        if size <= budget:
            return part
        k = min(k - 1, k * budget // size)
    return ""


def _cut_bytes(s: str, budget: int, digest: str) -> str:
    """Cut ``s`` so that its JSON encoding takes at most ``budget`` bytes."""
    note = _note(len(s), digest)
    room = max(budget - _str_size(note), 0)
    head = _fit(s[: room - room // 2], room - room // 2, from_end=False)
    tail = _fit(s[len(s) - room // 2 :] if room // 2 else "", room // 2, from_end=True)
    return head + note + tail


def _summary(value: Any, size: int) -> str:
    if isinstance(value, dict):
        return f"[OMITTED: dict with {len(value)} keys, {size} bytes]"
    if isinstance(value, (list, tuple)):
        return f"[OMITTED: list with {len(value)} items, {size} bytes]"
    return f"[OMITTED: {type(value).__name__} of {size} bytes]"


class _Tree:
    """A copy of a JSON-like value as flat, pre-ordered node tables, for shrinking it.

    Node ``i``'s subtree is ``range(i, end[i])``; sizes are encoded JSON bytes, and a
    container's size includes its children, keys, brackets and commas.
    """

    def __init__(self, obj: Any, max_string: int) -> None:
        self.parent: list[int] = []
        self.slot: list[Any] = []  # key in the parent dict, or index in the parent list
        self.value: list[Any] = []  # the new container, or the (possibly cut) leaf
        self.size: list[int] = []
        self.extra: list[int] = []  # bytes the node's key and colon take in its parent
        self.end: list[int] = []
        self.alive: list[bool] = []
        self.original: dict[int, tuple[str, str]] = {}  # cut strings: (original, sha256)
        self.changed = False
        self._copy(obj, max_string)
        self.total = self.size[0]

    def _add(self, parent: int, slot: Any, extra: int, value: Any, max_string: int) -> int:
        i = len(self.value)
        if isinstance(value, str) and len(value) > max_string:
            digest = _sha256_hex(value)
            self.original[i] = (value, digest)
            value = _cut_chars(value, max_string, digest)
            self.changed = True
        self.parent.append(parent)
        self.slot.append(slot)
        self.value.append(value)
        self.extra.append(extra)
        self.size.append(_str_size(value) if isinstance(value, str) else _scalar_size(value))
        self.end.append(i + 1)
        self.alive.append(True)
        return i

    def _container(self, parent: int, slot: Any, extra: int, value: Any, depth: int) -> tuple[int, Any]:
        i = len(self.value)
        if depth >= MAX_DEPTH:
            kind = "dict" if isinstance(value, dict) else "list"
            note = f"[OMITTED: {kind} nested deeper than {MAX_DEPTH} levels]"
            self._add(parent, slot, extra, note, len(note))
            self.changed = True
            return i, None
        new: Any = {} if isinstance(value, dict) else []
        self.parent.append(parent)
        self.slot.append(slot)
        self.value.append(new)
        self.extra.append(extra)
        self.size.append(1 + max(len(value), 1))
        self.end.append(i + 1)
        self.alive.append(True)
        return i, new

    def _copy(self, obj: Any, max_string: int) -> None:
        if not isinstance(obj, (dict, list, tuple)):
            self._add(-1, None, 0, obj, max_string)
            return
        root, new = self._container(-1, None, 0, obj, 0)
        stack = [(_items(obj), new, root, 0)]
        while stack:
            items, out, index, depth = stack[-1]
            for key, child in items:
                if isinstance(out, dict):
                    if isinstance(key, str) and len(key) > max_string:
                        key = _cut_chars(key, max_string, _sha256_hex(key))
                        self.changed = True
                    slot, extra = key, _key_size(key) + 1
                else:
                    slot, extra = len(out), 0
                new = None
                if isinstance(child, (dict, list, tuple)):
                    i, new = self._container(index, slot, extra, child, depth + 1)
                else:
                    i = self._add(index, slot, extra, child, max_string)
                value = self.value[i]
                if isinstance(out, dict):
                    out[slot] = value
                else:
                    out.append(value)
                if new is not None:
                    stack.append((_items(child), new, i, depth + 1))
                    break
            else:
                stack.pop()
                self.end[index] = len(self.value)
        for i in range(len(self.value) - 1, 0, -1):  # children come after their parents
            self.size[self.parent[i]] += self.size[i] + self.extra[i]

    @property
    def result(self) -> Any:
        return self.value[0]

    def _replace(self, i: int, value: Any) -> None:
        """Put a leaf ``value`` at node ``i``, dropping its subtree and fixing sizes above."""
        new_size = _str_size(value) if isinstance(value, str) else _scalar_size(value)
        delta = self.size[i] - new_size
        for j in range(i + 1, self.end[i]):
            self.alive[j] = False
        self.end[i] = i + 1
        self.value[i] = value
        self.size[i] = new_size
        p = self.parent[i]
        if p >= 0:
            self.value[p][self.slot[i]] = value
        while p >= 0:
            self.size[p] -= delta
            p = self.parent[p]
        self.total -= delta
        self.changed = True

    def shrink_strings(self, max_event: int) -> None:
        """Cut the largest strings down to one common cap, just enough to fit if possible."""
        excess = self.total - max_event
        sizes = sorted(
            ((self.size[i], i) for i, v in enumerate(self.value) if isinstance(v, str) and self.size[i] > _MIN_CAP),
            reverse=True,
        )
        cap, prefix = _MIN_CAP, 0
        for j, (size, _) in enumerate(sizes, 1):
            prefix += size
            best = (prefix - excess) // j  # the cap that removes exactly the excess
            floor = sizes[j][0] if j < len(sizes) else _MIN_CAP
            if best >= floor:
                cap = max(best, _MIN_CAP)
                break
        for size, i in sizes:
            if size <= cap:
                break
            original, digest = self.original.get(i) or (self.value[i], _sha256_hex(self.value[i]))
            self._replace(i, _cut_bytes(original, cap, digest))

    def summarize_containers(self, max_event: int) -> None:
        """Replace whole containers by summaries: one just big enough, else largest first."""
        containers = [i for i in range(1, len(self.value)) if self.alive[i] and isinstance(self.value[i], (dict, list))]
        excess = self.total - max_event
        fitting = [i for i in containers if self.size[i] - 80 >= excess]
        if fitting:
            i = min(fitting, key=self.size.__getitem__)
            self._replace(i, _summary(self.value[i], self.size[i]))
        for i in sorted(containers, key=self.size.__getitem__, reverse=True):
            if self.total <= max_event:
                return
            if self.alive[i] and isinstance(self.value[i], (dict, list)):
                self._replace(i, _summary(self.value[i], self.size[i]))

    def drop_keys(self, max_event: int, keep: tuple[str, ...]) -> None:
        """Last resort: drop top-level keys (largest first) or summarize the whole value."""
        root = self.value[0]
        if isinstance(root, dict):
            children = [i for i in range(1, len(self.value)) if self.alive[i] and self.parent[i] == 0]
            for i in sorted(children, key=lambda i: self.size[i] + self.extra[i], reverse=True):
                if self.total <= max_event:
                    break
                if self.slot[i] in keep:
                    continue
                del root[self.slot[i]]
                for j in range(i, self.end[i]):
                    self.alive[j] = False
                self.total -= self.size[i] + self.extra[i] + (1 if root else 0)  # and its comma
                self.changed = True
            for i in children:  # kept keys holding huge numbers
                if self.total > max_event and self.alive[i] and self.size[i] > _MIN_CAP:
                    self._replace(i, _summary(self.value[i], self.size[i]))
        elif self.total > max_event:
            value = self.value[0]
            if isinstance(value, str):
                original, digest = self.original.get(0) or (value, _sha256_hex(value))
                self._replace(0, _cut_bytes(original, max_event, digest))
            else:
                self._replace(0, _summary(value, self.size[0]))


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
    _check_int("max_string", max_string, MIN_MAX_STRING)
    _check_int("max_event", max_event, MIN_MAX_EVENT)
    if _fits(obj, max_string, max_event):
        return obj, False
    tree = _Tree(obj, max_string)  # exact sizes
    if not tree.changed and tree.total <= max_event:
        return obj, False
    if tree.total > max_event:
        tree.shrink_strings(max_event)
    if tree.total > max_event:
        tree.summarize_containers(max_event)
    if tree.total > max_event:
        tree.drop_keys(max_event, keep)
    return tree.result, tree.changed
