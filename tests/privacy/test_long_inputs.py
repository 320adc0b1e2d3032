"""Long strings and huge events: cut first, then redact what is kept, and leak nothing.

`sanitize` scans only the head and tail of a string it is going to cut, and never scans
or copies a subtree it omits. These tests check what that must not change: a secret in
what is stored is redacted wherever it sits, across either cut included; the truncation
note describes the original string as it arrived (length and sha256); and the plan for
an event far over its budget summarizes containers before it cuts strings.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal.privacy import limits
from journal.privacy.redaction import (
    DEFAULT_MAX_STRING,
    KEEP_KEYS,
    RedactionConfig,
    Redactor,
    limit,
    sanitize,
)
from tests.privacy.corpus import ANTHROPIC, GH_PAT_CLASSIC, JWT, RSA_KEY, SECRETS, Case
from tests.privacy.test_redaction import NOTE, encoded_size
from tests.profiles import examples

REDACTOR = Redactor()
FILLER_LINE = "2025-11-25 12:00:01 INFO worker-3 processed batch 1234 in 56 ms (ok)\n"


def filler(n: int) -> str:
    return (FILLER_LINE * (n // len(FILLER_LINE) + 1))[:n]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def fragments(secret: str, size: int = 12) -> list[str]:
    return [secret[i : i + size] for i in range(0, max(len(secret) - size, 0) + 1, 3)]


def assert_no_leak(text: str, secret: str) -> None:
    leaked = [f for f in fragments(secret) if f in text]
    assert not leaked, f"fragments of a secret survived: {leaked[:3]}"


def head_and_tail_sizes(length: int, max_string: int = DEFAULT_MAX_STRING) -> tuple[int, int]:
    room = max_string - limits._note_len(length)
    return room - room // 2, room // 2


# ------------------------------------------------------------------- one long string


@pytest.mark.parametrize("where", ["start", "before the head cut", "across the head cut", "across the tail cut",
                                   "after the tail cut", "end"])
def test_a_secret_in_what_is_kept_of_a_long_string_is_redacted(where: str) -> None:
    length = 1_000_000
    head, tail = head_and_tail_sizes(length)
    secret = f"export GITHUB_TOKEN={GH_PAT_CLASSIC} "
    at = {
        "start": 0,
        "before the head cut": head - len(secret) - 5,
        "across the head cut": head - 25,
        "across the tail cut": length - tail - 25,
        "after the tail cut": length - tail + 5,
        "end": length - len(secret),
    }[where]
    text = filler(at) + secret + filler(length - at - len(secret))
    out, report = sanitize({"tool_response": {"stdout": text}}, REDACTOR)
    stored = out["tool_response"]["stdout"]
    assert report["truncated"] and len(stored) <= DEFAULT_MAX_STRING
    assert_no_leak(stored, GH_PAT_CLASSIC)
    if where in ("start", "before the head cut", "after the tail cut", "end"):
        assert report["redacted"] == 1 and REDACTOR.marker("github_token", GH_PAT_CLASSIC) in stored
    note = NOTE.search(stored)
    assert note is not None
    assert int(note.group(1)) == len(text) and note.group(2) == sha256(text)  # the original, secret included
    kept_head, kept_tail = stored[: note.start()], stored[note.end() :]
    if where in ("across the tail cut", "after the tail cut", "end"):
        assert text.startswith(kept_head) and len(kept_head) == head
    if where in ("start", "before the head cut", "across the head cut"):
        assert text.endswith(kept_tail) and len(kept_tail) == tail


def test_a_secret_in_the_dropped_middle_is_dropped_and_not_counted() -> None:
    text = filler(200_000) + f" token {ANTHROPIC} " + filler(200_000)
    out, report = sanitize({"stdout": text}, REDACTOR)
    assert report == {"redacted": 0, "truncated": True}
    assert_no_leak(json.dumps(out), ANTHROPIC)


def test_a_private_key_across_the_tail_cut_is_redacted_whole() -> None:
    length = 300_000
    _, tail = head_and_tail_sizes(length)
    key = RSA_KEY.replace("\n", "\r\n")
    at = length - tail - len(key) // 2
    text = filler(at) + key + filler(length - at - len(key))
    out, report = sanitize({"stdout": text}, REDACTOR)
    for line in RSA_KEY.splitlines()[1:-1]:
        assert_no_leak(out["stdout"], line)
    assert "[REDACTED:private_key:" in out["stdout"]


def test_a_long_value_under_a_secret_key_becomes_one_marker() -> None:
    value = "".join(f"{i:x}Zq" for i in range(100_000))
    out, report = sanitize({"password": value, "session_id": "s"}, REDACTOR)
    assert out == {"password": REDACTOR.marker("password", value), "session_id": "s"}
    assert report == {"redacted": 1, "truncated": False}


def test_a_long_key_is_redacted_and_cut() -> None:
    key = filler(40_000) + " " + JWT
    out, report = sanitize({key: 1}, REDACTOR)
    [stored] = out
    assert len(stored) <= DEFAULT_MAX_STRING and report == {"redacted": 1, "truncated": True}
    assert_no_leak(stored, JWT)
    assert NOTE.search(stored).group(2) == sha256(key)  # type: ignore[union-attr]


def test_a_string_grown_by_its_markers_is_cut_and_its_note_describes_the_original() -> None:
    text = "pass=abc " * (DEFAULT_MAX_STRING // 9)  # fits as it arrives; every "abc" becomes a marker
    out, report = sanitize({"stdout": text}, REDACTOR)
    stored = out["stdout"]
    assert report["redacted"] == DEFAULT_MAX_STRING // 9 and report["truncated"]
    note = NOTE.search(stored)
    assert note is not None and int(note.group(1)) == len(text) and note.group(2) == sha256(text)
    assert "pass=abc" not in stored


# Exact secrets with the text around them, and the filler they are placed in.
EXACT = [case for case in SECRETS if case.exact and len(case.text) < 2_000]


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(EXACT),
    st.integers(256, 4_000),
    st.integers(3_000, 60_000),
    st.floats(0, 1),
    st.sampled_from(["\n", " ", "\t"]),
)
def test_no_secret_leaks_from_a_long_string_wherever_it_sits(
    case: Case, max_string: int, length: int, where: float, gap: str
) -> None:
    redactor = Redactor(RedactionConfig(max_string=max_string))
    at = int(where * length)
    text = filler(at) + gap + case.text + gap + filler(length - at)
    out, _ = sanitize({"tool_response": {"stdout": text}}, redactor)
    stored = out["tool_response"]["stdout"]
    assert len(stored) <= max_string
    for secret, _kind in case.secrets:
        assert_no_leak(stored, secret)


# -------------------------------------------------------------------- huge events


def event_with(response: Any, **extra: Any) -> dict[str, Any]:
    return {"session_id": "s-1", "hook_event_name": "PostToolUse", "tool_name": "mcp__db__query",
            "tool_use_id": "toolu_1", **extra, "tool_response": response}


def test_far_over_the_budget_containers_go_before_strings_are_cut() -> None:
    prompt = "explain this " * 200  # 2,600 bytes: cut to 160 if strings went first
    records = [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(30_000)]
    out, truncated = limit(event_with(records, prompt=prompt), max_event=16 * 1024)
    assert truncated and encoded_size(out) <= 16 * 1024
    assert out["prompt"] == prompt
    assert re.fullmatch(r"\[OMITTED: list with 30000 items, \d+ bytes\]", out["tool_response"])


def test_the_smallest_container_that_is_enough_is_the_one_summarized() -> None:
    big = [{"row": i, "text": f"row {i}"} for i in range(20_000)]
    small = [{"row": i} for i in range(100)]
    out, _ = limit(event_with({"rows": big, "other": small, "n": 3}), max_event=8 * 1024)
    assert out["tool_response"]["other"] == small and out["tool_response"]["n"] == 3
    assert out["tool_response"]["rows"].startswith("[OMITTED: list with 20000 items")


def test_without_a_single_container_that_is_enough_the_largest_go_first() -> None:
    parts = {f"part{i}": [{"x": j} for j in range(400 * (i + 1))] for i in range(6)}  # 4 to 24 KB each
    out, _ = limit({key: "v" for key in KEEP_KEYS} | parts, max_event=20 * 1024)
    assert encoded_size(out) <= 20 * 1024
    omitted = [k for k, v in out.items() if k.startswith("part") and isinstance(v, str)]
    assert omitted == ["part2", "part3", "part4", "part5"]  # the largest, until it fits
    assert out["part0"] == parts["part0"] and out["part1"] == parts["part1"]


def test_a_wide_event_drops_top_level_keys_but_never_the_identity_keys() -> None:
    event = {**{key: f"{key}-value" for key in KEEP_KEYS}, **{f"k{i}": i for i in range(50_000)}}
    out, truncated = limit(event, max_event=4096)
    assert truncated and encoded_size(out) <= 4096
    assert all(out[key] == f"{key}-value" for key in KEEP_KEYS)
    kept = [k for k in out if k.startswith("k")]
    assert kept == [f"k{i}" for i in range(len(kept))]  # more than _WIDE items: dropped from the end


def test_a_huge_list_event_becomes_one_summary() -> None:
    event = [[i] for i in range(100_000)]
    out, truncated = limit(event, max_event=4096)
    assert truncated and out == f"[OMITTED: list with 100000 items, {encoded_size(event)} bytes]"


def test_sanitize_redacts_what_it_keeps_of_a_huge_event() -> None:
    records = [{"id": i, "note": "ok"} for i in range(50_000)]
    event = event_with(records, prompt=f"my key is {GH_PAT_CLASSIC}", env={"DB_PASSWORD": "hunter2x"})
    out, report = sanitize(event, REDACTOR)
    assert report == {"redacted": 2, "truncated": True}
    text = json.dumps(out)
    assert GH_PAT_CLASSIC not in text and "hunter2x" not in text
    assert out["tool_response"].startswith("[OMITTED: list with 50000 items")
    assert encoded_size(out) <= 256 * 1024


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 40), st.integers(50, 3_000), st.integers(1024, 20_000), st.integers(256, 4_000))
def test_sanitize_always_fits_even_when_markers_grow_the_event(
    lists: int, pairs: int, max_event: int, max_string: int
) -> None:
    redactor = Redactor(RedactionConfig(max_string=max_string, max_event=max_event))
    text = "pass=abc " * pairs
    event = event_with([text] * lists)
    out, report = sanitize(event, redactor)
    assert encoded_size(out) <= max_event
    assert "pass=abc" not in json.dumps(out)
    assert (out["session_id"], out["hook_event_name"], out["tool_name"]) == ("s-1", "PostToolUse", "mcp__db__query")
