"""The archive: which ended sessions and completed agents left the working views.

``journal.archived`` lists session and agent ids. An id stays archived while the
archive event is its newest news: a session that gets events after it was archived
(``claude --resume`` of an old session) is back in the working views, so
`is_archived` compares the archive seq with the record's last seq. `plan_archive`
chooses what an ``agent-journal archive --older-than`` run would archive.
"""

from __future__ import annotations

from typing import Any

import msgspec

from journal.storage.events import Event
from projections.base import Projection, State

__all__ = ["ARCHIVE", "ArchiveEntry", "ArchiveMeta", "session_key", "agent_key", "is_archived"]


class ArchiveEntry(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    """When an id was archived, and by which rule."""

    seq: int
    ts: str
    older_than: str = ""


class ArchiveMeta(msgspec.Struct):
    """Counts of archive events folded."""

    events: int = 0


def session_key(session_id: str) -> str:
    """The archive key of a session id."""
    return "s:" + session_id


def agent_key(agent_id: str) -> str:
    """The archive key of an agent id."""
    return "a:" + agent_id


def is_archived(archive: State, key: str, last_seq: int) -> bool:
    """True if *key* was archived after its last event (``last_seq``)."""
    entry = archive.records.record(key)
    return entry is not None and entry.seq >= last_seq


def _on_archived(state: State, event: Event, view: Any) -> None:
    state.meta.events += 1
    entry = ArchiveEntry(event.seq, event.ts, view.older_than[:40])
    records = state.records
    for sid in view.sessions:
        if isinstance(sid, str) and sid:
            key = session_key(sid)
            records.pop(key, None)
            records[key] = entry
    for aid in view.agents:
        if isinstance(aid, str) and aid:
            key = agent_key(aid)
            records.pop(key, None)
            records[key] = entry


ARCHIVE = Projection(
    name="archive",
    version=1,
    record_type=ArchiveEntry,
    meta_type=ArchiveMeta,
    handlers={"journal.archived": _on_archived},
)
