"""Which Claude Code process a hook belongs to, and when that process started.

A pid alone cannot prove a session is alive: pids are reused. So SessionStart
records the pid *and* the process start time (field 22 of ``/proc/<pid>/stat``, in
clock ticks since boot), and a later reader compares both. Stdlib only.
"""

from __future__ import annotations

import os

from journal.procstat import stat_fields as _stat

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's hot path
if TYPE_CHECKING:
    from typing import Any, Mapping

__all__ = ["process_start", "claude_process"]

# Processes that stand between Claude Code and the hook without being Claude Code.
_WRAPPERS = frozenset({"sh", "bash", "dash", "zsh", "fish", "ksh", "env", "timeout", "python", "python3",
                       "nice", "nohup", "stdbuf"})


def process_start(pid: int) -> str | None:
    """The start time of *pid* (clock ticks since boot, as text), or None if it is gone."""
    info = _stat(pid)
    if info is None:
        return None
    fields = info[1]
    # Fields after "(comm)" start at field 3 (state); starttime is field 22.
    return fields[19] if len(fields) > 19 else None


def claude_process(environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The Claude Code process: ``$CLAUDE_PID`` if set, else the nearest non-shell ancestor."""
    env = os.environ if environ is None else environ
    raw = env.get("CLAUDE_PID", "")
    # isdigit() alone admits "²" (int() rejects it) and 5,000-digit strings (over int()'s limit).
    if raw.isascii() and raw.isdigit() and len(raw) <= 10:
        pid = int(raw)
        return {"pid": pid, "start": process_start(pid), "via": "CLAUDE_PID"}
    pid = os.getppid()
    for _ in range(16):
        info = _stat(pid)
        if info is None:
            break
        comm, fields = info
        if comm not in _WRAPPERS:
            return {"pid": pid, "start": fields[19] if len(fields) > 19 else None, "via": "ancestor"}
        parent = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
        if parent <= 1:
            break
        pid = parent
    if not os.path.exists("/proc/self/stat"):
        return {"pid": os.getppid(), "start": None, "via": "ancestor"}
    return None
