"""The storage commands' contract: output, filters, exit codes, and errors as one ``Error:`` line.

Most tests drive ``cli.main:cli`` in-process with click's `CliRunner`; a few run the
installed ``agent-journal`` console script as a real process, and the permission test
runs the CLI as an unprivileged user (uid ``nobody``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from journal import Journal

NOBODY = 65534


def run(journal_dir: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--journal", str(journal_dir), *args], input=input, env=env)


def assert_ok(result: Result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)


def assert_one_line_error(result: Result, exit_code: int, match: str) -> None:
    """Exit *exit_code*, no traceback, and exactly one ``Error:`` line on stderr containing *match*."""
    assert result.exit_code == exit_code, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert match in errors[0], errors[0]


@pytest.fixture
def populated(journal_dir: Path) -> Journal:
    """12 events: types a/b/c in turn, sessions alpha-1 / alpha-2 / beta-1 in turn."""
    journal = Journal.open(journal_dir, durability="flush")
    sessions = ["alpha-1", "alpha-2", "beta-1"]
    for i in range(1, 13):
        journal.append("abc"[i % 3], {"i": i, "text": "ünïcödé"}, session=sessions[i % 3], agent="ag" if i % 4 == 0 else None)
    return journal


def _log_json(journal_dir: Path, *args: str) -> list[dict[str, Any]]:
    result = run(journal_dir, "log", "--json", *args)
    assert_ok(result)
    return [json.loads(line) for line in result.stdout.splitlines()]


# -- append -------------------------------------------------------------------------------


def test_append_prints_the_seq(journal_dir: Path) -> None:
    for expected in (1, 2, 3):
        result = run(journal_dir, "append", "note", "--session", "s1", "--data", '{"text": "tests pass ✓"}')
        assert_ok(result)
        assert result.stdout == f"{expected}\n"
    result = run(journal_dir, "append", "note", "--agent", "a1", "--json")
    assert_ok(result)
    assert json.loads(result.stdout) == {"seq": 4}
    events = list(Journal.open(journal_dir).read(mode="strict"))
    assert [(e.seq, e.session, e.agent, e.payload()) for e in events] == [
        (1, "s1", None, {"text": "tests pass ✓"}),
        (2, "s1", None, {"text": "tests pass ✓"}),
        (3, "s1", None, {"text": "tests pass ✓"}),
        (4, None, "a1", {}),
    ]


def test_append_reads_data_from_a_file_or_stdin(journal_dir: Path, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text('{"step": 3, "nested": {"list": [1, "two", null]}}', encoding="utf-8")
    assert run(journal_dir, "append", "progress", "--data-file", str(payload)).stdout == "1\n"
    assert run(journal_dir, "append", "progress", "--data-file", "-", input='{"step": 4}').stdout == "2\n"
    assert [e.payload() for e in Journal.open(journal_dir).read()] == [
        {"step": 3, "nested": {"list": [1, "two", None]}}, {"step": 4}]


# -- log ----------------------------------------------------------------------------------


def test_log_shows_every_event_in_order(populated: Journal) -> None:
    events = _log_json(populated.root)
    assert [e["seq"] for e in events] == list(range(1, 13))
    assert events[0] == {"seq": 1, "ts": events[0]["ts"], "type": "b", "session": "alpha-2", "v": 1,
                         "data": {"i": 1, "text": "ünïcödé"}}
    assert events[3]["agent"] == "ag"
    text = run(populated.root, "log")
    assert_ok(text)
    lines = text.stdout.splitlines()
    assert len(lines) == 12
    assert lines[0].split()[0] == "1" and " b " in lines[0] and "alpha-2" in lines[0]


@pytest.mark.parametrize("args,seqs", [
    (["--from", "5"], list(range(5, 13))),
    (["--to", "3"], [1, 2, 3]),
    (["--from", "4", "--to", "6"], [4, 5, 6]),
    (["--from", "13"], []),
    (["--session", "alpha"], [i for i in range(1, 13) if i % 3 != 2]),  # prefix: alpha-1 and alpha-2
    (["--session", "alpha-2"], [1, 4, 7, 10]),
    (["--session", "beta-1"], [2, 5, 8, 11]),
    (["--type", "a"], [3, 6, 9, 12]),
    (["--type", "a", "--type", "c"], [2, 3, 5, 6, 8, 9, 11, 12]),
    (["--limit", "2"], [1, 2]),
    (["--type", "a", "--limit", "3", "--from", "4"], [6, 9, 12]),
    (["-t", "b", "-s", "alpha", "-n", "1"], [1]),
    (["--type", "nosuchtype"], []),
])
def test_log_filters(populated: Journal, args: list[str], seqs: list[int]) -> None:
    assert [e["seq"] for e in _log_json(populated.root, *args)] == seqs


def test_log_reports_damage_on_stderr_and_strict_fails(populated: Journal, kit) -> None:
    span = kit.record_spans(populated.root)[5]
    data = bytearray(span.path.read_bytes())
    data[span.offset + 12] ^= 0x01
    span.path.write_bytes(bytes(data))
    result = run(populated.root, "log", "--json")
    assert_ok(result)
    assert [json.loads(line)["seq"] for line in result.stdout.splitlines()] == [s for s in range(1, 13) if s != 5]
    assert f"warning: corrupt: {span.path} at byte {span.offset}" in result.stderr
    assert_one_line_error(run(populated.root, "log", "--mode", "strict"), 1, f"at byte {span.offset}")
    point = _log_json(populated.root, "--mode", "point-in-time")
    assert [e["seq"] for e in point] == [1, 2, 3, 4]


def test_log_on_a_missing_journal_is_an_error(tmp_path: Path) -> None:
    assert_one_line_error(run(tmp_path / "nothing-here", "log"), 1, "no journal at")
    assert not (tmp_path / "nothing-here").exists()


# -- verify -------------------------------------------------------------------------------

VERIFY_KEYS = {"ok", "events", "first_seq", "last_seq", "gaps", "corrupt", "torn_tail"}


def test_verify_sound_journal_exits_0(populated: Journal) -> None:
    result = run(populated.root, "verify")
    assert_ok(result)
    assert result.stdout.startswith("OK: 12 events, seq 1..12")
    result = run(populated.root, "verify", "--json")
    assert_ok(result)
    report = json.loads(result.stdout)
    assert VERIFY_KEYS <= set(report)
    assert (report["ok"], report["events"], report["first_seq"], report["last_seq"]) == (True, 12, 1, 12)
    assert (report["gaps"], report["corrupt"], report["torn_tail"]) == ([], [], None)


def test_verify_damaged_journal_exits_1_and_repair_fixes_it(populated: Journal, kit) -> None:
    spans = kit.record_spans(populated.root)
    path = spans[7].path
    data = path.read_bytes()
    path.write_bytes(data[: spans[7].offset] + b"garbage\n" + data[spans[7].offset :] + b'{"seq":13,"ts"')
    result = run(populated.root, "verify")
    assert result.exit_code == 1
    assert result.stdout.startswith("DAMAGED: 12 events")
    assert f"corrupt: {path} at byte {spans[7].offset}" in result.stdout
    assert "torn tail:" in result.stdout and "verify --repair tolerate" in result.stdout
    result = run(populated.root, "verify", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert VERIFY_KEYS <= set(report) and report["ok"] is False
    assert [(c["kind"], c["file"], c["offset"]) for c in report["corrupt"]] == [("corrupt", str(path), spans[7].offset)]
    assert report["torn_tail"]["offset"] == len(data) + len(b"garbage\n")
    assert report["torn_tail"]["seq"] == 13

    result = run(populated.root, "verify", "--repair", "tolerate", "--json")
    assert_ok(result)
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["events"] == 12
    assert report["repair"]["dropped_records"] == 1 and report["repair"]["torn_tail_bytes"] == len(b'{"seq":13,"ts"')
    assert run(populated.root, "verify").exit_code == 0
    assert run(populated.root, "append", "after").stdout == "13\n"


def test_verify_repair_text_output(populated: Journal, kit) -> None:
    span = kit.record_spans(populated.root)[12]
    with open(span.path, "ab") as f:
        f.write(b"\0" * 100)
    result = run(populated.root, "verify", "--repair", "point-in-time")
    assert_ok(result)
    assert result.stdout.splitlines()[0].startswith("repair (point-in-time): dropped 0 records, salvaged 0, cut 100 torn")
    assert result.stdout.splitlines()[1].startswith("OK: 12 events")


def test_repair_removes_temporary_files_of_dead_writers_only(populated: Journal) -> None:
    """A writer killed between writing its temporary file and renaming it leaves the file
    behind: verify lists it (the journal is fine), repair removes it unless its writer lives."""
    root = populated.root
    dead_pid = 2**22 + 17  # above Linux's largest pid_max: no such process
    dead_manifest = root / f".manifest.json.{dead_pid}.0badc0de.tmp"
    dead_spool = root / "spool" / f".{1764072000000000000:020d}-{dead_pid}-abc123.jsonl.{dead_pid}.00c0ffee.tmp"
    live_cache = root / "cache" / f".sessions.msgpack.{os.getpid()}.feedf00d.tmp"
    for path in (dead_manifest, dead_spool, live_cache):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"half written")
    text = run(root, "verify")
    assert_ok(text)  # leftovers are not damage
    assert f"  leftover: {dead_manifest.name} (harmless" in text.stdout
    result = run(root, "verify", "--repair", "tolerate", "--json")
    assert_ok(result)
    report = json.loads(result.stdout)
    assert sorted(report["repair"]["removed"]) == sorted(
        [dead_manifest.name, f"spool/{dead_spool.name}"])
    assert report["leftovers"] == [f"cache/{live_cache.name}"] and live_cache.exists()
    assert report["events"] == 12 and report["ok"]
    again = run(root, "verify", "--repair", "tolerate")
    assert_ok(again)
    assert "removed" not in again.stdout.splitlines()[0]


# -- stats --------------------------------------------------------------------------------


def test_stats_json(populated: Journal) -> None:
    result = run(populated.root, "stats", "--json")
    assert_ok(result)
    stats = json.loads(result.stdout)
    assert stats["journal"] == str(populated.root)
    assert (stats["events"], stats["last_seq"], stats["sessions"], stats["segments"]) == (12, 12, 3, 1)
    assert stats["by_type"] == {"a": 4, "b": 4, "c": 4}
    assert stats["bytes"] == sum(p.stat().st_size for p in (populated.root / "segments").iterdir())
    text = run(populated.root, "stats")
    assert_ok(text)
    assert "events    12 (last seq 12)" in text.stdout


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("args,code,match", [
    (["append", "note", "--data", "{not json"], 2, "Invalid value for --data: not valid JSON"),
    (["append", "note", "--data", "[1, 2]"], 2, "must be a JSON object, got list"),
    (["append", "note", "--data", '"text"'], 2, "must be a JSON object, got str"),
    (["append", "note", "--data", "{}", "--data-file", "-"], 2, "give --data or --data-file, not both"),
    (["append", "note", "--data-file", "/no/such/file.json"], 2, "cannot read /no/such/file.json"),
    (["append", "note", "--bogus"], 2, "No such option '--bogus'"),
    (["append"], 2, "Missing argument 'TYPE'"),
    (["append", "two words"], 1, "invalid event type 'two words'"),
    (["append", "note", "--data", '{"x": NaN}'], 1, "not JSON-encodable"),
    (["log", "--from", "0"], 2, "Invalid value for '--from'"),
    (["log", "--mode", "sloppy"], 2, "Invalid value for '--mode'"),
    (["verify", "--repair", "strict"], 2, "Invalid value for '--repair'"),
    (["stats", "--bogus"], 2, "No such option '--bogus'"),
    (["no-such-command"], 2, "No such command 'no-such-command'"),
])
def test_bad_input_is_one_error_line_and_writes_nothing(populated: Journal, args: list[str], code: int,
                                                        match: str) -> None:
    before = sorted((p.name, p.read_bytes()) for p in (populated.root / "segments").iterdir())
    assert_one_line_error(run(populated.root, *args), code, match)
    after = sorted((p.name, p.read_bytes()) for p in (populated.root / "segments").iterdir())
    assert after == before
    assert populated.verify().ok


_AS_NOBODY = r"""
import os, sys
import cli.commands.log, journal.store, journal.storage.writer, journal.layout, journal.storage.locking  # noqa: F401
from cli.main import cli as group
# Root ignores file modes, so the CLI runs as "nobody"; the interpreter lives under /root
# (0700), so the switch happens after start-up and imports rather than in preexec_fn.
os.setgroups([])
os.setgid(%(uid)d)
os.setuid(%(uid)d)
group.main(args=sys.argv[1:], prog_name="agent-journal")
""" % {"uid": NOBODY}


@pytest.fixture
def nobody_dir(tmp_path_factory: pytest.TempPathFactory):
    """A directory that uid nobody can reach (pytest's tmp dirs are 0700 root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to uid nobody; as a normal user the chmod tests below cover it")
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="journal-nobody-"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _run_as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _AS_NOBODY, *args], capture_output=True, text=True, timeout=60,
                          cwd="/")


def test_unwritable_parent_directory_is_one_error_line(nobody_dir: Path) -> None:
    parent = nobody_dir / "parent"
    parent.mkdir()
    os.chown(parent, NOBODY, NOBODY)
    os.chmod(parent, 0o500)
    proc = _run_as_nobody("--journal", str(parent / "journal"), "append", "note", "--data", '{"a": 1}')
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith(f"Error: cannot create or open journal directory {parent / 'journal'}")
    assert "Permission denied" in proc.stderr
    assert proc.stdout == ""
    assert not (parent / "journal").exists()


def test_unwritable_journal_directory_is_one_error_line(nobody_dir: Path) -> None:
    root = nobody_dir / "journal"
    Journal.open(root).append("before")
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), NOBODY, NOBODY)
    os.chown(root, NOBODY, NOBODY)
    os.chmod(root, 0o500)
    proc = _run_as_nobody("--journal", str(root), "append", "note")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr == f"Error: journal directory {root} is not writable\n"
    os.chmod(root, 0o700)
    os.chown(root, 0, 0)
    for dirpath, dirnames, filenames in os.walk(root):  # every file must be ours again
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), 0, 0)
    assert [e.type for e in Journal.open(root).read(mode="strict")] == ["before"]


def test_journal_owned_by_someone_else_is_refused(journal_dir: Path) -> None:
    Journal.open(journal_dir)
    os.chown(journal_dir, NOBODY, NOBODY)
    assert_one_line_error(run(journal_dir, "append", "note"), 1, "owned by uid 65534")


# -- the installed console script -----------------------------------------------------------


def _script() -> str:
    path = Path(sys.executable).parent / "agent-journal"
    if not path.exists():
        pytest.skip(f"no agent-journal console script next to {sys.executable}")
    return str(path)


def test_console_script_round_trip(journal_dir: Path) -> None:
    env = dict(os.environ, AGENT_JOURNAL_DIR=str(journal_dir))
    out = subprocess.run([_script(), "append", "note", "--data", '{"k": "v"}'], capture_output=True, text=True,
                         env=env, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (0, "1\n", "")
    out = subprocess.run([_script(), "verify", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)["last_seq"] == 1
    bad = subprocess.run([_script(), "append", "note", "--data", "{"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert [line for line in bad.stderr.splitlines() if line.startswith("Error:")] == [
        bad.stderr.splitlines()[-1]]


# -- docs that cannot drift -------------------------------------------------------------------


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            out += _commands(command, prefix + (name,))
        else:
            out.append((prefix + (name,), command))
    return out


COMMANDS = _commands(cli)


def test_the_storage_commands_are_registered() -> None:
    assert {"append", "log", "verify", "stats"} <= {path[0] for path, _ in COMMANDS}


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_with_an_example_and_a_json_option(tmp_path: Path, path: tuple[str, ...],
                                                                  command: click.Command) -> None:
    assert "--json" in {opt for param in command.params for opt in getattr(param, "opts", [])}, \
        f"`{' '.join(path)}` has no --json option"
    result = run(tmp_path / "j", *path, "--help")
    assert_ok(result)
    assert "Example" in result.stdout, f"`{' '.join(path)} --help` shows no example"
    assert "--json" in result.stdout
