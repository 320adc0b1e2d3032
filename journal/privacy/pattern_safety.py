"""Is a user's redaction pattern safe to run on every hook payload? `pattern_danger` says why not.

Python's `re` backtracks: ``(a|aa)+$`` on 40 "a"s and a "b" takes minutes, and a hook that
runs it blocks Claude Code. A pattern from ``redaction.patterns`` is rejected (a broken
redaction config: payloads are withheld, never recorded raw) when it has a shape whose
backtracking can grow exponentially or polynomially with the text:

* a repeated group that itself holds a variable quantifier: ``(a+)+``, ``(\\w+\\.)*``;
* a repeated group that holds an alternation: ``(a|aa)+``, ``(?:foo|bar)*``;
* a backreference inside a repeated group: ``(x+)\\1+``;
* two unbounded quantifiers in a row that can match the same character, with only
  optional items between them: ``\\d+\\d+``, ``.*.*``, ``\\w+\\s*\\w+``.

Possessive quantifiers (``a++``, ``\\w*+``) and atomic groups (``(?>...)``) never backtrack
into what they matched, so they make any of these shapes safe. The check reads the
pattern with the stdlib's own parser (`re._parser`); what it cannot rule out, the time
budget of `journal.privacy.redaction` bounds.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["pattern_danger"]

# A group repeated at most this many times cannot blow up: (ab|cd){2} is fine.
_FEW = 4
# Characters whose membership decides whether two single-character items overlap.
_SAMPLE = [chr(c) for c in range(128)] + ["\u00e9", "\u00a0", "\u4e00", "\u0660"]


def pattern_danger(regex: str) -> str | None:
    """Why *regex* can backtrack catastrophically, or None if no such shape was found."""
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(regex)
    except Exception:  # another Python's internals, or invalid (compile reports that)
        return None
    return _Check(c).sequence(list(parsed), 0)


class _Check:
    def __init__(self, c: Any) -> None:
        self.c = c
        self.repeats = (c.MAX_REPEAT, c.MIN_REPEAT)

    def sequence(self, items: list[Any], depth: int) -> str | None:
        """Check a sequence of items; *depth* counts the backtracking repeats around it."""
        c = self.c
        open_set: frozenset[str] | None = None  # the unbounded single-char repeat still able to grow
        for op, av in items:
            if op in self.repeats:
                lo, hi, body = av
                body = list(body)
                chars = self.single(body)
                variable = hi != lo
                if depth and variable and hi > 1:
                    return "a quantifier inside a repeated group"
                if variable and chars is not None and hi == c.MAXREPEAT:
                    if open_set is not None and open_set & chars:
                        return "two quantifiers in a row can match the same characters"
                    if lo > 0 or open_set is None:
                        open_set = chars
                    continue
                if hi > _FEW:  # unbounded (MAXREPEAT is huge) or many times
                    if chars is None and self.has_branch(body):
                        return "an alternation inside a repeated group"
                    found = self.sequence(body, depth + 1)
                else:
                    found = self.sequence(body, depth)
                if found:
                    return found
                if lo > 0:
                    open_set = None
                continue
            if op == c.POSSESSIVE_REPEAT or op == c.ATOMIC_GROUP:
                open_set = None if op == c.ATOMIC_GROUP or av[0] > 0 else open_set
                continue  # never backtracks into what it matched
            if op == c.SUBPATTERN:
                found = self.sequence(list(av[3]), depth)
            elif op == c.BRANCH:
                found = next((f for b in av[1] if (f := self.sequence(list(b), depth))), None)
            elif op in (c.ASSERT, c.ASSERT_NOT):
                found = self.sequence(list(av[1]), depth)
                if found:
                    return found
                continue  # zero-width
            elif op == c.GROUPREF_EXISTS:
                found = self.sequence(list(av[1]), depth) or (self.sequence(list(av[2]), depth) if av[2] else None)
            elif op == c.AT:
                continue  # zero-width
            elif op == c.GROUPREF and depth:
                return "a backreference inside a repeated group"
            else:
                found = None
                chars = self.single([(op, av)])
                if open_set is not None and chars is not None and open_set & chars:
                    continue  # the open quantifier can swallow this character too: \w*x\w*
            if found:
                return found
            open_set = None
        return None

    def has_branch(self, items: list[Any]) -> bool:
        c = self.c
        for op, av in items:
            if op == c.BRANCH:
                return True
            if op == c.SUBPATTERN and self.has_branch(list(av[3])):
                return True
        return False

    def single(self, items: list[Any]) -> frozenset[str] | None:
        """The sample characters *items* match, if they are exactly one single-character item."""
        c = self.c
        while len(items) == 1 and items[0][0] == c.SUBPATTERN:
            items = list(items[0][1][3])
        if len(items) != 1:
            return None
        op, av = items[0]
        if op == c.LITERAL:
            return frozenset([chr(av)])
        if op == c.NOT_LITERAL:
            return frozenset(ch for ch in _SAMPLE if ord(ch) != av)
        if op == c.ANY:
            return frozenset(ch for ch in _SAMPLE if ch != "\n")
        if op == c.IN:
            return frozenset(ch for ch in _SAMPLE if self.in_set(av, ch))
        return None

    def in_set(self, members: list[Any], ch: str) -> bool:
        c = self.c
        negate = False
        hit = False
        for op, av in members:
            if op == c.NEGATE:
                negate = True
            elif op == c.LITERAL:
                hit = hit or ord(ch) == av
            elif op == c.RANGE:
                hit = hit or av[0] <= ord(ch) <= av[1]
            elif op == c.CATEGORY:
                hit = hit or _category(c, av, ch)
            else:
                hit = True  # unknown member: assume it overlaps
        return hit != negate


def _category(c: Any, cat: Any, ch: str) -> bool:
    word = ch.isalnum() or ch == "_"
    table = {
        c.CATEGORY_DIGIT: ch.isdigit(),
        c.CATEGORY_NOT_DIGIT: not ch.isdigit(),
        c.CATEGORY_SPACE: ch.isspace(),
        c.CATEGORY_NOT_SPACE: not ch.isspace(),
        c.CATEGORY_WORD: word,
        c.CATEGORY_NOT_WORD: not word,
    }
    return table.get(cat, True)
