"""The guard: the staged journal must fold exactly like the original, order included.

A difference is pinned on the compacted groups that touched it (`GuardMismatch.groups`),
so `projections.compaction.compact` can retry without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

import msgspec

from projections.base import State
from projections.compaction.trace import Fold

if TYPE_CHECKING:
    from journal.storage.events import Event

__all__ = ["GuardMismatch", "fold_guard"]


class GuardMismatch(Exception):
    """The compacted fold differs from the original; ``groups`` are the ones to blame (maybe none)."""

    def __init__(self, message: str, groups: set[int]) -> None:
        super().__init__(message)
        self.groups = groups


_MSGPACK = msgspec.msgpack.Encoder()


def _ordered(d: dict[str, Any]) -> list[tuple[str, bytes]]:
    """Keys and encoded values in order (encodings keep the order of nested dicts too)."""
    enc = _MSGPACK.encode
    return [(k, enc(v)) for k, v in dict.items(d)]


def _differences(fold: Fold, states: dict[str, State]) -> list[tuple[str, str, str | None]]:
    """``(projection, container, key)`` where the new states differ from the traced fold's.

    ``container`` is ``""`` for records, a meta field name otherwise; ``key`` is None for
    a meta field compared as a whole.
    """
    out: list[tuple[str, str, str | None]] = []

    def compare(proj: str, container: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        a, b = _ordered(old), _ordered(new)
        if a == b:
            return
        keys = set(k for k, _ in a) ^ set(k for k, _ in b)
        da, db = dict(a), dict(b)
        keys |= {k for k in da if k in db and da[k] != db[k]}
        ka, kb = [k for k, _ in a if k in db], [k for k, _ in b if k in da]
        for i, (x, y) in enumerate(zip(ka, kb, strict=False)):
            if x != y:
                keys |= set(ka[i:]) | set(kb[i:])  # from the first displaced key on
                break
        out.extend((proj, container, k) for k in sorted(keys))

    for projection in fold.projections:
        name = projection.name
        compare(name, "", fold.states[name].records, states[name].records)
        old_meta, new_meta = fold.metas[name], states[name].meta
        for fname in old_meta.__struct_fields__:
            x, y = getattr(old_meta, fname), getattr(new_meta, fname)
            if isinstance(x, dict) and isinstance(y, dict):
                compare(name, fname, x, y)
            elif _MSGPACK.encode(x) != _MSGPACK.encode(y):
                out.append((name, fname, None))
    return out


def _blame(fold: Fold, ok: list[bool], diffs: list[tuple[str, str, str | None]]) -> set[int]:
    """The compacted groups that touched what differs."""
    trace = fold.trace
    group_of = trace.group_of
    out: set[int] = set()
    for proj, container, key in diffs:
        if key is None:
            seqs = trace.changes.get((proj, container), ([], []))[0]
        else:
            seqs = trace.access.get((proj, container), {}).get(key, [])
        out |= {group_of[s] for s in seqs if group_of[s] >= 0 and ok[group_of[s]]}
    return out


def fold_guard(fold: Fold, ok: list[bool], keep: dict[str, State]) -> Callable[[Iterator[Event]], None]:
    """The check the engine runs on the staged journal: its fold must equal the original's."""
    from projections.runner import fold_events

    def check(events: Iterator[Event]) -> None:
        states = {p.name: p.initial() for p in fold.projections}
        fold_events([(p, states[p.name]) for p in fold.projections], events)
        diffs = _differences(fold, states)
        if diffs:
            where = ", ".join(f"{p}:{c or 'records'}:{k}" for p, c, k in diffs[:5])
            raise GuardMismatch(f"the compacted journal folds differently ({len(diffs)} differences: {where})",
                            _blame(fold, ok, diffs))
        keep.update(states)

    return check
