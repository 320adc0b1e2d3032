"""What a user (or Claude) can see of a journal, as plain comparable data.

`observe` loads every projection and renders everything derived from it: the state of
each projection (record order and meta dict order included), session and agent lists
and snapshots, related sessions, every recovery context, pending resume requests, and
the timeline of each session. Compaction must leave all of it unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterable

import msgspec

from journal import Journal, NewEvent
from projections.base import State
from projections.read.context import recovery_context, session_context
from projections.read.liveness import Liveness
from projections.read.queries import agent_snapshot, iter_sessions, list_agents, list_sessions, session_snapshot
from projections.read.related import related_sessions
from projections.folds.resumes import pending_requests
from projections.runner import PROJECTIONS, load_views
from projections.read.timeline import timeline

__all__ = ["SEGMENT", "open_journal", "write", "clone", "state_of", "observe", "history", "diff_keys"]

#: Small segments, so that a few dozen events make several sealed segments.
SEGMENT = 4096
_ENC = msgspec.msgpack.Encoder()


def open_journal(root: Path) -> Journal:
    """A journal with small segments and fast (flush) durability."""
    return Journal.open(root, segment_bytes=SEGMENT, durability="flush")


def write(journal: Journal, events: Iterable[NewEvent], batch: int = 2) -> None:
    """Append *events* a few at a time (so segments roll as they would in use)."""
    items = list(events)
    for i in range(0, len(items), batch):
        journal.append_many(items[i : i + batch])


def clone(src: Path, dst: Path) -> Journal:
    """A byte-for-byte copy of the journal at *src* (same id, same seqs)."""
    shutil.copytree(src, dst)
    return open_journal(dst)


def state_of(state: State) -> list[Any]:
    """One projection's state, order-sensitive: records in order, meta fields (dicts in order)."""
    records = [(k, _ENC.encode(v)) for k, v in state.records.records()]
    meta = []
    for name in state.meta.__struct_fields__:
        value = getattr(state.meta, name)
        meta.append((name, [(k, _ENC.encode(v)) for k, v in value.items()] if isinstance(value, dict)
                     else _ENC.encode(value)))
    return [records, meta]


def observe(journal: Journal, live: Liveness, *, use_cache: bool = False,
            timelines: Callable[[str], bool] = lambda sid: True) -> dict[str, Any]:
    """Everything derived from the journal's projections, for *live* (the reading moment)."""
    views = load_views(journal, use_cache=use_cache, save=False)
    sessions = list(iter_sessions(views))
    out: dict[str, Any] = {
        "seq": views.seq,
        "states": {p.name: state_of(views.states[p.name]) for p in PROJECTIONS},
        "sessions": list_sessions(views, live, include_archived=True),
        "agents": list_agents(views, live, include_all=True),
        "session_snapshots": [session_snapshot(views, rec, live) for rec in sessions],
        "agent_snapshots": [agent_snapshot(views, rec, live) for _, rec in views.agents.records.records()],
        "related": [related_sessions(views, rec) for rec in sessions],
        "session_contexts": [session_context(views, live, rec) for rec in sessions],
        "contexts": [recovery_context(views, live, session_id=sid, source=source)
                     for sid in [None, *(r.id for r in sessions)] for source in ("startup", "resume")],
        "pending": [msgspec.to_builtins(r) for r in pending_requests(views.resumes)],
        "timelines": {rec.id: timeline(journal, rec) for rec in sessions if timelines(rec.id)},
    }
    return out


def history(journal: Journal, *, archived: bool = True) -> list[tuple[Any, ...]]:
    """Every event as (seq, ts, type, session, agent, data bytes); with the archive's originals."""
    return [(e.seq, e.ts, e.type, e.session, e.agent, bytes(e.data)) for e in journal.read(archived=archived)]


def diff_keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The top-level keys where two observations differ (for assertion messages)."""
    return [k for k in a if a[k] != b.get(k)]
