"""The retention policy, and whether an automatic compaction is due (cheap enough for a hook).

Settings live in the ``retention`` section of the journal's ``config.json``::

    {"retention": {"older_than": "7d", "max_bytes": 268435456, "auto": true,
                   "every": "1d", "archive": true}}

``older_than``  compact sessions that finished longer ago than this (``agent-journal
                compact`` without ``--older-than``);
``max_bytes``   when the live segments grow past this, an automatic run compacts every
                finished session whatever its age (null: no size limit);
``auto``        let the SessionEnd hook (`hooks.housekeeping`) start
                ``agent-journal compact --auto`` in the background when a run is due;
``every``       at most one automatic run per this interval (a run over ``max_bytes``
                may come sooner, but not within `MIN_GAP` seconds of the last one);
``archive``     false: automatic runs drop removed events instead of archiving them.

`compaction_due` stats a few files and says why a run is due (or None); the hook that
asks starts the run detached, never compacting in its own process. The time of the
last start is the mtime of ``compact.lock`` (the starter touches it), so no state file
is needed. Stdlib only.
"""

from __future__ import annotations

import os
import time
from _collections_abc import Mapping  # collections.abc without importing collections (SessionEnd hook)

from journal.config import JournalConfig
from journal.errors import ConfigError
from journal.layout import COMPACT_LOCK, SEGMENTS_DIR

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and dataclasses cost a hook ~10 ms to import: none at run time
    from typing import Any

__all__ = [
    "RetentionPolicy",
    "retention_policy",
    "parse_duration",
    "compaction_due",
    "MIN_GAP",
]

#: Seconds between two automatic runs, whatever the size.
MIN_GAP = 600.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _number(text: str) -> bool:
    """``\\d+(\\.\\d+)?``, without `re` (the SessionEnd hook reads the default policy)."""
    whole, dot, fraction = text.partition(".")
    return whole.isdecimal() and (not dot or fraction.isdecimal())


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``45m``, ``2h``, ``1h30m``, ``7d``, ``2w``."""
    raw = str(text).strip().lower()
    if _number(raw):
        return float(raw)
    total, found, rest = 0.0, False, raw
    while rest:  # number, blanks, unit; blanks between parts
        at = next((i for i, char in enumerate(rest) if char in _UNITS), -1)
        number = rest[:at].strip()
        if at < 0 or not _number(number):
            break
        total += float(number) * _UNITS[rest[at]]
        found, rest = True, rest[at + 1 :].lstrip()
    if found and not rest:
        return total
    raise ConfigError(f"cannot read {text!r} as a duration: use e.g. 90s, 45m, 2h, 1h30m, 7d")


class RetentionPolicy:
    """The ``retention`` section of a journal's config, validated."""

    __slots__ = ("older_than", "max_bytes", "auto", "every", "archive")

    def __init__(
        self,
        older_than: str = "7d",
        max_bytes: int | None = 256 * 1024 * 1024,
        auto: bool = True,
        every: str = "1d",
        archive: bool = True,
    ) -> None:
        parse_duration(older_than)
        parse_duration(every)
        if max_bytes is not None and (not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 0):
            raise ConfigError(f"retention.max_bytes must be a number of bytes or null, got {max_bytes!r}")
        self.older_than = older_than
        self.max_bytes = max_bytes
        self.auto = auto
        self.every = every
        self.archive = archive

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RetentionPolicy) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "RetentionPolicy(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"


def retention_policy(config: JournalConfig | Mapping[str, Any]) -> RetentionPolicy:
    """The retention policy of a journal's config (defaults for what it does not say)."""
    extra = config.extra if isinstance(config, JournalConfig) else config
    section = extra.get("retention") if isinstance(extra, Mapping) else None
    if section is None:
        return RetentionPolicy()
    if not isinstance(section, Mapping):
        raise ConfigError("the retention section of config.json must be a JSON object")
    known = {"older_than", "max_bytes", "auto", "every", "archive"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"unknown retention setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values = dict(section)
    for key in ("auto", "archive"):
        if key in values and not isinstance(values[key], bool):
            raise ConfigError(f"retention.{key} must be true or false, got {values[key]!r}")
    for key in ("older_than", "every"):
        if key in values:
            values[key] = str(values[key])
    return RetentionPolicy(**values)


def _live_bytes(root: str | os.PathLike[str]) -> tuple[int, int]:
    """(bytes of all segments, number of segments)."""
    total = count = 0
    try:
        with os.scandir(os.path.join(root, SEGMENTS_DIR)) as it:
            for entry in it:
                if entry.name.endswith(".jsonl"):
                    total += entry.stat().st_size
                    count += 1
    except FileNotFoundError:
        pass
    return total, count


def compaction_due(root: str | os.PathLike[str], policy: RetentionPolicy, *, now: float | None = None) -> str | None:
    """Why an automatic compaction should start now (None: it should not)."""
    if not policy.auto:
        return None
    now = time.time() if now is None else now
    size, segments = _live_bytes(root)
    if segments < 2:
        return None  # nothing sealed yet: compaction never touches the active segment
    try:
        since = now - os.stat(os.path.join(root, COMPACT_LOCK)).st_mtime
    except FileNotFoundError:
        since = float("inf")
    if since < MIN_GAP:
        return None
    if policy.max_bytes is not None and size > policy.max_bytes:
        return f"live segments hold {size} bytes, over retention.max_bytes ({policy.max_bytes})"
    if since >= parse_duration(policy.every):
        return "no compaction for longer than retention.every" if since != float("inf") else "never compacted"
    return None
