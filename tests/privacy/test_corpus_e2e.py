"""The corpus end to end: every secret through a real hook run and through every CLI write
command, then every file under the journal directory grepped for it.

The journal lives through what a real one does: segments roll (4 KB), a hook spools while
the lock is held, a torn tail is quarantined, errors.log gets lines quoting payloads, a
PreCompact capture is stored, compaction archives the first session (gzip, read back
decompressed), projection caches and ``context --write`` files are written by reads.
Recall must be 100% over all of it; the false-positive rate over the look-alikes, sent
through a hook payload and ``append --data``, under 5%. `record_corpus` is also what
``bench/redaction_corpus.py`` runs to print the figures.
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from journal import Journal
from journal.layout import LOCK_FILE
from journal.storage.locking import JournalLock
from tests.hooks.support import HookEnv
from tests.privacy.corpus_e2e import KINDS, LOOK_ALIKES, SECRETS

SESSION_A = "29c6df8d-2e2c-4bd7-875d-92d4408ff2fc"
SESSION_B = "771073e4-3bc9-4a24-877a-c2ae25a1ed36"
AGENT = "ad1967d713ff61a6d"
CHUNK = 12


@dataclass
class Figures:
    secrets: int = 0
    kinds: int = 0
    leaked: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, needle, file)
    look_alikes: int = 0
    altered: list[tuple[str, str]] = field(default_factory=list)  # (path, name)
    paths: set[tuple[str, str]] = field(default_factory=set)  # (file kind, path) of every file grepped
    markers: int = 0

    @property
    def files(self) -> dict[str, int]:
        """Files grepped, by kind."""
        out: dict[str, int] = {}
        for kind, _ in self.paths:
            out[kind] = out.get(kind, 0) + 1
        return out

    @property
    def recall(self) -> float:
        missed = {(k, n) for k, n, _ in self.leaked}
        return 1 - len({k for k, _ in missed}) / max(len(SECRETS), 1) if missed else 1.0

    @property
    def false_positive_rate(self) -> float:
        return len(self.altered) / max(self.look_alikes, 1)

    def lines(self) -> list[str]:
        return [
            f"redaction recall: {self.recall:.1%} ({self.secrets} secrets of {self.kinds} kinds, each through a hook "
            f"payload, a Stop's transcript digest and the save, append and agent update commands; {sum(self.files.values())} files grepped: "
            + ", ".join(f"{n} {k}" for k, n in sorted(self.files.items())) + ")",
            f"redaction false-positive rate: {self.false_positive_rate:.1%} ({len(self.altered)} of "
            f"{self.look_alikes} look-alikes changed, through a hook payload and append --data)",
        ]


def _base(event: str, session: str) -> dict[str, Any]:
    return {"session_id": session, "transcript_path": "/nonexistent/t.jsonl", "cwd": "/work/acme",
            "permission_mode": "default", "hook_event_name": event}


def _carrier(i: int, text: str, session: str) -> dict[str, Any]:
    """Secret *i* in one of the places hook payloads carry text."""
    kind = i % 4
    if kind == 0:
        return {**_base("UserPromptSubmit", session), "prompt": text}
    if kind == 1:
        return {**_base("PreToolUse", session), "tool_name": "Bash", "tool_use_id": f"toolu_{i:04d}",
                "tool_input": {"command": text, "description": "run it"}}
    if kind == 2:
        return {**_base("PostToolUse", session), "tool_name": "Bash", "tool_use_id": f"toolu_{i:04d}",
                "tool_input": {"command": "cat config"},
                "tool_response": {"stdout": text, "stderr": "", "interrupted": False}}
    return {**_base("PostToolUse", session), "tool_name": "Read", "tool_use_id": f"toolu_{i:04d}",
            "tool_input": {"file_path": "/work/acme/.env"},
            "tool_response": {"type": "text", "file": {"filePath": "/work/acme/.env", "content": text}}}


def _cli(root: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--journal", str(root), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _file_kind(rel: Path) -> str:
    top = rel.parts[0]
    if top in ("segments", "spool", "quarantine", "archive", "cache", "memory"):
        return top
    return rel.name


def _grep(root: Path, figures: Figures) -> None:
    """Every file under *root* (gzip read decompressed) checked for every needle."""
    blobs = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        rel = path.relative_to(root)
        kind = _file_kind(rel)
        figures.paths.add((kind, str(rel)))
        blobs.append((str(rel), data))
    figures.markers = sum(data.count(b"[REDACTED:") for _, data in blobs)
    for kind, _, needles in SECRETS:
        for needle in needles:
            forms = {needle.encode(), json.dumps(needle)[1:-1].encode()}
            for rel, data in blobs:
                if any(form in data for form in forms):
                    figures.leaked.append((kind, needle, rel))


def record_corpus(tmp: Path, python: str = sys.executable) -> Figures:
    """Record the whole corpus into a journal under *tmp* every way there is; grep it."""
    env = HookEnv(tmp)
    root = env.journal_dir
    Journal.open(root)
    (root / "config.json").write_text(json.dumps({"segment_bytes": 4096, "durability": "flush"}))
    figures = Figures(secrets=len(SECRETS), kinds=len(KINDS))

    def hook(payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        result = env.run(payload, extra, timeout=120)
        assert result.returncode == 0 and result.stderr == b"", result.stderr

    # Session A: every secret through a hook payload, then a subagent, a capture, the end.
    hook({**_base("SessionStart", SESSION_A), "source": "startup"})
    for i, (_, text, _) in enumerate(SECRETS):
        hook(_carrier(i, text, SESSION_A))
    hook({**_base("SubagentStart", SESSION_A), "agent_id": AGENT, "agent_type": "general-purpose"})
    hook({**_base("PreCompact", SESSION_A), "trigger": "manual", "custom_instructions": SECRETS[0][1]},
         {"AGENT_JOURNAL_PYTHON": python})
    # Every secret through every CLI write command.
    texts = [text for _, text, _ in SECRETS]
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        _cli(root, "save", "--session", SESSION_A, "--objective", chunk[0],
             *[arg for t in chunk for arg in ("--done", t)], *[arg for t in chunk for arg in ("--next", t)])
        _cli(root, "append", "note", "--session", SESSION_A,
             "--data", json.dumps({f"text{i}": t for i, t in enumerate(chunk)}))
        _cli(root, "agent", "update", AGENT, "--objective", chunk[-1],
             *[arg for t in chunk for arg in ("--done", t)], *[arg for t in chunk for arg in ("--blocker", t)])
    hook({**_base("SubagentStop", SESSION_A), "agent_id": AGENT, "agent_type": "general-purpose",
          "stop_hook_active": False})
    # Every secret through a Stop's transcript digest: a prompt, then a reply stating a
    # decision and editing a file, one turn per Stop (each digests only its own turn, so
    # a secret is the last prompt, a decision and likely a topic word).
    transcript = tmp / "transcript.jsonl"
    for i, (_, text, _) in enumerate(SECRETS):
        with open(transcript, "a", encoding="utf-8") as f:
            f.write(json.dumps({"type": "user", "message": {"role": "user", "content": text}}) + "\n")
            f.write(json.dumps({"type": "assistant", "message": {"role": "assistant", "content": [
                {"type": "text", "text": f"Decided to use {text} as it is."},
                {"type": "tool_use", "id": f"toolu_t{i}", "name": "Write",
                 "input": {"file_path": f"/work/acme/{text}", "content": "x"}}]}}) + "\n")
        hook({**_base("Stop", SESSION_A), "transcript_path": str(transcript), "stop_hook_active": False})
    hook({**_base("SessionEnd", SESSION_A), "reason": "other"})
    # Library callers, and errors.log lines that quote payloads.
    journal = Journal.open(root)
    for _, text, _ in SECRETS:
        journal.log_error("hook_error", f"agent-journal hook: ValueError: bad input {text!r}")
    # Session B: one event spooled while the lock is held, then merged; a torn tail quarantined.
    hook({**_base("SessionStart", SESSION_B), "source": "startup"})
    with JournalLock(root / LOCK_FILE, 5.0):
        hook({**_base("UserPromptSubmit", SESSION_B), "prompt": SECRETS[1][1]})
        assert list((root / "spool").glob("*.jsonl")), "the hook should have spooled"
        _grep(root, figures)  # the spool file, while it exists
    active = sorted((root / "segments").glob("*.jsonl"))[-1]
    last = active.read_bytes().splitlines()[-1]
    with open(active, "ab") as f:
        f.write(last[: len(last) // 2])  # a writer died mid-record
    hook({**_base("UserPromptSubmit", SESSION_B), "prompt": "and now?"})
    assert list((root / "quarantine").iterdir()), "the torn tail should have been quarantined"
    # Look-alikes through a hook payload and append --data.
    look = [text for _, text in LOOK_ALIKES]
    hook({**_base("PreToolUse", SESSION_B), "tool_name": "MultiEdit", "tool_use_id": "toolu_look",
          "tool_input": {"file_path": "/work/acme/notes.md", "edits": [{"old_string": "", "new_string": t}
                                                                        for t in look]}})
    _cli(root, "append", "lookalikes", "--session", SESSION_B, "--data", json.dumps({"items": look}))
    # Compaction archives session A; reads write caches and memory files.
    _cli(root, "compact", "--older-than", "0s")
    assert list((root / "archive").glob("*.gz")), "compaction should have archived session A"
    for command in (["sessions", "--all"], ["timeline", SESSION_A[:8]], ["show", SESSION_A[:8]], ["agents", "--all"],
                    ["context", "--session", SESSION_A[:8], "--write", str(root / "memory")]):
        _cli(root, *command)
    _grep(root, figures)
    # The look-alikes as stored.
    figures.look_alikes = 2 * len(look)
    events = list(Journal.open(root).read(archived=True))
    [multi] = [e for e in events if e.type == "PreToolUse" and e.payload().get("tool_use_id") == "toolu_look"]
    [appended] = [e for e in events if e.type == "lookalikes"]
    stored_hook = [edit["new_string"] for edit in multi.payload()["tool_input"]["edits"]]
    stored_cli = appended.payload()["items"]
    for (name, text), via_hook, via_cli in zip(LOOK_ALIKES, stored_hook, stored_cli, strict=True):
        if via_hook != text:
            figures.altered.append(("hook", name))
        if via_cli != text:
            figures.altered.append(("append", name))
    return figures


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> Figures:
    return record_corpus(tmp_path_factory.mktemp("corpus"))


def test_the_corpus_is_big_enough() -> None:
    assert len(SECRETS) >= 80 and len(KINDS) >= 40 and len(LOOK_ALIKES) >= 80
    for kind in ("stripe_secret", "stripe_restricted", "google_api_key", "gcp_service_account", "azure_storage",
                 "twilio", "sendgrid", "npm", "pypi", "dockerhub", "huggingface", "shopify", "digitalocean",
                 "mailgun", "datadog_app", "square", "vault", "linear", "mapbox", "age", "okta", "databricks",
                 "discord_bot", "telegram_bot", "gitlab_webhook", "slack_webhook", "postgres_url", "mysql_url",
                 "mongodb_url", "redis_url", "amqp_url", "basic_auth", "mysql_password_flag", "pgpassword",
                 "curl_user", "env_key", "env_token", "env_secret", "env_password", "kubeconfig_token",
                 "openssh_private_key", "pem_private_key", "pgp_private_key", "prose_password"):
        assert kind in KINDS, kind


@pytest.mark.slow
def test_recall_is_complete_in_every_file(figures: Figures, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print("\n" + "\n".join(figures.lines()))
    assert not figures.leaked, figures.leaked[:10]
    for kind in ("segments", "spool", "quarantine", "archive", "cache", "memory", "errors.log"):
        assert figures.files.get(kind), f"no {kind} file was grepped: {figures.files}"
    # Something was recorded for every secret: at least one marker per secret per path.
    assert figures.markers >= 3 * len(SECRETS)


@pytest.mark.slow
def test_false_positives_are_rare(figures: Figures) -> None:
    assert figures.false_positive_rate < 0.05, figures.altered
