"""Time travel and the CLI tell the truth (issue 11, section 7).

``--at`` the last seq is the live view; a past state judges liveness now and says so;
reads that skip damage say so once; ``rebuild`` says why a cache disagreed; ``log |
head`` is quiet; ``--json`` errors are JSON; empty listings say what exists; ``log``
shows a readable line per event; slash commands without arguments get an answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.projections.conftest import AGENT, CRASHED, NORMAL, WITH_AGENT, payloads, record_payloads

#: The console script of the installed distribution (main(): JSON errors, broken pipes).
AGENT_JOURNAL = str(Path(sys.executable).parent / "agent-journal")


def _dead(session: str) -> tuple[int, str]:
    return os.getpid(), "1"  # this pid, another start tick: a process that is long gone


@pytest.fixture
def jdir(tmp_path: Path) -> Path:
    from journal import Journal

    root = tmp_path / "journal"
    record_payloads(Journal.open(root, durability="flush"), payloads(), pid_of=_dead)
    return root


def run(jdir: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(cli, ["--journal", str(jdir), *args], catch_exceptions=False, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def run_json(jdir: Path, *args: str) -> Any:
    return json.loads(run(jdir, *args, "--json").stdout)


def script(*args: str, stdout: Any = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "AGENT_JOURNAL"))}
    return subprocess.run([AGENT_JOURNAL, *args], stdout=stdout, stderr=subprocess.PIPE, text=True, env=env,
                          timeout=60)


# --------------------------------------------------------------------------- --at


@pytest.mark.parametrize("words", [["sessions"], ["agents", "--all"], ["show", "7710"], ["context"],
                                   ["timeline", "29c6"], ["agent", "show", AGENT]], ids=" ".join)
def test_at_the_last_seq_is_the_live_view(jdir: Path, words: list[str]) -> None:
    live = run(jdir, *words, "--json")
    for at in ("29", "1000", "0d"):  # the last seq, beyond it, and "now"
        then = run(jdir, *words, "--json", "--at", at)
        assert json.loads(then.stdout) == json.loads(live.stdout), at
        assert then.stderr == ""  # nothing to explain: this is the live view


def test_a_past_state_never_calls_a_dead_process_running(jdir: Path) -> None:
    """At seq 28 the crashed session had just started; its process is long gone now."""
    result = run(jdir, "sessions", "--at", "28", "--json")
    rows = {r["id"]: r["status"] for r in json.loads(result.stdout)}
    assert rows == {NORMAL: "ended", WITH_AGENT: "ended", CRASHED: "crashed"}  # not "active"
    assert result.stderr.startswith("As of seq 28 (2025-11-25 12:04:30 UTC): history as it was then;")
    assert "judged now" in result.stderr
    # At seq 13 the second session was mid-turn; it ended later, so it is not called crashed either.
    early = run(jdir, "show", "29c6", "--at", "13", "--json")
    snap = json.loads(early.stdout)
    assert snap["status"] == "ended" and snap["record"]["in_flight"], snap
    assert "As of seq 13" in early.stderr
    assert "status     crashed" in run(jdir, "show", "7710", "--at", "28").stdout


def test_log_has_at_and_the_readme_names_what_is_always_now(jdir: Path) -> None:
    lines = [json.loads(line) for line in run(jdir, "log", "--at", "5", "--json").stdout.splitlines()]
    assert [e["seq"] for e in lines] == [1, 2, 3, 4, 5]
    assert "2025-11-25 12:00:40" in run(jdir, "log", "--at", "2025-11-25T12:00:45Z").stdout.splitlines()[-1]
    for words in (["stats"], ["verify"]):
        assert "whole journal as it is now" in " ".join(run(jdir, *words, "--help").stdout.split())


# --------------------------------------------------------------------------- damage


def _corrupt_a_middle_record(jdir: Path) -> None:
    [segment] = (jdir / "segments").glob("*.jsonl")
    lines = segment.read_bytes().split(b"\n")
    lines[9] = lines[9].replace(b'"type":"', b'"type":"X', 1)  # seq 10: its CRC no longer matches
    segment.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("words", [["sessions"], ["agents"], ["context"], ["timeline", "7744"], ["show", "7710"], ["stats"]],
                         ids=" ".join)
def test_a_read_that_skips_damage_says_so_once(jdir: Path, words: list[str]) -> None:
    _corrupt_a_middle_record(jdir)
    result = run(jdir, *words)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert "(seq 10)" in warnings[0] and "agent-journal verify" in warnings[0]


def test_rebuild_says_why_a_cache_disagreed(jdir: Path) -> None:
    from journal import Journal
    from projections.cache import save_cache
    from projections.runner import PROJECTIONS, load_views

    journal = Journal.open(jdir, create=False)
    run(jdir, "rebuild")
    # A wrong cache: the sessions state as of seq 10, saved as if it covered the whole log.
    early = load_views(journal, at=10, use_cache=False, save=False)
    [sessions_projection] = [p for p in PROJECTIONS if p.name == "sessions"]
    save_cache(jdir, sessions_projection, early.states["sessions"], journal_id=early.journal_id, epoch=early.epoch,
               seq=journal.last_seq())
    report = run(jdir, "rebuild", "--json")
    sessions = json.loads(report.stdout)["projections"]["sessions"]
    assert sessions["agreed"] is False, sessions
    assert sessions["why"].startswith("2 records missing from the cache (e.g. "), sessions
    assert json.loads(run(jdir, "rebuild", "--json").stdout)["projections"]["sessions"]["why"] is None
    save_cache(jdir, sessions_projection, early.states["sessions"], journal_id=early.journal_id, epoch=early.epoch,
               seq=journal.last_seq())
    assert "cache DISAGREED (replaced): 2 records missing from the cache" in run(jdir, "rebuild").stdout


# --------------------------------------------------------------------------- output contract


def test_log_into_a_closed_pipe_exits_0_quietly(jdir: Path) -> None:
    proc = subprocess.run(f"{AGENT_JOURNAL} --journal {jdir} log | head -n 1", shell=True, capture_output=True,
                          text=True, timeout=60, executable="/bin/bash",
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert len(proc.stdout.splitlines()) == 1
    assert proc.stderr == ""
    status = subprocess.run(f"set -o pipefail; {AGENT_JOURNAL} --journal {jdir} log | head -n 1 >/dev/null",
                            shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60)
    assert (status.returncode, status.stderr) == (0, "")


@pytest.mark.parametrize("args, code, kind, message", [
    (["show", "zzz", "--json"], 1, "unknown_id", "no session matches 'zzz'"),
    (["show", "7", "--json"], 1, "ambiguous_id", "'7' is ambiguous"),
    (["sessions", "--status", "nope", "--json"], 2, "usage", "Invalid value for '--status'"),
    (["sessions", "--at", "yesterday-ish", "--json"], 1, "projection_error", "cannot read 'yesterday-ish'"),
])
def test_json_errors_are_json_with_the_same_exit_code(jdir: Path, args: list[str], code: int, kind: str,
                                                       message: str) -> None:
    proc = script("--journal", str(jdir), *args)
    assert proc.returncode == code, proc
    out = json.loads(proc.stdout)
    assert set(out) == {"error", "kind"} and out["kind"] == kind and message in out["error"], out
    assert "Traceback" not in proc.stderr
    plain = script("--journal", str(jdir), *[a for a in args if a != "--json"])
    assert plain.returncode == code and "Error:" in plain.stderr and plain.stdout == ""


def test_a_missing_journal_is_a_json_error_too(tmp_path: Path) -> None:
    proc = script("--journal", str(tmp_path / "none"), "sessions", "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"error": f"no journal at {tmp_path / 'none'} (nothing has been recorded "
                                                "there yet)", "kind": "journal_error"}


def test_empty_listings_say_what_exists(jdir: Path) -> None:
    assert run(jdir, "sessions", "--status", "active").stdout == "No active sessions; 2 ended, 1 crashed.\n"
    assert run(jdir, "log", "--type", "Nope").stdout == "No events of those types in seq 1..29; the journal has seq 1..29.\n"
    run(jdir, "archive", "--older-than", "1s")
    assert run(jdir, "sessions", "--status", "ended").stdout == "No ended sessions; 1 crashed, 2 archived: --all.\n"
    out = run(jdir, "agents").stdout
    assert out.startswith("No agents; ") and "internal or archived: --all" in out


def test_empty_journal_listings(tmp_path: Path) -> None:
    from journal import Journal

    Journal.open(tmp_path / "j")
    assert run(tmp_path / "j", "sessions").stdout == "No sessions recorded in this journal yet.\n"
    assert run(tmp_path / "j", "log").stdout == "No events recorded in this journal yet.\n"


def test_log_shows_a_readable_line_per_event(jdir: Path) -> None:
    lines = run(jdir, "log").stdout.splitlines()
    assert len(lines) == 29
    assert lines[0].split()[:4] == ["1", "2025-11-25", "12:00:00", "SessionStart"]
    assert "session started" in lines[0]
    assert any('prompt: "' in line for line in lines)
    assert any("Bash: python3 -c 'import time; time.sleep(20)'" in line for line in lines)
    assert not any('{"session_id"' in line for line in lines)  # not the raw JSON head


# --------------------------------------------------------------------------- slash commands without arguments


def test_timeline_without_a_session_shows_this_one_or_the_latest(jdir: Path) -> None:
    mine = run(jdir, "timeline", env={"CLAUDE_CODE_SESSION_ID": NORMAL})
    assert "Timeline of this session, 77447ded" in mine.stderr
    assert all(line.split()[0].isdigit() for line in mine.stdout.splitlines())
    latest = run(jdir, "timeline", "--json", env={"CLAUDE_CODE_SESSION_ID": ""})
    assert json.loads(latest.stdout)["session"] == CRASHED
    assert "most recently active session" in latest.stderr


def test_agent_show_without_ids_shows_every_unfinished_agent(jdir: Path) -> None:
    snaps = run_json(jdir, "agent", "show")
    assert all(s["status"] in ("orphaned", "running") for s in snaps)
    run(jdir, "agent", "update", AGENT, "--status", "completed")
    for snap in run_json(jdir, "agent", "show"):
        assert snap["id"] != AGENT
    out = run(jdir, "agent", "show").stdout
    assert out.startswith("No unfinished agents; ") or "agent      " in out


def test_slash_commands_pass_their_arguments_to_commands_that_accept_none() -> None:
    """Every `!` line of a command whose arguments may be empty must still run (exit 0)."""
    root = Path(__file__).resolve().parents[2] / "commands"
    for name in ("timeline.md", "resume-agents.md"):
        text = (root / name).read_text()
        assert "$ARGUMENTS" in text and "default" in text.split("---")[1], name
