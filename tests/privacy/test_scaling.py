"""Redaction and limits take time linear in their input, whatever the input.

Quadratic behaviour hides in rescans: a regex restarting inside a run it already scanned
("eyJ" 100,000 times), a value scanned again for each "=" in it ("token=" 8,000 times), a
subtree measured and copied once per level (17 MB of small records). These tests count
the work where it can be counted: the characters the resolvers scan, the characters the
redactor scans, the containers measured and copied, the memory allocated. Where only the
regex engine knows, they compare an input of size n with the same input of size 4n:
linear is about 4x, quadratic 16x; the bound is 8x. No absolute time is asserted.
"""

from __future__ import annotations

import math
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journal.privacy.secrets_patterns as patterns
from journal.privacy import limits
from journal.privacy.redaction import RedactionConfig, Redactor, sanitize
from tests.privacy.test_redaction import FRAGMENTS, SAMPLES
from tests.profiles import examples

REDACTOR = Redactor()
SMALL = 16 * 1024  # characters; big enough that per-match work dwarfs fixed costs
MAX_RATIO = 8.0  # for 4x the input: linear is ~4, quadratic ~16


def repeat_to(unit: str, size: int) -> str:
    return (unit * (size // max(len(unit), 1) + 1))[:size]


# Inputs that made the old implementation quadratic, and their relatives.
PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "token= chain": lambda n: repeat_to("token=", n),
    "password pairs": lambda n: " ".join(f"password=hunter{i}x" for i in range(n // 17)),
    "eyJ run": lambda n: repeat_to("eyJ", n),
    "eyJ. segments": lambda n: repeat_to("eyJabcdefghij.", n),
    "rejected chain": lambda n: repeat_to("password=x...", n),
    "reference chain": lambda n: repeat_to("token=self.token.", n),
    "key glued to value": lambda n: repeat_to("Zm9vYmFy3pwd=", n),
    "env run failing its end": lambda n: repeat_to("=A1b2C3d4E5f6G7h8", n) + "@",
    "yaml chain": lambda n: repeat_to("secret:", n),
    "spaces after keys": lambda n: repeat_to("password=" + " " * 61, n),
    "quoted chain": lambda n: repeat_to('password="a ', n),
    "user flag chain": lambda n: repeat_to("-u=", n),
    "pem headers, no end": lambda n: repeat_to("-----BEGIN PRIVATE KEY-----!", n),
    "pem headers in a body": lambda n: repeat_to("-----BEGIN PRIVATE KEY-----" + "A" * 40, n),
    "pem end far away": lambda n: repeat_to("-----BEGIN RSA PRIVATE KEY-----\n", n) + "-----END RSA PRIVATE KEY-----",
    "url credentials": lambda n: repeat_to("://a:", n),
    "bearer": lambda n: repeat_to("Bearer ", n),
    "authorization": lambda n: repeat_to("Authorization: ", n),
    "flags": lambda n: repeat_to("--password ", n),
    "openai backtracking": lambda n: repeat_to("sk-" + "a1" * 20 + "-", n),
    "huggingface backtracking": lambda n: repeat_to("hf_" + "a1" * 20 + "_", n),
    "markers": lambda n: repeat_to("[REDACTED:token:0123abcd]", n),
    "tokens back to back": lambda n: repeat_to("ghp_i5rR6pMDq1WfsrcYQttTs7ywYwMTy3MhzeC3", n),
    "plain text": lambda n: repeat_to("the quick brown fox jumps over the lazy dog. ", n),
    # The vendor formats of journal.privacy.secret_rules and the prose and mysql detectors.
    "twilio prefix run": lambda n: repeat_to("SK0123456789abcdef", n),
    "sendgrid dots": lambda n: repeat_to("SG.abcdefghij.", n),
    "discord-like run": lambda n: repeat_to("M" * 30 + ".", n),
    "discord segments": lambda n: repeat_to("MTAxMjM0NTY3ODkwMTIzNDU2.abcdef.", n),
    "telegram digits": lambda n: repeat_to("1234567890:A", n),
    "telegram run": lambda n: repeat_to("0" * 9 + ":AA", n),
    "glued -p": lambda n: repeat_to("mysql -pa ", n),
    "glued -p chain": lambda n: repeat_to("-pa-", n),
    "prose passwords": lambda n: repeat_to("my password is password is ", n),
    "prose password for": lambda n: repeat_to("password for x ", n),
    "base64 pem run": lambda n: repeat_to("LS0tLS1CRUdJTi", n),
    "ssws run": lambda n: repeat_to("SSWS ", n),
    "vault dots": lambda n: repeat_to("hvs.", n),
    "age prefix": lambda n: repeat_to("AGE-SECRET-KEY-1", n),
    "dapi hex": lambda n: repeat_to("dapi0123456789abcdef", n),
}


def _cpu(fn: Callable[[Any], Any], arg: Any) -> float:
    # Forget the long strings found clean: a repeat would time a lookup, not the redaction.
    REDACTOR._clean_long.clear()
    start = time.process_time()
    fn(arg)
    return time.process_time() - start


def size_ratio(fn: Callable[[Any], Any], small: Any, large: Any) -> float:
    """CPU time of ``fn(large)`` over ``fn(small)``, best of a few tries (a busy machine
    can slow any one run; a quadratic function is slow on every try)."""
    best = math.inf
    for _ in range(3):
        t_small = min(_cpu(fn, small) for _ in range(3))
        t_large = min(_cpu(fn, large) for _ in range(2))
        best = min(best, t_large / max(t_small, 1e-6))
        if best < MAX_RATIO:
            break
    return best


# ------------------------------------------------------------------ counted: resolvers


class _CountingPattern:
    """Wraps a compiled pattern; adds to ``counts`` the characters each call scanned."""

    def __init__(self, pattern: Any, counts: Counter[str], name: str) -> None:
        self.pattern, self.counts, self.name = pattern, counts, name

    def match(self, s: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        m = self.pattern.match(s, pos, endpos)
        self.counts[self.name] += (m.end() if m else pos) - pos + 1
        return m

    def search(self, s: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        m = self.pattern.search(s, pos, endpos)
        self.counts[self.name] += (m.end() if m else min(len(s), endpos)) - pos + 1
        return m


@contextmanager
def counted_scans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count the characters scanned by the resolvers' own regex calls (values, PEM blocks):
    the scans that Python code starts at a position of its choosing."""
    counts: Counter[str] = Counter()
    for name in ("_VALUE_LEAD_RE", "_DQ_RE", "_SQ_RE", "_BARE_RE", "_PEM_BODY_RE", "_PEM_END_RE"):
        wrapped = _CountingPattern(getattr(patterns, name)(), counts, name)
        monkeypatch.setattr(patterns, name, lambda wrapped=wrapped: wrapped)
    yield counts


def test_the_scan_counter_sees_the_resolvers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The bounds below are upper bounds: they would pass vacuously on a counter that sees nothing.
    with counted_scans(monkeypatch) as counts:
        out = REDACTOR.redact_text('password = "hunter2-Zq9vX4mT7pL" and -----BEGIN PRIVATE KEY-----')
    assert "hunter2" not in out and sum(counts.values()) > 0, counts


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_resolvers_scan_each_character_a_bounded_number_of_times(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = PATHOLOGICAL[name](4 * SMALL)
    with counted_scans(monkeypatch) as counts:
        REDACTOR.redact_text(text)
    # Three passes at most, each scanning every character a couple of times at most.
    assert sum(counts.values()) <= 8 * len(text) + 64, counts


# ------------------------------------------------------------------- timed: regexes


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_redaction_time_grows_linearly(name: str) -> None:
    make = PATHOLOGICAL[name]
    ratio = size_ratio(REDACTOR.redact_text, make(SMALL), make(4 * SMALL))
    assert ratio < MAX_RATIO, f"{name}: 4x the input took {ratio:.1f}x the time"


pieces = st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(SAMPLES), st.text(max_size=8))
units = st.lists(pieces, min_size=1, max_size=6)


def _aligned_ratio(unit: str) -> float:
    """CPU of redacting *unit* repeated to 4x ~SMALL characters over ~SMALL, both cut at the
    same place in the unit; the smallest ratio over three such places.

    Where a text ends can spare redaction a second pass (a constant factor of 2 or 3, not
    growth: "AWS_ACCESS_KEY_ID=AKIA…[REDACTED:password=…" costs 1.1 ms at 16,384
    characters, 2.4 ms per 16,384 at every other size), so the two sizes end alike: the
    large text is the small one's whole units four times over, plus the same tail. A
    quadratic cost grows at every cut; a cut that happens to be cheap at one size only
    does not count against the code.
    """
    whole = max(1, SMALL // max(len(unit), 1)) * len(unit)
    ratios = []
    for k in range(3):
        tail = k * (len(unit) // 3)
        small = repeat_to(unit, whole + tail)
        large = repeat_to(unit, 4 * whole + tail)
        ratios.append(size_ratio(REDACTOR.redact_text, small, large))
        if ratios[-1] < MAX_RATIO:
            break
    return min(ratios)


@settings(max_examples=examples(20), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(units)
def test_redaction_time_grows_linearly_on_any_repeated_text(parts: list[str]) -> None:
    unit = "".join(parts) or "x"
    ratio = _aligned_ratio(unit)
    assert ratio < MAX_RATIO, f"{unit!r}: 4x the input took {ratio:.1f}x the time"


# ------------------------------------------------------- counted: what sanitize scans


@contextmanager
def counted_redaction(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The lengths of the strings the redactor scans."""
    scanned: list[int] = []
    original = Redactor._redact_string

    def counting(self: Redactor, text: str, key: str) -> tuple[str, int]:
        scanned.append(len(text))
        return original(self, text, key)

    monkeypatch.setattr(Redactor, "_redact_string", counting)
    yield scanned


@pytest.mark.parametrize("name", ["token= chain", "password pairs", "eyJ run", "plain text"])
def test_sanitize_scans_only_the_kept_head_and_tail_of_a_long_string(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from journal.privacy.redaction import _MARGIN

    totals = []
    for size in (256 * 1024, 1024 * 1024):
        with counted_redaction(monkeypatch) as scanned:
            out, report = sanitize({"tool_response": {"stdout": PATHOLOGICAL[name](size)}}, REDACTOR)
        assert report["truncated"]
        totals.append(sum(scanned))
    # The same work, but for the note's one more digit of length.
    assert abs(totals[0] - totals[1]) <= 4, "the work depends on the length of the string"
    assert totals[1] <= limits.DEFAULT_MAX_STRING + 2 * _MARGIN + 100


# ------------------------------------------------------------ counted: limits


def records(n: int) -> dict[str, Any]:
    return {
        "session_id": "s-1",
        "hook_event_name": "PostToolUse",
        "tool_name": "mcp__db__query",
        "prompt": "keep me",
        "tool_response": [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(n)],
    }


def tiny_lists(n: int) -> dict[str, Any]:
    return {"session_id": "s-1", "hook_event_name": "PostToolUse", "tool_response": [[i % 10] for i in range(n)]}


def containers(value: Any) -> int:
    count, stack = 0, [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += 1
            stack.extend(node.values())
        elif isinstance(node, list):
            count += 1
            stack.extend(node)
    return count


def limits_calls(fn: Callable[[], Any]) -> Counter[str]:
    """How many times each function of journal.privacy.limits is entered while ``fn`` runs."""
    calls: Counter[str] = Counter()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename == limits.__file__:
            calls[frame.f_code.co_qualname] += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


MEASURE = "_Sizes.__init__.<locals>.container"
BUILD = "_Builder.container"


# Sizes far over the 256 KB budget: about 1 MB and 4 MB of JSON.
HUGE = [(records, 20_000), (tiny_lists, 250_000)]


@pytest.mark.slow
@pytest.mark.parametrize("payload, n", HUGE, ids=["records", "tiny lists"])
def test_a_huge_event_is_measured_once_and_what_is_omitted_is_never_copied(
    payload: Callable[[int], Any], n: int
) -> None:
    counts = []
    for size in (n, 4 * n):
        event = payload(size)
        calls = limits_calls(lambda event=event: sanitize(event, REDACTOR))
        assert 0 < calls[MEASURE] <= containers(event) + 10  # each container once, survivors twice
        assert 0 < calls[BUILD] <= 10  # the list of n items is summarized, not copied
        counts.append(calls[MEASURE])
    assert counts[1] <= 4 * counts[0] + 10


def test_the_kept_part_is_copied_once_and_strings_are_not_cut_when_containers_must_go() -> None:
    event = records(20_000)
    out, report = sanitize(event, REDACTOR)
    assert report == {"redacted": 0, "truncated": True}
    assert out["prompt"] == "keep me" and out["tool_response"].startswith("[OMITTED: list with 20000 items, ")
    assert event["tool_response"][0] == {"id": 0, "name": "item 0", "tags": ["a", "b"]}  # input untouched


def test_sanitize_allocates_nothing_in_proportion_to_what_it_omits() -> None:
    event = records(50_000)  # ~2.5 MB of JSON, ~20 MB of Python objects
    sanitize(event, REDACTOR)  # warm: regexes compiled, hashlib loaded
    tracemalloc.start()
    try:
        sanitize(event, REDACTOR)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 512 * 1024, f"sanitize allocated {peak:,} bytes at its peak"


@pytest.mark.slow
@pytest.mark.parametrize("payload, n", HUGE, ids=["records", "tiny lists"])
def test_limit_time_grows_linearly(payload: Callable[[int], Any], n: int) -> None:
    small, large = payload(n), payload(4 * n)
    ratio = size_ratio(lambda event: sanitize(event, REDACTOR), small, large)
    assert ratio < MAX_RATIO, f"4x the records took {ratio:.1f}x the time"


def test_water_filling_many_long_strings_scans_only_what_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from journal.privacy.redaction import _MARGIN

    redactor = Redactor(RedactionConfig(max_event=64 * 1024))
    event = {"session_id": "s", "files": [f"file {i}: " + "x" * 15_000 for i in range(100)]}  # 1.5 MB
    with counted_redaction(monkeypatch) as scanned:
        out, report = sanitize(event, redactor)
    assert report["truncated"] and limits.str_size(str(out)) < 80 * 1024
    assert sum(scanned) <= 100 * (2 * (64 * 1024 // 100 + _MARGIN) + 100)
