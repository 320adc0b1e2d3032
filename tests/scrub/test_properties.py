"""Property: however JSON spells a string, scrub sees the secret in it and leaves the rest as it was."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from journal.storage.codec import check_line, encode_record
from journal.compaction.scrub_match import Matcher
from tests.profiles import examples

SECRET = "s3cr/t\"é-ok"
MATCHER = Matcher(SECRET)
MARKER = MATCHER.marker(SECRET)

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
_value = st.recursive(
    st.one_of(st.none(), st.integers(), st.booleans(), _text, _text.map(lambda t: t + SECRET + t)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(_text, st.just(SECRET)), inner, max_size=4)),
    max_leaves=12,
)


def _spell(value: object, rng: random.Random) -> bytes:
    """JSON for *value* where each string character may be written as a \\u escape (or / as \\/)."""
    if isinstance(value, str):
        out = []
        for ch in value:
            plain = json.dumps(ch, ensure_ascii=False)[1:-1]
            if ch == "/" and rng.random() < 0.5:
                out.append("\\/")
            elif rng.random() < 0.3 and ord(ch) < 0x10000:
                out.append("\\u%04x" % ord(ch))
            else:
                out.append(plain)
        return ('"' + "".join(out) + '"').encode()
    if isinstance(value, list):
        return b"[" + b",".join(_spell(v, rng) for v in value) + b"]"
    if isinstance(value, dict):
        return b"{" + b",".join(_spell(k, rng) + b":" + _spell(v, rng) for k, v in value.items()) + b"}"
    return json.dumps(value).encode()


def _replaced(value: object) -> object:
    if isinstance(value, str):
        return value.replace(SECRET, MARKER)
    if isinstance(value, list):
        return [_replaced(v) for v in value]
    if isinstance(value, dict):
        return {_replaced(k): _replaced(v) for k, v in value.items()}
    return value


@settings(max_examples=examples(200), deadline=None)
@given(st.dictionaries(_text, _value, max_size=5), st.integers(0, 2**32))
def test_a_record_is_scrubbed_on_its_decoded_strings(data: dict[str, object], seed: int) -> None:
    raw = _spell(data, random.Random(seed))
    line = encode_record(7, "2026-01-01T00:00:00.000000Z", "note", raw, session="s")[:-1]
    done = MATCHER.scrub_record(line)
    expected = _replaced(data)
    if done is None:
        assert expected == data
        return
    new, count = done
    assert check_line(new) and count > 0
    doc = json.loads(new)
    assert doc["data"] == expected and doc["seq"] == 7 and doc["session"] == "s"
    assert not MATCHER.held_in(new)
