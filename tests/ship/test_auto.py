"""SessionEnd starts a detached ``ship --auto`` when shipping is configured; failures are noted, not raised."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from journal import Journal
from journal.config import load_config
from journal.errors import ConfigError
from journal.shipping.state import SHIP_LOCK, maybe_start_auto_ship, read_ship_state, ship_policy
from tests.ship.conftest import journal_rows, rows

SESSION = "5e55e5e5-0000-4000-8000-00000000516a"
#: The installed launcher, as ``agent-journal install`` registers it (run with ``-I -S``: stdlib only).
LAUNCHER = Path(__import__("journal").__file__).resolve().parent.parent / "hooks" / "launch.py"


class HookEnv:
    """Runs the installed launcher against one journal (what tests/hooks does, in small)."""

    def __init__(self, tmp: Path) -> None:
        self.journal_dir = tmp / "journal"
        self.home = tmp / "home"
        self.home.mkdir(exist_ok=True)

    def run(self, payload: dict[str, object], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
        full = {"PATH": "/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8", "AGENT_JOURNAL_NO_BOOTSTRAP": "1",
                "AGENT_JOURNAL_DIR": str(self.journal_dir), **env}
        return subprocess.run([sys.executable, "-I", "-S", str(LAUNCHER)], input=json.dumps(payload).encode(),
                              capture_output=True, env=full, cwd=str(self.home), timeout=60)


def _payload(event: str, **fields: object) -> dict[str, object]:
    return {"session_id": SESSION, "transcript_path": "/nonexistent", "cwd": "/tmp", "hook_event_name": event,
            **fields}


def _session(env: HookEnv, config: dict[str, object], extra: dict[str, str] | None = None) -> None:
    env.journal_dir.mkdir(mode=0o700)
    (env.journal_dir / "config.json").write_text(json.dumps(config))
    extra = {"AGENT_JOURNAL_PYTHON": sys.executable, **(extra or {})}
    assert env.run(_payload("SessionStart", source="startup"), extra).returncode == 0
    for i in range(5):
        assert env.run(_payload("UserPromptSubmit", prompt=f"step {i}"), extra).returncode == 0
    result = env.run(_payload("SessionEnd", reason="other"), extra)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


def _wait_for_attempt(root: Path, timeout: float = 60.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_ship_state(root)
        if state.get("last_attempt"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"no ship run finished; errors.log: {(root / 'errors.log').read_text() if (root / 'errors.log').exists() else ''}")


@pytest.mark.slow
def test_session_end_ships_in_the_background(tmp_path: Path, dsn: str) -> None:
    env = HookEnv(tmp_path)
    _session(env, {"ship": {"url": dsn}})
    state = _wait_for_attempt(env.journal_dir)
    assert state["last_error"] is None
    journal_id = Journal.open(env.journal_dir, create=False).manifest().journal_id
    assert rows(dsn, journal_id) == journal_rows(env.journal_dir)
    assert rows(dsn, journal_id)[0] == 7


@pytest.mark.slow
def test_a_failing_auto_ship_is_logged_and_the_hook_still_exits_0(tmp_path: Path, pg) -> None:  # type: ignore[no-untyped-def]
    env = HookEnv(tmp_path)
    url = f"postgresql://journal:pw-XYZ@/missing_db?host={pg.socket_dir}&port={pg.port}"
    _session(env, {}, {"AGENT_JOURNAL_SHIP_URL": url})
    state = _wait_for_attempt(env.journal_dir)
    assert "missing_db" in state["last_error"]["message"]  # type: ignore[index]
    # ship.json has the error first; the command logs it to errors.log a moment later.
    errors = env.journal_dir / "errors.log"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "auto_ship_failed" not in (errors.read_text() if errors.exists() else ""):
        time.sleep(0.05)
    log = errors.read_text()
    assert "auto_ship_failed" in log and "pw-XYZ" not in log
    assert "pw-XYZ" not in (env.journal_dir / "ship.json").read_text()


def test_nothing_starts_without_a_url_or_with_auto_off(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    Journal.open(root).append("note", {})
    assert not maybe_start_auto_ship(root, environ={})
    assert not (root / SHIP_LOCK).exists()
    (root / "config.json").write_text(json.dumps({"ship": {"url": "postgresql://x@/y", "auto": False}}))
    assert not maybe_start_auto_ship(root, environ={})
    assert not (root / SHIP_LOCK).exists()


def test_a_recent_start_is_not_repeated(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    Journal.open(root).append("note", {})
    (root / "config.json").write_text(json.dumps({"ship": {"url": "postgresql://x@/y", "every": "1h"}}))
    (root / SHIP_LOCK).touch()
    assert not maybe_start_auto_ship(root, environ={}, python=lambda: None)
    assert maybe_start_auto_ship(root, environ={}, python=lambda: None, now=time.time() + 7200) is False  # no python


def test_the_ship_section_is_validated() -> None:
    assert ship_policy({"ship": {"url": "postgresql://a@b/c"}}, {}).url == "postgresql://a@b/c"
    assert ship_policy({}, {"AGENT_JOURNAL_SHIP_URL": "postgresql://e@f/g"}).url == "postgresql://e@f/g"
    assert ship_policy({"ship": {"url": "postgresql://a@b/c"}}, {"AGENT_JOURNAL_SHIP_URL": "postgresql://e@f/g"}
                       ).url == "postgresql://e@f/g"
    for bad in ({"ship": {"url": 3}}, {"ship": {"auto": "yes"}}, {"ship": {"every": "soon"}},
                {"ship": {"batch": 0}}, {"ship": {"tables": 1}}, {"ship": []}):
        with pytest.raises(ConfigError):
            ship_policy(bad, {})


def test_config_loading_keeps_the_ship_section(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    Journal.open(root)
    (root / "config.json").write_text(json.dumps({"ship": {"url": "postgresql://a:pw@b/c", "batch": 500}}))
    policy = ship_policy(load_config(root), {})
    assert policy.batch == 500 and "pw" not in repr(policy)


def test_the_trigger_is_stdlib_only(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    Journal.open(root).append("note", {})
    (root / "config.json").write_text(json.dumps({"ship": {"url": "postgresql://x@/y"}}))
    (root / SHIP_LOCK).touch()  # started a moment ago: not due
    code = (
        "import sys\n"
        "from journal.shipping.state import maybe_start_auto_ship\n"
        f"assert not maybe_start_auto_ship({str(root)!r}, environ={{}})\n"
        "heavy = sorted(m for m in ('msgspec', 'click', 'psycopg', 'journal.shipping.replicate') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    boot = f"import sys; sys.path.insert(0, {str(LAUNCHER.parent.parent)!r})\n"
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", boot + code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
