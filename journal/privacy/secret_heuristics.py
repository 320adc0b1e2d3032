"""How a candidate value is judged: whether a value assigned to a secret-sounding key is a
secret or a placeholder, a reference, a path, and which key names announce a secret.

`journal.privacy.secrets_patterns` asks these questions of what its detectors match, and
`journal.privacy.redaction` of the string values of dict keys. Also `lazy`, the compile-on-first-use
of regexes that the privacy layer shares.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

__all__ = [
    "classes_and_transitions",
    "credential_like",
    "env_kind",
    "is_placeholder",
    "key_kind",
    "key_value_kind",
    "lazy",
    "value_is_secret",
]


def lazy(pattern: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """Compile on first use. Compiling (and importing `re` at all, ~9 ms with `enum`) is
    most of the import cost of the privacy layer, and most payloads never reach a given
    detector or validator: a hook on a typical payload never imports `re`."""
    compiled: list[re.Pattern[str]] = []

    def get() -> re.Pattern[str]:
        if not compiled:
            import re

            compiled.append(re.compile(pattern, flags))
        return compiled[0]

    return get


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


def classes_and_transitions(value: str) -> tuple[int, float]:
    """Character classes used (lower/upper/digit) and class changes per ASCII alphanumeric."""
    alnum = _NOT_ALNUM_RE().sub("", value).translate(_CLASSES)
    if not alnum:
        return 0, 0.0
    classes = ("a" in alnum) + ("A" in alnum) + ("0" in alnum)
    return classes, (_CLASS_RUN_RE().subn("", alnum)[1] - 1) / len(alnum)


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    from collections import Counter
    from math import log2

    n = len(value)
    return -sum(c / n * log2(c / n) for c in Counter(value).values())


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
    ("keydata", "private_key"),  # kubeconfig client-key-data: a base64 PEM key
    ("applicationkey", "api_key"),  # DD-APPLICATION-KEY
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
    if kind is None and key.isupper() and key.endswith(("_KEY", "-KEY")):
        kind = "api_key"  # .env and export names: STRIPE_WEBHOOK_KEY, MEILI_MASTER_KEY
    if kind is None:
        for word, word_kind in _KEY_WORDS:
            if low.endswith(word) and (len(low) == len(word) or not low[-len(word) - 1].isalpha()):
                kind = word_kind
                break
    if len(_KEY_KINDS) >= 4096:
        _KEY_KINDS.clear()
    _KEY_KINDS[key] = kind
    return kind


def env_kind(key: str, value: str) -> str | None:
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
        return env_kind(key, value)
    return None
