"""``durability=fsync`` syncs after the append lock is released (group commit), and a sync
that fails fails the append: nothing acknowledged is lost, nothing failed is kept when it can be cut."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import journal.storage.writer as writer_module
from journal import Journal, NewEvent
from journal.errors import JournalError
from journal.layout import LOCK_FILE, SPOOL_DIR
from journal.storage.locking import FileLock


def _lock_free(root: Path) -> bool:
    probe = FileLock(root / LOCK_FILE)
    try:
        if probe.try_lock():
            probe.unlock()
            return True
        return False
    finally:
        probe.close()


def test_the_sync_runs_after_the_lock_is_released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal.open(tmp_path / "j", durability="fsync")
    journal.append("first")
    seen: list[bool] = []
    real = writer_module._fdatasync
    monkeypatch.setattr(writer_module, "_fdatasync", lambda fd: (seen.append(_lock_free(journal.root)), real(fd)))
    assert journal.append("second") == 2
    assert seen == [True]


def test_merging_the_spool_syncs_before_the_spool_files_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal.open(tmp_path / "j", durability="fsync")
    journal.append("first")
    journal._writer.spool([journal._writer.encode(NewEvent("spooled"))])
    seen: list[tuple[bool, int]] = []
    real = writer_module._fdatasync

    def sync(fd: int) -> None:
        seen.append((_lock_free(journal.root), len(list((journal.root / SPOOL_DIR).glob("*.jsonl")))))
        real(fd)

    monkeypatch.setattr(writer_module, "_fdatasync", sync)
    assert journal.append("after") == 3
    assert seen == [(False, 1)]  # under the lock, while the spool file still exists
    assert [e.type for e in journal.read()] == ["first", "spooled", "after"]


def test_a_failed_sync_fails_the_append_and_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal.open(tmp_path / "j", durability="fsync")
    journal.append("first")

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(writer_module, "_fdatasync", broken)
    with pytest.raises(JournalError, match="fdatasync: Input/output error; nothing was kept"):
        journal.append("lost")
    monkeypatch.undo()
    assert [e.type for e in journal.read()] == ["first"]
    assert journal.append("next") == 2  # the failed record's seq was never acknowledged
    assert journal.verify().ok
    assert "append_failed" in (journal.root / "errors.log").read_text()


def test_a_failed_sync_after_another_append_says_the_records_stay(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal.open(tmp_path / "j", durability="fsync")
    other = Journal.open(tmp_path / "j", durability="flush")
    journal.append("first")

    def broken(fd: int) -> None:
        other.append("meanwhile")  # another writer appends between our write and our sync
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(writer_module, "_fdatasync", broken)
    with pytest.raises(JournalError, match="seq 2-2 stay in the log"):
        journal.append("unsure")
    monkeypatch.undo()
    assert [e.type for e in journal.read()] == ["first", "unsure", "meanwhile"]
    assert journal.verify().ok


def test_a_full_disk_at_sync_time_parks_the_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal.open(tmp_path / "j", durability="fsync")
    journal.append("first")
    parked: list[int] = []

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer_module, "_fdatasync", full)
    monkeypatch.setattr(writer_module.Writer, "_park",
                        lambda self, templates, error: parked.append(len(templates)) or [])
    assert journal.append_many([NewEvent("wait")], spool_on_timeout=True) == []
    assert parked == [1]
    monkeypatch.undo()
    assert [e.type for e in journal.read()] == ["first"]  # cut off again: only the parked copy remains
