"""A damaged archive ``.gz`` (flipped bytes, cut short, a lost index) never crashes a reader:
the damage is reported, and everything still readable is shown."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from journal import Journal
from journal.layout import read_manifest


def run(root: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--journal", str(root), *args])


@pytest.fixture(scope="module")
def compacted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        import _gen
    finally:
        sys.path.pop(0)
    root = tmp_path_factory.mktemp("archive") / "journal"
    _gen.generate(root, 1200, sessions=10, seed=5, segment_bytes=64 * 1024)
    assert run(root, "compact").exit_code == 0
    timelines = {}
    for s in json.loads(run(root, "sessions", "--all", "--json").output):
        timelines[s["id"]] = json.loads(run(root, "timeline", s["id"], "--json").output)["events"]
    return root, timelines


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    return dst


def _damage(root: Path, how: str) -> str:
    entry = max(read_manifest(root)["archive"], key=lambda e: e["bytes"])
    path = root / "archive" / entry["name"]
    data = bytearray(path.read_bytes())
    if how == "flip":
        for i in range(len(data) // 2, len(data) // 2 + 64):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "garbage":
        path.write_bytes(b"not gzip at all\n" * 10)
    elif how == "no-index":
        (root / "archive" / entry["index"]).unlink()
    elif how == "bad-index":
        (root / "archive" / entry["index"]).write_text("{not json")
    return entry["name"]


@pytest.mark.parametrize("how", ["flip", "truncate", "garbage", "no-index", "bad-index"])
def test_timeline_reports_a_damaged_archive_and_shows_what_is_readable(
        compacted: tuple[Path, dict[str, Any]], tmp_path: Path, how: str) -> None:
    src, timelines = compacted
    root = _copy(src, tmp_path / "journal")
    name = _damage(root, how)
    shown = 0
    reported = 0
    for sid, before in timelines.items():
        result = run(root, "timeline", sid, "--json")
        assert result.exit_code == 0, (result.output, result.exception)
        assert "Traceback" not in result.output
        events = json.loads(result.stdout)["events"]
        # Nothing invented, nothing out of order: what is shown is a subsequence of the whole.
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and set(seqs) <= {e["seq"] for e in before}
        shown += len(events)
        warnings = [line for line in result.stderr.splitlines() if "damaged_archive" in line]
        assert len(warnings) == len(set(warnings))
        if warnings:
            reported += 1
            assert name in warnings[0]
    assert reported >= 1
    assert shown > 0
    # verify names the damaged archive too, without a traceback.
    result = run(root, "verify", "--json")
    assert "Traceback" not in result.output
    if how in ("flip", "truncate", "garbage"):
        assert result.exit_code == 1 and any(p["archive"] == name for p in json.loads(result.stdout)["archive"])


def test_library_readers_report_to_on_damage(compacted: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    src, _ = compacted
    root = _copy(src, tmp_path / "journal")
    _damage(root, "truncate")
    journal = Journal.open(root, create=False)
    found: list[Any] = []
    events = list(journal.read(archived=True, on_damage=found.append))
    assert events and [d.kind for d in found] == ["damaged_archive"]
    # Without a callback, the damage is noted in errors.log.
    assert list(journal.read_archived())
    assert "damaged_archive" in (root / "errors.log").read_text()
