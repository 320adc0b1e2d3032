"""What a compaction is asked to do: seq ranges, the `Plan` and its `Replacement` records.

Also the errors a compaction raises when the journal moved under it or the guard said
no. The protocol that carries a plan out is described in `journal.compaction.compact`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from journal.errors import JournalError
from journal.layout import list_segments

if TYPE_CHECKING:
    from journal.storage.manifest import Manifest, SegmentEntry

__all__ = [
    "CompactionConflict",
    "CompactionVetoed",
    "merge_ranges",
    "ranges_from_seqs",
    "subtract_seqs",
    "SeqCursor",
    "Replacement",
    "Plan",
    "sealed_upto",
    "affected_segments",
    "check_plan",
]


class CompactionConflict(JournalError):
    """The journal changed under a compaction in a way it cannot merge (nothing was changed)."""


class CompactionVetoed(JournalError):
    """The guard rejected the compacted journal (nothing was changed)."""


# -- seq ranges ----------------------------------------------------------------------


def merge_ranges(ranges: Iterable[Iterable[int]]) -> list[list[int]]:
    """Sorted, disjoint, non-adjacent inclusive ranges covering the same seqs."""
    out: list[list[int]] = []
    for a, b in sorted((int(r[0]), int(r[1])) for r in ranges):  # type: ignore[index]
        if out and a <= out[-1][1] + 1:
            if b > out[-1][1]:
                out[-1][1] = b
        else:
            out.append([a, b])
    return out


def ranges_from_seqs(seqs: Iterable[int]) -> list[list[int]]:
    """Inclusive ranges covering exactly *seqs*."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def subtract_seqs(ranges: list[list[int]], seqs: Iterable[int]) -> list[list[int]]:
    """*ranges* without the single *seqs* (each of which lies inside one of them); linear."""
    out: list[list[int]] = []
    points = sorted(seqs)
    j = 0
    for a, b in ranges:
        while j < len(points) and points[j] < a:
            j += 1
        start = a
        while j < len(points) and points[j] <= b:
            if points[j] > start:
                out.append([start, points[j] - 1])
            start = points[j] + 1
            j += 1
        if start <= b:
            out.append([start, b])
    return out


class SeqCursor:
    """Membership in sorted disjoint ranges for seqs asked in increasing order."""

    __slots__ = ("_ranges", "_i")

    def __init__(self, ranges: list[list[int]]) -> None:
        self._ranges = ranges
        self._i = 0

    def __contains__(self, seq: int) -> bool:
        ranges, i = self._ranges, self._i
        n = len(ranges)
        while i < n and ranges[i][1] < seq:
            i += 1
        self._i = i
        return i < n and ranges[i][0] <= seq


# -- the plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class Replacement:
    """A record that takes the seq (and timestamp) of a removed one."""

    seq: int
    type: str
    data: bytes
    session: str | None = None
    agent: str | None = None


@dataclass
class Plan:
    """What to compact, made against one manifest (``manifest``) and the log up to ``upto``.

    ``remove`` holds sorted inclusive seq ranges, all inside sealed segments of
    ``manifest``; each `Replacement` takes one removed seq. ``archive`` False drops
    the removed records instead of archiving them.
    """

    remove: list[list[int]]
    replacements: dict[int, Replacement]
    manifest: Manifest
    upto: int
    archive: bool = True
    compress_level: int = 1
    note: dict[str, Any] = field(default_factory=dict)

    def removed_count(self) -> int:
        return sum(b - a + 1 for a, b in self.remove)


def sealed_upto(root: Path, manifest: Manifest) -> int:
    """The highest seq a plan may remove: the end of the sealed segments before the newest one.

    The newest segment on disk is never compacted, sealed or not: writers read the next
    seq from its last record (a crash between sealing it and creating the next one
    leaves it newest), so that record must stay.
    """
    segments = list_segments(root)
    if not segments:
        return 0
    listed = manifest.last_sealed_seq
    return min(segments[-1][0] - 1, listed)  # a segment sealed after *manifest* was read is not ours


def affected_segments(plan: Plan) -> list[SegmentEntry]:
    """The manifest entries of the sealed segments holding removed seqs (by seq)."""
    entries = sorted(plan.manifest.segments, key=lambda s: s.first_seq)
    starts = [r[0] for r in plan.remove]
    out = []
    for entry in entries:
        first, last = entry.first_seq, entry.last_seq
        i = bisect.bisect_right(starts, last) - 1
        if i >= 0 and plan.remove[i][1] >= first:
            out.append(entry)
    return out


def check_plan(root: Path, plan: Plan) -> None:
    if plan.upto < 0 or any(a > b for a, b in plan.remove):
        raise ValueError("a plan's seq ranges must be ordered pairs")
    limit = plan.manifest.last_sealed_seq
    if plan.remove and plan.remove[-1][1] > limit:
        raise ValueError(f"a plan may only remove seqs of sealed segments (up to {limit})")
    covered = SeqCursor(plan.remove)
    for seq in sorted(plan.replacements):
        if seq not in covered:
            raise ValueError(f"replacement at seq {seq} does not take a removed seq")
