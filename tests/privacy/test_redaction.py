"""The privacy layer: secrets never reach the journal, sizes stay bounded, nothing crashes.

Corpus tests check every realistic secret and report the false-positive rate on
look-alikes; property tests (hypothesis) check idempotence, that secrets never leak from
arbitrary surrounding text, that structure survives redaction, and that `limit` always
meets its budget and says truthfully what it cut.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from journal.privacy.redaction import (
    DEFAULT_MAX_STRING,
    KEEP_KEYS,
    MAX_DEPTH,
    RedactionConfig,
    Redactor,
    limit,
    redact,
    sanitize,
)
from tests.privacy.corpus import (
    GH_APP,
    GH_PAT_CLASSIC,
    JWT,
    NON_SECRETS,
    SECRETS,
    STRUCTURED,
    YAML_PASSWORD,
    Case,
)
from tests.profiles import examples

REDACTOR = Redactor()
MARKER = re.compile(r"\[REDACTED:([A-Za-z0-9_]+):([0-9a-f]{8})\]")
NOTE = re.compile(r"…\[TRUNCATED: original (\d+) chars, sha256 ([0-9a-f]{64})\]…")
PROPERTY = settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def encoded_size(value: Any) -> int:
    """Bytes of the compact JSON encoding, as the journal writer produces it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(text.encode("utf-8", "surrogatepass"))


# ----------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("case", SECRETS, ids=lambda c: f"{c.where}:{c.secrets[0][1]}")
def test_every_corpus_secret_is_redacted_with_its_kind(case: Case) -> None:
    out, count = REDACTOR.redact_text(case.text)
    assert count >= (len(case.secrets) if case.exact else 1)
    for secret, kind in case.secrets:
        assert secret not in out, f"{kind} leaked in {case.where}: {out!r}"
        assert f"[REDACTED:{kind}:" in out, f"expected a {kind} marker in {out!r}"
        if case.exact:
            assert REDACTOR.marker(kind, secret) in out, f"redacted span is not exactly the {kind}: {out!r}"


@pytest.mark.parametrize("where, payload, secrets", STRUCTURED, ids=[s[0] for s in STRUCTURED])
def test_secrets_in_structured_payloads_are_redacted(where: str, payload: Any, secrets: tuple) -> None:
    out, count = REDACTOR.redact(payload)
    text = json.dumps(out)
    assert count == len(secrets)
    for secret, kind in secrets:
        assert secret not in text
        assert REDACTOR.marker(kind, secret) in text


def test_corpus_is_big_enough() -> None:
    kinds = {kind for case in SECRETS for _, kind in case.secrets}
    assert sum(len(c.secrets) for c in SECRETS) >= 40
    assert len(NON_SECRETS) >= 40
    assert kinds >= {
        "anthropic_api_key", "openai_api_key", "aws_access_key_id", "aws_secret_access_key",
        "github_token", "gitlab_token", "slack_token", "slack_webhook", "jwt", "bearer_token",
        "authorization", "private_key", "url_password", "password", "secret", "token", "api_key",
        "high_entropy",
    }  # fmt: skip


def test_false_positive_rate_on_look_alikes(capsys: pytest.CaptureFixture[str]) -> None:
    changed = []
    for where, text in NON_SECRETS:
        out, count = REDACTOR.redact_text(text)
        if count or out != text:
            changed.append(f"{where}: {out!r}")
    rate = len(changed) / len(NON_SECRETS)
    with capsys.disabled():
        print(f"\nredaction false-positive rate: {rate:.1%} ({len(changed)} of {len(NON_SECRETS)} look-alikes)")
    assert rate < 0.10, "\n".join(changed)


# ------------------------------------------------------------------------ correlation


def test_one_secret_gets_one_marker_wherever_it_appears() -> None:
    first, _ = REDACTOR.redact_text(f"git push https://{GH_PAT_CLASSIC}@github.com/acme/api.git")
    second, _ = REDACTOR.redact_text(f"export GITHUB_TOKEN={GH_PAT_CLASSIC}")
    third, _ = REDACTOR.redact({"env": {"GH": GH_PAT_CLASSIC}})
    marker = REDACTOR.marker("github_token", GH_PAT_CLASSIC)
    assert marker in first and marker in second and third == {"env": {"GH": marker}}


def test_marker_format_is_kind_and_sha256_prefix() -> None:
    marker = REDACTOR.marker("github_token", GH_APP)
    assert marker == f"[REDACTED:github_token:{hashlib.sha256(GH_APP.encode()).hexdigest()[:8]}]"


def test_different_secrets_get_different_markers() -> None:
    out, count = REDACTOR.redact_text(f"a={GH_APP} b={GH_PAT_CLASSIC}")
    assert count == 2
    assert len(set(MARKER.findall(out))) == 2


def test_salt_keys_the_hash() -> None:
    salted = Redactor(RedactionConfig(salt="journal-7f3a"))
    again = Redactor(RedactionConfig(salt="journal-7f3a"))
    assert salted.marker("jwt", JWT) == again.marker("jwt", JWT)
    assert salted.marker("jwt", JWT) != REDACTOR.marker("jwt", JWT)
    digest = hashlib.sha256(b"journal-7f3a\0" + JWT.encode()).hexdigest()[:8]
    assert salted.marker("jwt", JWT) == f"[REDACTED:jwt:{digest}]"


# ------------------------------------------------------------------- config and allow


def test_allow_listed_strings_survive() -> None:
    redactor = Redactor(RedactionConfig(allow=[GH_APP, YAML_PASSWORD]))
    text = f"token {GH_APP} and password={YAML_PASSWORD} but not {GH_PAT_CLASSIC}"
    out, count = redactor.redact_text(text)
    assert GH_APP in out and f"password={YAML_PASSWORD}" in out
    assert GH_PAT_CLASSIC not in out and count == 1
    assert redactor.redact({"password": YAML_PASSWORD}) == ({"password": YAML_PASSWORD}, 0)


def test_extra_patterns_from_config() -> None:
    redactor = Redactor.from_config(
        {
            "redaction": {
                "patterns": [
                    {"name": "acme_id", "regex": r"ACME-[0-9]{6}"},
                    {"name": "employee", "regex": r"employee=(?P<secret>\d{5})"},
                ],
                "allow": ["ACME-000000"],
            },
            "limits": {"max_string": 1000, "max_event": 5000},
            "segments": {"unrelated": "sections belong to other layers"},
        }
    )
    out, count = redactor.redact_text("ids ACME-123456 ACME-000000 employee=31337")
    assert count == 2
    assert out == (
        f"ids {redactor.marker('acme_id', 'ACME-123456')} ACME-000000 employee={redactor.marker('employee', '31337')}"
    )
    assert redactor.redact(["ACME-654321"])[1] == 1  # short strings are scanned by user patterns
    assert (redactor.config.max_string, redactor.config.max_event) == (1000, 5000)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"redaction": {"patterns": [{"name": "x", "regex": "("}]}}, r"^redaction\.patterns\[0\]\.regex: invalid regular expression '\(': missing \), unterminated subpattern at position 0$"),
        ({"redaction": {"patterns": [{"name": "my id", "regex": "x"}]}}, r"^redaction\.patterns\[0\]\.name: expected 1-40 characters of \[A-Za-z0-9_\], got 'my id'$"),
        ({"redaction": {"patterns": [{"name": "ok", "regex": "a*"}]}}, r"^redaction\.patterns\[0\]\.regex: 'a\*' matches the empty string$"),
        ({"redaction": {"patterns": [{"name": "ok", "regex": 3}]}}, r"^redaction\.patterns\[0\]\.regex: expected a non-empty string, got 3$"),
        ({"redaction": {"patterns": [{"name": "ok"}]}}, r"^redaction\.patterns\[0\]: missing 'regex'$"),
        ({"redaction": {"patterns": [{"name": "ok", "regex": "x", "flags": "i"}]}}, r"^redaction\.patterns\[0\]: unknown key 'flags' \(expected name, regex\)$"),
        ({"redaction": {"patterns": ["x"]}}, r'^redaction\.patterns\[0\]: expected an object with "name" and "regex", got str$'),
        ({"redaction": {"patterns": {"name": "x"}}}, r"^redaction\.patterns: expected a list, got dict$"),
        ({"redaction": {"allow": "secret"}}, r"^redaction\.allow: expected a list of strings, got str$"),
        ({"redaction": {"allow": ["ok", 7]}}, r"^redaction\.allow\[1\]: expected a non-empty string, got 7$"),
        ({"redaction": {"patern": []}}, r"^redaction: unknown key 'patern' \(expected one of: patterns, allow, salt\)$"),
        ({"redaction": []}, r"^redaction: expected an object, got list$"),
        ({"limits": {"max_string": "16k"}}, r"^limits\.max_string: expected an integer >= 256, got '16k'$"),
        ({"limits": {"max_event": True}}, r"^limits\.max_event: expected an integer >= 1024, got True$"),
        ({"limits": {"max_event": 100}}, r"^limits\.max_event: expected an integer >= 1024, got 100$"),
        ({"limits": {"max_bytes": 100}}, r"^limits: unknown key 'max_bytes' \(expected one of: max_string, max_event\)$"),
        ([], r"^config: expected an object, got list$"),
    ],
)
def test_bad_config_raises_a_precise_value_error(config: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Redactor.from_config(config)


def test_config_class_validates_too() -> None:
    with pytest.raises(ValueError, match=r"extra_patterns\[0\]: expected a \(name, regex\) pair"):
        RedactionConfig(extra_patterns=[("only-a-name",)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"^max_string: expected an integer >= 256, got 10$"):
        RedactionConfig(max_string=10)
    assert Redactor.from_config(None).config == RedactionConfig()
    assert "salt=" in repr(RedactionConfig(salt="s3cret")) and "s3cret" not in repr(RedactionConfig(salt="s3cret"))


# -------------------------------------------------------------------- tree handling


def test_redact_returns_a_new_object_and_keeps_keys() -> None:
    payload = {
        "session_id": "9f1c2d3e-4b5a-6789-abcd-ef0123456789",
        "tool_input": {"command": f"export GITHUB_TOKEN={GH_APP}", "timeout": 30, "flags": [True, None, 1.5]},
        GH_PAT_CLASSIC: ["x"],
    }
    before = copy.deepcopy(payload)
    out, count = redact(payload)
    assert payload == before and out is not payload
    assert count == 2
    assert list(out)[:2] == ["session_id", "tool_input"]
    assert out["tool_input"]["timeout"] == 30 and out["tool_input"]["flags"] == [True, None, 1.5]
    assert REDACTOR.marker("github_token", GH_PAT_CLASSIC) in out


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, (dict, list)) and value:
        value = value["k"] if isinstance(value, dict) else value[0]
        depth += 1
    return depth


def test_ten_thousand_levels_do_not_blow_the_stack() -> None:
    deep = nested(10_000, f"token={GH_APP}")
    out, count = redact(deep)
    assert count == 1 and depth_of(out) == 10_000
    capped, truncated = limit(out)
    assert truncated and depth_of(capped) == MAX_DEPTH
    json.dumps(capped)  # the writer can encode it
    cleaned, report = sanitize(deep)
    assert report == {"redacted": 1, "truncated": True}
    assert GH_APP not in json.dumps(cleaned)


# --------------------------------------------------------------------------- limits


def test_small_events_pass_through_untouched() -> None:
    event = {"session_id": "s", "hook_event_name": "PreToolUse", "tool_input": {"command": "ls"}}
    out, truncated = limit(event)
    assert out is event and not truncated


def test_long_string_keeps_head_and_tail_and_says_what_it_was() -> None:
    original = "".join(f"line {i}: {'é' if i % 7 else 'x'}\n" for i in range(100_000))
    out, truncated = limit({"tool_response": {"stdout": original}, "tool_name": "Bash"})
    assert truncated and out["tool_name"] == "Bash"
    cut = out["tool_response"]["stdout"]
    assert len(cut) <= DEFAULT_MAX_STRING
    note = NOTE.search(cut)
    assert note is not None
    assert int(note.group(1)) == len(original)
    assert note.group(2) == hashlib.sha256(original.encode()).hexdigest()
    head, tail = cut[: note.start()], cut[note.end() :]
    assert original.startswith(head) and original.endswith(tail)
    assert len(head) + len(tail) >= DEFAULT_MAX_STRING - 200


def test_event_budget_shrinks_the_largest_strings_first() -> None:
    event = {
        "session_id": "s-1",
        "hook_event_name": "PostToolUse",
        "tool_name": "Read",
        "small": "keep me",
        "big": ["a" * 15_000, "b" * 15_000, "c" * 2_000],
    }
    out, truncated = limit(event, max_event=20_000)
    assert truncated and encoded_size(out) <= 20_000
    assert out["small"] == "keep me" and out["big"][2] == "c" * 2_000  # under the common cap
    assert NOTE.search(out["big"][0]) and NOTE.search(out["big"][1])


def test_event_budget_summarizes_subtrees_and_keeps_the_identity_keys() -> None:
    event = {key: f"{key}-value" for key in KEEP_KEYS}
    event["tool_response"] = {"files": [{"name": f"f{i}", "size": i} for i in range(20_000)]}
    event.update({f"extra_{i}": i for i in range(2_000)})
    out, truncated = limit(event, max_event=4096)
    assert truncated and encoded_size(out) <= 4096
    assert all(out[key] == f"{key}-value" for key in KEEP_KEYS)


def test_limit_rejects_budgets_below_the_minimum() -> None:
    with pytest.raises(ValueError, match=r"^max_event: expected an integer >= 1024, got 10$"):
        limit({}, max_event=10)


def test_size_estimate_matches_msgspec_on_a_typical_event() -> None:
    from journal.privacy.redaction import _str_size  # the estimate is the contract limit() relies on

    text = 'say "hi"\\ \t\x01 naïve — ✓ \U0001f600\n'
    assert _str_size(text) == len(msgspec.json.encode(text)) == len(json.dumps(text, ensure_ascii=False).encode())


def test_sanitize_reports_both_steps() -> None:
    payload = {"session_id": "s", "prompt": f"use {GH_APP} please", "blob": "z" * 40_000}
    out, report = sanitize(payload, REDACTOR)
    assert report == {"redacted": 1, "truncated": True}
    assert GH_APP not in out["prompt"] and len(out["blob"]) <= DEFAULT_MAX_STRING
    assert sanitize({"a": "b"}) == ({"a": "b"}, {"redacted": 0, "truncated": False})


# ----------------------------------------------------------------------- properties

EXACT_SECRETS = [(case.text, case.secrets) for case in SECRETS]
FRAGMENTS = [
    "[REDACTED:", "[REDACTED:token:", "]", ":0123abcd]", "password=", "token: ", '"secret": "',
    "Bearer ", "Authorization: ", "://u:", "@", "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----",
    "\n", " ", "=", "'", '"', "--password ", "-u ", "export ", "eyJ", "sk-", "AKIA", "_",
]  # fmt: skip
SAMPLES = [case.text for case in SECRETS] + [text for _, text in NON_SECRETS]
SAMPLES += [secret for case in SECRETS for secret, _ in case.secrets]

adversarial_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(SAMPLES), st.text(max_size=12)), max_size=8
).map("".join)
texts = st.one_of(st.text(max_size=30), st.sampled_from(SAMPLES), adversarial_text)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), texts)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)


@PROPERTY
@given(json_values)
def test_redaction_is_idempotent(value: Any) -> None:
    once, _ = REDACTOR.redact(value)
    twice, count = REDACTOR.redact(once)
    assert twice == once
    assert count == 0


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", [(type(k).__name__, shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [shape(v) for v in value])
    return type(value).__name__ if isinstance(value, str) else value


@PROPERTY
@given(json_values)
def test_redaction_preserves_structure_and_types(value: Any) -> None:
    out, _ = REDACTOR.redact(value)
    assert shape(out) == shape(value)


@PROPERTY
@given(
    st.sampled_from(EXACT_SECRETS),
    st.text(max_size=40),
    st.text(max_size=40),
    st.sampled_from([" ", "\n", "\t", " \n "]),
)
def test_secrets_never_leak_from_surrounding_text(case: tuple, prefix: str, suffix: str, gap: str) -> None:
    text, secrets = case
    out, _ = REDACTOR.redact_text(prefix + gap + text + gap + suffix)
    for secret, _kind in secrets:
        assume(secret not in prefix and secret not in suffix)
        assert secret not in out


@PROPERTY
@given(
    st.sampled_from(EXACT_SECRETS),
    st.lists(st.sampled_from(["session_id", "prompt", "tool_input", "env", "x"]), min_size=1, max_size=3),
)
def test_secrets_never_leak_at_any_depth(case: tuple, path: list[str]) -> None:
    text, secrets = case
    value: Any = text
    for key in reversed(path):
        value = {key: [value, key]}
    out, _ = REDACTOR.redact(value)
    for secret, _kind in secrets:
        assert secret not in json.dumps(out, ensure_ascii=False)


big_strings = st.builds(lambda chunk, n: chunk * n, st.text(min_size=1, max_size=8), st.integers(0, 3000))
limit_values = st.recursive(
    st.one_of(scalars, big_strings),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.one_of(texts, big_strings), children, max_size=6),
    max_leaves=25,
)


@PROPERTY
@given(limit_values, st.integers(256, 3000), st.integers(1024, 12_000), st.booleans())
def test_limit_always_fits_and_never_raises(value: Any, max_string: int, max_event: int, as_event: bool) -> None:
    if as_event:
        value = {"session_id": "s-1", "hook_event_name": "PostToolUse", "tool_name": "Bash", "payload": value}
    out, truncated = limit(value, max_string, max_event)
    assert encoded_size(out) <= max_event
    if not truncated:
        assert out == value
    if as_event:
        assert (out["session_id"], out["hook_event_name"], out["tool_name"]) == ("s-1", "PostToolUse", "Bash")
    stack = [out]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            assert len(node) <= max(max_string, max_event)
        elif isinstance(node, dict):
            stack.extend(node.values())
            assert all(len(k) <= max_string for k in node if isinstance(k, str))
        elif isinstance(node, list):
            stack.extend(node)


@PROPERTY
@given(st.text(min_size=1, max_size=50), st.integers(1, 400), st.integers(256, 4000))
def test_truncated_strings_keep_head_tail_length_and_hash(chunk: str, repeat: int, max_string: int) -> None:
    original = (chunk * (max_string // len(chunk) + 1)) * repeat
    assume(len(original) > max_string)
    out, truncated = limit([original], max_string, 10 * 1024 * 1024)
    cut = out[0]
    note = NOTE.search(cut)
    assert truncated and note is not None and len(cut) <= max_string
    assert int(note.group(1)) == len(original)
    assert note.group(2) == hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()
    head, tail = cut[: note.start()], cut[note.end() :]
    assert original.startswith(head) and original.endswith(tail)
    assert len(head) + len(tail) >= max_string - len(note.group(0)) - 1
