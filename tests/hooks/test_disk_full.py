"""A full disk: events wait in a bounded spool on another filesystem and are merged, in
order, when space returns; what did not fit is counted where verify and the next
SessionStart context show it. The journal lives on a small tmpfs mounted for the test."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from journal import Journal
from tests.hooks.support import HookEnv, fixture_payloads

PROMPT = next(p for p in fixture_payloads() if p["hook_event_name"] == "UserPromptSubmit")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt: Path) -> Path:
    """Take every free byte of the tmpfs (the exception on close is the point)."""
    filler = mnt / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def _env(hook_env: HookEnv, runtime: Path, **extra: str) -> dict[str, str]:
    return {"XDG_RUNTIME_DIR": str(runtime), **extra}


@pytest.fixture
def setup(hook_env: HookEnv, small_disk: Path, tmp_path: Path) -> tuple[HookEnv, Path, Path]:
    hook_env.journal_dir = small_disk / "journal"
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    assert hook_env.run({**PROMPT, "prompt": "before"}, _env(hook_env, runtime)).returncode == 0
    return hook_env, small_disk, runtime


def _prompts(journal_dir: Path) -> list[str]:
    journal = Journal.open(journal_dir, create=False)
    return [e.payload().get("prompt") for e in journal.read(mode="strict") if e.type == "UserPromptSubmit"]


def test_events_written_while_the_disk_is_full_are_merged_in_order(setup: tuple[HookEnv, Path, Path]) -> None:
    hook_env, mnt, runtime = setup
    filler = _fill(mnt)
    for i in range(15):
        result = hook_env.run({**PROMPT, "prompt": f"full {i}"}, _env(hook_env, runtime))
        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    # The segment's last page had room for a few; every later event waits elsewhere (an
    # append that can write merges what waits first, so the order holds either way).
    written = _prompts(hook_env.journal_dir)
    assert written == ["before", *(f"full {i}" for i in range(len(written) - 1))]
    parked = list(runtime.glob("agent-journal-*/*/*.jsonl"))
    assert len(parked) == 15 - (len(written) - 1) >= 5
    for directory in (parked[0].parent, parked[0].parent.parent):
        assert directory.stat().st_mode & 0o777 == 0o700
    report = json.loads(CliRunner().invoke(cli, ["--journal", str(hook_env.journal_dir), "verify", "--json"],
                                           env={"XDG_RUNTIME_DIR": str(runtime)}).stdout)
    assert report["overflow"]["pending_events"] == len(parked)

    filler.unlink()
    assert hook_env.run({**PROMPT, "prompt": "after"}, _env(hook_env, runtime)).returncode == 0
    assert _prompts(hook_env.journal_dir) == ["before", *(f"full {i}" for i in range(15)), "after"]
    assert Journal.open(hook_env.journal_dir, create=False).verify().ok
    assert not list(runtime.glob("agent-journal-*"))  # merged and cleaned up


def test_what_does_not_fit_is_counted_and_shown(setup: tuple[HookEnv, Path, Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    hook_env, mnt, runtime = setup
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    filler = _fill(mnt)
    env = _env(hook_env, runtime, AGENT_JOURNAL_OVERFLOW_BYTES="4000")
    errors = 0
    for i in range(12):
        result = hook_env.run({**PROMPT, "prompt": f"full {i} " + "x" * 600}, env)
        assert result.returncode == 0 and result.stdout == b""
        if result.stderr:
            [line] = result.stderr_lines
            assert "disk full" in line and "counted as lost" in line
            errors += 1
    assert 0 < errors < 12
    filler.unlink()
    assert hook_env.run({**PROMPT, "prompt": "after"}, env).returncode == 0
    journal = Journal.open(hook_env.journal_dir, create=False)
    events = list(journal.read(mode="strict"))
    [lost] = [e for e in events if e.type == "journal.events_lost"]
    assert lost.payload()["events"] == errors and lost.payload()["types"] == {"UserPromptSubmit": errors}
    kept = [e.payload()["prompt"][:7] for e in events if e.type == "UserPromptSubmit"]
    assert len(kept) == 1 + (12 - errors) + 1
    # verify shows the loss (and stays ok: it is known, like a repaired range)
    result = CliRunner().invoke(cli, ["--journal", str(hook_env.journal_dir), "verify"])
    assert result.exit_code == 0 and f"lost to a full disk: {errors} events" in result.stdout
    # and so does the next SessionStart context
    from hooks.render import session_start

    context = session_start(hook_env.journal_dir, "new-session", "startup")["context"]
    assert f"a full disk cost {errors} recorded event(s)" in context


def test_a_library_append_on_a_full_disk_fails_clearly_and_writes_nothing(setup: tuple[HookEnv, Path, Path]) -> None:
    hook_env, mnt, runtime = setup
    _fill(mnt)
    journal = Journal.open(hook_env.journal_dir, create=False)
    before = journal.last_seq()
    from journal import JournalError

    with pytest.raises(JournalError, match="nothing was written"):
        journal.append("note", {"text": "x" * 5000})
    assert journal.last_seq() == before
    assert journal.verify().ok
