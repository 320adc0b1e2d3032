"""Small text helpers shared by folds and renderers: bounded strings, summaries, times."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from journal.durations import format_duration

__all__ = [
    "clip",
    "one_line",
    "summarise_tool",
    "first_line",
    "parse_ts",
    "format_ts",
    "format_duration",
    "since",
    "short_path",
    "EDIT_TOOLS",
]

#: Tools whose successful call creates or edits a file, and the input field naming it.
EDIT_TOOLS = {"Write": "file_path", "Edit": "file_path", "MultiEdit": "file_path", "NotebookEdit": "notebook_path"}


def clip(text: str | None, limit: int) -> str:
    """*text* cut to at most *limit* characters (an ellipsis marks the cut)."""
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str | None, limit: int) -> str:
    """*text* on one line (whitespace runs collapsed), at most *limit* characters."""
    if not text:
        return ""
    return clip(" ".join(text.split()), limit)


def first_line(text: str | None, limit: int = 200) -> str:
    """The first non-empty line of *text*, clipped."""
    for line in (text or "").splitlines():
        if line.strip():
            return clip(line.strip(), limit)
    return ""


def summarise_tool(tool: str, inp: Any, limit: int = 200) -> str:
    """The target of a tool call in one line: the Bash command, the file, the agent's task."""
    if inp is None:
        return ""
    path: str | None = inp.file_path
    if path and len(path) <= limit:  # the common case first: Read, Edit, Write
        return path
    if tool == "Bash" and inp.command:
        cmd: str = inp.command
        if len(cmd) <= limit and "\n" not in cmd and "  " not in cmd and "\t" not in cmd:
            return cmd
        return one_line(inp.command, limit)
    if tool in ("Agent", "Task"):
        kind = f"[{inp.subagent_type}] " if inp.subagent_type else ""
        return one_line(kind + (inp.description or inp.prompt or ""), limit)
    if tool in ("Grep", "Glob") and inp.pattern:
        return one_line(f"{inp.pattern} in {inp.path}" if inp.path else inp.pattern, limit)
    for value in (inp.file_path, inp.notebook_path, inp.url, inp.query, inp.command, inp.pattern,
                  inp.path, inp.skill, inp.description, inp.prompt):
        if value:
            return one_line(value, limit)
    return ""


def parse_ts(ts: str) -> float:
    """Seconds since the epoch of a journal timestamp (``...Z``); 0.0 if unreadable."""
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return 0.0
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def format_ts(ts: str) -> str:
    """``2026-11-25 12:00:03`` from a journal timestamp (UTC, seconds)."""
    return ts[:19].replace("T", " ") if ts else "-"


def since(now: float, ts: str) -> str:
    """How long before *now* the journal timestamp *ts* lies (`format_duration`).

    A *now* with a ``since_phrase`` method writes the phrase itself: the context stored
    for a later SessionStart (`hooks.render`) marks it there, to be recomputed when printed.
    """
    phrase = getattr(now, "since_phrase", None)
    if phrase is not None:
        return phrase(parse_ts(ts))  # type: ignore[no-any-return]
    return format_duration(now - parse_ts(ts))


def short_path(path: str, base: str = "") -> str:
    """*path* relative to *base* when it lies inside it."""
    if base and path.startswith(base.rstrip(os.sep) + os.sep):
        return path[len(base.rstrip(os.sep)) + 1 :]
    return path
