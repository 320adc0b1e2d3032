"""A journal directory from a cloned repository: links and foreign files are refused, never followed.

Each case plants one link (or a file of another user) where a journal file or
directory goes, runs the hook as Claude Code would, and checks that the hook exits 0
with one clear line and that the link's target is byte-identical and unchmod'ed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from journal import Journal, JournalPermissionError
from journal.layout import segment_name
from tests.hooks.support import HookEnv, HookResult, fixture_payloads

PROMPT = next(p for p in fixture_payloads() if p["hook_event_name"] == "UserPromptSubmit")
VICTIM_TEXT = b"export PATH=$HOME/bin:$PATH\nalias ll='ls -l'\n"
NOBODY = 65534


def _victim(tmp: Path) -> Path:
    victim = tmp / "home" / ".bashrc"
    victim.parent.mkdir(exist_ok=True)
    victim.write_bytes(VICTIM_TEXT)
    os.chmod(victim, 0o644)
    return victim


def _victim_dir(tmp: Path) -> Path:
    victim = tmp / "home" / "precious"
    victim.mkdir(parents=True)
    os.chmod(victim, 0o755)
    (victim / "notes.txt").write_bytes(VICTIM_TEXT)
    return victim


def _state(path: Path) -> tuple[bytes, int] | tuple[list[str], int]:
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        return sorted(os.listdir(path)), stat.S_IMODE(st.st_mode)
    return path.read_bytes(), stat.S_IMODE(st.st_mode)


def _one_refusal(result: HookResult, what: str) -> str:
    assert result.returncode == 0 and result.stdout == b""
    [line] = result.stderr_lines
    assert line.startswith("agent-journal hook: ") and "refusing" in line and what in line, line
    assert "Traceback" not in line
    return line


def _committed_journal(hook_env: HookEnv) -> Path:
    """What a repository can commit: a journal directory with its usual subdirectories."""
    root = hook_env.journal_dir
    (root / "segments").mkdir(parents=True)
    return root


FILE_LINKS = [
    "segments/" + segment_name(1),
    "manifest.json",
    "errors.log",
    "journal.lock",
    "config.json",
    "compact.lock",
    ".gitignore",
]
DIR_LINKS = ["segments", "spool", "quarantine", "archive", "cache"]


@pytest.mark.parametrize("name", FILE_LINKS)
def test_a_linked_journal_file_is_refused_on_a_fresh_journal(hook_env: HookEnv, name: str) -> None:
    root = _committed_journal(hook_env)
    victim = _victim(hook_env.tmp)
    before = _state(victim)
    link = root / name
    link.symlink_to(os.path.relpath(victim, link.parent))
    _one_refusal(hook_env.run(PROMPT), "symbolic link")
    assert _state(victim) == before
    assert link.is_symlink()


@pytest.mark.parametrize("name", FILE_LINKS)
def test_a_linked_journal_file_is_refused_in_a_journal_in_use(hook_env: HookEnv, name: str) -> None:
    assert hook_env.run(PROMPT).returncode == 0
    root = hook_env.journal_dir
    victim = _victim(hook_env.tmp)
    before = _state(victim)
    link = root / name
    if link.exists():
        link.unlink()
    link.symlink_to(victim)
    _one_refusal(hook_env.run(PROMPT), "symbolic link")
    assert _state(victim) == before
    # Readers refuse it too, with one clear error.
    with pytest.raises(JournalPermissionError, match="symbolic link"):
        list(Journal.open(root, create=False).read())


@pytest.mark.parametrize("name", DIR_LINKS)
def test_a_linked_journal_directory_entry_is_refused(hook_env: HookEnv, name: str) -> None:
    assert hook_env.run(PROMPT).returncode == 0
    root = hook_env.journal_dir
    victim = _victim_dir(hook_env.tmp)
    before = _state(victim), _state(victim / "notes.txt")
    target = root / name
    if target.exists():
        for child in target.iterdir():
            child.unlink()
        target.rmdir()
    target.symlink_to(victim)
    _one_refusal(hook_env.run(PROMPT), "symbolic link")
    assert (_state(victim), _state(victim / "notes.txt")) == before


def test_a_linked_journal_directory_is_refused(hook_env: HookEnv) -> None:
    victim = _victim_dir(hook_env.tmp)
    before = _state(victim)
    hook_env.journal_dir.symlink_to(victim)
    _one_refusal(hook_env.run(PROMPT), "symbolic link")
    assert _state(victim) == before
    assert not (victim / "errors.log").exists()


def test_a_linked_spool_file_is_refused(hook_env: HookEnv) -> None:
    assert hook_env.run(PROMPT).returncode == 0
    victim = _victim(hook_env.tmp)
    before = _state(victim)
    spool = hook_env.journal_dir / "spool"
    spool.mkdir(mode=0o700)
    (spool / "00000000000000000001-1-abcdef.jsonl").symlink_to(victim)
    _one_refusal(hook_env.run(PROMPT), "symbolic link")
    assert _state(victim) == before


def test_a_linked_quarantine_file_is_never_written_through(tmp_path: Path) -> None:
    """The name of a torn tail's quarantine file is predictable; a link planted there is refused."""
    journal = Journal.open(tmp_path / "journal")
    journal.append("one")
    segment = journal.root / "segments" / segment_name(1)
    size = segment.stat().st_size
    with open(segment, "ab") as f:
        f.write(b'{"seq":2,"ts"')
    victim = _victim(tmp_path)
    before = _state(victim)
    (journal.root / "quarantine").mkdir(mode=0o700)
    (journal.root / "quarantine" / f"{segment.name}.{size}.torn").symlink_to(victim)
    with pytest.raises(JournalPermissionError, match="symbolic link"):
        journal.append("two")
    assert _state(victim) == before


def test_a_linked_crc_index_is_not_followed(tmp_path: Path) -> None:
    """Derived data: the link is neither read nor written through; reads still work."""
    journal = Journal.open(tmp_path / "journal", segment_bytes=4096)
    for i in range(60):
        journal.append("t", {"i": i, "pad": "x" * 80})
    sealed = journal.manifest().segments[0].name
    victim = _victim(tmp_path)
    before = _state(victim)
    crc = journal.root / "cache" / "crc"
    crc.mkdir(parents=True, exist_ok=True)
    index = crc / f"{sealed}.idx"
    index.unlink(missing_ok=True)
    index.symlink_to(victim)
    assert len(list(Journal.open(journal.root, create=False).read(mode="strict"))) == 60
    assert _state(victim) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown a file to another user")
@pytest.mark.parametrize("name", ["errors.log", "manifest.json", "journal.lock"])
def test_a_journal_file_of_another_user_is_refused(hook_env: HookEnv, name: str) -> None:
    assert hook_env.run(PROMPT).returncode == 0
    path = hook_env.journal_dir / name
    path.touch()
    os.chown(path, NOBODY, NOBODY)
    _one_refusal(hook_env.run(PROMPT), f"owned by uid {NOBODY}")
    assert path.stat().st_uid == NOBODY


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown a file to another user")
def test_a_segment_of_another_user_is_refused(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal")
    journal.append("one")
    segment = journal.root / "segments" / segment_name(1)
    os.chown(segment, NOBODY, NOBODY)
    before = segment.read_bytes()
    with pytest.raises(JournalPermissionError, match=f"owned by uid {NOBODY}"):
        journal.append("two")
    assert segment.read_bytes() == before
