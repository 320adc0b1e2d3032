"""``agent-journal scrub``: output, --dry-run, --json, refusals as one ``Error:`` line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from journal import Journal
from tests.scrub.leaky import leaks

SECRET = "hunter2-prod-plover-77"


def run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--journal", str(root), "scrub", *args])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    journal = Journal.open(tmp_path / "j", segment_bytes=4096, durability="flush")
    for i in range(60):
        journal.append("note", {"text": f"note {i} with {SECRET}" if i % 4 == 0 else f"note {i}"}, session="s1")
    return journal.root


def test_dry_run_then_scrub_as_json(root: Path) -> None:
    dry = run(root, "--dry-run", "--json", SECRET)
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert report["dry_run"] and report["occurrences"] == 15 and report["records"] == 15
    assert {f["what"] for f in report["files"]} == {"segment", "active segment"}
    assert leaks(root, SECRET)

    done = run(root, "--json", SECRET)
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["committed"] and report["verify_ok"] and report["occurrences"] == 15 and not report["remaining"]
    assert SECRET not in done.output and not leaks(root, SECRET)
    assert "[REDACTED:scrubbed:" in (root / "segments").joinpath(report["files"][0]["path"].split("/")[1]).read_text()
    last = list(Journal.open(root, create=False).read())[-1]
    assert last.type == "journal.scrubbed" and last.payload()["count"] == 15


def test_human_output(root: Path) -> None:
    result = run(root, SECRET)
    assert result.exit_code == 0, result.output
    assert "Replaced 15 occurrence(s)" in result.output and "Journal verified: ok" in result.output
    again = run(root, SECRET)
    assert again.exit_code == 0 and "Nothing to scrub" in again.output


@pytest.mark.parametrize("args,message", [
    (["abc"], "at least 4 characters"),
    ([""], "at least 4 characters"),
    (["--pattern", "(unclosed"], "invalid --pattern"),
    (["--pattern", "x*"], "matches the empty string"),
    ([], "either the secret STRING or --pattern"),
])
def test_bad_input_is_a_usage_error(root: Path, args: list[str], message: str) -> None:
    result = run(root, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_no_journal_is_one_error_line(tmp_path: Path) -> None:
    result = run(tmp_path / "none", SECRET)
    assert result.exit_code == 1 and result.output.count("Error:") == 1 and "Traceback" not in result.output


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["scrub", "--help"])
    assert result.exit_code == 0 and "agent-journal scrub" in result.output and "--json" in result.output
