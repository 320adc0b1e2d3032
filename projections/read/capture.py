"""The PreCompact capture: a session's state just before Claude Code compacts it.

The PreCompact hook stores `precompact_capture` in the event's ``data._journal.capture``,
and the ``compact`` SessionStart that follows injects it back (`projections.read.context`),
so what the session was doing survives the summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from projections.base import plain
from projections.runner import Views, query
from projections.folds.sessions import SessionRecord

if TYPE_CHECKING:
    from journal import Journal

__all__ = ["precompact_capture", "capture_of", "read_capture"]

_FILES = 30


def capture_of(rec: SessionRecord) -> dict[str, Any]:
    """A compact, JSON-ready snapshot of *rec* (the shape stored at PreCompact)."""
    call = rec.in_flight_call()
    cp = rec.checkpoint
    files = list(rec.files)
    return {
        "session": rec.id,
        "seq": rec.last_seq,
        "ts": rec.last_ts,
        "prompts": rec.prompts,
        "last_prompts": list(rec.last_prompts),
        "working_on": rec.objective(),
        "decisions": list(rec.decisions[-5:]),
        "files": files[-_FILES:],
        "files_total": len(files) + rec.files_more,
        "tool_in_flight": {"tool": call.tool, "target": call.target, "ts": call.ts, "agent": call.agent}
        if call is not None else None,
        "last_checkpoint": plain(cp) if cp is not None else None,
        "last_assistant_message": rec.last_message,
    }


def precompact_capture(journal: Journal, session_id: str) -> dict[str, Any]:
    """The capture of *session_id* from the journal ({} if the session is unknown)."""

    def build(views: Views) -> dict[str, Any]:
        rec = views.sessions.records.record(session_id)
        return capture_of(rec) if rec is not None else {}

    return query(journal, build)


def read_capture(journal: Journal, seq: int) -> dict[str, Any] | None:
    """``data._journal.capture`` of the PreCompact event at *seq*, if it has one."""
    if seq <= 0:
        return None
    for event in journal.read(seq, to_seq=seq):
        if event.seq != seq or event.type != "PreCompact":
            return None
        notes = event.payload().get("_journal")
        capture = notes.get("capture") if isinstance(notes, dict) else None
        return capture if isinstance(capture, dict) and capture else None
    return None
