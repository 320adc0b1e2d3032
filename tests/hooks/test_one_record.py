"""One hook firing, one event: the plugin's hooks and `agent-journal install`'s side by side.

Claude Code runs every installed copy of our hook for each firing, in parallel, with the
same stdin. Exactly one copy records it (`hooks.firings`); the others step aside, print
nothing and exit 0. Two firings with identical payloads are still two events.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import hooks.firings as firings
from tests.hooks.support import LAUNCHER, PYTHON, HookEnv, compact


def _second_copy(tmp: Path) -> Path:
    """Another install of the hook (e.g. the plugin's, beside a pipx one): same code, other place."""
    root = tmp / "second-copy"
    for package in ("hooks", "journal"):
        shutil.copytree(LAUNCHER.parent.parent / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return root / "hooks" / "launch.py"


def _fire(hook_env: HookEnv, launchers: list[Path], payload: dict[str, object],
          extra: dict[str, str] | None = None) -> list[tuple[int, bytes, bytes]]:
    """Fire *payload* at every launcher at once, as Claude Code does; each one's (code, stdout, stderr)."""
    stdin = hook_env.tmp / "payload.json"
    stdin.write_bytes(compact(payload))
    procs = []
    for launcher in launchers:  # every copy has its whole stdin from the start
        with stdin.open("rb") as f:
            procs.append(subprocess.Popen([PYTHON, "-I", "-S", str(launcher)], stdin=f, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, env=hook_env.env(extra), cwd=hook_env.cwd))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append((proc.returncode, out, err))
    return results


def _tool(n: int, session: str = "s-dup") -> dict[str, object]:
    return {"hook_event_name": "PreToolUse", "session_id": session, "tool_name": "Bash",
            "tool_use_id": f"toolu_{n:04d}", "tool_input": {"command": f"echo {n}"}}


def test_both_copies_fire_at_once_and_each_firing_is_recorded_once(hook_env: HookEnv, tmp_path: Path) -> None:
    other = _second_copy(tmp_path)
    hook_env.run({"hook_event_name": "SessionStart", "session_id": "s-dup", "source": "startup"})
    for n in range(12):
        results = _fire(hook_env, [LAUNCHER, other], _tool(n))
        for code, out, err in results:
            assert (code, out, err) == (0, b"", b"")
    events = hook_env.events()
    assert [e.type for e in events] == ["SessionStart"] + ["PreToolUse"] * 12
    assert [e.payload()["tool_use_id"] for e in events[1:]] == [f"toolu_{n:04d}" for n in range(12)]


def test_identical_payloads_fired_twice_are_two_events(hook_env: HookEnv, tmp_path: Path) -> None:
    """A second Stop with the same reply is another firing: one copy runs once per firing."""
    other = _second_copy(tmp_path)
    stop = {"hook_event_name": "Stop", "session_id": "s-dup", "last_assistant_message": "Done."}
    _fire(hook_env, [LAUNCHER, other], stop)
    _fire(hook_env, [other, LAUNCHER], stop)
    hook_env.run(stop)  # the plugin alone this time
    assert [e.type for e in hook_env.events()] == ["Stop", "Stop", "Stop"]


def test_the_copy_that_steps_aside_still_exports_the_plugin_environment(hook_env: HookEnv, tmp_path: Path) -> None:
    """The settings copy may win SessionStart; the plugin's copy still tells the Bash tool where its data is."""
    other = _second_copy(tmp_path)
    start = {"hook_event_name": "SessionStart", "session_id": "s-env", "source": "startup"}
    hook_env.run(start)  # the settings copy recorded this firing
    env_file = tmp_path / "sessionstart-hook-1.sh"
    result = subprocess.run([PYTHON, "-I", "-S", str(other)], input=compact(start), capture_output=True,
                            env=hook_env.env({"CLAUDE_ENV_FILE": str(env_file), "CLAUDE_PLUGIN_DATA": "/data/x",
                                              "CLAUDE_PLUGIN_ROOT": str(other.parent.parent)}), cwd=hook_env.cwd)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert [e.type for e in hook_env.events()] == ["SessionStart"]
    assert "AGENT_JOURNAL_PLUGIN_DATA=/data/x" in env_file.read_text()


def test_claims_expire_and_a_torn_claims_file_is_harmless(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    root.mkdir()
    payload = compact(_tool(1))
    assert firings.claim(root, payload, "plugin", now=1000.0)
    assert not firings.claim(root, payload, "settings", now=1001.0)
    assert firings.claim(root, payload, "plugin", now=1002.0)  # the same copy again: a new firing
    assert firings.claim(root, payload, "settings", now=1002.0 + firings.WINDOW + 1)  # long after: a new firing
    claims = root / firings.FILE
    assert oct(claims.stat().st_mode & 0o777) == "0o600"
    with claims.open("ab") as f:
        f.write(b"\xff\xfe torn")
    assert firings.claim(root, compact(_tool(2)), "plugin", now=2000.0)
    assert not firings.claim(root, compact(_tool(2)), "settings", now=2000.5)
    # Only recent claims are kept: the file does not grow with the journal.
    assert len(claims.read_bytes().splitlines()) == 1


def test_every_interleaving_of_two_copies_and_repeated_payloads_records_each_firing_once(tmp_path: Path) -> None:
    """Two copies, three firings of one payload within the window, in every order the copies can take."""
    import itertools

    payload = compact(_tool(7))
    for n, order in enumerate(itertools.product("AB", repeat=3)):
        root = tmp_path / f"j{n}"
        root.mkdir()
        recorded = 0
        for i, first in enumerate(order):  # firing i: `first` claims, then the other copy
            second = "B" if first == "A" else "A"
            recorded += firings.claim(root, payload, first, now=100.0 + i)
            recorded += firings.claim(root, payload, second, now=100.5 + i)
        # and a fourth firing that only one copy sees (the other was uninstalled meanwhile)
        recorded += firings.claim(root, payload, order[0], now=104.0)
        assert recorded == 4, order


def test_no_journal_yet_means_record(tmp_path: Path) -> None:
    assert firings.claim(tmp_path / "absent", b"{}", "plugin")
    assert not (tmp_path / "absent").exists()


def test_copies_are_told_apart_by_launcher_interpreter_and_plugin_root(tmp_path: Path) -> None:
    a = firings.copy_id(tmp_path / "a" / "launch.py", {})
    assert a == firings.copy_id(tmp_path / "a" / "launch.py", {})
    assert a != firings.copy_id(tmp_path / "b" / "launch.py", {})
    assert a != firings.copy_id(tmp_path / "a" / "launch.py", {"CLAUDE_PLUGIN_ROOT": "/p"})
    json.dumps(a)  # short text, stored in the claims file
