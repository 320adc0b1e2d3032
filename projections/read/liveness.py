"""Is a session still running? A property of the reading moment, never folded.

SessionStart records the Claude Code process as ``_journal.process = {"pid",
"start"}``, where ``start`` is field 22 of ``/proc/<pid>/stat`` (clock ticks since
boot). Pids are reused, so a session is alive only if a process with that pid exists
*and* started at the same tick. The check goes through a `Probe` (``pid -> start or
None``) so tests can simulate dead and reused pids.

Statuses:

``ended``    a ``SessionEnd`` came after the session's last start;
``crashed``  no ``SessionEnd``, and the recorded process is gone or is another one;
``stale``    no process was recorded and nothing happened for `DEFAULT_STALE_AFTER`
             seconds (30 minutes, configurable: ``stale_after`` in the ``projections``
             section of the journal's config.json, ``AGENT_JOURNAL_STALE_AFTER``, or
             ``--stale-after``); such a session may have crashed or may just be idle;
``active``   otherwise.

How old a crash may be and still get a full block in the recovery context is also a
property of the reading moment: `DEFAULT_OLD_AFTER` (7 days), configurable as
``old_crash_after`` in the ``context`` section of config.json
(``AGENT_JOURNAL_OLD_CRASH_AFTER``); older crashes get one line.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Mapping

from journal.procstat import probe
from projections.folds.sessions import SessionRecord
from projections.text import parse_ts

__all__ = [
    "Probe",
    "DEFAULT_STALE_AFTER",
    "SESSION_STATUSES",
    "proc_probe",
    "session_status",
    "stale_after_from",
    "old_after_from",
    "DEFAULT_OLD_AFTER",
    "Liveness",
    "PastLiveness",
]

#: ``pid -> start time text`` of the live process with that pid, ``""`` if alive with an
#: unknown start time, None if there is no such process.
Probe = Callable[[int], "str | None"]

DEFAULT_STALE_AFTER = 30 * 60.0
DEFAULT_OLD_AFTER = 7 * 86400.0
SESSION_STATUSES = ("active", "ended", "crashed", "stale")


def proc_probe(pid: int) -> str | None:
    """The start time of process *pid* from ``/proc`` (``""`` where there is no /proc;
    None if there is no such process): `journal.procstat.probe`."""
    return probe(pid)


def session_status(rec: SessionRecord, *, now: float, probe: Probe, stale_after: float) -> str:
    """``active``, ``ended``, ``crashed`` or ``stale`` for *rec* at time *now*."""
    if rec.ended:
        return "ended"
    if rec.pid > 0:
        start = probe(rec.pid)
        if start is None or (start and rec.pstart and start != rec.pstart):
            return "crashed"
        return "active"
    if now - parse_ts(rec.last_ts) > stale_after:
        return "stale"
    return "active"


def stale_after_from(extra: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> float:
    """The stale threshold in seconds: default < config ``projections.stale_after`` < environment."""
    from projections.timeref import parse_duration

    env = os.environ if environ is None else environ
    value: Any = (extra.get("projections") or {}).get("stale_after") if isinstance(extra, Mapping) else None
    if env.get("AGENT_JOURNAL_STALE_AFTER"):
        value = env["AGENT_JOURNAL_STALE_AFTER"]
    if value is None:
        return DEFAULT_STALE_AFTER
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return parse_duration(str(value))


def old_after_from(extra: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> float:
    """Seconds after which a crash is old (one line): default < ``context.old_crash_after`` < environment."""
    from projections.timeref import parse_duration

    env = os.environ if environ is None else environ
    section = extra.get("context") if isinstance(extra, Mapping) else None
    value: Any = section.get("old_crash_after") if isinstance(section, Mapping) else None
    if env.get("AGENT_JOURNAL_OLD_CRASH_AFTER"):
        value = env["AGENT_JOURNAL_OLD_CRASH_AFTER"]
    if value is None:
        return DEFAULT_OLD_AFTER
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    from projections.errors import ProjectionError

    try:
        return parse_duration(str(value))
    except ProjectionError:
        return DEFAULT_OLD_AFTER  # a bad value must not stop the SessionStart hook


class Liveness:
    """The reading moment: the clock, the process probe and the stale and old thresholds, with a memo."""

    def __init__(self, *, now: float | None = None, probe: Probe | None = None,
                 stale_after: float = DEFAULT_STALE_AFTER, old_after: float = DEFAULT_OLD_AFTER) -> None:
        self.now = time.time() if now is None else now
        self.probe = probe or proc_probe
        self.stale_after = stale_after
        self.old_after = old_after
        self._memo: dict[str, str] = {}

    @classmethod
    def as_of(cls, ts: str, stale_after: float = DEFAULT_STALE_AFTER,
              old_after: float = DEFAULT_OLD_AFTER) -> Liveness:
        """The moment of a past event: recorded processes count as alive (the past cannot be probed)."""
        return cls(now=parse_ts(ts) if ts else 0.0, probe=lambda pid: "", stale_after=stale_after,
                   old_after=old_after)

    def is_old(self, ts: str) -> bool:
        """True when *ts* lies more than `old_after` seconds before now."""
        return self.now - parse_ts(ts) > self.old_after

    def status(self, rec: SessionRecord) -> str:
        """The status of *rec* now (each session probed once per reading)."""
        key = f"{rec.id}\0{rec.last_seq}"
        status = self._memo.get(key)
        if status is None:
            status = self._memo[key] = session_status(
                rec, now=self.now, probe=self.probe, stale_after=self.stale_after
            )
        return status


class PastLiveness(Liveness):
    """Reading a past state (``--at``): history as of then, liveness judged now.

    A session with no SessionEnd as of then is ``active`` only if its Claude Code
    process is alive *now*: the past cannot be probed, and a long-dead process must
    not be called running. One that ended after that moment is ``ended`` (it did not
    crash); otherwise the usual ``crashed``/``stale``, judged now.
    """

    def __init__(self, live: Liveness, ended_later: set[str]) -> None:
        super().__init__(now=live.now, probe=live.probe, stale_after=live.stale_after)
        self.ended_later = ended_later

    def status(self, rec: SessionRecord) -> str:
        status = super().status(rec)
        if status in ("crashed", "stale") and rec.id in self.ended_later:
            return "ended"
        return status
