"""Points in the log and spans of time: ``--at SEQ|TIME`` and ``--older-than 7d``.

``--at`` takes a seq (``1200``), a timestamp (``2026-11-25T12:00:00Z``,
``2026-11-25 12:00``, ``2026-11-25``; UTC unless an offset is given) or an age
(``2h``, ``3d``, ``1h30m``: that long before now). A time means "the state after the
last event stamped at or before it". Event stamps come from the writers' clocks and
may be a little out of order across processes, so the search goes on until events
are `_SKEW` past the target.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from journal.errors import ConfigError
from journal.compaction.retention import parse_duration as journal_duration
from projections.errors import ProjectionError

if TYPE_CHECKING:
    from journal import Journal

__all__ = ["parse_duration", "parse_time", "parse_at", "resolve_at", "ts_text"]

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_SKEW = 300.0


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``45m``, ``2h``, ``1h30m``, ``7d``, ``2w``."""
    try:
        return journal_duration(text)
    except ConfigError as e:
        raise ProjectionError(str(e)) from None


def parse_time(text: str) -> float:
    """Seconds since the epoch of an ISO date or timestamp (UTC unless it says otherwise)."""
    raw = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError as e:
        raise ProjectionError(
            f"cannot read {text!r} as a time: use a seq, an ISO time like 2026-11-25T12:00:00Z, or an age like 2h"
        ) from e
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def parse_at(text: str, now: float | None = None) -> tuple[str, float]:
    """``("seq", n)`` or ``("time", epoch seconds)`` for an ``--at`` value."""
    raw = text.strip()
    if raw.isdigit():
        return "seq", float(int(raw))
    if _PART.fullmatch(raw.lower()) or re.fullmatch(r"(\d+(\.\d+)?\s*[smhdw]\s*)+", raw.lower()):
        return "time", (time.time() if now is None else now) - parse_duration(raw)
    return "time", parse_time(raw)


def ts_text(epoch: float) -> str:
    """A journal timestamp (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) for *epoch* seconds."""
    micros = int(round(epoch * 1_000_000))
    sec, frac = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%06dZ" % frac


def resolve_at(journal: Journal, text: str, *, now: float | None = None) -> int:
    """The seq an ``--at`` value names (0: before the first event)."""
    kind, value = parse_at(text, now)
    if kind == "seq":
        return int(value)
    target = ts_text(value)
    stop = ts_text(value + _SKEW)
    found = 0
    for event in journal.read():
        if event.ts <= target:
            found = event.seq
        elif event.ts > stop:
            break
    return found
