"""A repair says what it will set aside, and one that would take intact events with the
damage (point-in-time after an early flipped byte) needs --yes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from journal import Journal


def run(root: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--journal", str(root), *args])


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in ("errors.log", "journal.lock") and "cache" not in p.parts}


@pytest.fixture
def flipped(tmp_path: Path) -> Journal:
    journal = Journal.open(tmp_path / "journal", segment_bytes=4096)
    for i in range(60):
        journal.append("t", {"i": i, "pad": "x" * 80}, session="s")
    segment = journal.root / "segments" / "00000000000000000001.jsonl"
    data = bytearray(segment.read_bytes())
    fifth = data.index(b'"seq":5,')
    data[fifth + 30] ^= 0x01  # one flipped byte in record 5
    segment.chmod(0o600)
    segment.write_bytes(bytes(data))
    segment.chmod(0o400)
    return journal


def test_point_in_time_without_yes_refuses_and_changes_nothing(flipped: Journal) -> None:
    before = _files(flipped.root)
    result = run(flipped.root, "verify", "--repair", "point-in-time")
    assert result.exit_code == 1
    assert "point-in-time repair: 1 damaged record(s)" in result.stderr
    assert "55 intact event(s) after the first damage (seq 6-60)" in result.stderr
    assert "not repaired" in result.stderr and "--yes" in result.stderr
    assert "Traceback" not in result.output
    assert _files(flipped.root) == before


def test_point_in_time_with_yes_repairs(flipped: Journal) -> None:
    result = run(flipped.root, "verify", "--repair", "point-in-time", "--yes")
    assert result.exit_code == 0, result.output
    assert "55 intact event(s)" in result.stderr
    assert [e.seq for e in Journal.open(flipped.root, create=False).read(mode="strict")] == [1, 2, 3, 4]


def test_tolerate_removes_only_the_damage_and_needs_no_yes(flipped: Journal) -> None:
    result = run(flipped.root, "verify", "--repair", "tolerate")
    assert result.exit_code == 0, result.output
    assert "tolerate repair: 1 damaged record(s) set aside to quarantine/." in result.stderr
    assert "intact" not in result.stderr
    assert len(list(Journal.open(flipped.root, create=False).read(mode="strict"))) == 59


def test_the_preview_is_a_library_call(flipped: Journal) -> None:
    preview = flipped.repair_preview("point-in-time")
    assert (preview.damaged, preview.intact, preview.intact_seqs) == (1, 55, [6, 60])
    assert flipped.repair_preview("salvage").intact == 0
