"""The crash-injection seam: production code marks the points where a SIGKILL must be survivable.

``AGENT_JOURNAL_CRASH_AT=<point>:<n>`` kills the process (SIGKILL) the n-th time it
reaches `crash_point(point)`. Compaction, scrub and shipping call it between the
steps of their commits; the crash tests set the variable in a child process and check
what the next run makes of the pieces. It is never set in use, and this module knows
no test: it reads one environment variable. Stdlib only.
"""

from __future__ import annotations

import os

__all__ = ["crash_point"]

#: Test seam: ``AGENT_JOURNAL_CRASH_AT=<point>:<n>`` SIGKILLs the process the n-th time it
#: reaches `crash_point(point)` (compaction's crash-injection tests; never set in use).
_CRASH_ENV = "AGENT_JOURNAL_CRASH_AT"
_crash_counts: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Die here (SIGKILL) if the crash-injection test seam asks for it; otherwise nothing."""
    spec = os.environ.get(_CRASH_ENV)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] == int(nth or 1):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
