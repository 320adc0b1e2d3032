"""Helpers for the Agent Journal scenario tests (tests/e2e/test_scenarios.py).

The scenarios run the real Claude Code binary with the real plugin (the repository root)
against the fake Messages API, then check two things: what Claude Code sent to the model
(the recovery context travels in the request ``messages``) and what the journal holds,
read back through the ``agent-journal`` CLI of the test environment.

Commands that depend on the projections (``sessions``, ``show``, ``timeline``, ``agents``,
``agent show``, ``context``, ``save``) go through :func:`require_command`, which fails the
test with a message naming the missing command instead of letting it error obscurely.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.claude import (
    REPO_ROOT,
    ClaudeProcess,
    ClaudeResult,
    claude_env,
    run_claude,
    start_claude,
    wait_until,
)
from tests.e2e.fake_api import FakeMessagesAPI, RecordedRequest

__all__ = [
    "AGENT_JOURNAL",
    "CONTEXT_PREFIX",
    "LONG_COMMAND",
    "RUN_TIMEOUT",
    "Scenario",
    "agent_journal",
    "cmdline",
    "contexts_in",
    "fail_no_context",
    "find_records",
    "record_of",
    "hook_errors",
    "journal_dir",
    "journal_events",
    "journal_json",
    "kill_when_running",
    "only_context",
    "require_command",
    "sequence",
    "session_events",
    "tool_results",
]

#: The ``agent-journal`` console script of the environment running the tests.
AGENT_JOURNAL = Path(sys.executable).parent / "agent-journal"

#: How Claude Code 2.1.328 introduces a SessionStart hook's ``additionalContext``.
CONTEXT_PREFIX = "SessionStart hook additional context:"

#: What Claude Code puts after a hook context in the same ``system`` message (verified on
#: 2.1.328). A context is cut at the first of these, so an assertion on a context cannot
#: pass because of Claude Code's own text (its skill list mentions "a crash", for one).
_CONTEXT_ENDS = (
    "\n\n" + CONTEXT_PREFIX,
    "\n\nThe following deferred tools are now available",
    "\n\nYou are powered by the model",
    "\n\nToday's date is",
    "\n\n<system-reminder>",
    "\n# Environment\nYou have been invoked in the following environment",
)

#: A Bash command that keeps a tool running (Claude Code's sandbox refuses a bare `sleep`).
LONG_COMMAND = 'python3 -c "import time; time.sleep(30)"'

#: Per-run limit; a scripted turn takes 1-4 s.
RUN_TIMEOUT = 90

#: Which CLI module owns each projection command (for the failure message).
_COMMAND_OWNERS = {
    "sessions": "cli/commands/projections.py",
    "show": "cli/commands/projections.py",
    "timeline": "cli/commands/projections.py",
    "agents": "cli/commands/agents.py",
    "agent": "cli/commands/agents.py",
    "context": "cli/commands/context.py",
    "save": "cli/commands/context.py",
}


# --------------------------------------------------------------------------- the journal


def journal_dir(project: Path) -> Path:
    """Where the plugin keeps the project's journal (``$CLAUDE_PROJECT_DIR/.claude/journal``)."""
    return project / ".claude" / "journal"


def agent_journal(
    journal: Path | None,
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the test environment's ``agent-journal`` (with ``--journal`` when given)."""
    argv = [str(AGENT_JOURNAL)]
    if journal is not None:
        argv += ["--journal", str(journal)]
    argv += list(args)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "AGENT_JOURNAL"))}
    if env:
        run_env.update(env)
    proc = subprocess.run(argv, cwd=cwd, env=run_env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"`{' '.join(argv[1:])}` exited {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def require_command(*words: str) -> None:
    """Fail the test, naming the owner module, if ``agent-journal WORDS...`` does not exist yet."""
    probe = agent_journal(None, *words, "--help", check=False)
    if probe.returncode == 0:
        return
    owner = _COMMAND_OWNERS.get(words[0], "cli/commands/")
    pytest.fail(
        f"NEEDS PROJECTIONS: `agent-journal {' '.join(words)}` is not available yet "
        f"(expected from {owner}); this scenario cannot be checked until it lands.\n"
        f"`agent-journal {' '.join(words)} --help` said: {(probe.stderr or probe.stdout).strip()[-500:]}",
        pytrace=False,
    )


def journal_json(journal: Path, *args: str) -> Any:
    """``agent-journal --journal J ARGS... --json``, parsed (the command must exist)."""
    words = [a for a in args if not a.startswith("-")]
    require_command(*words[:2] if words[:1] == ["agent"] else words[:1])
    out = agent_journal(journal, *args, "--json").stdout
    try:
        return json.loads(out)
    except ValueError:
        # Some listings print one object per line.
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def journal_events(journal: Path) -> list[dict[str, Any]]:
    """Every event of the journal (``log --json``), in seq order."""
    if not journal.is_dir():
        return []
    out = agent_journal(journal, "log", "--json").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def session_events(events: Iterable[Mapping[str, Any]], session: str) -> list[Mapping[str, Any]]:
    """The events of one session, in seq order."""
    return [e for e in events if e.get("session") == session]


def sequence(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """``Type`` or ``Type:Tool`` per event, for readable order assertions."""
    out = []
    for event in events:
        tool = (event.get("data") or {}).get("tool_name")
        out.append(f"{event['type']}:{tool}" if tool else str(event["type"]))
    return out


def hook_errors(journal: Path) -> list[dict[str, Any]]:
    """The entries of the journal's ``errors.log`` (hook failures and repairs)."""
    path = journal / "errors.log"
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            entries.append({"raw": line})
    return entries


def record_of(tree: Any, value: str, what: str = "record") -> dict[str, Any]:
    """The record of ``value`` (a session or agent id) in a command's JSON output.

    An object whose id-like key holds ``value`` wins over one that merely mentions it.
    """
    found = find_records(tree, value)
    keyed = [r for r in found if any(r.get(k) == value for k in ("id", "session", "session_id", "agent", "agent_id"))]
    assert keyed or found, f"no {what} for {value!r} in:\n{json.dumps(tree, indent=1)[:3000]}"
    return (keyed or found)[0]


def find_records(tree: Any, value: str) -> list[dict[str, Any]]:
    """Every JSON object in ``tree`` that has ``value`` as one of its own (string) values.

    Lets a scenario find "the record of session X" in a command's JSON without depending
    on the exact shape of the listing (a list, ``{"sessions": [...]}``, keyed by id ...).
    """
    found: list[dict[str, Any]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if any(v == value for v in node.values() if isinstance(v, str)):
                found.append(node)
            elif value in node and isinstance(node[value], dict):
                found.append(node[value])  # a mapping keyed by id
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


# --------------------------------------------------------------------------- requests


def contexts_in(request: RecordedRequest) -> list[str]:
    """Every SessionStart ``additionalContext`` in a request, in order, trimmed of Claude Code's text."""
    contexts: list[str] = []
    for message in request.body.get("messages", []) if isinstance(request.body, dict) else []:
        for text in _texts(message):
            for chunk in text.split(CONTEXT_PREFIX)[1:]:
                end = min((i for i in (chunk.find(m) for m in _CONTEXT_ENDS) if i >= 0), default=len(chunk))
                contexts.append(chunk[:end].strip())
    return contexts


def only_context(request: RecordedRequest, journal: Path, what: str) -> str:
    """The one journal context in ``request``; a clear failure (with errors.log) if there is none."""
    contexts = [c for c in contexts_in(request) if c]
    if len(contexts) != 1:
        fail_no_context(journal, what, contexts)
    return contexts[0]


def fail_no_context(journal: Path, what: str, found: Sequence[str] = ()) -> None:
    """Fail because a request lacks the expected context, quoting the hook's errors."""
    if found:
        pytest.fail(f"{what}: expected one SessionStart context, found {len(found)}: {list(found)!r}", pytrace=False)
    errors = [e for e in hook_errors(journal) if e.get("event") == "SessionStart"]
    detail = "\n".join(str(e.get("message", e))[:400] for e in errors[-3:])
    if "projections" in detail:
        hint = "NEEDS PROJECTIONS: the hook cannot render context yet"
    elif detail:
        hint = "the SessionStart hook failed to render context"
    else:
        hint = "the SessionStart hook ran without error but rendered an empty context"
        cli = agent_journal(journal, "context", check=False)
        detail = f"(no SessionStart errors logged)\n`agent-journal context` now says:\n{cli.stdout or cli.stderr}"
    pytest.fail(f"{what}: {hint}.\nerrors.log (SessionStart):\n{detail}", pytrace=False)


def tool_results(request: RecordedRequest) -> list[str]:
    """Texts of the ``tool_result`` blocks a request carries (what the tools answered)."""
    out = []
    for message in request.body.get("messages", []) if isinstance(request.body, dict) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, str):
                    out.append(inner)
                elif isinstance(inner, list):
                    out.append("\n".join(b.get("text", "") for b in inner if isinstance(b, dict)))
    return out


def _texts(message: Any) -> list[str]:
    if not isinstance(message, dict):
        return []
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
    return []


# --------------------------------------------------------------------------- processes


def cmdline(pid: int) -> str:
    """The command line of a live process ('' once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_when_running(
    proc: ClaudeProcess,
    journal: Path,
    announced: Callable[[Mapping[str, Any]], bool],
    needle: str = "time.sleep(30)",
    timeout: float = RUN_TIMEOUT,
) -> Mapping[str, Any]:
    """SIGKILL Claude Code once the journal holds the ``announced`` event and the tool runs.

    Returns that event. Only Claude Code itself is killed, like ``kill -9 PID``; its
    children are reaped when the process context exits.
    """
    event = wait_until(
        lambda: next((e for e in journal_events(journal) if announced(e)), None),
        timeout=timeout,
        interval=0.2,
        message="the tool call's PreToolUse in the journal",
    )
    wait_until(
        lambda: any(needle in cmdline(pid) for pid in proc.descendants()),
        timeout=15,
        message=f"a process running {needle!r}",
    )
    proc.kill(signal.SIGKILL)
    assert proc.poll() == -signal.SIGKILL, f"claude exited {proc.poll()} instead of dying by SIGKILL"
    return event


# --------------------------------------------------------------------------- one scenario


@dataclass
class Scenario:
    """One project and HOME, the fake API, and how Claude Code is started in them."""

    claude_bin: Path
    api: FakeMessagesAPI
    home: Path
    project: Path
    plugin_dir: Path | None = REPO_ROOT
    env: dict[str, str] = field(default_factory=lambda: {"AGENT_JOURNAL_NO_BOOTSTRAP": "1"})

    @property
    def journal(self) -> Path:
        return journal_dir(self.project)

    def run(self, prompt: str, *, resume: str | None = None, timeout: float = RUN_TIMEOUT, **kw: Any) -> ClaudeResult:
        """One finished ``claude -p`` turn; asserts it exited 0."""
        result = run_claude(
            self.claude_bin,
            self.home,
            self.project,
            self.api.port,
            prompt,
            plugin_dir=kw.pop("plugin_dir", self.plugin_dir),
            resume=resume,
            timeout=timeout,
            extra_env={**self.env, **kw.pop("extra_env", {})},
            **kw,
        )
        assert result.returncode == 0, result.describe()
        return result

    def start(self, prompt: str, *, resume: str | None = None, **kw: Any) -> ClaudeProcess:
        """A ``claude -p`` turn in the background (use as a context manager)."""
        return start_claude(
            self.claude_bin,
            self.home,
            self.project,
            self.api.port,
            prompt,
            plugin_dir=kw.pop("plugin_dir", self.plugin_dir),
            resume=resume,
            extra_env={**self.env, **kw.pop("extra_env", {})},
            **kw,
        )

    def claude_cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A non-session ``claude`` subcommand (``plugin ...``) with this HOME."""
        return subprocess.run(
            [str(self.claude_bin), *args],
            cwd=self.project,
            env=claude_env(self.home, self.api.port, self.env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def requests_since(self, count: int) -> list[RecordedRequest]:
        """Model requests after the first ``count`` ones."""
        return self.api.model_requests[count:]

    def first_request(self, marker: str, since: int = 0) -> RecordedRequest:
        """The first model request after ``since`` whose conversation starts with ``marker``."""
        matching = [r for r in self.requests_since(since) if marker in r.first_user_text]
        assert matching, f"no model request for {marker!r} reached the fake"
        return matching[0]

    def session_ids(self, events: Sequence[Mapping[str, Any]] | None = None) -> list[str]:
        """Session ids in order of their first event."""
        seen: list[str] = []
        for event in events if events is not None else journal_events(self.journal):
            sid = event.get("session")
            if sid and sid not in seen:
                seen.append(sid)
        return seen

    def session_of_prompt(self, marker: str) -> str:
        """The session whose UserPromptSubmit carried ``marker``."""
        for event in journal_events(self.journal):
            if event["type"] == "UserPromptSubmit" and marker in str(event["data"].get("prompt", "")):
                return str(event["session"])
        raise AssertionError(f"no UserPromptSubmit with {marker!r} in the journal")


def unique(prefix: str) -> str:
    """A marker no other test (or earlier run) uses."""
    return f"{prefix}-{os.urandom(4).hex().upper()}"


__all__ += ["unique"]
