"""The hook's import list is enforced (issues 13 and 14): each hook type, run as Claude Code
runs it (``python3 -X importtime -I -S hooks/launch.py``) on a real 2.1.328 payload,
imports nothing outside an explicit allow-list.

Every module a hook imports costs it: ``json``, ``re`` or ``pathlib`` alone cost about
as much as the whole record path (bench/hook_latency.py measures the result, <= 2.0x
``python3 -I -S -c pass``). A new import on the hook's path fails here until it is
either avoided (imported where it is needed, off the record path) or added below with
its reason. SessionStart and PreCompact render context with msgspec and the projections
and are budgeted by the benchmark instead (SessionStart <= 2.5x PreToolUse).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.hooks.support import LAUNCHER, PAYLOADS_FILE, PYTHON, TRANSCRIPTS, HookEnv

#: Stdlib modules the record path may use (with what they import themselves in this
#: Python, and what the interpreter imports at startup): os and its parts, the locks,
#: zlib's CRC-32, _json's C scanner and encoder, the built-in BLAKE2 of `hooks.firings`, and
#: gc (built in), which ``hooks/launch.py`` switches off.
STDLIB = ("os", "errno", "stat", "time", "fcntl", "zlib", "_json", "_blake2", "gc")

#: Our modules every recording hook imports: the launcher, the record path, the writer,
#: and the privacy layer (redaction runs on every payload).
RECORD = {
    "__future__",  # `from __future__ import annotations` imports it (once)
    "hooks", "hooks.codecache", "hooks.main", "hooks.record", "hooks.firings",
    "hooks.codecache_write",  # on a firing that imported a module the code cache lacked
    "journal", "journal.errors", "journal.config", "journal.layout", "journal.location", "journal.new_event",
    "journal.errorlog",
    "journal.storage", "journal.cjson", "journal.storage.codec", "journal.storage.locking",
    "journal.storage.overflow", "journal.storage.segments", "journal.storage.writer",
    "journal.privacy", "journal.privacy.limits", "journal.privacy.sanitizer", "journal.privacy.redaction",
    "journal.privacy.redaction_config", "journal.privacy.secret_heuristics", "journal.privacy.secret_rules",
    "journal.privacy.secret_scan", "journal.privacy.secrets_patterns",
}  # fmt: skip

#: What a hook type adds, and why.
EXTRA = {
    # The transcript digest, and on a session's first Stop the built-in SHA-256 of the
    # state file name older versions used.
    "Stop": {"hooks.digest", "_sha256"},
    # Is an automatic compaction, search-index update or shipping run due (config, stats)?
    # Then start it detached (posix_spawn), with the interpreter `hooks.interpreter` finds.
    "SessionEnd": {"journal.compaction", "journal.compaction.retention", "hooks.housekeeping", "hooks.index_job",
                   "hooks.interpreter"},
}
RENDERING = {"SessionStart", "PreCompact"}


def _imports(code: list[str], stdin: bytes, env: dict[str, str]) -> list[str]:
    proc = subprocess.run([PYTHON, "-X", "importtime", *code], input=stdin, capture_output=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [line.split("|")[2].strip() for line in proc.stderr.decode().splitlines()
            if line.startswith("import time:") and "imported package" not in line]


def _payloads() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for line in PAYLOADS_FILE.read_bytes().splitlines():
        out.setdefault(json.loads(line)["hook_event_name"], line)
    return out


PAYLOADS = _payloads()


@pytest.fixture(scope="module")
def stdlib_allowed() -> set[str]:
    env = {"PATH": "/usr/bin:/bin"}
    return set(_imports(["-I", "-S", "-c", "import " + ", ".join(STDLIB)], b"", env))


@pytest.mark.parametrize("name", sorted(set(PAYLOADS) - RENDERING) + ["FutureEvent"])
def test_hook_imports_only_its_allow_list(hook_env: HookEnv, stdlib_allowed: set[str], name: str) -> None:
    payload = json.loads(PAYLOADS.get(name, PAYLOADS["Notification"] if "Notification" in PAYLOADS
                                      else PAYLOADS["PreToolUse"]))
    payload["hook_event_name"] = name
    if name == "Stop":  # a transcript that gains a turn: the digest runs
        transcript = hook_env.tmp / "transcript.jsonl"
        transcript.write_bytes(next(TRANSCRIPTS.glob("*.jsonl")).read_bytes())
        payload["transcript_path"] = str(transcript)
    raw = json.dumps(payload).encode()
    # SessionEnd finds an interpreter for its detached jobs and starts them (/bin/true here).
    env = hook_env.env({"AGENT_JOURNAL_PYTHON": "/bin/true"})
    hook_env.run(raw, {"AGENT_JOURNAL_PYTHON": "/bin/true"})  # the first firing creates the journal
    if name == "Stop":
        with transcript.open("a") as f:
            f.write(json.dumps({"type": "assistant", "message": {"content": [
                {"type": "text", "text": "Decided to keep greet.py minimal: the tests pass."}]}}) + "\n")
    imported = _imports(["-I", "-S", str(LAUNCHER)], raw, env)
    allowed = stdlib_allowed | RECORD | EXTRA.get(name, set())
    assert "hooks.record" in imported and "journal.storage.writer" in imported  # it did record
    unexpected = sorted(set(imported) - allowed)
    assert not unexpected, f"{name} imports {unexpected}: avoid them on the hook's path or list them here"
    # And the ones that cost as much as the record path itself, by name.
    assert not {"json", "re", "pathlib", "typing", "subprocess", "msgspec"} & set(imported)


#: A SessionStart whose context was stored by the previous session's SessionEnd job (a
#: hit, `hooks.context_cache`) renders nothing: the process and branch notes, the export
#: to ``$CLAUDE_ENV_FILE`` (with `hooks.runtime`'s interpreter lookup), the stored context read back.
SESSION_START_HIT = {"hooks.process", "journal.procstat", "journal.durations", "hooks.gitinfo", "hooks.runtime",
                     "hooks.interpreter", "hooks.context_cache"}


def test_a_session_start_with_a_stored_context_imports_only_its_allow_list(
        hook_env: HookEnv, stdlib_allowed: set[str]) -> None:
    import sys
    import time
    import uuid

    def payload(sid: str, name: str, **fields: str) -> bytes:
        return json.dumps({"session_id": sid, "transcript_path": "/nonexistent", "cwd": str(hook_env.cwd),
                           "hook_event_name": name, **fields}).encode()

    extra = {"AGENT_JOURNAL_PYTHON": sys.executable, "AGENT_JOURNAL_NO_INDEX_JOB": "1",
             "CLAUDE_ENV_FILE": str(hook_env.tmp / "env-file"), "CLAUDE_PLUGIN_DATA": str(hook_env.tmp / "data")}
    sid = str(uuid.uuid4())
    hook_env.run(payload(sid, "SessionStart", source="startup"), extra)
    stored = hook_env.journal_dir / "cache" / "context.json"
    stored.unlink()
    hook_env.run(payload(sid, "SessionEnd", reason="other"), extra)
    deadline = time.monotonic() + 60
    while not stored.exists() and time.monotonic() < deadline:  # the detached job stores it
        time.sleep(0.05)
    imported = _imports(["-I", "-S", str(LAUNCHER)], payload(str(uuid.uuid4()), "SessionStart", source="startup"),
                        hook_env.env(extra))
    assert "hooks.context_cache" in imported and "hooks.render" not in imported  # it was a hit
    unexpected = sorted(set(imported) - stdlib_allowed - RECORD - SESSION_START_HIT)
    assert not unexpected, f"SessionStart (stored context) imports {unexpected}"
    assert not {"json", "re", "pathlib", "typing", "subprocess", "msgspec", "shlex"} & set(imported)


def test_a_hook_that_redacts_a_secret_does_not_load_openssl(hook_env: HookEnv) -> None:
    """A redaction marker names the secret's SHA-256: the built-in one, not hashlib's,
    whose OpenSSL costs a hook ~3-4 ms (found timing the append tail)."""
    payload = json.loads(PAYLOADS["UserPromptSubmit"])
    payload["prompt"] = "deploy with ghp_" + "a1B2c3D4e5" * 4 + " please"
    raw = json.dumps(payload).encode()
    env = hook_env.env()
    hook_env.run(raw)  # the first firing creates the journal
    imported = _imports(["-I", "-S", str(LAUNCHER)], raw, env)
    assert "hooks.record" in imported and "_sha256" in imported  # it recorded and hashed a secret
    assert not {"hashlib", "_hashlib"} & set(imported), imported
    assert "a1B2c3D4e5" not in json.dumps([e.payload() for e in hook_env.events()])
