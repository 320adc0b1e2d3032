"""Agent Journal's storage engine: a crash-safe, multi-writer, append-only event log.

It knows nothing about Claude Code. `Journal` is the facade; see the submodules for
the record format (`codec`), appending (`writer`, with one segment file's tail, seal
and quarantine in `segments`), reading (`reader`, with its damage handling in
`reader_damage`), checking (`verify`) and repairing (`recovery`). Importing this
package loads only the stdlib write path; msgspec is loaded when something reads.
"""

from __future__ import annotations

from journal.config import JournalConfig, load_config
from journal.errors import (
    ConfigError,
    CorruptRecord,
    InvalidEvent,
    JournalError,
    JournalPermissionError,
    LockTimeout,
    RecordTooLarge,
    TornTail,
)
from journal.location import resolve_journal_dir
from journal.store import Journal
from journal.storage.writer import NewEvent

__all__ = [
    "Journal",
    "JournalConfig",
    "NewEvent",
    "load_config",
    "resolve_journal_dir",
    "JournalError",
    "LockTimeout",
    "CorruptRecord",
    "TornTail",
    "RecordTooLarge",
    "InvalidEvent",
    "JournalPermissionError",
    "ConfigError",
]
