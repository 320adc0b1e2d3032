"""An invalid manifest.json is derived data gone bad: validated on read, rebuilt from the
segments (reported once), never a crash of `verify`, a `--repair` mode or `log`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from journal import Journal
from journal.errors import InvalidManifest
from journal.layout import read_manifest
from journal.storage.manifest import load_manifest


def run(root: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--journal", str(root), *args])


@pytest.fixture
def rolled(tmp_path: Path) -> Journal:
    journal = Journal.open(tmp_path / "journal", segment_bytes=4096)
    for i in range(100):
        journal.append("t", {"i": i, "pad": "x" * 80}, session="s")
    assert len(journal.manifest().segments) >= 3
    return journal


def _flip(root: Path, old: str, new: str) -> None:
    path = root / "manifest.json"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


BREAKAGES = [
    ('"name"', '"nale"'),
    ('"segments"', '"segmants"'),
    ('"first_seq": 1,', '"first_seq": "1",'),
    ('"name": "00000000000000000001.jsonl"', '"name": "../../../../.bashrc"'),
    ('"crc32": "', '"crc32": 7, "x": "'),
    ("{", "{{"),
]


@pytest.mark.parametrize("command", [["verify"], ["verify", "--json"], ["log"], ["stats"],
                                     ["verify", "--repair", "tolerate"], ["verify", "--repair", "salvage"],
                                     ["verify", "--repair", "point-in-time"]])
@pytest.mark.parametrize("old,new", BREAKAGES)
def test_no_command_crashes_on_an_invalid_manifest(rolled: Journal, command: list[str], old: str, new: str) -> None:
    before = [e.to_dict() for e in rolled.read(mode="strict")]
    _flip(rolled.root, old, new)
    result = run(rolled.root, *command)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output and "KeyError" not in result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "manifest.json" in warnings[0] and "rebuilt it from the segments" in warnings[0]
    # Rebuilt once: the next command is quiet, and the journal is the same journal.
    again = run(rolled.root, "verify", "--json")
    assert again.exit_code == 0 and "warning" not in again.stderr
    assert [e.to_dict() for e in Journal.open(rolled.root, create=False).read(mode="strict")] == before
    assert json.loads(again.stdout)["ok"]


def test_the_rebuild_keeps_the_old_copy_and_says_so_in_errors_log(rolled: Journal) -> None:
    old_id = rolled.manifest().journal_id
    _flip(rolled.root, '"name"', '"nale"')
    journal = Journal.open(rolled.root, create=False)
    assert len(journal.notices) == 1
    manifest = journal.manifest()
    assert manifest.journal_id == old_id and manifest.epoch >= 1  # caches rebuild
    kept = list((rolled.root / "quarantine").glob("manifest.json.*.invalid"))
    assert len(kept) == 1 and b'"nale"' in kept[0].read_bytes()
    kinds = [json.loads(line)["kind"] for line in (rolled.root / "errors.log").read_text().splitlines()]
    assert kinds == ["manifest_rebuilt"]


def test_the_stdlib_reader_refuses_it_clearly(rolled: Journal) -> None:
    _flip(rolled.root, '"name"', '"nale"')
    with pytest.raises(InvalidManifest, match=r"segments\[0\]\.name"):
        read_manifest(rolled.root)


def test_the_writer_rebuilds_it_when_it_rolls(rolled: Journal) -> None:
    """The hook's path (stdlib) rebuilds too, and keeps recording."""
    _flip(rolled.root, '"name"', '"nale"')
    writer_only = Journal(rolled.root, rolled.config)  # no open(): no msgspec check first
    for i in range(60):
        writer_only.append("more", {"i": i, "pad": "y" * 80})
    manifest = read_manifest(rolled.root)  # the writer's own (stdlib) view
    assert len(manifest["segments"]) >= 4
    assert Journal.open(rolled.root, create=False).verify().ok


def test_a_compacted_journal_keeps_its_archive_and_holes(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        import _gen
    finally:
        sys.path.pop(0)
    root = tmp_path / "journal"
    _gen.generate(root, 1200, sessions=10, seed=5, segment_bytes=64 * 1024)
    assert run(root, "compact").exit_code == 0
    sessions = json.loads(run(root, "sessions", "--all", "--json").output)
    sid = sessions[0]["id"]
    timeline = run(root, "timeline", sid, "--json").output
    manifest = load_manifest(root)
    assert manifest.compacted and manifest.archive
    _flip(root, '"name"', '"nale"')
    result = run(root, "verify", "--json")
    assert result.exit_code == 0, result.output
    rebuilt = load_manifest(root)
    assert rebuilt.compacted == manifest.compacted
    assert rebuilt.archive == manifest.archive
    assert run(root, "timeline", sid, "--json").output == timeline
