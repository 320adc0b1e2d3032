"""Agent Journal's storage engine: a crash-safe, multi-writer, append-only event log.

It knows nothing about Claude Code. `Journal` is the facade; see the submodules for
the record format (`codec`), appending (`writer`, with one segment file's tail, seal
and quarantine in `segments`), reading (`reader`, with its damage handling in
`reader_damage`), checking (`verify`) and repairing (`recovery`). Importing this
package loads nothing: each name is imported on first use, so a submodule costs only itself.
"""

from __future__ import annotations

# Loaded on first use (PEP 562): importing a submodule runs this file, and the hook
# imports `journal.storage.writer` and friends without the facade (`journal.store`).
_WHERE = {
    "Journal": "journal.store",
    "JournalConfig": "journal.config",
    "load_config": "journal.config",
    "NewEvent": "journal.storage.writer",
    "resolve_journal_dir": "journal.location",
    "JournalError": "journal.errors",
    "LockTimeout": "journal.errors",
    "CorruptRecord": "journal.errors",
    "TornTail": "journal.errors",
    "RecordTooLarge": "journal.errors",
    "InvalidEvent": "journal.errors",
    "JournalPermissionError": "journal.errors",
    "ConfigError": "journal.errors",
}

TYPE_CHECKING = False
if TYPE_CHECKING:
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


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'journal' has no attribute {name!r}")
    value = getattr(__import__(module, fromlist=(name,)), name)
    globals()[name] = value
    return value


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
