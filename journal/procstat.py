"""A process's identity beyond its pid: its start time, from ``/proc/<pid>/stat``.

Pids are reused, so whoever records a process (the SessionStart hook) keeps its start
time too (field 22, clock ticks since boot, as text), and whoever later asks whether it
is still alive (the projections, the hook that checks a stored context) compares both.
Stdlib only: the hook imports it.
"""

from __future__ import annotations

import os

__all__ = ["stat_fields", "probe"]


def stat_fields(pid: int) -> tuple[str, list[str]] | None:
    """``(comm, the fields after comm)`` of process *pid*, or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    # comm may hold spaces and parentheses: it ends at the *last* ")".
    lpar, rpar = raw.find("("), raw.rfind(")")
    if lpar < 0 or rpar < 0:
        return None
    return raw[lpar + 1 : rpar], raw[rpar + 2 :].split()


def probe(pid: int) -> str | None:
    """The start time of process *pid*; ``""`` if it is alive with no known start time (no
    ``/proc`` here, or a field missing); None if there is no such process."""
    if not os.path.isdir("/proc/self"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return ""
        except OSError:
            return None
        return ""
    info = stat_fields(pid)
    if info is None:
        return None
    fields = info[1]
    # Fields after "(comm)" start at field 3 (state); starttime is field 22.
    return fields[19] if len(fields) > 19 else ""
