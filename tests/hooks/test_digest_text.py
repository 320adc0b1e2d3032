"""The Stop digest's string scanners (`hooks.digest`, no `re` in the hook) against the
regular expressions they stand for."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from hooks import digest

WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{3,}")
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
DECISION = re.compile(
    r"\b(decided|decide to|decision|chose|choosing|going with|will use|i'll use|we'll use|opted|"
    r"settled on|instead of|plan is|approach is)\b",
    re.IGNORECASE,
)

# Letters, digits, the word joiners, sentence ends, every kind of space, non-ASCII letters;
# not the three letters that re.IGNORECASE pairs with ASCII ones (dotless i, long s, Kelvin).
texts = st.text(
    alphabet=st.sampled_from(list("aZdecidhosnwgt_-09.!?'; \t\n\r\x0b\x0c\u00a0\u2028\u3000éßжİ"))
    | st.characters(blacklist_characters="\u0131\u017f\u212a"),
    max_size=80,
) | st.lists(st.sampled_from(["We decided", " to ", "use", "X.", "\n\n", "going with", "instead of", "1a-b_c",
                              "chose", "_opted", "decisions", "Plan is", "!", " ", "\t", "é", "settled on"]),
             max_size=12).map("".join)


@given(texts)
@example("a.\n\n b\nc!  d?\te")
@example("\n\nlead")
@example("x9ab-cd words__ 12-ab3")
def test_same_as_the_regexes(text: str) -> None:
    assert digest._words(text) == [w.lower() for w in WORD.findall(text)]
    assert digest._sentences(text) == SENTENCE.split(text)
    assert digest._states_decision(text) == (DECISION.search(text) is not None)
