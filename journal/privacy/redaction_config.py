"""`RedactionConfig`: the user's redaction rules (extra patterns, allowed strings, the marker
salt) and size limits, checked field by field when built from arguments or from the
``redaction`` and ``limits`` sections of a journal config dict.
"""

from __future__ import annotations

from journal.privacy.limits import DEFAULT_MAX_EVENT, DEFAULT_MAX_STRING, MIN_MAX_EVENT, MIN_MAX_STRING, check_limit
from journal.privacy.secret_heuristics import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Mapping
    from typing import Any

__all__ = ["RedactionConfig", "compile_pattern"]

_NAME_RE = lazy(r"[A-Za-z0-9_]{1,40}")


class RedactionConfig:
    """What to redact beyond the built-in shapes, what to keep, and the size limits.

    ``extra_patterns`` are ``(name, regex)`` pairs; a regex with a group named ``secret``
    redacts only that group, otherwise the whole match. ``allow`` lists exact strings that
    are never redacted. ``salt`` keys the marker hashes (see `journal.privacy.redaction`).
    """

    __slots__ = ("extra_patterns", "allow", "max_string", "max_event", "salt")

    def __init__(
        self,
        extra_patterns: list[tuple[str, str]] | None = None,
        allow: list[str] | None = None,
        max_string: int = DEFAULT_MAX_STRING,
        max_event: int = DEFAULT_MAX_EVENT,
        salt: str = "",
    ) -> None:
        self.extra_patterns: list[tuple[str, str]] = []
        for i, pattern in enumerate(extra_patterns or []):
            if not isinstance(pattern, (tuple, list)) or len(pattern) != 2:
                raise ValueError(f"extra_patterns[{i}]: expected a (name, regex) pair, got {pattern!r}")
            compile_pattern(f"extra_patterns[{i}]", *pattern)
            self.extra_patterns.append((pattern[0], pattern[1]))
        self.allow = _check_allow("allow", list(allow or []))
        self.max_string = check_limit("max_string", max_string, MIN_MAX_STRING)
        self.max_event = check_limit("max_event", max_event, MIN_MAX_EVENT)
        self.salt = _check_salt("salt", salt)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name != "salt")
        return f"RedactionConfig({fields}, salt={'***' if self.salt else ''!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RedactionConfig):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable lists inside

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, salt: str | None = None) -> RedactionConfig:
        """Validate the ``redaction`` and ``limits`` sections of a journal config dict.

        Other top-level sections are ignored (they belong to other layers); unknown keys
        inside these two sections are errors, so a typo cannot silently disable a rule.
        """
        data = {} if data is None else data
        if not _is_mapping(data):
            raise ValueError(f"config: expected an object, got {type(data).__name__}")
        red = _section(data, "redaction", ("patterns", "allow", "salt"))
        lim = _section(data, "limits", ("max_string", "max_event"))
        patterns = red.get("patterns", [])
        if not isinstance(patterns, list):
            raise ValueError(f"redaction.patterns: expected a list, got {type(patterns).__name__}")
        pairs = []
        for i, item in enumerate(patterns):
            where = f"redaction.patterns[{i}]"
            if not _is_mapping(item):
                raise ValueError(f'{where}: expected an object with "name" and "regex", got {type(item).__name__}')
            unknown = sorted(set(item) - {"name", "regex"})
            if unknown:
                raise ValueError(f"{where}: unknown key {unknown[0]!r} (expected name, regex)")
            for field in ("name", "regex"):
                if field not in item:
                    raise ValueError(f"{where}: missing {field!r}")
            compile_pattern(where, item["name"], item["regex"])
            pairs.append((item["name"], item["regex"]))
        allow = red.get("allow", [])
        if not isinstance(allow, list):
            raise ValueError(f"redaction.allow: expected a list of strings, got {type(allow).__name__}")
        return cls(
            extra_patterns=pairs,
            allow=_check_allow("redaction.allow", allow),
            max_string=check_limit("limits.max_string", lim.get("max_string", DEFAULT_MAX_STRING), MIN_MAX_STRING),
            max_event=check_limit("limits.max_event", lim.get("max_event", DEFAULT_MAX_EVENT), MIN_MAX_EVENT),
            salt=_check_salt("redaction.salt", red.get("salt", "")) if salt is None else salt,
        )


def _is_mapping(value: object) -> bool:
    return hasattr(value, "keys") and hasattr(value, "__getitem__")


def _section(data: Mapping[str, Any], name: str, known: tuple[str, ...]) -> Mapping[str, Any]:
    section = data.get(name, {})
    if section is None:
        return {}
    if not _is_mapping(section):
        raise ValueError(f"{name}: expected an object, got {type(section).__name__}")
    unknown = sorted(str(k) for k in section if k not in known)
    if unknown:
        raise ValueError(f"{name}: unknown key {unknown[0]!r} (expected one of: {', '.join(known)})")
    return section  # type: ignore[no-any-return]


def _check_allow(where: str, allow: list[Any]) -> list[str]:
    for i, item in enumerate(allow):
        if not isinstance(item, str) or not item:
            raise ValueError(f"{where}[{i}]: expected a non-empty string, got {item!r}")
    return allow


def _check_salt(where: str, salt: Any) -> str:
    if not isinstance(salt, str):
        raise ValueError(f"{where}: expected a string, got {type(salt).__name__}")
    return salt


def compile_pattern(where: str, name: object, regex: object) -> re.Pattern[str]:
    """The compiled *regex* of a user pattern named *name*; ValueError saying what is wrong at *where*."""
    if not isinstance(name, str) or not _NAME_RE().fullmatch(name):
        raise ValueError(f"{where}.name: expected 1-40 characters of [A-Za-z0-9_], got {name!r}")
    if not isinstance(regex, str) or not regex:
        raise ValueError(f"{where}.regex: expected a non-empty string, got {regex!r}")
    import re  # only for a config with user patterns (see `journal.privacy.secret_heuristics.lazy`)

    try:
        compiled = re.compile(regex)
    except re.error as e:
        raise ValueError(f"{where}.regex: invalid regular expression {regex!r}: {e}") from e
    if compiled.fullmatch(""):
        raise ValueError(f"{where}.regex: {regex!r} matches the empty string")
    from journal.privacy.pattern_safety import pattern_danger  # only for user patterns

    danger = pattern_danger(regex)
    if danger is not None:
        raise ValueError(
            f"{where}.regex: pattern {name!r} ({regex!r}) is unsafe: {danger} can make matching time explode with "
            "the length of the text and stall every hook; rewrite it (a possessive quantifier such as a++ "
            "or an atomic group (?>...) never backtracks)"
        )
    return compiled
