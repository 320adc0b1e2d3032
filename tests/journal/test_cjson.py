"""`journal.cjson` gives exactly what `json` gives, errors included."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal import cjson

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(json_values, st.booleans(), st.booleans())
def test_dumps_matches_json(value: object, ensure_ascii: bool, sort_keys: bool) -> None:
    for separators in ((",", ":"), (", ", ": ")):
        assert cjson.dumps(value, ensure_ascii=ensure_ascii, sort_keys=sort_keys, separators=separators) == json.dumps(
            value, ensure_ascii=ensure_ascii, sort_keys=sort_keys, separators=separators
        )


@given(json_values, st.sampled_from(["", " ", "\n\t\r "]))
def test_loads_matches_json(value: object, pad: str) -> None:
    text = pad + json.dumps(value, ensure_ascii=False) + pad
    assert cjson.loads(text) == json.loads(text)
    assert cjson.loads(text.encode("utf-8", "surrogatepass")) == json.loads(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("raw", [b"", b"   ", b"{", b'{"a": 1} x', b"[1,]", b'{"a": "\x01"}', b"\xff\xfe{\x00}\x00",
                                 b"nul", b'"\\ud800"', "\ufeff{}".encode(), b"\xef\xbb\xbf{}", b"{\x00}\x00"])
def test_errors_and_encodings_match_json(raw: bytes) -> None:
    try:
        expected = ("ok", json.loads(raw))
    except ValueError as e:
        expected = ("error", f"{type(e).__name__}: {e}")
    try:
        got = ("ok", cjson.loads(raw))
    except ValueError as e:
        got = ("error", f"{type(e).__name__}: {e}")
    assert got == expected


def test_hooks_for_constants_and_floats() -> None:
    def reject(name: str) -> object:
        raise ValueError(f"{name} rejected")

    with pytest.raises(ValueError, match="NaN rejected"):
        cjson.loads(b'{"a": NaN}', parse_constant=reject)
    assert math.isnan(cjson.loads(b"[NaN]")[0])
    assert cjson.loads(b"[1.5, 2]", parse_float=lambda s: ("float", s)) == [("float", "1.5"), 2]


def test_dumps_errors_match_json() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        cjson.dumps([math.inf], allow_nan=False)
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        cjson.dumps({"a": {1}})
    assert cjson.dumps({"p": object()}, default=lambda o: "obj") == '{"p": "obj"}'
    doc = {"b": [1, {"c": 2}], "a": "x"}
    assert cjson.dumps(doc, indent=1, sort_keys=True) == json.dumps(doc, indent=1, sort_keys=True)
    assert cjson.dumps(doc) == json.dumps(doc)


def test_errors_without_json_imported(tmp_path: Path) -> None:
    """The hook never imports json; a bad payload still gets json's own error."""
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(cjson.__file__).parents[1])!r})\n"
        "from journal import cjson\n"
        "assert 'json' not in sys.modules\n"
        "for raw in (b'{\"a\"', b'{\"a\": 1', b'[1,]', b'{} x', b''):\n"
        "    try:\n"
        "        cjson.loads(raw)\n"
        "    except ValueError as e:\n"
        "        print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "JSONDecodeError Expecting ':' delimiter: line 1 column 5 (char 4)",
        "JSONDecodeError Expecting ',' delimiter: line 1 column 8 (char 7)",
        "JSONDecodeError Expecting value: line 1 column 4 (char 3)",
        "JSONDecodeError Extra data: line 1 column 4 (char 3)",
        "JSONDecodeError Expecting value: line 1 column 1 (char 0)",
    ]
