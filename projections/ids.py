"""Unique-prefix ids, like git's abbreviated hashes."""

from __future__ import annotations

from typing import Iterable

from projections.errors import AmbiguousId, UnknownId

__all__ = ["resolve_prefix", "short_id"]

_SHOWN = 4


def short_id(full: str, width: int = 8) -> str:
    """The first *width* characters of an id (for tables)."""
    return full[:width]


def resolve_prefix(prefix: str, ids: Iterable[str], kind: str = "session") -> str:
    """The one id in *ids* that starts with *prefix*; an exact match always wins.

    Raises `UnknownId` when none matches and `AmbiguousId` when several do.
    """
    wanted = prefix.strip()
    if not wanted:
        raise UnknownId(f"no {kind} id given")
    matches = []
    for full in ids:
        if full == wanted:
            return full
        if full.startswith(wanted):
            matches.append(full)
    if not matches:
        raise UnknownId(f"no {kind} matches {wanted!r} (list them with `agent-journal {kind}s --all`)")
    if len(matches) > 1:
        matches.sort()
        shown = ", ".join(m[: max(len(wanted) + 4, 12)] + "…" for m in matches[:_SHOWN])
        more = f" and {len(matches) - _SHOWN} more" if len(matches) > _SHOWN else ""
        raise AmbiguousId(f"{wanted!r} is ambiguous: matches {shown}{more} (give more characters)")
    return matches[0]
