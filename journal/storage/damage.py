"""What a reader does with damage, what it reports, and the seq holes it may jump.

`RecoveryMode` chooses the reaction (see `journal.storage.reader`), `Damage` is one finding,
and `SeqHoles` holds the manifest's compacted and lost seq ranges, which a reader
crosses without calling them gaps.
"""

from __future__ import annotations

import bisect
import enum
from dataclasses import asdict, dataclass
from typing import Any, Iterable

__all__ = ["RecoveryMode", "Damage", "SeqHoles", "seq_ranges_cover"]


class RecoveryMode(str, enum.Enum):
    """What a reader does with damage (modelled on RocksDB's WAL recovery modes)."""

    TOLERATE = "tolerate"
    POINT_IN_TIME = "point-in-time"
    STRICT = "strict"
    SALVAGE = "salvage"


@dataclass(frozen=True)
class Damage:
    """One finding: what is wrong, where (file and byte offset), and which seq if known.

    Kinds: ``torn_tail``, ``corrupt``, ``nul_bytes``, ``gap``, ``duplicate``,
    ``missing_segment``, ``unterminated_segment``, ``salvaged``.
    """

    kind: str
    file: str
    offset: int
    seq: int | None
    detail: str
    #: For gaps and missing segments: the first and last missing seq.
    first_seq: int | None = None
    last_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        where = f"{self.file}" + (f" at byte {self.offset}" if self.offset >= 0 else "")
        seq = f" (seq {self.seq})" if self.seq is not None else ""
        return f"{self.kind}: {where}{seq}: {self.detail}"


class SeqHoles:
    """Known holes (the manifest's ``compacted`` and ``lost`` ranges), merged once, searched by bisection.

    A compacted journal can have tens of thousands of ranges; sorting them for every
    question (as a plain scan would) made reading it quadratic.
    """

    __slots__ = ("_starts", "_ends")

    def __init__(self, ranges: Iterable[Iterable[int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self.add(ranges)

    def add(self, ranges: Iterable[Iterable[int]]) -> None:
        """Add more holes."""
        merged: list[list[int]] = []
        pairs = [(int(r[0]), int(r[1])) for r in ranges] + list(zip(self._starts, self._ends, strict=True))  # type: ignore[index]
        for a, b in sorted(pairs):
            if merged and a <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self._starts = [a for a, _ in merged]
        self._ends = [b for _, b in merged]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def cover(self, first: int, last: int) -> bool:
        """True if every seq of the inclusive range [first, last] is a known hole."""
        i = bisect.bisect_right(self._starts, first) - 1
        return i >= 0 and self._ends[i] >= last


def seq_ranges_cover(ranges: list[list[int]], first: int, last: int) -> bool:
    """True if the inclusive seq range [first, last] lies inside the union of *ranges*.

    For many questions about the same ranges, build one `SeqHoles` instead.
    """
    return SeqHoles(ranges).cover(first, last)
