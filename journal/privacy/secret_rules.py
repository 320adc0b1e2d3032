"""Vendor token formats, as data: the prefixes and shapes of credentials that announce
themselves, ported from gitleaks' rule set (``config/gitleaks.toml``, MIT licensed) and the
vendors' own documentation.

Each `Rule` is a marker kind, a regex that starts with the token's literal prefix (so it
costs one linear scan, see `journal.privacy.secrets_patterns`), a gate character every match holds
(see `journal.privacy.secret_scan.gate_mask`), the substrings one of which must
occur before the regex is run at all, the characters that must not precede a match (a
word boundary), the group to redact, an optional validator that rejects look-alikes
(prose that names a prefix, an identifier without digits), and its shapes: what every
match holds, written for the lowercased text and starting at a rare character (see
`journal.privacy.secret_scan.shapes_patterns`). `journal.privacy.secrets_patterns`
turns them into detectors. Add a format here, with a realistic fake in
``tests/privacy/corpus_e2e.py``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Rule", "RULES", "TOKEN_AFTER", "discord_bot_id"]

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_WORD = _ALNUM | {"_"}
_TOKEN = _WORD | {"-"}
_B64 = _TOKEN | {"+", "/", "."}


class Rule:
    """One vendor format (see the module docstring)."""

    __slots__ = ("kind", "regex", "gate", "needles", "left", "group", "valid", "pretest", "shape")

    def __init__(
        self,
        kind: str,
        regex: str,
        gate: str,
        needles: tuple[str, ...],
        left: frozenset[str] = _TOKEN,
        group: int | str = 0,
        valid: Callable[[str], bool] | None = None,
        pretest: Callable[[str], bool] | None = None,
        shape: tuple[str, ...] = (),
    ) -> None:
        self.kind, self.regex, self.gate, self.needles, self.left = kind, regex, gate, needles, left
        self.group, self.valid, self.pretest, self.shape = group, valid, pretest, shape


def _followed_by(prefix: str, chars: frozenset[str], n: int) -> Callable[[str], bool]:
    """A pretest (`journal.privacy.secret_scan.Detector.pretest`): *prefix* followed by *n*
    characters of *chars*, somewhere (after 64 tries, the regex decides)."""

    def pretest(s: str) -> bool:
        i = s.find(prefix)
        for _ in range(64):
            if i < 0:
                return False
            run = s[i + len(prefix) : i + len(prefix) + n]
            if len(run) == n and all(c in chars for c in run):
                return True
            i = s.find(prefix, i + 1)
        return True

    return pretest


_HEX = frozenset("0123456789abcdefABCDEF")
#: Shape heads (see `journal.privacy.secret_scan.shapes_patterns`): an anchor, then the
#: guard that every token shape anchored there holds, a run of 16 (5 after a dot)
#: characters that tokens are made of. Prose and code rarely pass it.
TOKEN_AFTER = {
    "-": r"-(?=[a-z0-9_-]{15})",
    "_": r"_(?=[a-z0-9_-]{16})",
    ".": r"\.(?=[a-z0-9_-]{5})",
}
_TOKEN_AFTER = TOKEN_AFTER


def _has_digit_and_letter(start: int) -> Callable[[str], bool]:
    """Random tokens mix digits and letters after their prefix; names and prose do not."""

    def valid(token: str) -> bool:
        body = token[start:]
        return any(c.isdigit() for c in body) and any(c.isalpha() for c in body)

    return valid


def discord_bot_id(token: str) -> bool:
    # The first part is the bot's user id (a decimal snowflake) in base64.
    import binascii  # only when something token-shaped shows up

    head = token.split(".", 1)[0]
    try:
        raw = binascii.a2b_base64(head.replace("-", "+").replace("_", "/") + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return False
    return 15 <= len(raw) <= 20 and raw.isdigit()


def _base64_private_key(token: str) -> bool:
    # A PEM block in base64 (kubeconfig client-key-data, k8s Secrets): read its header.
    import binascii

    head = token[:96]
    try:
        raw = binascii.a2b_base64(head[: len(head) // 4 * 4])
    except (binascii.Error, ValueError):
        return False
    return b"PRIVATE KEY" in raw


RULES = (
    # Payments
    Rule("square_token", r"EAAA[A-Za-z0-9_-]{22,60}+(?![A-Za-z0-9_-])", "A", ("EAAA",), valid=_has_digit_and_letter(4),
         shape=(r"aaa(?<=eaaa)[a-z0-9_-]{22}",)),
    Rule("square_token", r"sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}+", "-", ("sq0",), valid=_has_digit_and_letter(7),
         shape=(_TOKEN_AFTER["-"] + r"(?<=sq0atp-|sq0csp-)[a-z0-9_-]{22}",)),
    # Messaging and email
    Rule("twilio_api_key", r"SK[0-9a-fA-F]{32}(?![A-Za-z0-9])", "S", ("SK",), left=_ALNUM,
         valid=_has_digit_and_letter(2), pretest=_followed_by("SK", _HEX, 32),  # "SK": TASK, RISK
         shape=(r"k(?=[0-9a-f]{32})(?<=sk)",)),
    Rule("sendgrid_api_key", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])", ".", ("SG.",),
         shape=(_TOKEN_AFTER["."] + r"(?<=sg\.)[a-z0-9_-]{22}\.",)),
    Rule("mailgun_key", r"key-[0-9a-f]{32}(?![A-Za-z0-9])", "-", ("key-",), valid=_has_digit_and_letter(4),
         shape=(_TOKEN_AFTER["-"] + r"(?<=key-)[0-9a-f]{32}",)),

    Rule("discord_webhook", r"discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/(?P<s>[A-Za-z0-9_-]{60,}+)",
         "/", ("/api/webhooks/",), left=frozenset(), group="s", shape=(r"/api/webhooks/[0-9]{17}",)),
    Rule("telegram_bot_token", r"(?<![0-9])[0-9]{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])", ":", (":AA",),
         left=frozenset(), shape=(r":(?<=[0-9]:)aa[a-z0-9_-]{33}",)),  # "bot<token>" in API URLs
    # Package registries and developer platforms
    Rule("pypi_token", r"pypi-AgE[A-Za-z0-9_-]{50,}+", "-", ("pypi-AgE",),
         shape=(_TOKEN_AFTER["-"] + r"(?<=pypi-)age[a-z0-9_-]{50}",)),
    Rule("dockerhub_token", r"dckr_pat_[A-Za-z0-9_-]{27,}+", "_", ("dckr_pat_",), valid=_has_digit_and_letter(9),
         shape=(_TOKEN_AFTER["_"] + r"(?<=dckr_pat_)[a-z0-9_-]{27}",)),
    Rule("shopify_token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?![A-Za-z0-9])", "_",
         ("shpat_", "shpca_", "shppa_", "shpss_"),
         shape=(_TOKEN_AFTER["_"] + r"(?<=shpat_|shpca_|shppa_|shpss_)[a-f0-9]{32}",)),
    Rule("digitalocean_token", r"do[opr]_v1_[a-f0-9]{64}(?![A-Za-z0-9])", "_", ("_v1_",),
         shape=(_TOKEN_AFTER["_"] + r"(?<=do[opr]_v1_)[a-f0-9]{64}",)),
    Rule("linear_api_key", r"lin_(?:api|oauth)_[A-Za-z0-9]{40}(?![A-Za-z0-9])", "_", ("lin_api_", "lin_oauth_"),
         valid=_has_digit_and_letter(8),
         shape=tuple(_TOKEN_AFTER["_"] + rf"(?<=lin_{p}_)[a-z0-9]{{40}}" for p in ("api", "oauth"))),
    Rule("databricks_token", r"dapi[a-f0-9]{32}(?:-[0-9])?(?![A-Za-z0-9])", "d", ("dapi",), left=_ALNUM,
         valid=_has_digit_and_letter(4), shape=(r"api(?<=dapi)[a-f0-9]{32}",)),
    Rule("vault_token", r"hv[sbr]\.[A-Za-z0-9_-]{24,}+", ".", ("hvs.", "hvb.", "hvr."),
         valid=_has_digit_and_letter(4), shape=(_TOKEN_AFTER["."] + r"(?<=hv[sbr]\.)[a-z0-9_-]{24}",)),
    Rule("mapbox_token", r"sk\.eyJ[A-Za-z0-9_-]{20,}+\.[A-Za-z0-9_-]{20,}+", "J", ("sk.eyJ",),
         shape=(_TOKEN_AFTER["."] + r"(?<=sk\.)eyj[a-z0-9_-]{20}",)),
    Rule("okta_token", r"SSWS[ \t]+(?P<s>[A-Za-z0-9_-]{20,}+)", "S", ("SSWS",), group="s",
         valid=_has_digit_and_letter(0), shape=(r"ws(?<=ssws)[ \t]+[a-z0-9_-]{20}",)),
    Rule("private_key", r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{60,}+={0,2}", "J", ("LS0tLS1CRUdJTi",), left=_B64,
         valid=_base64_private_key, shape=(r"jti(?<=ls0tls1crudjti)[a-z0-9+/]{60}",)),
    Rule("age_secret_key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58,}+", "-", ("AGE-SECRET-KEY-1",),
         shape=(_TOKEN_AFTER["-"] + r"(?<=age-)secret-key-1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}",)),
    Rule("gitlab_token", r"gl(?:ft|imt|agent|oas)-[A-Za-z0-9_-]{20,}+", "-",
         ("glft-", "glimt-", "glagent-", "gloas-"), valid=_has_digit_and_letter(5),
         shape=tuple(_TOKEN_AFTER["-"] + rf"(?<=gl{p}-)[a-z0-9_-]{{20}}" for p in ("ft", "imt", "agent", "oas"))),
)
