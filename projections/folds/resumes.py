"""Pending resume requests: ``agent-journal resume SESSION`` until a session start uses it.

``journal.resume_requested`` (``data.session``) adds a request keyed by its seq;
``journal.resume_consumed`` (``data.request_seq``) removes it. The next SessionStart
injects each pending request's session context once (`projections.read.context`) and the
hook records the consumption.
"""

from __future__ import annotations

from typing import Any

import msgspec

from journal.storage.events import Event
from projections.base import Projection, State

__all__ = ["RESUMES", "ResumeRequest", "ResumesMeta", "pending_requests"]


class ResumeRequest(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    """One request: which session to resume, when, and from which session it was asked."""

    seq: int
    ts: str
    session: str
    requested_in: str = ""


class ResumesMeta(msgspec.Struct):
    """Counts of requests made and consumed."""

    requested: int = 0
    consumed: int = 0


def _on_requested(state: State, event: Event, view: Any) -> None:
    if not view.session:
        return
    state.meta.requested += 1
    state.records[str(event.seq)] = ResumeRequest(event.seq, event.ts, view.session, event.session or "")


def _on_consumed(state: State, event: Event, view: Any) -> None:
    key = str(view.request_seq)
    if view.request_seq and key in state.records:
        del state.records[key]
        state.meta.consumed += 1


def pending_requests(state: State) -> list[ResumeRequest]:
    """The requests not consumed yet, oldest first."""
    return [req for _, req in state.records.records()]


RESUMES = Projection(
    name="resumes",
    version=1,
    record_type=ResumeRequest,
    meta_type=ResumesMeta,
    handlers={"journal.resume_requested": _on_requested, "journal.resume_consumed": _on_consumed},
)
