"""The secret shapes `journal.privacy.redaction` looks for: the detector table and its resolvers.

`DETECTORS` is the table: one entry per shape (vendor tokens, PEM keys, JWTs, header and
URL credentials, assignments to secret-named keys, env-style high-entropy values), in
priority order. A resolver turns a match into the span to redact, asking the value tests
of `journal.privacy.secret_heuristics` whether a value assigned to a secret-sounding key is a secret
or a placeholder, a reference, a path. `Detector` and `Scan` are in `journal.privacy.secret_scan`.

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
* Value tests (`journal.privacy.secret_heuristics`) are C-level string operations, and the entropy
  of a value is one `Counter`.
"""

from __future__ import annotations

from journal.privacy.secret_heuristics import (
    env_kind,
    classes_and_transitions,
    credential_like,
    is_placeholder,
    key_kind,
    lazy,
    value_is_secret,
)
from journal.privacy.secret_rules import RULES, TOKEN_AFTER, discord_bot_id
from journal.privacy.secret_scan import Detector, shapes_patterns, span

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

    from journal.privacy.secret_scan import Scan, Span

__all__ = ["DETECTORS", "MARKER_RE", "SHAPES"]


MARKER_RE = lazy(r"\[REDACTED:[A-Za-z0-9_]{1,40}:[0-9a-f]{8}\]")

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_WORD = _ALNUM | {"_"}
_TOKEN = _WORD | {"-"}
_KEY = _TOKEN | {"."}

# ------------------------------------------------------------------------------ resolvers

_DIGIT_RE = lazy(r"[0-9]")
_ALPHA_RE = lazy(r"[A-Za-z]")


def _mixed(value: str) -> bool:
    return _DIGIT_RE().search(value) is not None and _ALPHA_RE().search(value) is not None


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
_B64_RUN_RE = lazy(r"[A-Za-z0-9+/]{32}")
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


# Clients whose "-p<password>" flag takes the password glued to it (mysql, mysqldump,
# mysqladmin, mariadb); elsewhere -p is a port or a path flag (ssh -p2222, mkdir -p).
_GLUED_P_CLIENTS = ("mysql", "mariadb")
_GLUED_P_LOOKBACK = 200
# What follows "password" in prose before its value (`_resolve_prose_password`), for its shapes.
_PROSE_VERB = r"[ \t]+(?:is|was|for|of|to|on)[ \t]"


def _resolve_glued_p(m: re.Match[str], s: str, scan: Scan) -> Span | None:
    start, end = m.span("s")
    line_start = max(s.rfind("\n", max(0, m.start() - _GLUED_P_LOOKBACK), m.start()) + 1,
                     m.start() - _GLUED_P_LOOKBACK)
    before = s[line_start : m.start()].lower()
    value = s[start:end]
    if not any(client in before for client in _GLUED_P_CLIENTS) or len(value) < 3 or is_placeholder(value):
        return None
    return "password", start, end


def _resolve_discord_bot(m: re.Match[str], s: str, scan: Scan) -> Span | None:
    # The regex starts at the first "." (a literal, so the scan for it is fast) and takes
    # the 6-character middle part and the signature; the user id part, base64 of a
    # decimal snowflake, is read leftwards here: 24-26 characters starting with M, N or O.
    end = m.start()
    start = end
    while start > 0 and end - start < 27 and s[start - 1] in _TOKEN:
        start -= 1
    if not 24 <= end - start <= 26 or s[start] not in "MNO" or (start and s[start - 1] in _B64_CHARS):
        return None
    token = s[start : m.end()]
    return ("discord_bot_token", start, m.end()) if discord_bot_id(token) else None


_B64_CHARS = _TOKEN | {"+", "/", "."}
_TRAILING_PUNCT = ".,;:!?)]}"


def _resolve_prose_password(m: re.Match[str], s: str, scan: Scan) -> Span | None:
    # "my password is hunter2", "the db password was Tr0ub4dor&3.": a value that reads
    # like a word ("incorrect", "required") is prose, not a password.
    start, end = m.span("s")
    while end > start and s[end - 1] in _TRAILING_PUNCT:
        end -= 1
    value = s[start:end]
    if len(value) < 4 or is_placeholder(value):
        return None
    if value.isalpha() and (value.islower() or value.istitle() or value.isupper()):
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
    kind = env_kind(s[i:j], s[start:end])
    return None if kind is None else (kind, start, end)


# Pretests (see `Detector.pretest`): C-level string searches that every match passes. Past
# `_PRETEST_MAX` candidates they give up and let the regex decide.
_PRETEST_MAX = 64


def _dot_pair(s: str) -> bool:
    """A "." with another "." 7 characters on (the Discord bot token's ".<6>.")."""
    i = s.find(".")
    for _ in range(_PRETEST_MAX):
        if i < 0:
            return False
        if s.startswith(".", i + 7):
            return True
        i = s.find(".", i + 1)
    return True


def _env_assignment(s: str) -> bool:
    """An "=" right after two characters of an env-style name (what `_resolve_env` demands)."""
    i = s.find("=", 2)
    for _ in range(_PRETEST_MAX):
        if i < 0:
            return False
        if s[i - 1] in _ENV_KEY_CHARS and s[i - 2] in _ENV_KEY_CHARS:
            return True
        i = s.find("=", i + 1)
    return True


# Every key `key_kind` knows contains one of these (lowercase).
_KEY_NEEDLES = ("key", "pass", "pwd", "secret", "token", "auth", "credential")
# The last word of every key `key_kind` knows, reversed.
_KEY_WORDS_REVERSED = r"(?P<kw>yek|drowssap|dwssap|esarhpssap|ssap|dwp|terces|s?laitnederc|nekot|htua)"
_KEY_WORDS_SHAPE = _KEY_WORDS_REVERSED.replace("(?P<kw>", "(?:")
# The same words forwards, for `_assignment_pretest`.
_KEY_WORDS = ("key", "password", "passwd", "passphrase", "pass", "pwd", "secret", "credential", "credentials",
              "token", "auth")
# What may stand between a key word and its separator: blanks, a quote, backslashes (and the
# ":" of ":="). More than the regexes allow: a pretest may let too much through, never too little.
_KEY_GAP = " \t\"'\\:"
_KEY_WINDOW = 48


def _assignment_pretest(separator: str) -> Callable[[str], bool]:
    """A pretest for the assignment detectors: a key word right before a *separator* (the
    lowercased text, forwards)."""

    def pretest(s: str) -> bool:
        i = s.find(separator)
        for _ in range(_PRETEST_MAX):
            if i < 0:
                return False
            head = s[max(0, i - _KEY_WINDOW) : i].rstrip(_KEY_GAP)
            if head.endswith(_KEY_WORDS) or (i > _KEY_WINDOW and len(head) < 12):
                return True  # a key word, or a gap too long to see past here: the regex decides
            i = s.find(separator, i + 1)
        return True

    return pretest

# Order is priority: when two matches overlap, the earlier detector wins.
DETECTORS = (
    Detector(r"-----BEGIN[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----", _resolve_pem, "-", ("PRIVATE KEY",),
             shape=(r"-----begin",)),
    Detector(
        r"sk-ant-[A-Za-z0-9]{2,16}-[A-Za-z0-9_-]{20,}+",
        span("anthropic_api_key", 0, _mixed_after(7)),
        "-",
        ("sk-ant-",),
        left=_TOKEN,
        shape=(TOKEN_AFTER["-"] + r"(?<=sk-)ant-[a-z0-9_-]{20}",),
    ),
    Detector(
        r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}+|[A-Za-z0-9]{32,}+(?![A-Za-z0-9_-]))",
        span("openai_api_key", 0, _mixed_after(3)),
        "-",
        ("sk-",),
        left=_TOKEN,
        shape=(TOKEN_AFTER["-"] + r"(?<=sk-)[a-z0-9_-]{20}",),
    ),
    Detector(r"k_(?:live|test)_[A-Za-z0-9]{16,}+", _resolve_stripe, "_", ("k_live_", "k_test_"),
             shape=(TOKEN_AFTER["_"] + r"(?<=k_live_|k_test_)[a-z0-9]{16}",)),
    Detector(
        r"gh[pousr]_[A-Za-z0-9]{30,}+|github_pat_[A-Za-z0-9_]{30,}+",
        span("github_token", 0, _mixed_after(4)),
        "_",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        left=_WORD,
        shape=(TOKEN_AFTER["_"] + r"(?<=gh[pousr]_)[a-z0-9]{30}", TOKEN_AFTER["_"] + r"(?<=github_pat_)[a-z0-9_]{30}"),
    ),
    Detector(
        r"gl(?:pat|dt|rt|ptt|soat|cbt)-[A-Za-z0-9_-]{20,}+",
        span("gitlab_token", 0, _mixed_after(5)),
        "-",
        ("glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-"),
        left=_TOKEN,
        shape=tuple(TOKEN_AFTER["-"] + rf"(?<=gl{p}-)[a-z0-9_-]{{20}}"
                    for p in ("pat", "dt", "rt", "ptt", "soat", "cbt")),
    ),
    Detector(
        r"xox[abprse]-[A-Za-z0-9-]{15,}+", span("slack_token", 0, _mixed_after(5)), "-", ("xox",), left=_WORD,
        shape=(TOKEN_AFTER["-"] + r"(?<=xox[abprse]-)[a-z0-9-]{15}",),
    ),
    Detector(
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9_/-]{16,}+)",
        span("slack_webhook", "s"),
        "/",
        ("hooks.slack",),
        shape=(TOKEN_AFTER["."] + r"(?<=hooks\.)slack\.com/",),
    ),
    Detector(r"AIza[0-9A-Za-z_-]{35}", span("google_api_key"), "A", ("AIza",), left=_TOKEN,
             shape=(r"za(?<=aiza)[0-9a-z_-]{35}",)),
    Detector(
        r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", span("npm_token", 0, _mixed_after(4)), "_", ("npm_",), left=_WORD,
        shape=(TOKEN_AFTER["_"] + r"(?<=npm_)[a-z0-9]{36}",),
    ),
    Detector(
        r"hf_[A-Za-z0-9]{30,}+(?![A-Za-z0-9_])",
        span("huggingface_token", 0, _mixed_after(3)),
        "_",
        ("hf_",),
        left=_WORD,
        shape=(TOKEN_AFTER["_"] + r"(?<=hf_)[a-z0-9]{30}",),
    ),
    *(
        Detector(rule.regex, span(rule.kind, rule.group, rule.valid), rule.gate, rule.needles, left=rule.left,
                 pretest=rule.pretest, shape=rule.shape)
        for rule in RULES
    ),
    Detector(
        r"A(?:KIA|SIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        span("aws_access_key_id", 0, _aws_id_ok),
        "A",
        ("AKIA", "ASIA"),
        left=_ALNUM,
        shape=(r"a(?:kia|sia)[a-z0-9]{16}",),
    ),
    # The look-behind makes "eyJ" start a token: a run of "eyJeyJ..." is scanned once.
    Detector(
        r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}+\.eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{16,}+",
        span("jwt", 0, _jwt_ok),
        "J",
        ("eyJ",),
        shape=(TOKEN_AFTER["."] + r"(?<=[a-z0-9_-]{8}\.)eyj",),
    ),
    Detector(
        r"""://[^\s:@/?#"'<>\\]*+:(?P<s>[^\s/?#"'<>\\]+)@""",
        span("url_password", "s", lambda v: not is_placeholder(v)),
        "@",
        ("://",),
        shape=(r"""://[^\s:@/?#"'<>\\]*+:[^\s/?#"'<>\\]+@""",),
    ),
    Detector(
        r"bearer[ \t]++(?P<s>[a-z0-9._~+/-]{16,}+=*+)",
        span("bearer_token", "s", credential_like),
        "b",
        ("bearer",),
        lower=True,
        left=_WORD,
        shape=(r"bearer[ \t]+[a-z0-9._~+/-]{16}",),
    ),
    Detector(
        r"""authorization\\{0,3}["']?[ \t]*[:=][ \t]*\\{0,3}["']?"""
        r"(?:(?P<scheme>basic|token|negotiate|apikey|sso-key|ssws|digest)[ \t]+)?(?P<s>[a-z0-9._~+/=%-]{8,}+)",
        _resolve_authorization,
        ":=",
        ("authorization",),
        lower=True,
        shape=(r"""zation(?<=authorization)\\{0,3}["']?[ \t]*[:=]""",),
    ),
    Detector(
        r"""--(?P<k>password|passwd|pass|token|access-token|auth-token|api-key|apikey|secret"""
        r"""|client-secret)(?:[ \t]+|=)["']?(?P<s>[^\s"'-][^\s"']*+)""",
        _resolve_flag,
        "-",
        tuple("--" + k for k in _FLAG_KINDS),
        lower=True,
        left=_WORD,
        shape=(r"--(?:" + "|".join(_FLAG_KINDS) + r")(?:[ \t]|=)",),
    ),
    Detector(r"""-p["']?(?P<s>[^\s"'-][^\s"']*+)""", _resolve_glued_p, "-", _GLUED_P_CLIENTS, left=_TOKEN,
             shape=(r"ysql(?<=mysql)", r"b(?<=mariadb)")),
    Detector(
        r"p(?:ass(?:word|wd|phrase)|wd|w)(?:[ \t]++(?:for|of|to|on)[ \t]++[^\s]{1,60}+)?[ \t]++"
        r"(?:is|was)[ \t]++(?:now[ \t]++|still[ \t]++|set[ \t]++to[ \t]++)?[\"'`]?(?P<s>[^\s\"'`]{4,}+)",
        _resolve_prose_password,
        "w",
        ("password", "passwd", "passphrase", "pwd", "pw ", "pw\t"),
        lower=True,
        left=_WORD,
        shape=(r"word(?<=password)" + _PROSE_VERB, r"wd(?<=passwd)" + _PROSE_VERB, r"w(?<=pw)d?" + _PROSE_VERB,
               r"ase(?<=passphrase)" + _PROSE_VERB),
    ),
    # Discord bot tokens: <user id, base64>.<6>.<27-38>, found from the first dot.
    Detector(
        r"\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}(?![A-Za-z0-9_-])", _resolve_discord_bot, ".", (".",),
        pretest=_dot_pair,
        shape=(TOKEN_AFTER["."] + r"[a-z0-9_-]{6}\.[a-z0-9_-]{27}",),
    ),
    Detector(
        r"""(?:-u|--user)(?:[ \t]++|=)["']?(?P<u>[^\s:"'@]++):(?P<s>[^\s"']++)""",
        _resolve_user,
        ":",
        ("-u", "--user"),
        left=_TOKEN,
        shape=(r"""-(?:u|-user)(?:[ \t]+|=)["']?[^\s:"'@]+:[^\s"']""",),
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
        pretest=_assignment_pretest(":"),
        shape=(r""":[ \t]*(?:["']\\{0,3})?""" + _KEY_WORDS_SHAPE,),
    ),
    Detector(
        r"""=(?<!==)(?P<colon>:)?(?![=!<>])[ \t]*(?:["']\\{0,3})?""" + _KEY_WORDS_REVERSED,  # = := =>
        _resolve_assignment,
        "=",
        _KEY_NEEDLES,
        reverse=True,
        pretest=_assignment_pretest("="),
        shape=(r"""=:?[ \t]*(?:["']\\{0,3})?""" + _KEY_WORDS_SHAPE,),
    ),
    Detector(r"""=["']?(?P<s>[A-Za-z0-9+/=_.~-]{20,}+)""", _resolve_env, "=", pretest=_env_assignment,
             shape=(r"""=(?=["']?[a-z0-9+/=_.~-]{20})(?<=[a-z0-9_]{2}=)""",)),
)

#: Regexes for the lowercased text, and for it reversed, that between them find something
#: in every string where a detector could find a secret (see
#: `journal.privacy.secret_scan.shapes_patterns`); None if a detector has no shape.
SHAPES = shapes_patterns(DETECTORS)
