"""The journal's one timestamp format: UTC, microseconds, sortable as text.

Records (`journal.storage.codec`), ``errors.log`` lines and the other files the journal
writes all stamp time with `now_ts`. Stdlib only: the hook imports it.
"""

from __future__ import annotations

import time

__all__ = ["now_ts"]


def now_ts(ns: int | None = None) -> str:
    """Return the current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sortable as text)."""
    if ns is None:
        ns = time.time_ns()
    sec, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%06dZ" % (rem // 1000)
