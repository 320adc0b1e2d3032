"""The fast path of redaction redacts exactly what the full path redacts (issue 14).

`Redactor` skips strings it has seen unchanged (`_clean`), rules out most others with
the shape regexes (`journal.privacy.secret_scan.shapes_patterns`) instead of testing
every detector in turn, and `sanitize` passes an event that nothing changes through
without copying it. ``Redactor(fast=False)`` is the full path, kept as the reference:
every test here compares the two, on the corpora (every rule's own fakes and
look-alikes) and on generated text with secrets embedded, and holds each detector to
its shapes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal.privacy.redaction import (
    _ASCII_LOWER,
    _BACKWARD,
    _CLEAN_MAX_LEN,
    _FORWARD,
    _SHAPES_FROM,
    Redactor,
    sanitize,
)
from journal.privacy.secret_scan import _GATE_CHARS, Scan, candidate_mask, gate_mask
from journal.privacy.secrets_patterns import DETECTORS, SHAPES
from tests.privacy.corpus import NON_SECRETS, SECRETS, STRUCTURED
from tests.privacy.corpus_e2e import LOOK_ALIKES
from tests.privacy.corpus_e2e import SECRETS as E2E_SECRETS
from tests.privacy.test_redaction import FRAGMENTS
from tests.profiles import examples

PROPERTY = settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fast_redactor() -> Redactor:
    """A redactor past its first events, so that its shapes are compiled."""
    redactor = Redactor()
    for _ in range(_SHAPES_FROM):
        sanitize({"warm": "up"}, redactor)
    assert redactor._shapes is not None
    return redactor


FAST = fast_redactor()
REFERENCE = Redactor(fast=False)

# Every text the corpora hold: each rule's fakes in context, the secrets alone, and the
# look-alikes; plus the same with a Kelvin sign for k and a dotted capital I for i (str.lower
# maps them to ASCII letters, ASCII lowercasing does not), and glued to each other.
TEXTS = [case.text for case in SECRETS] + [secret for case in SECRETS for secret, _ in case.secrets]
TEXTS += [text for _, text, _ in E2E_SECRETS] + [needle for _, _, needles in E2E_SECRETS for needle in needles]
TEXTS += [text for _, text in NON_SECRETS] + [text for _, text in LOOK_ALIKES]
TEXTS += [json.dumps(payload) for _, payload, _ in STRUCTURED]
TEXTS += [text.replace("k", "\u212a").replace("K", "\u212a") for text in TEXTS[:200]]
TEXTS += [text.replace("i", "\u0130") for text in TEXTS[:100]]
TEXTS += [a + b for a, b in zip(TEXTS[::7], TEXTS[3::11], strict=False)]


def hays(text: str) -> tuple[str, ...]:
    """What the detectors may run on: the text, lowercased (as `Redactor._pass` does)."""
    low = text.lower()
    if len(low) != len(text):
        low = text.translate(_ASCII_LOWER)
    return text, low


def detector_finds_a_match(det: Any, text: str) -> bool:
    """Would the full path run ``det`` on ``text`` (gate, needles, pretest), and would its
    resolver take one of its matches there (on a fresh scan: nothing claimed yet)?"""
    mask = candidate_mask(text)
    if not mask or (det.mask and not det.mask & mask):
        return False
    original, low = hays(text)
    hay = low if det.lower else original
    if det.needles and not any(needle in hay for needle in det.needles):
        return False
    if det.pretest is not None and not det.pretest(hay):
        return False
    if det.reverse:
        hay = low[::-1]
    scan = Scan(text)
    return any(det.resolve(m, text, scan) is not None for m in det.regex.finditer(hay))


def shape_matches(det: Any, text: str) -> bool:
    import re

    forms = {text.lower(), text.translate(_ASCII_LOWER)}
    for shape in det.shape:
        regex = re.compile(shape)
        if any(regex.search(form[::-1] if det.reverse else form) for form in forms):
            return True
    return False


def test_every_built_in_detector_has_shapes() -> None:
    assert SHAPES is not None
    assert all(det.shape for det in DETECTORS)


@pytest.mark.parametrize("index", range(len(DETECTORS)))
def test_every_detector_is_held_to_its_shapes(index: int) -> None:
    det = DETECTORS[index]
    matched = [text for text in TEXTS if detector_finds_a_match(det, text)]
    for text in matched:
        assert shape_matches(det, text), f"{det.pattern!r} matches {text!r} but none of its shapes {det.shape!r}"
        assert side_found(det, text), f"{det.pattern!r} matches {text!r} but its side's shapes are not reported"


def side_found(det: Any, text: str) -> bool:
    """`Redactor._shape_sides` reports the side of ``det`` (forward or reversed) for ``text``,
    so that a pass restricted to the sides found still runs ``det`` there."""
    return bool(FAST._shape_sides(text) & (_BACKWARD if det.reverse else _FORWARD))


def test_the_corpus_reaches_most_detectors() -> None:
    """The test above means something only for detectors that match some corpus text."""
    reached = sum(any(detector_finds_a_match(det, text) for text in TEXTS) for det in DETECTORS)
    assert reached >= len(DETECTORS) - 2, f"only {reached} of {len(DETECTORS)} detectors match the corpus"


@pytest.mark.parametrize("text", TEXTS)
def test_fast_path_redacts_corpus_texts_like_the_full_path(text: str) -> None:
    expected = REFERENCE.redact_text(text)
    assert FAST.redact_text(text) == expected
    assert FAST.redact_text(text) == expected  # again, from the cache if it was left unchanged
    for key in ("", "command", "password", "GITHUB_TOKEN", "api_key"):
        payload = {"session_id": "s-1", "tool_input": {key or "x": text, "list": [text, 3, None]}, text: [key]}
        expected = sanitize(payload, REFERENCE)
        assert sanitize(payload, FAST) == expected
        assert sanitize(payload, Redactor()) == expected  # a first event: no shapes yet (a hook)


def test_texts_that_change_are_never_ruled_out_by_shape() -> None:
    for text in TEXTS:
        if REFERENCE.redact_text(text)[1]:
            assert not FAST._clean_shape(text), text
            assert text not in FAST._clean


def test_an_unchanged_event_passes_through_and_a_changed_one_is_a_copy() -> None:
    event = {"session_id": "9f1c2d3e-4b5a-6789-abcd-ef0123456789", "tool_input": {"command": "ls -la"}, "n": [1]}
    out, report = sanitize(event, FAST)
    assert out is event and report == {"redacted": 0, "truncated": False}
    with_tuple = {"tool_input": {"argv": ("ls", "-la")}}
    out, _ = sanitize(with_tuple, FAST)
    assert out == {"tool_input": {"argv": ["ls", "-la"]}} and out is not with_tuple
    secret = {"tool_input": {"command": "export GITHUB_TOKEN=ghp_i5rR6pMDq1WfsrcYQttTs7ywYwMTy3MhzeC3"}}
    out, report = sanitize(secret, FAST)
    assert out is not secret and report["redacted"] == 1 and out == sanitize(secret, REFERENCE)[0]


def test_a_shape_that_is_a_false_alarm_still_passes_the_event_through() -> None:
    """Code such as ``secret: str`` holds a shape: the detectors decide on that string,
    and the event passes through when they change nothing; a real secret beside it in
    the same event is still redacted, as by the full path."""
    redactor = fast_redactor()
    code = "def get_context(self, secret: str, conf: dict) -> None:\n    import_token = build_upcast(x)\n"
    assert redactor._shapes is not None and not redactor._no_shape(code)  # the search finds a shape
    event = {"tool_input": {"content": code, "file_path": "/src/app/ctx.py"}, "cwd": "/src/app"}
    out, report = sanitize(event, redactor)
    assert out is event and report == {"redacted": 0, "truncated": False}
    assert code in redactor._clean  # decided once, remembered
    leaky = {"tool_input": {"content": code, "note": "key ghp_i5rR6pMDq1WfsrcYQttTs7ywYwMTy3MhzeC3"}}
    out, report = sanitize(leaky, redactor)
    assert out is not leaky and report["redacted"] == 1 and out == sanitize(leaky, REFERENCE)[0]
    assert "ghp_" not in json.dumps(out)


def test_a_long_clean_string_is_remembered_and_searched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Write's content comes back in its PostToolUse twice (input and response): no
    detector changes it, so it is searched once; one with a secret is never remembered."""
    redactor = fast_redactor()
    content = "\n".join(f"def handler_{i}(request):\n    return render(request, 'page_{i}.html')" for i in range(30))
    assert len(content) > _CLEAN_MAX_LEN
    pre = {"tool_name": "Write", "tool_input": {"file_path": "/src/app/views.py", "content": content}}
    assert sanitize(pre, redactor)[0] is pre and content in redactor._clean_long
    searched: list[str] = []
    no_shape = Redactor._no_shape
    monkeypatch.setattr(Redactor, "_no_shape", lambda self, text: searched.append(text) or no_shape(self, text))
    post = {"tool_input": {"content": content}, "tool_response": {"type": "create", "content": content}}
    assert sanitize(post, redactor) == (post, {"redacted": 0, "truncated": False})
    assert not any(content in text for text in searched)
    leaky = content + "\nTOKEN = 'ghp_i5rR6pMDq1WfsrcYQttTs7ywYwMTy3MhzeC3'\n"
    out, report = sanitize({"tool_input": {"content": leaky}}, redactor)
    assert report["redacted"] == 1 and "ghp_" not in json.dumps(out) and leaky not in redactor._clean_long


def test_the_long_strings_remembered_stay_within_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from journal.privacy import redaction

    monkeypatch.setattr(redaction, "_CLEAN_LONG_CHARS", 10_000)
    redactor = fast_redactor()
    for i in range(60):
        text = f"output line {i}: " + "ok " * 330
        event = {"tool_response": {"stdout": text}}
        assert sanitize(event, redactor)[0] is event
        assert sum(map(len, redactor._clean_long)) <= redactor._long_chars <= 10_000
    assert text in redactor._clean_long


# ------------------------------------------------------------------- generated text

words = st.sampled_from(
    "the a to of and is was for on key token secret pass password pwd auth bearer authorization "
    "export set config env user db host port url path file test run build cd ls git grep".split()
)
separators = st.sampled_from([" ", "  ", "\n", "\t", "=", ": ", ":", " = ", '="', "='", '": "', "-", "_", ".", "/",
                              "\\n", "\\\"", "@", "://", "--", " -u ", " -p", "mysql -p"])


def corpus_text(index: int) -> str:
    return TEXTS[index]


corpus_pieces = st.integers(0, len(TEXTS) - 1).map(corpus_text)  # (sampled_from(TEXTS): a huge repr)
realistic_text = st.lists(
    st.one_of(words, separators, corpus_pieces, st.sampled_from(FRAGMENTS), st.text(max_size=10)), max_size=14
).map("".join)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), realistic_text)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.tuples(children) | st.dictionaries(realistic_text, children,
                                                                                          max_size=4),
    max_leaves=12,
)


@PROPERTY
@given(realistic_text)
def test_fast_path_redacts_generated_text_like_the_full_path(text: str) -> None:
    assert FAST.redact_text(text) == REFERENCE.redact_text(text)


@PROPERTY
@given(st.dictionaries(st.one_of(words, realistic_text), json_values, max_size=6))
def test_fast_sanitize_equals_the_full_path(payload: dict[str, Any]) -> None:
    expected = sanitize(payload, REFERENCE)
    assert sanitize(payload, FAST) == expected
    assert sanitize(payload, FAST) == expected  # with what the first call left in the cache
    assert sanitize(payload, Redactor()) == expected  # a first event: no shapes yet (a hook)
    assert FAST.redact(payload) == REFERENCE.redact(payload)


@pytest.mark.parametrize("index", range(len(DETECTORS)))
@settings(max_examples=examples(200), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_detector_is_held_to_its_shapes_on_text_it_matches(index: int, data: st.DataObject) -> None:
    det = DETECTORS[index]
    match = data.draw(st.from_regex(det.pattern, fullmatch=True), label="match")
    before = data.draw(st.one_of(st.sampled_from(["", " ", "\n", "x=", '"', "token: "]), realistic_text))
    after = data.draw(st.one_of(st.sampled_from(["", " ", "\n", "'", "]", ","]), realistic_text))
    for text in (match, before + match + after, (before + match + after).upper()):
        if detector_finds_a_match(det, text):
            assert shape_matches(det, text), f"{det.pattern!r} matches {text!r} but none of {det.shape!r}"
            assert side_found(det, text), f"{det.pattern!r} matches {text!r} but its side is not reported"
        assert FAST.redact_text(text) == REFERENCE.redact_text(text)


@PROPERTY
@given(st.lists(realistic_text, min_size=2, max_size=4))
def test_shapes_never_match_across_a_newline(texts: list[str]) -> None:
    """`Redactor._clean_shapes` searches strings joined by newlines: that must be the same
    as searching each (no shape matches a newline, nor looks past one)."""
    shapes = FAST._shapes
    assert shapes is not None
    lowered = [text.lower() for text in texts]
    assert shapes.found("\n".join(lowered)) == any(shapes.found(low) for low in lowered)


@PROPERTY
@given(realistic_text)
def test_shape_sides_agree_with_the_shapes_search(text: str) -> None:
    """A string has shapes on some side exactly when the search finds a shape in it."""
    assert bool(FAST._shape_sides(text)) == (not FAST._no_shape(text))


def test_a_false_alarm_on_one_side_runs_only_that_side_s_detectors() -> None:
    """``secret: str`` holds a reversed shape only: the pass that clears it skips every
    forward detector, and still finds a real secret next to a reversed one."""
    redactor = fast_redactor()
    code = "def load(self, secret: str, path: str) -> None:\n    return None"
    assert redactor._shape_sides(code) == _BACKWARD
    assert all(det.reverse for det in redactor._plan(candidate_mask(code), _BACKWARD))
    out, report = sanitize({"content": code}, redactor)
    assert report == {"redacted": 0, "truncated": False} and out["content"] == code
    leaked = "secret: str\nexport TOKEN=ghp_" + "a1B2c3D4e5" * 4
    assert redactor._shape_sides(leaked) == _BACKWARD | _FORWARD
    assert redactor.redact_text(leaked) == REFERENCE.redact_text(leaked)
    assert "ghp_" not in redactor.redact_text(leaked)[0]


@PROPERTY
@given(st.one_of(realistic_text, st.text(alphabet="=:@-_/AJ.SdwbBx", max_size=20)))
def test_gate_mask_has_one_bit_per_gate_character(text: str) -> None:
    expected = sum(1 << i for i, char in enumerate(_GATE_CHARS) if char in text or (char == "b" and "B" in text))
    assert gate_mask(text) == expected
