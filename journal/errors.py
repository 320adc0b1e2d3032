"""The journal's exception hierarchy: one root, a few named failures.

Every error raised by `journal` is a `JournalError`; OS and decoder errors are
wrapped at the boundary with ``raise X(...) from e`` so callers catch one type.
Messages name the file, the offset or seq, and the remedy.
"""

from __future__ import annotations

__all__ = [
    "JournalError",
    "LockTimeout",
    "CorruptRecord",
    "TornTail",
    "RecordTooLarge",
    "InvalidEvent",
    "JournalPermissionError",
    "ConfigError",
    "InvalidManifest",
]


class JournalError(Exception):
    """Root of every error the journal raises."""


class LockTimeout(JournalError):
    """The journal's append lock could not be taken within the timeout."""


class CorruptRecord(JournalError):
    """A complete record failed its integrity check (CRC, JSON or sequence)."""

    def __init__(self, message: str, *, file: str = "", offset: int = -1, seq: int | None = None):
        super().__init__(message)
        self.file = file
        self.offset = offset
        self.seq = seq


class TornTail(CorruptRecord):
    """The last segment ends in a partial record (a crash mid-write); strict mode only."""


class RecordTooLarge(JournalError):
    """An encoded record is larger than the configured maximum record size."""


class InvalidEvent(JournalError):
    """An event cannot be encoded: bad type name, non-JSON data, NaN, and the like."""


class JournalPermissionError(JournalError):
    """The journal directory is unusable: not writable, or owned by another user."""


class ConfigError(JournalError):
    """The journal's config file or an override holds an invalid value."""


class InvalidManifest(JournalError):
    """``manifest.json`` is not valid JSON or not a manifest (it is rebuilt from the segments)."""
