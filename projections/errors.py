"""Errors raised by projections: all are `journal.errors.JournalError` subclasses.

One exception root for the whole library: the CLI turns any `JournalError` into
``Error: ...`` with exit status 1.
"""

from __future__ import annotations

from journal.errors import JournalError

__all__ = ["ProjectionError", "UnknownId", "AmbiguousId", "NothingToDo", "CacheCorrupt"]


class ProjectionError(JournalError):
    """Root of the errors the projections raise."""


class UnknownId(ProjectionError):
    """No session or agent id starts with the given prefix."""


class AmbiguousId(ProjectionError):
    """More than one session or agent id starts with the given prefix."""


class NothingToDo(ProjectionError):
    """A write command found nothing it could act on (e.g. no active session to save)."""


class CacheCorrupt(ProjectionError):
    """A projection cache turned out unreadable while in use; callers fall back to a replay.

    Never escapes the library: `projections.runner.query` catches it and replays
    from the log.
    """
