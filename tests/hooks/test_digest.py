"""Stop digests through the launcher: only new transcript bytes, safe restarts, tails of big files."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

from tests.hooks.support import TRANSCRIPTS, HookEnv, assert_only_journal_changed, tree_snapshot

SESSION = "77447ded-3a63-4e7b-b57f-7751b953796d"
SEED = 20261125


def _stop(transcript: Path, session: str = SESSION) -> dict[str, Any]:
    return {
        "session_id": session,
        "transcript_path": str(transcript),
        "cwd": "/home/dev/src/shop",
        "permission_mode": "default",
        "hook_event_name": "Stop",
        "stop_hook_active": False,
        "last_assistant_message": "Done.",
    }


def _assistant(text: str, *, edit: str | None = None) -> bytes:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if edit:
        content.append({"type": "tool_use", "id": "toolu_x", "name": "Edit",
                        "input": {"file_path": edit, "old_string": "a", "new_string": "b"}})
    record = {"type": "assistant", "message": {"role": "assistant", "content": content}}
    return json.dumps(record).encode() + b"\n"


def _user(text: str) -> bytes:
    return json.dumps({"type": "user", "message": {"role": "user", "content": text}}).encode() + b"\n"


def _digest_after_stop(env: HookEnv, transcript: Path, session: str = SESSION) -> dict[str, Any] | None:
    result = env.run(_stop(transcript, session))
    assert tuple(result) == (0, b"", b""), result
    event = env.events()[-1]
    assert event.type == "Stop" and event.session == session
    return event.payload().get("_journal", {}).get("digest")


def _copy(env: HookEnv, name: str = SESSION) -> Path:
    dest = env.tmp / "transcripts" / f"{name}.jsonl"
    dest.parent.mkdir(exist_ok=True)
    shutil.copyfile(TRANSCRIPTS / f"{name}.jsonl", dest)
    return dest


def test_second_stop_digests_only_the_appended_lines(hook_env: HookEnv) -> None:
    transcript = _copy(hook_env)
    first = _digest_after_stop(hook_env, transcript)
    assert first is not None
    size = transcript.stat().st_size
    assert (first["from"], first["to"]) == (0, size)
    assert first["files"] == ["/home/dev/src/shop/greet.py"]

    added = _user("now rename the helper module") + _assistant(
        "I decided to rename helpers.py to util.py instead of keeping both.", edit="/home/dev/src/shop/util.py"
    )
    with transcript.open("ab") as f:
        f.write(added)
    second = _digest_after_stop(hook_env, transcript)
    assert second is not None
    assert second["from"] == first["to"]
    assert second["to"] == size + len(added)
    # Only the new lines were read: nothing from the first part of the transcript shows up.
    assert second["files"] == ["/home/dev/src/shop/util.py"]
    assert second["working_on"] == "now rename the helper module"
    assert second["decisions"] == ["I decided to rename helpers.py to util.py instead of keeping both."]
    assert "greet.py" not in second["topics"]

    # Nothing new: the Stop is recorded without a digest.
    assert _digest_after_stop(hook_env, transcript) is None
    assert [e.type for e in hook_env.events()] == ["Stop"] * 3


def test_the_state_an_older_version_saved_is_still_used(hook_env: HookEnv) -> None:
    # Before the state file was named by BLAKE2 it was named by SHA-256: a session under
    # way during an upgrade keeps its offset (and gets the new name).
    import hashlib

    transcript = _copy(hook_env)
    first = _digest_after_stop(hook_env, transcript)
    assert first is not None
    cache = hook_env.journal_dir / "cache"
    (state,) = cache.glob("digest-*.json")
    legacy = cache / ("digest-" + hashlib.sha256(SESSION.encode()).hexdigest()[:24] + ".json")
    assert state != legacy
    state.rename(legacy)
    added = _assistant("Going with util.py.")
    with transcript.open("ab") as f:
        f.write(added)
    second = _digest_after_stop(hook_env, transcript)
    assert second is not None and (second["from"], second["to"]) == (first["to"], first["to"] + len(added))
    assert state.exists()


def test_a_partial_last_line_waits_for_the_next_stop(hook_env: HookEnv) -> None:
    transcript = _copy(hook_env)
    first = _digest_after_stop(hook_env, transcript)
    assert first is not None
    line = _assistant("We'll use a dataclass here.", edit="/p/model.py")
    with transcript.open("ab") as f:
        f.write(line[:25])  # Claude Code is mid-write
    assert _digest_after_stop(hook_env, transcript) is None
    with transcript.open("ab") as f:
        f.write(line[25:])
    second = _digest_after_stop(hook_env, transcript)
    assert second is not None
    assert (second["from"], second["to"]) == (first["to"], first["to"] + len(line))
    assert second["files"] == ["/p/model.py"]


def test_each_session_keeps_its_own_offset(hook_env: HookEnv) -> None:
    a = _copy(hook_env)
    b = _copy(hook_env, "29c6df8d-2e2c-4bd7-875d-92d4408ff2fc")
    da = _digest_after_stop(hook_env, a, SESSION)
    db = _digest_after_stop(hook_env, b, "29c6df8d-2e2c-4bd7-875d-92d4408ff2fc")
    assert da is not None and db is not None
    assert da["from"] == 0 and db["from"] == 0
    assert db["working_on"] == "delegate the docs"


def test_a_replaced_shorter_transcript_restarts_from_its_start(hook_env: HookEnv) -> None:
    transcript = _copy(hook_env)
    first = _digest_after_stop(hook_env, transcript)
    assert first is not None and first["to"] > 1000
    # A new file (new inode) under the same name, much shorter than the saved offset.
    replacement = _user("start over with tests") + _assistant("Going with pytest.", edit="/p/test_x.py")
    tmp = transcript.with_suffix(".new")
    tmp.write_bytes(replacement)
    os.replace(tmp, transcript)
    second = _digest_after_stop(hook_env, transcript)
    assert second is not None
    assert (second["from"], second["to"]) == (0, len(replacement))
    assert second["files"] == ["/p/test_x.py"]
    assert second["working_on"] == "start over with tests"


def test_a_transcript_truncated_in_place_restarts_safely(hook_env: HookEnv) -> None:
    transcript = _copy(hook_env)
    first = _digest_after_stop(hook_env, transcript)
    assert first is not None
    replacement = _user("truncated in place") + _assistant("Chose the short path.")
    with transcript.open("r+b") as f:  # same inode, now shorter than the saved offset
        f.truncate(0)
        f.write(replacement)
    second = _digest_after_stop(hook_env, transcript)
    assert second is not None
    assert (second["from"], second["to"]) == (0, len(replacement))
    assert second["working_on"] == "truncated in place"


def test_a_big_transcript_without_a_saved_offset_is_read_by_its_tail(hook_env: HookEnv) -> None:
    rng = random.Random(SEED)
    transcript = hook_env.tmp / "transcripts" / "big.jsonl"
    transcript.parent.mkdir()
    source = (TRANSCRIPTS / f"{SESSION}.jsonl").read_bytes().splitlines(keepends=True)
    early = _user("an early prompt nobody should see") + _assistant("Decided early.", edit="/p/early.py")
    with transcript.open("wb") as f:
        f.write(early)
        size = len(early)
        while size < 5 * 1024 * 1024:
            line = rng.choice(source)
            f.write(line)
            size += len(line)
        tail = _user("the latest prompt") + _assistant("Done.", edit="/p/late.py")
        f.write(tail)
    size = transcript.stat().st_size
    digest = _digest_after_stop(hook_env, transcript)
    assert digest is not None
    assert digest["from"] > 0
    assert size - digest["from"] <= 4 * 1024 * 1024
    assert digest["to"] == size
    with transcript.open("rb") as f:  # it starts on a line boundary
        f.seek(digest["from"] - 1)
        assert f.read(1) == b"\n"
    assert digest["working_on"] == "the latest prompt"
    assert "/p/late.py" in digest["files"] and "/p/early.py" not in digest["files"]


def test_stop_digest_state_never_leaves_the_journal(hook_env: HookEnv) -> None:
    transcript = _copy(hook_env)
    before = tree_snapshot(hook_env.tmp)
    for session in ("../../escape", "a/b", "x\u0000y", "..", "/abs/path"):
        assert _digest_after_stop(hook_env, transcript, session) is not None
    # A 10 KB id is not a session id the journal indexes: recorded, no session, no digest.
    assert tuple(hook_env.run(_stop(transcript, "s" * 10_000))) == (0, b"", b"")
    last = hook_env.events()[-1]
    assert last.session is None and last.payload()["session_id"] == "s" * 10_000
    assert "_journal" not in last.payload()
    assert_only_journal_changed(before, tree_snapshot(hook_env.tmp), "journal")
    assert not (hook_env.tmp / "escape").exists() and not (hook_env.tmp.parent / "escape").exists()


def test_stop_with_a_missing_or_odd_transcript_is_still_recorded(hook_env: HookEnv) -> None:
    paths = [str(hook_env.tmp / "nope.jsonl"), str(hook_env.tmp), "relative/x.jsonl", "/dev/null", "/dev/zero",
             "/proc/self/status", "a\u0000b", ""]
    for path in paths:
        result = hook_env.run({**_stop(Path("/x")), "transcript_path": path})
        assert tuple(result) == (0, b"", b""), path
    events = hook_env.events()
    assert [e.type for e in events] == ["Stop"] * len(paths)
    assert all("digest" not in e.payload().get("_journal", {}) for e in events)


#: A key the default rules know by its shape, and a password only its ``password=`` context gives away.
KEY = "sk-ant-api03-" + "Qx7Lm2Vb9Kd4Wn8Rt5Yh" * 5
PASSWORD = "tr0ub4dor-horse-staple"


def _files_holding(root: Path, *needles: str) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {n}" for n in needles if n.encode() in data]
    return found


def test_a_secret_in_the_transcript_never_reaches_the_journal_through_the_digest(hook_env: HookEnv) -> None:
    """Found using it with claude 2.1.328: a password typed as ``password=...`` came back as a
    topic word, alone, where the redaction of the finished event could no longer tell it
    was one. The digest is now made of redacted text."""
    transcript = hook_env.tmp / "secret.jsonl"
    transcript.write_bytes(
        _user(f"my key is {KEY} and password={PASSWORD} please configure the service")
        + _assistant(f"I decided to store password={PASSWORD} in settings.toml, and the key {KEY} too.",
                     edit=f"/p/password={PASSWORD}/settings.toml")
    )
    digest = _digest_after_stop(hook_env, transcript)
    assert digest is not None
    assert "[REDACTED:password:" in digest["working_on"] and "[REDACTED:anthropic_api_key:" in digest["working_on"]
    assert digest["decisions"] and "[REDACTED:password:" in digest["decisions"][0]
    assert "configure" in digest["topics"] and "settings" in digest["topics"]
    # No topic is a secret, a piece of one, or the redactor's own marker words.
    assert not {t for t in digest["topics"] if "tr0ub4dor" in t or "redacted" in t or "api_key" in t}, digest
    assert not _files_holding(hook_env.journal_dir, PASSWORD, "tr0ub4dor", KEY[:24], KEY[-20:]), \
        _files_holding(hook_env.journal_dir, PASSWORD, "tr0ub4dor", KEY[:24], KEY[-20:])


def test_a_prompt_cut_to_length_never_keeps_the_start_of_a_secret(hook_env: HookEnv) -> None:
    """working_on is the last prompt cut to 300 characters: cut first, a key across the cut
    would keep a head the rules no longer recognise; redacted first, nothing of it is left."""
    transcript = hook_env.tmp / "cut.jsonl"
    prompt = "x" * 280 + " " + KEY + " is the key"
    transcript.write_bytes(_user(prompt) + _assistant("ok"))
    digest = _digest_after_stop(hook_env, transcript)
    assert digest is not None and digest["working_on"].startswith("x" * 280)
    assert "Qx7Lm2" not in digest["working_on"], digest["working_on"]
    assert not _files_holding(hook_env.journal_dir, "Qx7Lm2Vb9Kd4")
