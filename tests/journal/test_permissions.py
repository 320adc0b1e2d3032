"""Privacy of the journal directory: 0700 directories, 0600 files, a ``.gitignore``, one owner."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from journal import Journal, JournalPermissionError
from journal.layout import list_segments

NOBODY = 65534

# Runs with umask 000, so every create below would be world-writable if the engine
# trusted the umask: segments and rolls, a manifest rewrite, a spool file (the lock is
# held on a second descriptor), a torn-tail repair (quarantine/, errors.log).
_EXERCISE = r"""
import os, sys
os.umask(0)
from pathlib import Path
from journal import Journal, NewEvent
from journal.layout import LOCK_FILE, list_segments
from journal.storage.locking import JournalLock
root = Path(sys.argv[1])
journal = Journal.open(root, segment_bytes=4096)
for i in range(80):
    journal.append("t", {"i": i, "pad": "p" * 60}, session="s")
with JournalLock(root / LOCK_FILE, timeout=1):
    assert journal.append_many([NewEvent("spooled")], lock_timeout=0, spool_on_timeout=True) == []
with open(list_segments(root)[-1][1], "ab") as f:
    f.write(b'{"seq":')
journal.append("after-tear")
journal.repair("tolerate")
journal.log_error("test", "a note")
assert journal.verify().ok
assert (root / "spool").is_dir() and (root / "quarantine").is_dir()
"""


def _modes(root: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return out


def test_private_modes_even_with_umask_000(tmp_path: Path, kit) -> None:
    root = tmp_path / "project" / ".claude" / "journal"
    kit.run_python(_EXERCISE, str(root))
    modes = _modes(root)
    sealed = {s.name for s in Journal.open(root).manifest().segments}
    assert len(sealed) >= 2 and "quarantine" in modes and "errors.log" in modes and "spool" in modes
    wrong = {}
    for name, mode in modes.items():
        path = root / name
        if path.is_dir():
            want = 0o700
        elif path.parent.name == "segments" and path.name in sealed:
            want = 0o400  # sealed segments are read-only, still private
        else:
            want = 0o600
        if mode != want:
            wrong[name] = oct(mode)
    assert wrong == {}, f"not private: {wrong}"
    assert (root / ".gitignore").read_text() == "*\n"


def test_gitignore_ignores_everything(journal: Journal) -> None:
    assert (journal.root / ".gitignore").read_text().splitlines() == ["*"]


def test_a_directory_made_before_the_journal_is_adopted_as_private(journal_dir: Path) -> None:
    """``mkdir -p`` and a config file first: the journal still gets its .gitignore and 0700."""
    journal_dir.mkdir(mode=0o755)
    os.chmod(journal_dir, 0o755)
    (journal_dir / "config.json").write_text(json.dumps({"durability": "flush"}))
    journal = Journal.open(journal_dir)
    journal.append("x")
    assert (journal_dir / ".gitignore").read_text() == "*\n"
    assert stat.S_IMODE(journal_dir.stat().st_mode) == 0o700
    assert journal.config.durability == "flush"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown a directory to another user")
def test_a_journal_owned_by_another_user_is_refused(journal_dir: Path) -> None:
    journal_dir.mkdir(mode=0o700)
    os.chown(journal_dir, NOBODY, NOBODY)
    with pytest.raises(JournalPermissionError) as info:
        Journal.open(journal_dir)
    message = str(info.value)
    assert f"owned by uid {NOBODY}" in message and str(journal_dir) in message and "AGENT_JOURNAL_DIR" in message
    assert os.listdir(journal_dir) == []  # refused before writing anything
    # An existing journal whose directory changed hands is refused too.
    os.chown(journal_dir, 0, 0)
    Journal.open(journal_dir).append("mine")
    os.chown(journal_dir, NOBODY, NOBODY)
    with pytest.raises(JournalPermissionError):
        Journal.open(journal_dir)
    assert len(list_segments(journal_dir)) == 1


def test_an_entry_that_vanishes_while_the_directory_is_checked_is_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer's temporary file (``.manifest.json.<pid>.tmp``) can be renamed away
    between the directory listing and its stat: opening the journal must not fail on it
    (it did, as a JournalPermissionError, under concurrent writers)."""
    from contextlib import contextmanager

    from journal import layout

    root = tmp_path / "journal"
    Journal.open(root)
    temp = root / ".manifest.json.4242.5d54f726.tmp"
    temp.write_bytes(b"{}")
    with os.scandir(root) as it:
        listed = list(it)  # the listing still holds it ...
    temp.unlink()  # ... which is gone when each entry is stat'ed
    assert any(e.name == temp.name for e in listed)

    @contextmanager
    def stale_listing(path: str | os.PathLike[str]):  # type: ignore[no-untyped-def]
        yield iter(listed)

    real = os.scandir
    monkeypatch.setattr(layout.os, "scandir", lambda p: stale_listing(p) if Path(p) == root else real(p))
    layout.check_journal_dir(root)  # no FileNotFoundError
    Journal.open(root)
