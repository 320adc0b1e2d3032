"""`plain_bytes` (msgspec) writes the bytes `encode_data` (the stdlib's C encoder) writes,
and only events the sanitiser vouches for as plain JSON types take them (issue 14, goal 4)."""

from __future__ import annotations

import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal import Journal, NewEvent
from journal.errors import InvalidEvent
from journal.privacy.redaction import _SHAPES_FROM
from journal.privacy.sanitizer import Sanitizer
from journal.cjson import plain_bytes
from journal.storage.codec import encode_data

# Any code point, lone surrogates included (st.text() leaves them out by default).
any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF)
any_text = st.text(any_char, max_size=12) | st.text(st.sampled_from('"\\/\x00\x1f\x7f\u2028\ud800\udc00\ufeff'))
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers() | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=20,
)


def test_every_code_point_is_written_as_the_stdlib_writes_it() -> None:
    for start in range(0, 0x110000, 512):
        text = "".join(chr(c) for c in range(start, start + 512) if not 0xD800 <= c <= 0xDFFF)
        assert encode_plain({"k": text, text: [text]}) == encode_data({"k": text, text: [text]}), hex(start)
    for c in [*range(0x100), *range(0xD7F0, 0xE010), 0x2028, 0x2029, 0xFEFF, 0x10FFFF]:
        assert encode_plain({"k": chr(c)}) == encode_data({"k": chr(c)}), hex(c)
    assert encode_plain({"k": "\ud83d\ude00"}) == encode_data({"k": "\U0001f600"})  # a pair given as halves: joined


@given(st.dictionaries(any_text, plain_values, max_size=6))
def test_plain_values_are_written_as_the_stdlib_writes_them(value: dict[str, Any]) -> None:
    assert encode_plain(value) == encode_data(value)


class Name(str):
    pass


@pytest.mark.parametrize("value", [{"n": 10**30}, {Name("k"): "v"}, {"k": Name("v")}, {"a": [1, {"b": None}]},
                                   OrderedDict(a=1), {"k": "\ud800"}])
def test_what_msgspec_refuses_is_none_and_the_rest_is_written_alike(value: dict[str, Any]) -> None:
    assert encode_plain(value) == encode_data(value)
    assert plain_bytes(value) in (None, encode_data(value))


def encode_plain(value: Any) -> bytes:
    encoded = plain_bytes(value)
    return encode_data(value) if encoded is None else encoded


def warm_sanitizer() -> Sanitizer:
    sanitizer = Sanitizer.from_config({})
    for i in range(_SHAPES_FROM):
        sanitizer.event(NewEvent("Warm", {"i": i}))
    return sanitizer


TYPICAL = {"session_id": "s-1", "tool_name": "Bash", "tool_input": {"command": "ls -la /tmp"},
           "ok": True, "n": 3, "none": None, "list": ["a", ["b"]]}


def test_only_a_warm_writer_s_passed_through_plain_events_come_encoded() -> None:
    assert Sanitizer.from_config({}).event(NewEvent("Bash", dict(TYPICAL)))._encoded is None  # a hook: first event
    sanitizer = warm_sanitizer()
    assert sanitizer.event(NewEvent("Bash", dict(TYPICAL)))._encoded == encode_data(TYPICAL)
    part = "\n".join(f"line {i} of a long file" for i in range(400))
    big = {**TYPICAL, "a": part, "b": [part, part]}  # over 16 KiB in all: the sizes are checked
    assert sanitizer.event(NewEvent("Bash", big))._encoded == encode_data(big)
    huge = {**TYPICAL, "n": -(10**40)}
    assert sanitizer.event(NewEvent("Bash", huge))._encoded == encode_data(huge)
    for odd in ({"x": 1.5}, {"x": Name("v")}, {"x": (1, 2)}, {"x": {1, 2}}, {"x": b"raw"},
                {"x": [float("nan")]}, {"password": "hunter2-is-the-secret"}, {"x": "y" * 20_000}):
        event = sanitizer.event(NewEvent("Bash", {**TYPICAL, **odd}))
        assert event._encoded is None, odd


def test_a_warm_writer_still_refuses_what_json_cannot_hold(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j", durability="flush")
    for i in range(2 * _SHAPES_FROM):
        journal.append("Warm", {"i": i, "s": f"text number {i}"})
    for bad in ({"x": {1, 2}}, {"x": b"raw"}, {"x": float("nan")}, {"x": object()}):
        with pytest.raises(InvalidEvent):
            journal.append("Bash", {**TYPICAL, **bad})
    seq = journal.append("Bash", {**TYPICAL, "f": 1e16, "s": "\ud83d\ude00 \ud800"})
    data = next(journal.read(seq)).payload()
    assert data["f"] == 1e16 and data["s"] == "\U0001f600 \ufffd"
    assert journal.verify().ok


def test_a_writer_s_first_events_never_import_msgspec(tmp_path: Path) -> None:
    """A hook appends one event with a `Writer` (no `Journal`, whose manifest check reads
    with msgspec): the plain encoding must not cost it msgspec's import."""
    code = ("import sys; from journal.config import load_config; from journal.storage.writer import Writer, NewEvent; "
            "root = sys.argv[1]; import os; os.makedirs(root, mode=0o700); w = Writer(root, load_config(root)); "
            f"[w.append([NewEvent('Bash', {{'tool_input': {{'command': 'ls %d' % i}}}})]) for i in range({_SHAPES_FROM - 1})]; "
            "print('msgspec' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "j")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
