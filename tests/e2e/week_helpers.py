"""A week of work with the real Claude Code: one project, many sessions, soft checks.

:class:`Week` wraps a :class:`~tests.e2e.scenario_helpers.Scenario` for the long
scenarios of ``test_week.py``. Each step runs real ``claude`` sessions, then a *look*: the
next session in the project, whose SessionStart context (as Claude Code sent it to the
model) is what the step is judged on. Checks are soft (:meth:`Week.expect`): a scenario
runs to its end and then fails once, listing every broken expectation with the step it
belongs to and the context that broke it, so one wrong line does not hide the rest of
the week.

The context helpers read the markdown the hook renders: ``## <label> <id8> ...`` headings
with ``- ...`` lines below them, and one-line list items ``- <id8> ...``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.e2e.claude import ClaudeResult
from tests.e2e.fake_api import Block, Rule, text
from tests.e2e.scenario_helpers import (
    Scenario,
    agent_journal,
    contexts_in,
    hook_errors,
    journal_events,
    sequence,
    session_events,
    unique,
)

__all__ = [
    "Look",
    "Week",
    "hook_turn",
    "mentions",
    "section_of",
    "sections",
]

#: Labels under which the context offers a session as unfinished work.
UNFINISHED_LABELS = ("Crashed session", "Interrupted session", "Possibly interrupted session")


def hook_turn(*tools: str) -> list[str]:
    """The hook sequence of a ``claude -p`` run whose model answers make one tool call each."""
    events = ["SessionStart", "UserPromptSubmit"]
    for tool in tools:
        events += [f"PreToolUse:{tool}", f"PostToolUse:{tool}", "PostToolBatch"]
    return events + ["Stop", "SessionEnd"]


# --------------------------------------------------------------------------- reading a context


def sections(context: str) -> list[tuple[str, list[str]]]:
    """``(heading, lines)`` per ``## `` section of a context (the text before the first is ``""``)."""
    out: list[tuple[str, list[str]]] = [("", [])]
    for line in context.splitlines():
        if line.startswith("## "):
            out.append((line, []))
        else:
            out[-1][1].append(line)
    return out


def section_of(context: str, session: str) -> str:
    """What ``context`` says about ``session`` (by its first 8 characters); ``""`` if nothing.

    The section headed by it, heading included; else, when it is only an item of a list
    section, that section's heading, the item's line and the indented lines below it.
    """
    short = session[:8]
    for heading, lines in sections(context):
        if re.search(rf"\b{re.escape(short)}\b", heading):
            return "\n".join([heading, *lines])
    for heading, lines in sections(context):
        for i, line in enumerate(lines):
            if short in line:
                item = [line]
                for more in lines[i + 1:]:
                    if not more.startswith("  "):
                        break
                    item.append(more)
                return "\n".join([heading, *item])
    return ""


def mentions(context: str, session: str) -> list[str]:
    """Every line of ``context`` that names ``session`` (by its first 8 characters)."""
    short = session[:8]
    return [line for line in context.splitlines() if short in line]


def offered_as_unfinished(context: str, session: str) -> list[str]:
    """The places where ``context`` offers ``session`` as unfinished work ([] when it does not).

    A section headed "Crashed/Interrupted session <id>", or a line naming it under
    "Other interrupted sessions".
    """
    found = []
    short = session[:8]
    for heading, lines in sections(context):
        if short in heading and any(label in heading for label in UNFINISHED_LABELS):
            found.append(heading)
        if "interrupted sessions" in heading.lower():
            found += [line for line in lines if short in line]
    return found


def working_on(context: str, session: str) -> str | None:
    """The "Working on:" value of ``session``'s section, if it has one."""
    for line in section_of(context, session).splitlines():
        if line.startswith("- Working on:"):
            return line.removeprefix("- Working on:").strip()
    return None


# --------------------------------------------------------------------------- the week


@dataclass
class Look:
    """A session started to see the context; ``context`` is ``""`` when none was injected."""

    session: str
    context: str
    result: ClaudeResult


@dataclass
class Week:
    """A scenario of many sessions in one project, with soft checks per step."""

    sc: Scenario
    failures: list[str] = field(default_factory=list)
    step: str = "setup"
    _looks: int = 0

    # -- steps and checks

    def day(self, name: str) -> None:
        """Start a new step; later failures are reported under its name."""
        self.step = name

    def expect(self, ok: bool, what: str, evidence: str = "") -> bool:
        """Record ``what`` as broken unless ``ok``; returns ``ok``."""
        if not ok:
            detail = f"\n    {evidence.strip()[:1500]}".replace("\n", "\n    ") if evidence.strip() else ""
            self.failures.append(f"[{self.step}] {what}{detail}")
        return ok

    def finish(self) -> None:
        """Fail the test with every broken expectation of the scenario."""
        if self.failures:
            pytest.fail(f"{len(self.failures)} expectation(s) broken:\n" + "\n".join(self.failures), pytrace=False)

    # -- sessions

    def rule(self, marker: str, turns: Sequence[Sequence[Block]], match: Literal["first", "latest"] = "first") -> None:
        """Script a conversation. A ``latest`` rule (a prompt given to ``--resume``) goes ahead of
        the rule that started the conversation, which would otherwise still match it."""
        self.sc.api.add_rule(Rule(marker, turns, match), first=match == "latest")

    def run(self, prompt: str, **kw: Any) -> tuple[str | None, ClaudeResult]:
        """One finished ``claude -p`` run; its session id (from the journal) and result."""
        known = set(self.sc.session_ids())
        result = self.sc.run(prompt, **kw)
        new = [s for s in self.sc.session_ids() if s not in known]
        return (new[0] if new else kw.get("resume")), result

    def context_of(self, marker: str, since: int = 0) -> str:
        """The SessionStart context in the first model request of the conversation ``marker``."""
        requests = [r for r in self.sc.requests_since(since) if marker in r.first_user_text]
        if not requests:
            return ""
        return "\n\n".join(c for c in contexts_in(requests[0]) if c)

    def look(self, **kw: Any) -> Look:
        """Start the next session here and return the context it was given."""
        self._looks += 1
        marker = unique(f"WEEK-LOOK{self._looks}")
        self.rule(marker, [[text("Read the journal's context.")]])
        before = len(self.sc.api.model_requests)
        session, result = self.run(f"{marker} where do things stand?", **kw)
        return Look(session or "", self.context_of(marker, before), result)

    # -- the journal

    def cli(self, *args: str, check: bool = True) -> Any:
        """``agent-journal --journal J ARGS...``; the completed process."""
        return agent_journal(self.sc.journal, *args, check=check)

    def cli_json(self, *args: str) -> Any:
        """``agent-journal --journal J ARGS... --json``, parsed (``None`` if it failed)."""
        proc = agent_journal(self.sc.journal, *args, "--json", check=False)
        if not self.expect(proc.returncode == 0, f"`agent-journal {' '.join(args)} --json` exited {proc.returncode}",
                           proc.stderr or proc.stdout):
            return None
        try:
            return json.loads(proc.stdout)
        except ValueError:
            return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    def has_command(self, *words: str) -> bool:
        """Whether ``agent-journal WORDS... --help`` exists (a command still being built may not)."""
        return agent_journal(None, *words, "--help", check=False).returncode == 0

    def events(self, session: str | None = None) -> list[Mapping[str, Any]]:
        """The journal's events, or one session's."""
        events = journal_events(self.sc.journal)
        return session_events(events, session) if session else events

    def hooks_of(self, session: str) -> list[str]:
        """``Type`` / ``Type:Tool`` of a session's events, in order."""
        return sequence(self.events(session))

    def sound(self) -> None:
        """errors.log has no error, ``verify`` finds nothing, seqs are 1..N, the spool is empty."""
        # `agent-journal compact` notes what it rewrote there (kind "compacted"): an audit
        # line of a deliberate rewrite, not a failure.
        errors = [e for e in hook_errors(self.sc.journal) if e.get("kind") != "compacted"]
        self.expect(not errors, "errors.log is not empty",
                    "\n".join(str(e.get("message", e))[:500] for e in errors))
        proc = agent_journal(self.sc.journal, "verify", "--json", check=False)
        report = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
        self.expect(proc.returncode == 0 and report.get("ok") is True, "`verify` is not clean",
                    proc.stdout + proc.stderr)
        spool = self.sc.journal / "spool"
        self.expect(not (spool.is_dir() and any(spool.iterdir())), "events left in the spool")

    # -- what a context must and must not say

    def says(self, context: str, needle: str, what: str) -> bool:
        return self.expect(needle in context, f"{what}: the context lacks {needle!r}", context)

    def says_not(self, context: str, needle: str, what: str) -> bool:
        return self.expect(needle not in context, f"{what}: the context says {needle!r}", context)

    def not_unfinished(self, context: str, session: str, why: str) -> bool:
        """``session`` is not offered as crashed or interrupted work."""
        found = offered_as_unfinished(context, session)
        return self.expect(not found, f"session {session[:8]} ({why}) is offered as unfinished work: {found}",
                           context)

    def no_call_in_flight(self, context: str, session: str, why: str) -> bool:
        """``session``'s section names no tool call in flight."""
        section = section_of(context, session)
        return self.expect("in flight" not in section,
                           f"session {session[:8]} ({why}) is shown with a tool call in flight", section)

    def not_working_on_reply(self, context: str, session: str, replies: Iterable[str]) -> bool:
        """"Working on" of ``session`` is not one of its closing replies."""
        value = working_on(context, session)
        bad = value is not None and any(value.strip('"') == r or value.strip('"').startswith(r) for r in replies)
        return self.expect(not bad, f"session {session[:8]}: \"Working on\" is its closing reply {value!r}",
                           section_of(context, session))


def write_config(journal: Path, config: Mapping[str, Any]) -> None:
    """Create the journal directory (0700) with a ``config.json`` (0600) before the first event."""
    journal.mkdir(parents=True, mode=0o700, exist_ok=True)
    journal.chmod(0o700)
    path = journal / "config.json"
    path.write_text(json.dumps(config))
    path.chmod(0o600)


__all__ += ["offered_as_unfinished", "working_on", "write_config", "UNFINISHED_LABELS"]
