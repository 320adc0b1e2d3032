"""``agent-journal compact``: options, output, ``--json``, ``--dry-run``, ``--drop``, and the
views other commands show before and after (driven in-process with click's CliRunner)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from journal import Journal
from journal.compaction.compact import compaction_lock


@pytest.fixture
def old_journal(tmp_path: Path) -> Path:
    """A generated journal of January 2026: every session in it is months old."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        import _gen
    finally:
        sys.path.pop(0)
    root = tmp_path / "journal"
    _gen.generate(root, 1200, sessions=10, seed=5, segment_bytes=64 * 1024)
    return root


def run(root: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--journal", str(root), *args], catch_exceptions=False)
    return result


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.name not in ("journal.lock", "compact.lock", "errors.log") and "cache" not in p.parts}


def test_help_has_an_example_and_every_option() -> None:
    result = CliRunner().invoke(cli, ["compact", "--help"])
    assert result.exit_code == 0
    for word in ("--older-than", "--dry-run", "--drop", "--json", "--auto", "Examples:", "agent-journal compact"):
        assert word in result.output


def test_dry_run_says_what_would_happen_and_changes_nothing(old_journal: Path) -> None:
    before = _files(old_journal)
    result = run(old_journal, "compact", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Would compact ")
    assert "Live journal:" in result.output and "Sessions:" in result.output
    assert _files(old_journal) == before
    report = json.loads(run(old_journal, "compact", "--dry-run", "--json").output)
    assert report["dry_run"] is True and report["sessions"] >= 5
    assert report["bytes_after"] < report["bytes_before"] and report["events_removed"] > 0
    assert _files(old_journal) == before


def test_compact_prints_a_summary_and_json_says_the_same(old_journal: Path, tmp_path: Path) -> None:
    import shutil

    twin = tmp_path / "twin"
    shutil.copytree(old_journal, twin)
    text = run(old_journal, "compact")
    assert text.exit_code == 0, text.output
    assert text.output.startswith("Compacted ") and "archive/" in text.output
    report = json.loads(run(twin, "compact", "--json").output)
    for key in ("sessions", "agents", "events_removed", "snapshots", "bytes_before", "bytes_after", "archive_bytes",
                "sessions_compacted", "kept_back", "epoch", "seconds"):
        assert key in report
    assert report["dry_run"] is False and report["archived"] is True and report["epoch"] == 1
    assert f"{report['sessions']:,} sessions" in text.output
    again = run(old_journal, "compact")
    assert again.output.startswith("Nothing to compact")
    assert run(old_journal, "verify").exit_code == 0


def test_views_and_timelines_are_the_same_after_compaction(old_journal: Path) -> None:
    sessions = json.loads(run(old_journal, "sessions", "--all", "--json").output)
    ids = [s["id"] for s in sessions]
    agents = run(old_journal, "agents", "--all", "--json").output
    timelines = {sid: run(old_journal, "timeline", sid, "--json").output for sid in ids}
    shows = {sid: run(old_journal, "show", sid, "--json").output for sid in ids}
    assert run(old_journal, "compact").exit_code == 0
    assert json.loads(run(old_journal, "sessions", "--all", "--json").output) == sessions
    assert run(old_journal, "agents", "--all", "--json").output == agents
    for sid in ids:
        assert run(old_journal, "show", sid, "--json").output == shows[sid]
        assert run(old_journal, "timeline", sid, "--json").output == timelines[sid], sid


def test_drop_keeps_every_view_but_the_raw_events(old_journal: Path) -> None:
    sessions = run(old_journal, "sessions", "--all", "--json").output
    report = json.loads(run(old_journal, "compact", "--drop", "--json").output)
    assert report["archived"] is False and report["archive_bytes"] == 0
    assert run(old_journal, "sessions", "--all", "--json").output == sessions
    assert not Journal.open(old_journal, create=False).manifest().archive
    assert run(old_journal, "verify").exit_code == 0


def test_older_than_is_validated_and_a_busy_journal_is_an_error(old_journal: Path) -> None:
    bad = CliRunner().invoke(cli, ["--journal", str(old_journal), "compact", "--older-than", "soon"])
    assert bad.exit_code == 1 and bad.output.startswith("Error:") and "duration" in bad.output
    with compaction_lock(old_journal):
        busy = CliRunner().invoke(cli, ["--journal", str(old_journal), "compact"])
    assert busy.exit_code == 1 and "another compaction" in busy.output
    assert "Traceback" not in busy.output


def test_nothing_is_compacted_inside_the_horizon(old_journal: Path) -> None:
    report = json.loads(run(old_journal, "compact", "--older-than", "5000d", "--json").output)
    assert report["sessions"] == 0 and report["events_removed"] == 0
    assert report["bytes_after"] == report["bytes_before"]
