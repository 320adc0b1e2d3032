"""Generate big, realistic, valid journals for benchmarks.

`generate` writes segment files directly (no lock, no fsync per record: a million
durable appends would take minutes) with the engine's own framing
(`journal.storage.codec.encode_record`), seals full segments exactly like the writer does
(`journal.storage.segments.seal_info` into ``manifest.json``, file made read-only), so
``Journal.open(root).verify()`` is clean on the result.

The event mix imitates Claude Code sessions (docs/EVENTS.md; payload shapes follow
the hook payloads of Claude Code 2.1.x): SessionStart with ``_journal.process``,
prompts, PreToolUse/PostToolUse pairs for Write/Edit/Bash/Read/Grep/Glob with
realistic sizes, occasional PostToolUseFailure, Stop with ``last_assistant_message``
and a digest, subagents (Agent tool, SubagentStart, the agent's own tool events,
SubagentStop), PreCompact followed by a ``compact`` SessionStart, Notification,
``journal.checkpoint``, and SessionEnd for ``ended_fraction`` of the sessions (the
others stop wherever they are, like a crashed Claude Code). A few sessions run at
once and their events interleave; timestamps increase. Deterministic given *seed*
(except the manifest's random journal id).

CLI::

    python bench/_gen.py ROOT N [--sessions S] [--seed K] [--segment-mib M]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import msgspec

from journal.storage.codec import encode_record, now_ts
from journal.layout import SEGMENTS_DIR, ensure_journal_dir, list_segments, open_private, read_manifest, segment_name, write_manifest
from journal.storage.segments import seal_info

__all__ = ["generate"]

_encode = msgspec.json.encode
_BASE_NS = 1_767_603_600 * 1_000_000_000  # 2026-01-05T09:00:00Z
_FLUSH = 4 * 1024 * 1024

_WORDS = (
    "cache config session agent journal record segment manifest replay event seq offset "
    "reader writer lock spool quarantine repair verify compact snapshot projection fold "
    "state context prompt tool hook payload schema version upcast decoder encoder buffer "
    "chunk line crc checksum error timeout retry budget limit user order cart invoice "
    "price total item product stock customer address email token secret request response "
    "handler route model view template query index table column migration test fixture "
    "mock assert expected actual value result status message path file directory module "
    "package import export build deploy release branch commit merge diff patch review"
).split()
_NAMES = "get set load save parse render check build fetch update delete create apply merge split".split()
_PROJECTS = ("shop", "api-gateway", "infra", "billing", "web-ui", "agent-journal", "etl", "docs-site")
_EXTS = (".py", ".py", ".py", ".ts", ".tsx", ".md", ".json", ".toml", ".yaml", ".sql")
_MODELS = ("claude-opus-5-5", "claude-sonnet-5-1", "claude-haiku-5-0")
_BASH = (
    "pytest -q {p}", "git status --short", "git diff --stat", "ls -la {d}", "python3 -m {w}.{w2}",
    "npm test -- {w}", "rg -n '{w}_{w2}' {d}", "make {w}", "cat {p}", "git log --oneline -20",
    "ruff check {d}", "mypy {d}", "docker compose up -d {w}", "curl -s localhost:8080/{w}/{w2}",
)
_ENTRY_EXIT = ("prompt_input_exit", "clear", "logout", "other")


class _Text:
    """Deterministic pools of code lines and prose to cut realistic strings from."""

    def __init__(self, rng: random.Random) -> None:
        w = _WORDS
        code = []
        for _ in range(3000):
            a, b, c, d = rng.choice(w), rng.choice(w), rng.choice(w), rng.choice(w)
            f = rng.choice(_NAMES)
            indent = " " * rng.choice((0, 4, 4, 8, 8, 12))
            code.append(
                rng.choice(
                    (
                        f"{indent}{a}_{b} = {f}_{c}({d}, {rng.randint(0, 999)})",
                        f"{indent}def {f}_{a}(self, {b}: str, {c}: int = {rng.randint(0, 64)}) -> dict[str, Any]:",
                        f'{indent}"""{f.capitalize()} the {a} {b} for the {c}."""',
                        f"{indent}if {a}.{b} is None or len({c}) > {rng.randint(1, 4096)}:",
                        f"{indent}return {{\"{a}\": {b}, \"{c}\": {d}}}",
                        f"{indent}raise {a.capitalize()}Error(f\"cannot {f} {b}: {{{c}!r}}\")",
                        f"{indent}for {a} in self.{b}s:",
                        f"{indent}# {f} the {a} before the {b} so {c} stays consistent",
                        f"{indent}import {a}.{b}",
                        "",
                    )
                )
            )
        prose = []
        for _ in range(1500):
            n = rng.randint(6, 22)
            words = [rng.choice(w) for _ in range(n)]
            words[0] = words[0].capitalize()
            prose.append(" ".join(words) + rng.choice((".", ".", ".", "?", ":")))
        out = []
        for _ in range(1500):
            kind = rng.random()
            if kind < 0.4:
                out.append(f"{rng.choice(w)}/{rng.choice(w)}.py::test_{rng.choice(_NAMES)}_{rng.choice(w)} PASSED")
            elif kind < 0.6:
                out.append(f"  File \"/home/dev/src/{rng.choice(_PROJECTS)}/{rng.choice(w)}.py\", line {rng.randint(1, 900)}, in {rng.choice(_NAMES)}")
            elif kind < 0.8:
                out.append(f"-rw-r--r-- 1 dev dev {rng.randint(10, 90000):>6} Jan  {rng.randint(1, 31):>2} 10:{rng.randint(0, 59):02d} {rng.choice(w)}{rng.choice(_EXTS)}")
            else:
                out.append(f"{rng.choice(w)}: {rng.randint(0, 100)} {rng.choice(w)} {rng.choice(w)} in {rng.random():.2f}s")
        self.code, self.prose, self.output = code, prose, out
        self.rng = rng

    def code_text(self, size: int) -> str:
        return "\n".join(self.rng.choices(self.code, k=max(1, size // 40))) + "\n"

    def prose_text(self, size: int) -> str:
        return " ".join(self.rng.choices(self.prose, k=max(1, size // 90)))

    def output_text(self, size: int) -> str:
        return "\n".join(self.rng.choices(self.output, k=max(1, size // 55)))


def _size(rng: random.Random, median: float, cap: int) -> int:
    """A long-tailed (log-normal) size around *median*, capped like the hooks' size limits."""
    return min(cap, int(rng.lognormvariate(0.0, 0.8) * median))


class _Session:
    """The script of one Claude Code session that emits exactly ``budget`` events."""

    def __init__(self, rng: random.Random, text: _Text, budget: int, ended: bool, agents: int) -> None:
        self.rng, self.text = rng, text
        self.left = budget
        self.ended = ended and budget >= 2
        self.agents = agents
        self.id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        project = rng.choice(_PROJECTS)
        self.cwd = f"/home/dev/src/{project}"
        self.transcript = f"/home/dev/.claude/projects/-home-dev-src-{project}/{self.id}.jsonl"
        self.files = [
            f"{self.cwd}/{rng.choice(_WORDS)}/{rng.choice(_WORDS)}_{rng.choice(_WORDS)}{rng.choice(_EXTS)}"
            for _ in range(rng.randint(5, 40))
        ]
        self.mode = rng.choices(("default", "acceptEdits", "plan", "bypassPermissions"), (6, 3, 1, 1))[0]
        self.model = rng.choice(_MODELS)
        self.effort = {"level": rng.choice(("low", "medium", "medium", "high"))}
        self.prompt_id = ""
        self.digest_at = 0
        self.tool_n = 0
        self.prompts: list[str] = []

    # -- payload helpers --------------------------------------------------------------

    def _base(self, name: str, agent: tuple[str, str] | None = None, *, tool: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"session_id": self.id, "transcript_path": self.transcript, "cwd": self.cwd}
        if self.prompt_id:
            d["prompt_id"] = self.prompt_id
        if tool:
            d["permission_mode"] = self.mode
        if agent is not None:
            d["agent_id"], d["agent_type"] = agent
        if tool:
            d["effort"] = self.effort
        d["hook_event_name"] = name
        return d

    def _tool_use_id(self) -> str:
        self.tool_n += 1
        return "toolu_01%022x" % self.rng.getrandbits(88)

    def _fits(self, n: int, reserve: int) -> bool:
        return n <= self.left - reserve

    # -- events -----------------------------------------------------------------------

    def _start(self, source: str) -> tuple[str, str | None, dict[str, Any]]:
        rng = self.rng
        d = self._base("SessionStart", tool=False)
        d["source"] = source
        if source != "startup":
            d["model"] = self.model
        d["_journal"] = {
            "process": {
                "pid": rng.randint(1000, 4_000_000),
                "start": str(rng.randint(10_000, 900_000_000)),
                "via": "CLAUDE_PID" if rng.random() < 0.9 else "ancestor",
            },
            "git_branch": rng.choice(("main", "main", "dev", f"feature/{rng.choice(_WORDS)}-{rng.choice(_WORDS)}")),
            "project_dir": self.cwd,
        }
        return "SessionStart", None, d

    def _tool(self, agent: tuple[str, str] | None) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        rng, text = self.rng, self.text
        tool = rng.choices(("Read", "Edit", "Bash", "Write", "Grep", "Glob"), (30, 25, 25, 8, 8, 4))[0]
        path = rng.choice(self.files)
        if tool == "Read":
            inp: dict[str, Any] = {"file_path": path}
            content = text.code_text(_size(rng, 600, 6000))
            lines = content.count("\n")
            resp: Any = {"type": "text", "file": {"filePath": path, "content": content, "numLines": lines,
                                                   "startLine": 1, "totalLines": lines + rng.randint(0, 400)}}
        elif tool == "Edit":
            old = text.code_text(_size(rng, 120, 1500))
            new = text.code_text(_size(rng, 150, 1500))
            inp = {"file_path": path, "old_string": old, "new_string": new, "replace_all": False}
            n_old, n_new = old.count("\n"), new.count("\n")
            resp = {"filePath": path, "oldString": old, "newString": new, "originalFile": None,
                    "structuredPatch": [{"oldStart": rng.randint(1, 500), "oldLines": n_old,
                                         "newStart": rng.randint(1, 500), "newLines": n_new,
                                         "lines": ["-" + x for x in old.splitlines()[:6]] + ["+" + x for x in new.splitlines()[:6]]}],
                    "userModified": False, "replaceAll": False}
        elif tool == "Bash":
            cmd = rng.choice(_BASH).format(p=path, d=self.cwd, w=rng.choice(_WORDS), w2=rng.choice(_WORDS))
            inp = {"command": cmd, "description": text.prose_text(40)[:60]}
            resp = {"stdout": text.output_text(_size(rng, 350, 8000)), "stderr": "", "interrupted": False,
                    "isImage": False, "noOutputExpected": False}
        elif tool == "Write":
            content = text.code_text(_size(rng, 500, 5000))
            inp = {"file_path": path, "content": content}
            resp = {"type": "create", "filePath": path, "content": content, "structuredPatch": [],
                    "originalFile": None, "userModified": False}
        elif tool == "Grep":
            inp = {"pattern": f"{rng.choice(_NAMES)}_{rng.choice(_WORDS)}", "path": self.cwd, "output_mode": "files_with_matches"}
            found = rng.sample(self.files, min(len(self.files), rng.randint(0, 8)))
            resp = {"mode": "files_with_matches", "filenames": found, "numFiles": len(found)}
        else:
            inp = {"pattern": f"**/*{rng.choice(_EXTS)}"}
            found = rng.sample(self.files, min(len(self.files), rng.randint(1, 12)))
            resp = {"filenames": found, "durationMs": rng.randint(1, 40), "numFiles": len(found), "truncated": False}
        tid = self._tool_use_id()
        pre = self._base("PreToolUse", agent)
        pre["tool_name"], pre["tool_input"], pre["tool_use_id"] = tool, inp, tid
        yield "PreToolUse", agent[0] if agent else None, pre
        if tool in ("Bash", "Edit") and rng.random() < 0.08:
            post = self._base("PostToolUseFailure", agent)
            post["tool_name"], post["tool_input"], post["tool_use_id"] = tool, inp, tid
            post["error"] = "Exit code 1" if tool == "Bash" else "String to replace not found in file."
            post["is_interrupt"] = False
            post["duration_ms"] = rng.randint(3, 900)
            yield "PostToolUseFailure", agent[0] if agent else None, post
            return
        post = self._base("PostToolUse", agent)
        post["tool_name"], post["tool_input"], post["tool_response"], post["tool_use_id"] = tool, inp, resp, tid
        post["duration_ms"] = rng.randint(2, 20000 if tool == "Bash" else 300)
        yield "PostToolUse", agent[0] if agent else None, post

    def _subagent(self, steps: int) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        rng, text = self.rng, self.text
        agent = ("a%016x" % rng.getrandbits(64), rng.choice(("general-purpose", "Explore", "Plan", "code-reviewer")))
        task = text.prose_text(300)
        inp = {"description": text.prose_text(30)[:40], "prompt": task, "subagent_type": agent[1], "run_in_background": False}
        tid = self._tool_use_id()
        pre = self._base("PreToolUse")
        pre["tool_name"], pre["tool_input"], pre["tool_use_id"] = "Agent", inp, tid
        yield "PreToolUse", None, pre
        start = self._base("SubagentStart", agent, tool=False)
        yield "SubagentStart", agent[0], start
        for _ in range(steps):
            yield from self._tool(agent)
        summary = text.prose_text(_size(rng, 500, 3000))
        stop = self._base("SubagentStop", agent)
        stop["stop_hook_active"] = False
        stop["agent_transcript_path"] = self.transcript[:-6] + f"/subagents/agent-{agent[0]}.jsonl"
        stop["last_assistant_message"] = summary
        stop["background_tasks"], stop["session_crons"] = [], []
        yield "SubagentStop", agent[0], stop
        post = self._base("PostToolUse")
        post["tool_name"], post["tool_input"], post["tool_use_id"] = "Agent", inp, tid
        post["tool_response"] = {
            "status": "completed", "prompt": task, "agentId": agent[0], "agentType": agent[1],
            "toolsUsed": ["Read", "Edit", "Bash"], "content": [{"type": "text", "text": summary}],
            "resolvedModel": self.model, "totalDurationMs": rng.randint(2000, 600000),
            "totalTokens": rng.randint(1000, 200000), "totalToolUseCount": steps,
            "usage": {"input_tokens": rng.randint(10, 5000), "cache_creation_input_tokens": rng.randint(0, 50000),
                      "cache_read_input_tokens": rng.randint(0, 500000), "output_tokens": rng.randint(50, 20000),
                      "service_tier": "standard"},
        }
        post["duration_ms"] = post["tool_response"]["totalDurationMs"]
        yield "PostToolUse", None, post

    def _stop(self) -> tuple[str, str | None, dict[str, Any]]:
        rng, text = self.rng, self.text
        d = self._base("Stop")
        d["stop_hook_active"] = False
        d["last_assistant_message"] = text.prose_text(_size(rng, 300, 4000))
        d["background_tasks"], d["session_crons"] = [], []
        end = self.digest_at + rng.randint(2000, 200_000)
        d["_journal"] = {
            "digest": {
                "transcript": self.transcript, "from": self.digest_at, "to": end,
                "working_on": text.prose_text(80)[:120],
                "decisions": [text.prose_text(60)[:100] for _ in range(rng.randint(0, 3))],
                "files": rng.sample(self.files, min(len(self.files), rng.randint(0, 5))),
                "topics": rng.sample(_WORDS, rng.randint(1, 5)),
            }
        }
        self.digest_at = end
        return "Stop", None, d

    def _checkpoint(self) -> tuple[str, str | None, dict[str, Any]]:
        rng, text = self.rng, self.text
        return "journal.checkpoint", None, {
            "objective": text.prose_text(100)[:160],
            "done": [text.prose_text(60)[:90] for _ in range(rng.randint(0, 5))],
            "blockers": [text.prose_text(60)[:90] for _ in range(rng.randint(0, 2))],
            "next": [text.prose_text(60)[:90] for _ in range(rng.randint(1, 4))],
            "files": rng.sample(self.files, min(len(self.files), rng.randint(0, 6))),
            "notes": [],
            "progress": rng.randint(0, 100),
        }

    def _notification(self) -> tuple[str, str | None, dict[str, Any]]:
        d = self._base("Notification", tool=False)
        d["message"] = "Claude is waiting for your input"
        d["notification_type"] = "idle_prompt"
        return "Notification", None, d

    def _precompact(self) -> tuple[str, str | None, dict[str, Any]]:
        d = self._base("PreCompact", tool=False)
        d["trigger"] = "auto"
        d["custom_instructions"] = None
        d["_journal"] = {"capture": {"last_prompts": self.prompts[-3:], "files": self.files[:5],
                                     "tool_in_flight": None, "last_checkpoint": None}}
        return "PreCompact", None, d

    # -- the script -------------------------------------------------------------------

    def events(self) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        """Yield (type, agent, payload) exactly ``budget`` times; ``left`` counts down as they go."""
        rng = self.rng
        end = 1 if self.ended else 0
        yield self._start(rng.choices(("startup", "resume", "clear"), (8, 2, 1))[0])
        while self.left > end:
            if not self._fits(2, end):  # one slot left before the end: a lone event
                yield self._notification() if rng.random() < 0.5 else self._checkpoint()
                continue
            # One turn: a prompt, tool calls, maybe a subagent, then Stop. A session that
            # will crash (not ended) may be cut anywhere, even between Pre and PostToolUse.
            self.prompt_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            prompt = self.text.prose_text(_size(rng, 150, 3000))
            self.prompts.append(prompt[:200])
            d = self._base("UserPromptSubmit")
            d["prompt"] = prompt
            yield "UserPromptSubmit", None, d
            stop = 1 if self.ended else 0
            for _ in range(min(40, int(rng.expovariate(1 / 6)) + 1)):
                reserve = end + stop
                if self.agents and rng.random() < 0.25:
                    steps = rng.randint(2, 12)
                    while steps and not self._fits(4 + 2 * steps, reserve):
                        steps -= 1
                    if steps:
                        self.agents -= 1
                        for event in self._subagent(steps):
                            yield event
                        continue
                if self._fits(2, reserve) or (not self.ended and self._fits(1, reserve)):
                    for event in self._tool(None):
                        yield event
                        if self.left <= reserve:
                            break
                else:
                    break
            if self._fits(1, end):
                yield self._stop()
            if self._fits(2, end) and rng.random() < 0.04:
                yield self._precompact()
                yield self._start("compact")
            if self._fits(1, end) and rng.random() < 0.08:
                yield self._checkpoint()
        if self.ended:
            d = self._base("SessionEnd", tool=False)
            d["reason"] = rng.choice(_ENTRY_EXIT)
            yield "SessionEnd", None, d


def _budgets(rng: random.Random, n_events: int, sessions: int) -> list[int]:
    """Split *n_events* over *sessions* with long-tailed session lengths (each >= 1)."""
    weights = [rng.lognormvariate(0.0, 0.9) for _ in range(sessions)]
    total = sum(weights)
    spare = n_events - sessions
    budgets = [1 + int(spare * w / total) for w in weights]
    short = n_events - sum(budgets)
    for i in range(short):
        budgets[i % sessions] += 1
    return budgets


def _interleave(rng: random.Random, scripts: Iterator[_Session], concurrency: int) -> Iterator[tuple[str, str | None, str, dict[str, Any]]]:
    """Run a few sessions at once, mostly in bursts of one session's events."""
    active: list[tuple[_Session, Iterator[tuple[str, str | None, dict[str, Any]]]]] = []
    focus = 0
    exhausted = False
    while True:
        while not exhausted and len(active) < concurrency:
            script = next(scripts, None)
            if script is None:
                exhausted = True
                break
            active.append((script, script.events()))
        if not active:
            return
        if focus >= len(active) or rng.random() < 0.15:
            focus = rng.randrange(len(active))
        session, events = active[focus]
        item = next(events, None)
        if item is None:
            del active[focus]
            continue
        session.left -= 1
        yield item[0], item[1], session.id, item[2]


class _SegmentWriter:
    """Writes framed lines into segments, sealing each at ``segment_bytes`` like `Writer`."""

    def __init__(self, root: Path, segment_bytes: int, manifest: dict[str, Any]) -> None:
        self.root, self.segment_bytes, self.manifest = root, segment_bytes, manifest
        self.first = 1
        self.size = 0
        self.buf = bytearray()
        self.sealed = 0
        self._open(1)

    def _open(self, first: int) -> None:
        self.first = first
        self.path = self.root / SEGMENTS_DIR / segment_name(first)
        self.fd = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        self.size = 0

    def write(self, line: bytes, seq: int) -> None:
        self.buf += line
        self.size += len(line)
        if self.size >= self.segment_bytes:
            self._flush()
            os.fsync(self.fd)
            os.close(self.fd)
            self.manifest["segments"].append(seal_info(self.path, self.first))
            os.chmod(self.path, 0o400)
            self.sealed += 1
            self._open(seq + 1)
        elif len(self.buf) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        view = memoryview(self.buf)
        while view:
            view = view[os.write(self.fd, view):]
        self.buf = bytearray()

    def close(self) -> None:
        self._flush()
        os.fsync(self.fd)
        os.close(self.fd)
        write_manifest(self.root, self.manifest)


def generate(
    root: Path,
    n_events: int,
    *,
    sessions: int | None = None,
    ended_fraction: float = 0.9,
    agents_per_session: float = 0.3,
    seed: int = 0,
    segment_bytes: int = 64 * 1024 * 1024,
) -> dict[str, Any]:
    """Write a fresh journal of *n_events* realistic events at *root*; return a summary.

    *sessions* defaults to one per ~150 events. *agents_per_session* is the mean
    number of subagents a session starts. Refuses a journal that already has segments.
    """
    root = Path(root)
    if n_events < 1:
        raise ValueError("n_events must be >= 1")
    ensure_journal_dir(root)
    if list_segments(root):
        raise ValueError(f"{root} already holds a journal; generate into an empty directory")
    rng = random.Random(seed)
    text = _Text(random.Random(seed + 1))
    text.rng = rng
    n_sessions = max(1, min(n_events, sessions if sessions is not None else n_events // 150))
    budgets = _budgets(rng, n_events, n_sessions)
    ended = [rng.random() < ended_fraction for _ in range(n_sessions)]

    made: list[_Session] = []

    def scripts() -> Iterator[_Session]:
        for budget, end in zip(budgets, ended, strict=True):
            base = int(agents_per_session)
            agents = base + (1 if rng.random() < agents_per_session - base else 0)
            made.append(_Session(rng, text, budget, end, agents))
            yield made[-1]

    manifest = read_manifest(root)
    out = _SegmentWriter(root, segment_bytes, manifest)
    ns = _BASE_NS
    total = 0
    last_sec = -1
    sec_text = ""
    expo = rng.expovariate
    seq = 0
    for type_, agent, session, data in _interleave(rng, scripts(), concurrency=3):
        seq += 1
        ns += int(expo(0.5) * 1e9) + 1000  # ~2 s between events, always increasing
        sec = ns // 1_000_000_000
        if sec != last_sec:
            last_sec = sec
            sec_text = now_ts(sec * 1_000_000_000)[:-8]
        ts = "%s.%06dZ" % (sec_text, (ns % 1_000_000_000) // 1000)
        line = encode_record(seq, ts, type_, _encode(data), session=session, agent=agent)
        total += len(line)
        out.write(line, seq)
    out.close()
    assert seq == n_events, (seq, n_events)
    return {
        "events": seq,
        "sessions": n_sessions,
        "ended_sessions": sum(s.ended for s in made),
        "bytes": total,
        "segments": out.sealed + 1,
        "sealed_segments": out.sealed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a realistic benchmark journal.")
    parser.add_argument("root", type=Path)
    parser.add_argument("n", type=int, help="number of events")
    parser.add_argument("--sessions", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segment-mib", type=float, default=64)
    parser.add_argument("--verify", action="store_true", help="run Journal.verify() on the result")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    summary = generate(args.root, args.n, sessions=args.sessions, seed=args.seed,
                       segment_bytes=int(args.segment_mib * 1024 * 1024))
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["avg_record_bytes"] = round(summary["bytes"] / summary["events"])
    if args.verify:
        from journal import Journal

        report = Journal.open(args.root, create=False).verify()
        summary["verify_ok"] = report.ok
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
