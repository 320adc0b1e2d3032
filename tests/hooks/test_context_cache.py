"""The precomputed SessionStart context (`hooks.context_cache`, written by `hooks.render`).

A hit must print exactly what the full render prints for the same journal at the same
moment; anything it cannot prove (an event since, another source, another project or
branch, a session id the journal knows, the clock past a stale or old threshold, a process
that died, a damaged or foreign file) is a miss that renders as before. Hit or miss is told by what the hook imported: a hit
never imports `hooks.render` (nor msgspec, nor the projections).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hooks import context_cache
from hooks.render import next_context, write_next_context
from journal.storage.codec import now_ts
from projections.read.context import Packer, recovery_context
from projections.read.liveness import Liveness
from projections.runner import Views
from tests.hooks.support import LAUNCHER, PYTHON, HookEnv
from tests.profiles import examples
from tests.projections.strategies import BASE_NS, PROJECT, Draft, journals, to_events
from tests.projections.test_properties import full_states, probe

NOW = BASE_NS / 1e9 + 86400 * 3  # a few days after the generated journals: every phrase unit occurs


def _started(drafts: list[Draft], sid: str, project: str, branch: str | None, pid: int | None) -> list[Draft]:
    """*drafts* and the SessionStart a hook records for a new session *sid* (as `hooks.main` annotates it)."""
    notes: dict[str, Any] = {"project_dir": project, "git_branch": branch}
    if pid is not None:
        notes["process"] = {"pid": pid, "start": "100", "via": "ancestor"}
    data = {"session_id": sid, "transcript_path": "/t", "cwd": project, "hook_event_name": "SessionStart",
            "source": "startup", "_journal": notes}
    last = drafts[-1].ts if drafts else now_ts(BASE_NS)
    return drafts + [Draft("SessionStart", data, sid, ts=last)]


def _earlier(n: int, project: str) -> list[Draft]:
    """*n* sessions that ended normally before the generated ones: more than the context's
    window, so that its last line counts what it leaves out."""
    out = []
    for i in range(n):
        sid = f"00000000-0000-4000-8000-{i:012d}"
        base = {"session_id": sid, "transcript_path": "/t", "cwd": project}
        ts = now_ts(BASE_NS - (n - i) * 3_600_000_000_000)
        out += [Draft("SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"}, sid, ts=ts),
                Draft("UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit",
                                           "prompt": f"tidy the invoice module, part {i}"}, sid, ts=ts),
                Draft("SessionEnd", {**base, "hook_event_name": "SessionEnd", "reason": "other"}, sid, ts=ts)]
    return out


class _Index:
    """Stands for the journal `related_for_context` hands to the search index: a session that
    has just started has no words or files to search for, so it is never used."""


@given(drafts=journals(max_steps=50), earlier=st.integers(0, 25), project=st.sampled_from((PROJECT, "/home/dev/src/other")),
       branch=st.sampled_from((None, "main", "feature/cart")), pid=st.sampled_from((None, 7, 8)),
       cap=st.one_of(st.integers(200, 9000), st.just(9000)), when=st.floats(0, 1), later=st.floats(0, 86400 * 30))
@settings(max_examples=examples(300), deadline=None)
def test_the_stored_context_is_what_the_started_session_is_given(
        drafts: list[Draft], earlier: int, project: str, branch: str | None, pid: int | None, cap: int, when: float,
        later: float) -> None:
    drafts = _earlier(earlier, PROJECT) + drafts
    events = to_events(drafts)
    views = Views(full_states(events), len(events), journal=_Index())  # type: ignore[arg-type]
    entry = next_context(views, Liveness(now=NOW, probe=probe, stale_after=1800), project, branch or "",
                         max_chars=cap)
    sid = str(uuid.UUID(int=len(drafts) + 1))
    after = to_events(_started(drafts, sid, project, branch, pid))
    started = Views(full_states(after), len(after), journal=_Index())  # type: ignore[arg-type]
    assert started.sessions.records.record(sid).project_dir == project  # the key the hook compares

    def render(now: float) -> tuple[str, list[int], int]:
        packer = Packer(cap)
        text, consumed = recovery_context(started, Liveness(now=now, probe=probe, stale_after=1800), session_id=sid,
                                          source="startup", max_chars=cap, always=False, packer=packer)
        return text, consumed, packer.crowded

    if entry is None:  # never stored: something would be consumed (the full render does that), or left out
        text, consumed, omitted = render(NOW)
        phrases = text.count(" ago") + text.count("no event for ")  # each a ~37-character token when stored
        assert consumed or omitted or len(text) + 40 * phrases > cap - min(260, cap // 3)
        return
    assert entry["seq"] == len(events) and entry["t0"] == NOW
    assert all(answer == probe(pid) for pid, answer in entry["probes"])  # what the hook probes again
    until = entry["until"]
    moment = NOW + (when * (until - NOW) if until is not None else later)
    if until is not None and moment >= until:
        moment = NOW
    body = context_cache.expand(entry["context"], entry["nonce"], moment)
    assert body is not None
    shown = context_cache.closed(body, entry["footers"], entry["max_chars"])
    assert render(moment) == (shown, [], False), f"stored at {NOW}, shown at {moment} (until {until})"


def test_only_this_renders_tokens_are_expanded() -> None:
    mark, end = context_cache.MARK, context_cache.END
    good = f"- Status: crashed {mark}abc:100.0{end} ago; idle {mark}abc:40.5{end}."
    assert context_cache.expand(good, "abc", 3700.0) == "- Status: crashed 1h00m ago; idle 1h00m."
    assert context_cache.expand("no tokens", "abc", 1.0) == "no tokens"
    for forged in (f"{mark}xyz:1.0{end}", f"{mark}abc:1.0", f"{mark}abc:nan{end}", f"{mark}abc:1e400{end}",
                   f"{end}{mark}abc:1.0{end}", f"{mark}abc1.0{end}", f"{mark}abc:1.0{end}{end}", f"{mark}abc:x{end}"):
        assert context_cache.expand(forged, "abc", 5.0) is None, forged


# -- the hook, as Claude Code runs it ---------------------------------------------------

PROJECT_DIR = "/home/dev/src/shop"


def _payload(sid: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"session_id": sid, "transcript_path": "/nonexistent", "cwd": PROJECT_DIR, "hook_event_name": name,
            **fields}


def _fire(env: HookEnv, payload: dict[str, Any], root: Path | None = None,
          extra: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """Run the hook (with ``-X importtime``): its stdout and the modules it imported."""
    settings = env.env({"AGENT_JOURNAL_PYTHON": sys.executable, "AGENT_JOURNAL_NO_INDEX_JOB": "1",
                        "CLAUDE_PROJECT_DIR": PROJECT_DIR, **({"AGENT_JOURNAL_DIR": str(root)} if root else {}),
                        **(extra or {})})
    proc = subprocess.run([PYTHON, "-X", "importtime", "-I", "-S", str(LAUNCHER)], input=json.dumps(payload).encode(),
                          capture_output=True, env=settings, cwd=env.cwd, timeout=60)
    assert proc.returncode == 0
    lines = proc.stderr.decode().splitlines()
    problems = [line for line in lines if not line.startswith("import time:")]
    assert not problems, problems
    return proc.stdout.decode(), [line.split("|")[2].strip() for line in lines if line.startswith("import time:")]


def _start(env: HookEnv, root: Path | None = None, source: str = "startup",
           extra: dict[str, str] | None = None) -> tuple[str, bool]:
    """A new session's SessionStart: what it printed, and whether the stored context was used."""
    out, imported = _fire(env, _payload(str(uuid.uuid4()), "SessionStart", source=source), root, extra)
    return out, "hooks.render" not in imported


def _session(env: HookEnv, prompt: str, *, end: bool = True) -> str:
    sid = str(uuid.uuid4())
    _fire(env, _payload(sid, "SessionStart", source="startup"))
    _fire(env, _payload(sid, "UserPromptSubmit", prompt=prompt))
    _fire(env, _payload(sid, "PreToolUse", tool_name="Edit", tool_use_id="t1",
                        tool_input={"file_path": f"{PROJECT_DIR}/cart.py", "old_string": "a", "new_string": "b"}))
    if end:
        _end(env, sid)
    return sid


def _end(env: HookEnv, sid: str) -> None:
    """SessionEnd, and the wait for its detached job to store the next session's context."""
    path = env.journal_dir / "cache" / context_cache.FILE
    path.unlink(missing_ok=True)
    _fire(env, _payload(sid, "SessionEnd", reason="other"))
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), "SessionEnd's detached job stored no context"
    time.sleep(0.1)  # let it exit


@pytest.fixture
def journal(hook_env: HookEnv) -> HookEnv:
    """Three sessions: one still running (its process is this test), two ended mid-turn; the
    context of the next is stored."""
    _session(hook_env, "make the cart total include tax", end=False)
    _session(hook_env, "fix the parser bug in the importer")
    last = _session(hook_env, "write the release notes", end=False)
    _end(hook_env, last)
    return hook_env


def _full_render_of(env: HookEnv, tmp: Path) -> str:
    """What the full render prints for a copy of the journal (its stored context removed)."""
    copy = tmp / "copy"
    shutil.copytree(env.journal_dir, copy)
    (copy / "cache" / context_cache.FILE).unlink()
    out, hit = _start(env, copy)
    assert not hit
    return out


def test_a_hit_prints_exactly_what_the_full_render_prints(journal: HookEnv, tmp_path: Path) -> None:
    expected = _full_render_of(journal, tmp_path)
    out, hit = _start(journal)
    assert hit, "the stored context was not used"
    assert out == expected
    assert "Agent Journal: recovery context" in out and "write the release notes" in out


def test_the_file_is_private_and_the_hit_path_is_stdlib_only(journal: HookEnv, tmp_path: Path) -> None:
    path = journal.journal_dir / "cache" / context_cache.FILE
    assert path.stat().st_mode & 0o777 == 0o600
    # As in Claude Code: the hook also exports the plugin's data directory to the session.
    env_file = tmp_path / "claude-env"
    _, imported = _fire(journal, _payload(str(uuid.uuid4()), "SessionStart", source="startup"),
                        extra={"CLAUDE_ENV_FILE": str(env_file), "CLAUDE_PLUGIN_DATA": str(tmp_path / "data")})
    assert "AGENT_JOURNAL_PLUGIN_DATA" in env_file.read_text()
    assert "hooks.context_cache" in imported and "hooks.render" not in imported
    assert not {"msgspec", "hooks.render", "json", "re", "pathlib", "typing", "shlex"} & set(imported)
    assert not [m for m in imported if m.startswith("projections")]


def test_any_event_in_between_is_a_miss(journal: HookEnv) -> None:
    _fire(journal, _payload(str(uuid.uuid4()), "Notification", message="hi"))
    out, hit = _start(journal)
    assert not hit and "write the release notes" in out


def test_a_hit_is_used_once_and_a_full_render_stores_the_next(journal: HookEnv) -> None:
    first, hit = _start(journal)
    assert hit
    # A hit stores nothing: the next start sees one more session (running: its process
    # is this test), so it renders, and stores the context of the one after it.
    second, hit_again = _start(journal)
    assert not hit_again and second != first
    third, hit = _start(journal)
    assert hit and third.count("Running now in another window") == second.count("Running now in another window") + 1


def test_a_startup_with_an_id_the_journal_knows_is_a_miss(hook_env: HookEnv, tmp_path: Path) -> None:
    known = _session(hook_env, "tidy the invoice module")
    _session(hook_env, "then the release notes")
    # ``claude --session-id`` with the first session's id (its transcript cleaned up): the
    # journal folds this start as a restart of that session, so the context differs.
    copy = tmp_path / "copy"
    shutil.copytree(hook_env.journal_dir, copy)
    (copy / "cache" / context_cache.FILE).unlink()
    expected, imported = _fire(hook_env, _payload(known, "SessionStart", source="startup"), copy)
    assert "hooks.render" in imported
    out, imported = _fire(hook_env, _payload(known, "SessionStart", source="startup"))
    assert "hooks.render" in imported and out == expected


@pytest.mark.parametrize("source", ["resume", "clear", "compact"])
def test_another_source_is_a_miss(journal: HookEnv, source: str) -> None:
    _, hit = _start(journal, source=source)
    assert not hit


def test_another_project_or_setting_is_a_miss(journal: HookEnv) -> None:
    _, hit = _start(journal, extra={"CLAUDE_PROJECT_DIR": "/home/dev/src/other"})
    assert not hit
    _session(journal, "one more")
    _, hit = _start(journal, extra={"AGENT_JOURNAL_STALE_AFTER": "5m"})
    assert not hit
    write_next_context(str(journal.journal_dir), _session(journal, "and another"))  # in this process: the same
    _, hit = _start(journal)
    assert hit
    _session(journal, "and a last one")
    (journal.journal_dir / "config.json").write_text('{"context": {"max_chars": 600}}')
    out, hit = _start(journal)
    assert not hit and len(json.loads(out)["hookSpecificOutput"]["additionalContext"]) <= 600


def test_time_and_processes_bound_a_stored_context(journal: HookEnv) -> None:
    root = str(journal.journal_dir)
    entry = json.loads((journal.journal_dir / "cache" / context_cache.FILE).read_text())
    seq, until = entry["seq"] + 1, entry["until"]
    # The unfinished sessions get a full block until they are 7 days old (then one line).
    assert until is not None and entry["t0"] < until <= entry["t0"] + 7 * 86400
    kwargs = {"seq": seq, "session": str(uuid.uuid4()), "project": PROJECT_DIR, "branch": None,
              "code_root": str(LAUNCHER.parent.parent)}
    assert context_cache.cached(root, now=entry["t0"], **kwargs) == entry["context"]
    assert context_cache.cached(root, now=until, **kwargs) is None
    assert context_cache.cached(root, now=entry["t0"] - 1, **kwargs) is None
    assert context_cache.cached(root, now=entry["t0"], **{**kwargs, "seq": seq + 1}) is None
    assert context_cache.cached(root, now=entry["t0"], **{**kwargs, "branch": "main"}) is None


def test_a_session_whose_process_died_since_is_a_miss(hook_env: HookEnv, tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "60"])
    try:
        sid = str(uuid.uuid4())
        _fire(hook_env, _payload(sid, "SessionStart", source="startup"), extra={"CLAUDE_PID": str(child.pid)})
        # That full render stored the next session's context: this session, running now.
        entry = json.loads((hook_env.journal_dir / "cache" / context_cache.FILE).read_text())
        assert [child.pid, context_cache.proc_probe(child.pid)] in entry["probes"]
        assert "Running now in another window" in entry["context"]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    out, hit = _start(hook_env)
    assert not hit and "Crashed session" in out


def test_the_phrases_of_a_stored_context_are_written_when_it_is_printed(hook_env: HookEnv) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    sid = str(uuid.uuid4())  # a session whose Claude Code process died: "crashed ... ago"
    _fire(hook_env, _payload(sid, "SessionStart", source="startup"), extra={"CLAUDE_PID": str(gone.pid)})
    _fire(hook_env, _payload(sid, "UserPromptSubmit", prompt="rename the cart module"))
    last = _session(hook_env, "update the changelog")
    root, path = str(hook_env.journal_dir), hook_env.journal_dir / "cache" / context_cache.FILE
    entry = json.loads(path.read_text())
    assert context_cache.MARK in entry["context"] and entry["until"] > entry["t0"] + 6 * 86400  # 7 days: old
    kwargs = {"seq": entry["seq"] + 1, "session": str(uuid.uuid4()), "project": PROJECT_DIR, "branch": None,
              "code_root": str(LAUNCHER.parent.parent)}
    now = entry["t0"]
    for later, phrase in ((0, "ago: no SessionEnd"), (7200, "crashed 2h00m ago"), (86400 * 3 + 3600, "crashed 3d1h ago")):
        text = context_cache.cached(root, now=now + later, **kwargs)
        assert text is not None and phrase in text and context_cache.MARK not in text
        assert "update the changelog" in text and last[:8] in text


def _damage(path: Path, how: str) -> None:
    good = path.read_bytes()
    path.unlink()
    if how == "garbage":
        path.write_bytes(b"\x00\xffnot json{")
    elif how == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif how == "foreign":  # well-formed, but another journal's position
        entry = json.loads(good)
        entry["stamp"] = [[1, 2, 3], [4, 0, 5]]
        path.write_text(json.dumps(entry))
    elif how == "oversized":
        entry = json.loads(good)
        entry["context"] += "x" * context_cache.MAX_BYTES
        path.write_text(json.dumps(entry))
    elif how == "readable by others":
        path.write_bytes(good)
    elif how == "symlink":
        (path.parent / "elsewhere.json").write_bytes(good)
        path.symlink_to(path.parent / "elsewhere.json")
    elif how == "wrong types":
        entry = json.loads(good)
        entry["probes"] = [["1", None]]
        path.write_text(json.dumps(entry))
    if how != "symlink":
        path.chmod(0o644 if how == "readable by others" else 0o600)


@pytest.mark.parametrize("how", ["garbage", "truncated", "foreign", "oversized", "readable by others", "symlink",
                                 "wrong types"])
def test_a_damaged_or_foreign_file_is_a_miss(journal: HookEnv, tmp_path: Path, how: str) -> None:
    path = journal.journal_dir / "cache" / context_cache.FILE
    entry = json.loads(path.read_text())
    _damage(path, how)
    expected = _full_render_of(journal, tmp_path)
    out, hit = _start(journal)
    assert not hit, (out, expected)
    assert out == expected
    assert entry["context"].splitlines()[0] in out  # the same journal, rendered


def test_sessionend_stores_the_context_in_its_detached_job(hook_env: HookEnv) -> None:
    sid = str(uuid.uuid4())
    _fire(hook_env, _payload(sid, "SessionStart", source="startup"))
    _fire(hook_env, _payload(sid, "UserPromptSubmit", prompt="tidy the checkout flow"))
    _end(hook_env, sid)
    out, hit = _start(hook_env)
    assert hit and "tidy the checkout flow" in out
    _fire(hook_env, _payload(str(uuid.uuid4()), "Notification", message="hi"))
    _, hit = _start(hook_env)
    assert not hit


_RENDER = """
import json, shutil, sys
from pathlib import Path
if sys.argv[1] == "with":
    import typing_extensions
import hooks.render
assert ("typing_extensions" in sys.modules) == (sys.argv[1] == "with"), sorted(m for m in sys.modules if "typing" in m)
root = Path(sys.argv[2])
shutil.rmtree(root / "cache", ignore_errors=True)  # every state decoded from the log, encoded, read back
first = hooks.render.session_start(root, sys.argv[3], "startup")
again = hooks.render.session_start(root, sys.argv[3], "startup")
print(json.dumps([first, again, sorted(p.name for p in (root / "cache").iterdir())]))
"""


def test_rendering_without_typing_extensions_is_the_same(journal: HookEnv, tmp_path: Path) -> None:
    """The render imports msgspec with `typing_extensions` blocked (`hooks.render`): every
    Struct, decoder and encoder it uses behaves as with it."""
    sid = str(uuid.uuid4())
    _fire(journal, _payload(sid, "SessionStart", source="startup"))
    outputs = []
    for how in ("with", "without"):
        copy = tmp_path / how
        shutil.copytree(journal.journal_dir, copy)
        proc = subprocess.run([PYTHON, "-c", _RENDER, how, str(copy), sid], capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        outputs.append(json.loads(proc.stdout))
    assert outputs[0] == outputs[1]
    first, again, caches = outputs[1]
    assert first["context"] == again["context"] and "write the release notes" in first["context"]
    assert {"sessions.msgpack", "agents.msgpack", context_cache.FILE} <= set(caches)


@given(st.text(max_size=30))
def test_the_env_file_quoting_is_shlex_quote(text: str) -> None:
    import shlex

    from hooks.runtime import _shell_quote

    assert _shell_quote(text) == shlex.quote(text)


def test_the_stored_entry_keeps_no_setting_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shipping URL in the environment or config.json may hold a password: the entry keeps
    digests of them, which still change when a value does."""
    from hooks import context_cache

    monkeypatch.setenv("AGENT_JOURNAL_SHIP_URL", "postgresql://ops:hunter2-s3cret@db.example/journal")
    first = context_cache.environment()
    assert "hunter2" not in first and "db.example" not in first
    monkeypatch.setenv("AGENT_JOURNAL_SHIP_URL", "postgresql://ops:other@db.example/journal")
    assert context_cache.environment() != first
