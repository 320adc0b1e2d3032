"""The retention policy and the automatic trigger the SessionEnd hook calls.

The trigger must be cheap (stats only, stdlib only, never waits), start at most one
detached run at a time, and only when the policy says a run is due.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from journal import Journal
from journal.compaction.compact import compaction_lock
from journal.config import load_config
from journal.errors import ConfigError
from hooks.housekeeping import maybe_start_auto_compaction
from journal.compaction.retention import MIN_GAP, RetentionPolicy, compaction_due, retention_policy


def _journal(root: Path, n: int = 80, **retention: object) -> Journal:
    root.mkdir(parents=True, exist_ok=True)
    if retention:
        (root / "config.json").write_text(json.dumps({"retention": retention}))
    journal = Journal.open(root, segment_bytes=4096, durability="flush")
    for i in range(n):
        journal.append("t", {"i": i, "pad": "y" * 80}, session="s")
    return journal


def test_policy_defaults_and_validation(tmp_path: Path) -> None:
    assert retention_policy(load_config(None)) == RetentionPolicy()
    (tmp_path / "config.json").write_text(json.dumps({"retention": {"older_than": "30d", "max_bytes": None,
                                                                     "auto": False}}))
    policy = retention_policy(load_config(tmp_path))
    assert (policy.older_than, policy.max_bytes, policy.auto, policy.archive) == ("30d", None, False, True)
    for bad in ({"older_than": "soon"}, {"max_bytes": -1}, {"auto": "yes"}, {"keep": 1}, []):
        (tmp_path / "config.json").write_text(json.dumps({"retention": bad}))
        with pytest.raises(ConfigError):
            retention_policy(load_config(tmp_path))


def test_due_when_never_compacted_and_not_again_until_every(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j", every="1d", max_bytes=None)
    policy = retention_policy(journal.config)
    assert compaction_due(journal.root, policy) == "never compacted"
    (journal.root / "compact.lock").touch()
    assert compaction_due(journal.root, policy) is None
    assert compaction_due(journal.root, policy, now=time.time() + 86400 + 1) is not None
    assert compaction_due(journal.root, RetentionPolicy(auto=False)) is None


def test_due_sooner_over_max_bytes_but_not_within_the_minimum_gap(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j", every="30d", max_bytes=1000)
    policy = retention_policy(journal.config)
    (journal.root / "compact.lock").touch()
    assert compaction_due(journal.root, policy) is None
    reason = compaction_due(journal.root, policy, now=time.time() + MIN_GAP + 1)
    assert reason is not None and "max_bytes" in reason


def test_nothing_sealed_nothing_due(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j", n=2)
    assert compaction_due(journal.root, retention_policy(journal.config)) is None


def _fake_code_root(tmp_path: Path) -> tuple[Path, Path]:
    """A code root whose `cli.main.main` records its arguments instead of compacting."""
    code = tmp_path / "code"
    (code / "cli").mkdir(parents=True)
    out = tmp_path / "spawned.json"
    (code / "cli" / "__init__.py").write_text("")
    # Written whole, then renamed: the test polls for the file and must never read half of it.
    (code / "cli" / "main.py").write_text(
        "import json, os, sys\n"
        "def main():\n"
        f"    with open({str(out) + '.tmp'!r}, 'w') as f:\n"
        "        json.dump(sys.argv, f)\n"
        f"    os.replace({str(out) + '.tmp'!r}, {str(out)!r})\n"
    )
    return code, out


def test_the_trigger_spawns_one_detached_run_when_due(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    code, out = _fake_code_root(tmp_path)
    assert maybe_start_auto_compaction(journal.root, code_root=code) is True
    deadline = time.monotonic() + 20
    # Until the child has written all of it (the file exists as soon as it is opened).
    while not (out.exists() and out.read_text().endswith("]")) and time.monotonic() < deadline:
        time.sleep(0.02)
    args = json.loads(out.read_text())
    assert args[1:] == ["--journal", str(journal.root), "compact", "--auto"]
    # The start was recorded: a burst of SessionEnds starts one run, not one each.
    assert maybe_start_auto_compaction(journal.root, code_root=code) is False


def test_the_trigger_does_nothing_while_a_compaction_runs(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    code, out = _fake_code_root(tmp_path)
    with compaction_lock(journal.root):
        os.utime(journal.root / "compact.lock", (0, 0))  # long ago: due, but busy
        assert maybe_start_auto_compaction(journal.root, code_root=code) is False
    assert not out.exists()


def test_the_trigger_never_raises(tmp_path: Path) -> None:
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "config.json").write_text("{not json")
    assert maybe_start_auto_compaction(tmp_path / "j") is False
    assert "auto_compaction_not_started" in (tmp_path / "j" / "errors.log").read_text()


def test_the_trigger_is_cheap_and_stdlib_only(tmp_path: Path) -> None:
    """Not due: no msgspec, no click, no subprocess import (~5 ms) and nothing started.

    Cheapness is checked by what the trigger loads and does, not by a wall-clock window
    (those fail on a loaded machine); `bench/hook_latency.py` measures the time.
    """
    journal = _journal(tmp_path / "j")
    (journal.root / "compact.lock").touch()  # not due
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from hooks.housekeeping import maybe_start_auto_compaction\n"
        f"started = maybe_start_auto_compaction({str(journal.root)!r})\n"
        "assert not started\n"
        "loaded = set(sys.modules) - before\n"
        "heavy = {'msgspec', 'click', 'portalocker', 'subprocess', 'typing', 'dataclasses'} & loaded\n"
        "assert not heavy, sorted(heavy)\n"
        "print(len(loaded))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 0  # the import really happened in that process


def test_auto_runs_with_the_policy_and_quietly(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    journal = _journal(tmp_path / "j", older_than="1s", archive=False)
    result = CliRunner().invoke(cli, ["--journal", str(journal.root), "compact", "--auto"])
    assert result.exit_code == 0 and result.output == ""
    with compaction_lock(journal.root):
        result = CliRunner().invoke(cli, ["--journal", str(journal.root), "compact", "--auto"])
    assert result.exit_code == 0 and result.output == ""  # busy: another run does the work


def test_a_run_that_cannot_start_says_so_in_errors_log(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    bare = tmp_path / "bare-python"  # an interpreter without site-packages: no click, no msgspec
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    bare.chmod(0o755)
    # Code root: the journal package alone (an installed package's site-packages would
    # also hold click and msgspec, and the run would start).
    import shutil

    import journal as journal_package

    code = tmp_path / "code"
    shutil.copytree(Path(journal_package.__file__).parent, code / "journal")
    assert maybe_start_auto_compaction(journal.root, python=str(bare), code_root=code) is True
    log = journal.root / "errors.log"
    deadline = time.monotonic() + 20
    while not (log.exists() and "auto_compaction_failed" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "cannot start" in log.read_text()


def test_the_interpreter_is_looked_up_only_when_a_run_is_due(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j")
    asked: list[int] = []

    def find() -> str | None:
        asked.append(1)
        return None

    (journal.root / "compact.lock").touch()  # ran just now: not due
    assert maybe_start_auto_compaction(journal.root, python=find) is False and not asked
    os.utime(journal.root / "compact.lock", (0, 0))  # long ago: due, but no interpreter yet
    assert maybe_start_auto_compaction(journal.root, python=find) is False and asked == [1]
