"""Compaction that every projection survives: plan it with the folds, prove it, then commit it.

`journal.compaction` removes records and puts replacement records in their place; this
module decides which records go and what replaces them, so that every projection
folded over the compacted journal equals the one folded over the original
(journal-anchors §6.4, property 1), and checks that it does before anything changes.

**What goes.** The events of *groups*: a session's group is every event of the session
(its agents' events carry its id too); events of an agent with no session join its
parent's group, or form the agent's own group. A group is a candidate when its session
ended (or crashed or went stale and a later session of its project started) and its last
event is older than the horizon, or, for an agent-only group, when the agent completed or
was archived before it; and every event of the group lies in a sealed segment. Events of
no group (``journal.archived``, ``journal.resume_requested``, ...) always stay.

**What replaces them: restore records.** The plan folds the whole log once with every
projection's state *traced*: each record map (and each dict in a projection's meta) notes
which events read or wrote each key and when a key last moved (was inserted, re-inserted
or deleted: the maps' order is part of the state). A key touched by a removed event must
not be touched by a kept event afterwards (else its group stays; this is iterated to a
fixed point). Then a ``journal.snapshot`` record, taking the seq of a removed event,

* **puts** a key's final record back at the seq where the key last moved, so the
  map's order comes out the same, or deletes it if it ended deleted;
* **sets** a key whose position a kept event gave it (in place) at the group's last event;
* **syncs** the projection's meta fields (``last``, counters) that removed events changed
  to the value they had just after that seq.

Because no kept event sees a key between its first removed access and its restore, and
every group has a snapshot at its last removed event, the fold of the compacted log ends
in exactly the original state (insertion order included). This is generic: it knows no
projection's fields, so a projection added later is covered by `snapshot_handler`, which
`projections.base.Projection` registers for ``journal.snapshot`` in every projection.

**The guard.** Before committing, the journal as it will be (the staged files) is folded
and compared with the original fold, order included. A difference the trace can pin on
groups excludes them and the plan is tried again (twice at most); otherwise compaction
stops with nothing changed. The guard's fold then becomes the projection caches of the
new epoch, so the next query does not replay.

**The record.** A ``journal.snapshot`` event has the session (or agent, for an agent-only
group) of its group, the seq and timestamp of the event it replaces, and ``data``::

    {"format": 1,
     "versions": {"sessions": 1, ...},                    # each projection's schema version
     "group": {"kind": "session", "id": ..., "events": n, "horizon": ..., "older_than": ...,
               "archived": true},                         # on the group's last snapshot only
     "ops":   {"sessions": [["put", key, record], ["set", key, record], ["del", key, null]]},
     "mops":  {"agents": {"running": [["put", key, value]]}},   # dicts inside a projection's meta
     "cells": {"sessions": {"last": "..."}}}                    # other meta fields, set as is

Records are encoded as the projection's own Struct (``array_like``, so new fields with
defaults decode from old snapshots, the schema evolution rule). Readers of the raw log
(``timeline``) see the original events instead: `journal.Journal.read` with
``archived=True`` merges them back from ``archive/``.
"""

from __future__ import annotations

import bisect
import os
import time
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional

import msgspec

from journal.archive import crash_point
from journal.layout import COMPACT_LOCK
from projections.base import Projection, RecordMap, State, plain

if TYPE_CHECKING:
    from journal import Journal
    from journal.compaction import Plan, Replacement
    from journal.events import Event
    from projections.liveness import Liveness, Probe

__all__ = [
    "SNAPSHOT_TYPE",
    "DEFAULT_OLDER_THAN",
    "snapshot_handler",
    "CompactionReport",
    "plan_compaction",
    "compact",
]

SNAPSHOT_TYPE = "journal.snapshot"
DEFAULT_OLDER_THAN = "7d"
SNAPSHOT_FORMAT = 1
_RETRIES = 2


# -- restoring: the journal.snapshot handler every projection gets -----------------------


class _Payload(msgspec.Struct):
    """A snapshot record's data, as far as the restore handlers read it."""

    ops: dict[str, msgspec.Raw] = {}
    mops: dict[str, dict[str, msgspec.Raw]] = {}
    cells: dict[str, dict[str, msgspec.Raw]] = {}


_PAYLOAD = msgspec.json.Decoder(_Payload)
_last_decoded: list[Any] = [None, None]


def _payload(event: Event) -> _Payload:
    """The decoded payload of *event*, decoded once for all the projections that restore from it."""
    if _last_decoded[0] is not event:
        try:
            _last_decoded[1] = _PAYLOAD.decode(event.data)
        except msgspec.DecodeError:
            _last_decoded[1] = _Payload()
        _last_decoded[0] = event
    return _last_decoded[1]  # type: ignore[no-any-return]


def _meta_types(meta_type: type[msgspec.Struct]) -> dict[str, Any]:
    return {f.name: f.type for f in msgspec.structs.fields(meta_type)}


def _dict_value_type(tp: Any) -> Any:
    import typing

    args = typing.get_args(tp)
    return args[1] if len(args) == 2 else Any


def snapshot_handler(projection: Projection) -> Callable[[State, Event, Any], None]:
    """The ``journal.snapshot`` handler of *projection*: apply its part of the restore.

    A fold must never fail, so a part that does not decode (a record of an older schema
    that breaks the evolution rule, or a hand-written ``journal.snapshot`` event) is
    restored as far as it goes, record by record, and the rest is skipped.
    """
    name = projection.name
    record_type = projection.record_type
    ops_decoder = msgspec.json.Decoder(list[tuple[str, str, Optional[record_type]]])  # type: ignore[valid-type]
    fields = _meta_types(projection.meta_type)
    dict_fields = {f: _dict_value_type(tp) for f, tp in fields.items() if getattr(tp, "__origin__", None) is dict}
    mops_decoders = {
        f: msgspec.json.Decoder(list[tuple[str, str, Optional[vt]]])  # type: ignore[valid-type]
        for f, vt in dict_fields.items()
    }

    def restore(state: State, event: Event, view: Any) -> None:
        payload = _payload(event)
        raw = payload.ops.get(name)
        if raw is not None:
            _apply_ops(state.records, _decode_ops(ops_decoder, raw, record_type))
        for fname, raw in payload.mops.get(name, {}).items():
            decoder = mops_decoders.get(fname)
            if decoder is not None:
                _apply_ops(getattr(state.meta, fname), _decode_ops(decoder, raw, dict_fields[fname]))
        for fname, raw in payload.cells.get(name, {}).items():
            if fname in fields:
                try:
                    setattr(state.meta, fname, msgspec.json.decode(raw, type=fields[fname]))
                except msgspec.DecodeError:
                    pass

    return restore


def _decode_ops(decoder: Any, raw: msgspec.Raw, value_type: Any) -> list[tuple[str, str, Any]]:
    """Restore operations from *raw*; one by one (skipping what does not decode) if all at once fails."""
    try:
        return decoder.decode(raw)  # type: ignore[no-any-return]
    except msgspec.DecodeError:
        pass
    try:
        items = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return []
    out: list[tuple[str, str, Any]] = []
    for item in items if isinstance(items, list) else []:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and isinstance(item[1], str)):
            continue
        op, key, value = item
        if value is not None:
            try:
                value = msgspec.convert(value, value_type)
            except msgspec.ValidationError:
                continue
        out.append((op, key, value))
    return out


def _apply_ops(target: dict[str, Any], ops: list[tuple[str, str, Any]]) -> None:
    for op, key, value in ops:
        if op == "put":
            target.pop(key, None)
            target[key] = value
        elif op == "set":
            if key in target:
                dict.__setitem__(target, key, value)
            else:
                target[key] = value
        elif op == "del":
            target.pop(key, None)


# -- tracing a fold ------------------------------------------------------------------------


class _Trace:
    """What the traced fold saw: per key, the seqs that touched it and where it last moved."""

    def __init__(self, upto: int) -> None:
        self.seq = 0
        self.tick = 0
        self.group_of = array("i", [-1]) * (upto + 1)
        #: container -> key -> seqs that touched the key (ascending, no repeats)
        self.access: dict[tuple[str, str], dict[str, list[int]]] = {}
        #: container -> key -> (seq, tick) of its last move
        self.moves: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
        #: (projection, meta field) -> (seqs, values) of its changes
        self.changes: dict[tuple[str, str], tuple[list[int], list[Any]]] = {}
        self.touched: set[tuple[str, str, Any]] = set()

    def container(self, cid: tuple[str, str]) -> tuple[dict[str, list[int]], dict[str, tuple[int, int]]]:
        return self.access.setdefault(cid, {}), self.moves.setdefault(cid, {})

    def change(self, cid: tuple[str, str], value: Any) -> None:
        seqs, values = self.changes.setdefault(cid, ([], []))
        if seqs and seqs[-1] == self.seq:
            values[-1] = value
        elif not values or values[-1] != value:
            seqs.append(self.seq)
            values.append(value)

    def end_event(self) -> None:
        """Log the values of mutable meta fields the event touched (they change in place)."""
        if self.touched:
            for proj, fname, meta in self.touched:
                self.change((proj, fname), plain(getattr(meta, fname)))
            self.touched.clear()


def _tracked_methods(base: type) -> dict[str, Any]:
    """Overrides that note every access and move of a key (shared by records and meta dicts)."""

    def _hit(self: Any, key: str) -> None:
        seq = self._trace.seq
        if seq < 0:
            return  # the fold is over: what planning reads is not part of the history
        seqs = self._acc.get(key)
        if seqs is None:
            self._acc[key] = [seq]
        elif seqs[-1] != seq:
            seqs.append(seq)

    def _move(self: Any, key: str) -> None:
        trace = self._trace
        if trace.seq < 0:
            return
        self._mv[key] = (trace.seq, trace.tick)
        trace.tick += 1

    def get(self: Any, key: str, default: Any = None) -> Any:
        _hit(self, key)
        return dict.get(self, key, default)

    def __getitem__(self: Any, key: str) -> Any:
        _hit(self, key)
        return dict.__getitem__(self, key)

    def __contains__(self: Any, key: object) -> bool:
        _hit(self, key)  # type: ignore[arg-type]
        return dict.__contains__(self, key)

    def __setitem__(self: Any, key: str, value: Any) -> None:
        _hit(self, key)
        if not dict.__contains__(self, key):
            _move(self, key)
        dict.__setitem__(self, key, value)

    def __delitem__(self: Any, key: str) -> None:
        _hit(self, key)
        _move(self, key)
        dict.__delitem__(self, key)

    def pop(self: Any, key: str, *default: Any) -> Any:
        _hit(self, key)
        if dict.__contains__(self, key):
            _move(self, key)
        return dict.pop(self, key, *default)

    def setdefault(self: Any, key: str, default: Any = None) -> Any:
        _hit(self, key)
        if not dict.__contains__(self, key):
            _move(self, key)
        return dict.setdefault(self, key, default)

    def record(self: Any, key: str) -> Any:
        _hit(self, key)
        return dict.get(self, key)

    return {
        "get": get, "__getitem__": __getitem__, "__contains__": __contains__, "__setitem__": __setitem__,
        "__delitem__": __delitem__, "pop": pop, "setdefault": setdefault, "record": record,
    }


class _TracedRecords(RecordMap):
    __slots__ = ("_acc", "_mv", "_trace")
    _acc: dict[str, list[int]]
    _mv: dict[str, tuple[int, int]]
    _trace: _Trace
    locals().update(_tracked_methods(RecordMap))


class _TracedDict(dict):  # type: ignore[type-arg]
    __slots__ = ("_acc", "_mv", "_trace")
    _acc: dict[str, list[int]]
    _mv: dict[str, tuple[int, int]]
    _trace: _Trace
    locals().update(_tracked_methods(dict))


def _traced_dict(source: dict[str, Any], trace: _Trace, cid: tuple[str, str]) -> _TracedDict:
    d = _TracedDict(source)
    d._acc, d._mv = trace.container(cid)
    d._trace = trace
    return d


_SCALARS = (str, int, float, bool, type(None))


class _MetaProxy:
    """Stands for a projection's meta during the traced fold: notes reads and changes."""

    __slots__ = ("_meta", "_proj", "_trace")

    def __init__(self, meta: Any, proj: str, trace: _Trace) -> None:
        object.__setattr__(self, "_meta", meta)
        object.__setattr__(self, "_proj", proj)
        object.__setattr__(self, "_trace", trace)
        for fname in meta.__struct_fields__:
            value = getattr(meta, fname)
            if isinstance(value, dict):
                setattr(meta, fname, _traced_dict(value, trace, (proj, fname)))

    def __getattr__(self, fname: str) -> Any:
        value = getattr(self._meta, fname)
        if not isinstance(value, _SCALARS) and not isinstance(value, _TracedDict):
            self._trace.touched.add((self._proj, fname, self._meta))
        return value

    def __setattr__(self, fname: str, value: Any) -> None:
        trace = self._trace
        if isinstance(value, dict) and not isinstance(value, _TracedDict):
            value = _traced_dict(value, trace, (self._proj, fname))
            trace.change((self._proj, fname), plain(value))  # a whole dict replaced: synced by value
        elif isinstance(value, _SCALARS):
            trace.change((self._proj, fname), value)
        else:
            trace.touched.add((self._proj, fname, self._meta))
        setattr(self._meta, fname, value)


def _traced_state(projection: Projection, trace: _Trace) -> tuple[State, Any]:
    """A fresh state of *projection* whose records and meta note every access; and the real meta."""
    records = _TracedRecords(projection.record_decoder)
    records._acc, records._mv = trace.container((projection.name, ""))
    records._trace = trace
    meta = projection.meta_type()
    return State(_MetaProxy(meta, projection.name, trace), records), meta


# -- the plan ------------------------------------------------------------------------------


@dataclass
class _Groups:
    keys: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    last_seq: list[int] = field(default_factory=list)
    last_ts: list[str] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    #: Events that are not snapshot records (a group of snapshots only is compacted already).
    raw: list[int] = field(default_factory=list)

    def gid(self, key: str) -> int:
        g = self.index.get(key)
        if g is None:
            g = self.index[key] = len(self.keys)
            self.keys.append(key)
            self.last_seq.append(0)
            self.last_ts.append("")
            self.count.append(0)
            self.raw.append(0)
        return g


@dataclass
class _Fold:
    """The traced fold of the original log."""

    upto: int
    sealed: int
    manifest: dict[str, Any]
    trace: _Trace
    groups: _Groups
    states: dict[str, State]
    metas: dict[str, Any]
    projections: tuple[Projection, ...]
    events: int = 0


def _traced_fold(journal: Journal, projections: tuple[Projection, ...],
                 progress: Callable[[int], None] | None) -> _Fold:
    from journal.compaction import sealed_upto
    from projections.runner import fold_events

    manifest = journal.manifest()
    upto = journal.last_seq()
    trace = _Trace(upto)
    groups = _Groups()
    pairs = []
    states: dict[str, State] = {}
    metas: dict[str, Any] = {}
    for projection in projections:
        state, meta = _traced_state(projection, trace)
        pairs.append((projection, state))
        states[projection.name] = state
        metas[projection.name] = meta
    group_of = trace.group_of

    def traced(events: Iterable[Event]) -> Iterator[Event]:
        for event in events:
            trace.end_event()
            seq = event.seq
            trace.seq = seq
            key = ("s:" + event.session) if event.session else ("a:" + event.agent) if event.agent else None
            if key is not None:
                g = groups.gid(key)
                group_of[seq] = g
                groups.last_seq[g] = seq
                groups.last_ts[g] = event.ts
                groups.count[g] += 1
                if event.type != SNAPSHOT_TYPE:
                    groups.raw[g] += 1
            yield event
        trace.end_event()

    n = fold_events(pairs, traced(journal.read(1, to_seq=upto)), progress)
    trace.seq = -1  # stop tracing: the queries that pick candidates read the records too
    fold = _Fold(upto, sealed_upto(journal.root, manifest), manifest, trace, groups, states, metas, projections, n)
    _merge_agent_groups(fold)
    return fold


def _merge_agent_groups(fold: _Fold) -> None:
    """Events of an agent without a session join the group of the agent's parent session."""
    agents = fold.metas.get("agents") and fold.states.get("agents")
    if agents is None:
        return
    groups = fold.groups
    remap: dict[int, int] = {}
    for key, g in list(groups.index.items()):
        if not key.startswith("a:"):
            continue
        rec = dict.get(agents.records, key[2:])
        parent = getattr(rec, "parent", "") if rec is not None else ""
        if parent and ("s:" + parent) in groups.index:
            p = groups.index["s:" + parent]
            remap[g] = p
            if groups.last_seq[g] > groups.last_seq[p]:
                groups.last_seq[p], groups.last_ts[p] = groups.last_seq[g], groups.last_ts[g]
            groups.count[p] += groups.count[g]
            groups.raw[p] += groups.raw[g]
            groups.count[g] = groups.raw[g] = 0
    if remap:
        group_of = fold.trace.group_of
        for seq in range(len(group_of)):
            g = group_of[seq]
            if g in remap:
                group_of[seq] = remap[g]


def _views(journal: Journal, fold: _Fold) -> Any:
    from projections.runner import Views

    states = {name: State(fold.metas[name], state.records) for name, state in fold.states.items()}
    return Views(states, fold.upto, str(fold.manifest.get("journal_id", "")), int(fold.manifest.get("epoch", 0)),
                 fold.events, {}, journal)


def _candidates(journal: Journal, fold: _Fold, horizon: str, live: Liveness) -> tuple[list[bool], dict[str, int]]:
    """Which groups the retention policy would compact (before the trace's veto), and why not."""
    from projections.queries import agent_status, session_archived

    views = _views(journal, fold)
    groups = fold.groups
    ok = [False] * len(groups.keys)
    why: dict[str, int] = {}
    sessions = views.sessions.records if "sessions" in fold.states else {}
    latest_start: dict[str, int] = {}
    for rec in dict.values(sessions):
        project = rec.project_dir or rec.cwd
        latest_start[project] = max(latest_start.get(project, 0), rec.start_seq or rec.first_seq)
    for g, key in enumerate(groups.keys):
        if groups.raw[g] == 0:
            continue  # nothing but snapshot records: compacted already
        if groups.last_seq[g] > fold.sealed:
            why["in the active segment"] = why.get("in the active segment", 0) + 1
            continue
        if groups.last_ts[g] >= horizon:
            why["newer than the horizon"] = why.get("newer than the horizon", 0) + 1
            continue
        if key.startswith("s:"):
            rec = dict.get(sessions, key[2:])
            if rec is None:
                continue
            status = live.status(rec)
            if status == "ended" or (status != "active" and session_archived(views, rec)):
                ok[g] = True
            elif status in ("crashed", "stale") and latest_start.get(rec.project_dir or rec.cwd, 0) > rec.last_seq:
                ok[g] = True  # crashed and superseded by a later session of its project
            else:
                why[f"session {status}"] = why.get(f"session {status}", 0) + 1
        else:
            rec = dict.get(views.agents.records, key[2:]) if "agents" in fold.states else None
            status = agent_status(views, rec, live) if rec is not None else "completed"
            if status in ("completed", "archived"):
                ok[g] = True
            else:
                why[f"agent {status}"] = why.get(f"agent {status}", 0) + 1
    return ok, why


def _veto(fold: _Fold, ok: list[bool]) -> int:
    """Drop groups whose removal a kept event would notice; repeat until stable. Returns how many."""
    group_of = fold.trace.group_of
    dropped = 0
    changed = True
    while changed:
        changed = False
        for table in fold.trace.access.values():
            for seqs in table.values():
                first = -1
                for i, s in enumerate(seqs):
                    g = group_of[s]
                    if g >= 0 and ok[g]:
                        first = i
                        break
                if first < 0:
                    continue
                if all((group_of[s] >= 0 and ok[group_of[s]]) for s in seqs[first + 1 :]):
                    continue
                for s in seqs[first:]:
                    g = group_of[s]
                    if g >= 0 and ok[g]:
                        ok[g] = False
                        dropped += 1
                        changed = True
    return dropped


_Op = tuple[str, str, Any]  # ("put" | "set" | "del", key, value)
#: seq -> (projection, container) -> [(tick, op)]: the restore operations a snapshot at seq carries
_Ops = dict[int, dict[tuple[str, str], list[tuple[int, _Op]]]]


@dataclass
class _Draft:
    """Restore operations by seq, and the removed seqs."""

    remove: list[list[int]]
    ops: _Ops
    group_last: dict[int, int]
    removed_by_group: dict[int, int]


def _draft(fold: _Fold, ok: list[bool]) -> _Draft:
    from journal.compaction import ranges_from_seqs

    trace, group_of = fold.trace, fold.trace.group_of
    removed_seqs = [s for s in range(1, fold.upto + 1) if group_of[s] >= 0 and ok[group_of[s]]]
    group_last: dict[int, int] = {}
    removed_by_group: dict[int, int] = {}
    for s in removed_seqs:
        g = group_of[s]
        group_last[g] = s
        removed_by_group[g] = removed_by_group.get(g, 0) + 1
    ops: _Ops = {s: {} for s in group_last.values()}
    removed = lambda s: group_of[s] >= 0 and ok[group_of[s]]  # noqa: E731
    starts = sorted(int(e["first_seq"]) for e in fold.manifest["segments"])
    segment_of = lambda s: bisect.bisect_right(starts, s)  # noqa: E731
    for (proj, container), table in trace.access.items():
        moves = trace.moves.get((proj, container), {})
        target = _container(fold, proj, container)
        for key, seqs in table.items():
            first = next((s for s in seqs if removed(s)), None)
            if first is None:
                continue
            present = dict.__contains__(target, key)
            value = dict.get(target, key)
            move = moves.get(key)
            last = group_last[group_of[seqs[-1]]]
            if move is not None and move[0] >= first:
                seq, tick = move
                op = ("put", key, value) if present else ("del", key, None)
                if present and segment_of(seq) != segment_of(last):
                    # A reader racing the swap may read this seq's segment before its rename
                    # and the last one's after: the set at the end gives it the final value too.
                    ops.setdefault(last, {}).setdefault((proj, container), []).append((-1, ("set", key, value)))
            elif present:
                seq, tick = last, -1
                op = ("set", key, value)
            else:
                continue  # never there, and never put there by a removed event
            ops.setdefault(seq, {}).setdefault((proj, container), []).append((tick, op))
    return _Draft(ranges_from_seqs(removed_seqs), ops, group_last, removed_by_group)


def _container(fold: _Fold, proj: str, container: str) -> dict[str, Any]:
    if container == "":
        return fold.states[proj].records
    return getattr(fold.metas[proj], container)  # type: ignore[no-any-return]


def _replacements(journal: Journal, fold: _Fold, ok: list[bool], draft: _Draft, info: dict[str, Any]) -> dict[int, Replacement]:
    """The journal.snapshot records of *draft*, one per seq that carries restore operations."""
    from journal.compaction import Replacement

    trace, groups = fold.trace, fold.groups
    removed = lambda s: trace.group_of[s] >= 0 and ok[trace.group_of[s]]  # noqa: E731
    # Meta fields changed by removed events: synced at every snapshot at or after the first such change.
    cells: list[tuple[str, str, list[int], list[Any], int, Any]] = []
    for (proj, fname), (seqs, values) in trace.changes.items():
        first = next((s for s in seqs if removed(s)), None)
        if first is not None:
            meta_type = next(p.meta_type for p in fold.projections if p.name == proj)
            default = plain(getattr(meta_type(), fname))
            cells.append((proj, fname, seqs, values, first, default))
    group_seq = {s: g for g, s in draft.group_last.items()}
    out: dict[int, Replacement] = {}
    for seq in sorted(draft.ops):
        g = trace.group_of[seq]
        key = groups.keys[g]
        payload: dict[str, Any] = {"format": SNAPSHOT_FORMAT}
        if seq in group_seq:
            payload["group"] = {"kind": "session" if key.startswith("s:") else "agent", "id": key[2:],
                                "events": draft.removed_by_group[g], **info}
        ops: dict[str, list[Any]] = {}
        mops: dict[str, dict[str, list[Any]]] = {}
        for (proj, container), items in draft.ops[seq].items():
            items.sort(key=lambda t: t[0])
            listed = [list(op) for _, op in items]
            if container == "":
                ops[proj] = listed
            else:
                mops.setdefault(proj, {})[container] = listed
        synced: dict[str, dict[str, Any]] = {}
        for proj, fname, seqs, values, first, default in cells:
            if first <= seq:
                i = bisect.bisect_right(seqs, seq) - 1
                synced.setdefault(proj, {})[fname] = values[i] if i >= 0 else default
        if ops:
            payload["ops"] = ops
        if mops:
            payload["mops"] = mops
        if synced:
            payload["cells"] = synced
        payload["versions"] = {p.name: p.version for p in fold.projections}
        data = msgspec.json.encode(payload)
        session = key[2:] if key.startswith("s:") else None
        agent = key[2:] if key.startswith("a:") else None
        out[seq] = Replacement(seq, SNAPSHOT_TYPE, data, session=session, agent=agent)
    return out


# -- the guard --------------------------------------------------------------------------------


class _Mismatch(Exception):
    """The compacted fold differs from the original; ``groups`` are the ones to blame (maybe none)."""

    def __init__(self, message: str, groups: set[int]) -> None:
        super().__init__(message)
        self.groups = groups


_MSGPACK = msgspec.msgpack.Encoder()


def _ordered(d: dict[str, Any]) -> list[tuple[str, bytes]]:
    """Keys and encoded values in order (encodings keep the order of nested dicts too)."""
    enc = _MSGPACK.encode
    return [(k, enc(v)) for k, v in dict.items(d)]


def _differences(fold: _Fold, states: dict[str, State]) -> list[tuple[str, str, str | None]]:
    """``(projection, container, key)`` where the new states differ from the traced fold's.

    ``container`` is ``""`` for records, a meta field name otherwise; ``key`` is None for
    a meta field compared as a whole.
    """
    out: list[tuple[str, str, str | None]] = []

    def compare(proj: str, container: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        a, b = _ordered(old), _ordered(new)
        if a == b:
            return
        keys = set(k for k, _ in a) ^ set(k for k, _ in b)
        da, db = dict(a), dict(b)
        keys |= {k for k in da if k in db and da[k] != db[k]}
        ka, kb = [k for k, _ in a if k in db], [k for k, _ in b if k in da]
        for i, (x, y) in enumerate(zip(ka, kb)):
            if x != y:
                keys |= set(ka[i:]) | set(kb[i:])  # from the first displaced key on
                break
        out.extend((proj, container, k) for k in sorted(keys))

    for projection in fold.projections:
        name = projection.name
        compare(name, "", fold.states[name].records, states[name].records)
        old_meta, new_meta = fold.metas[name], states[name].meta
        for fname in old_meta.__struct_fields__:
            x, y = getattr(old_meta, fname), getattr(new_meta, fname)
            if isinstance(x, dict) and isinstance(y, dict):
                compare(name, fname, x, y)
            elif _MSGPACK.encode(x) != _MSGPACK.encode(y):
                out.append((name, fname, None))
    return out


def _blame(fold: _Fold, ok: list[bool], diffs: list[tuple[str, str, str | None]]) -> set[int]:
    """The compacted groups that touched what differs."""
    trace = fold.trace
    group_of = trace.group_of
    out: set[int] = set()
    for proj, container, key in diffs:
        if key is None:
            seqs = trace.changes.get((proj, container), ([], []))[0]
        else:
            seqs = trace.access.get((proj, container), {}).get(key, [])
        out |= {group_of[s] for s in seqs if group_of[s] >= 0 and ok[group_of[s]]}
    return out


def _guard(fold: _Fold, ok: list[bool], keep: dict[str, State]) -> Callable[[Iterator[Event]], None]:
    """The check the engine runs on the staged journal: its fold must equal the original's."""
    from projections.runner import fold_events

    def check(events: Iterator[Event]) -> None:
        states = {p.name: p.initial() for p in fold.projections}
        fold_events([(p, states[p.name]) for p in fold.projections], events)
        diffs = _differences(fold, states)
        if diffs:
            where = ", ".join(f"{p}:{c or 'records'}:{k}" for p, c, k in diffs[:5])
            raise _Mismatch(f"the compacted journal folds differently ({len(diffs)} differences: {where})",
                            _blame(fold, ok, diffs))
        keep.update(states)

    return check


# -- running it -------------------------------------------------------------------------------


@dataclass
class CompactionReport:
    """What `compact` did, or would do with ``dry_run``."""

    dry_run: bool
    older_than: str
    horizon: str
    archived: bool
    sessions: int = 0
    agents: int = 0
    events_removed: int = 0
    snapshots: int = 0
    events_before: int = 0
    events_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    archive_bytes: int = 0
    segments_rewritten: int = 0
    segments_deleted: int = 0
    kept_back: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    #: Why the guard sent the plan back (each retry compacts fewer groups).
    guard_notes: list[str] = field(default_factory=list)
    epoch: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    session_ids: list[str] = field(default_factory=list)
    #: Agents compacted on their own (events with no session).
    agent_ids: list[str] = field(default_factory=list)
    recovered: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json``)."""
        out = dict(self.__dict__)
        out["sessions_compacted"] = out.pop("session_ids")
        out["agents_compacted"] = out.pop("agent_ids")
        return out


def plan_compaction(
    journal: Journal,
    *,
    older_than: str = DEFAULT_OLDER_THAN,
    archive: bool = True,
    live: Liveness | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    projections: tuple[Projection, ...] | None = None,
) -> tuple[Plan | None, CompactionReport, Any]:
    """Fold the log with tracing and decide what to compact: ``(plan or None, report, state)``.

    The third item is opaque: `compact` passes it back to retry with fewer groups.
    """
    from journal.compaction import Plan
    from projections.context import liveness_for
    from projections.runner import PROJECTIONS
    from projections.timeref import parse_duration, ts_text

    projections = PROJECTIONS if projections is None else projections
    live = live or liveness_for(journal)
    seconds = parse_duration(older_than)
    horizon = ts_text(live.now - seconds)
    report = CompactionReport(False, older_than, horizon, archive)
    t0 = time.perf_counter()
    total = journal.last_seq()
    tick = (lambda n: progress("fold", n, total)) if progress is not None else None
    fold = _traced_fold(journal, projections, tick)
    report.phases["fold"] = round(time.perf_counter() - t0, 3)
    report.events_before = fold.events
    ok, why = _candidates(journal, fold, horizon, live)
    vetoed = _veto(fold, ok)
    if vetoed:
        why["touched later by kept events"] = vetoed
    report.kept_back = why
    crash_point("planned")
    context = {"fold": fold, "ok": ok, "live": live, "archive": archive}
    return _make_plan(journal, fold, ok, report, archive, Plan), report, context


def _make_plan(journal: Journal, fold: _Fold, ok: list[bool], report: CompactionReport, archive: bool,
               plan_type: Any) -> Plan | None:
    draft = _draft(fold, ok)
    info = {"horizon": report.horizon, "older_than": report.older_than, "archived": archive}
    replacements = _replacements(journal, fold, ok, draft, info)
    groups = fold.groups
    compacted = sorted(draft.group_last)
    report.session_ids = sorted(groups.keys[g][2:] for g in compacted if groups.keys[g].startswith("s:"))
    report.sessions = len(report.session_ids)
    report.agent_ids = sorted(groups.keys[g][2:] for g in compacted if groups.keys[g].startswith("a:"))
    agent_ops = {key for ops in draft.ops.values() for (proj, c), items in ops.items()
                 if proj == "agents" and c == "" for _, (_, key, _) in items}
    report.agents = len(agent_ops)
    report.events_removed = sum(b - a + 1 for a, b in draft.remove)
    report.snapshots = len(replacements)
    report.events_after = report.events_before - report.events_removed + report.snapshots
    if not draft.remove:
        return None
    return plan_type(draft.remove, replacements, fold.manifest, fold.upto, archive=archive,
                     note={"horizon": report.horizon})


def compact(
    journal: Journal,
    *,
    older_than: str = DEFAULT_OLDER_THAN,
    archive: bool = True,
    dry_run: bool = False,
    now: float | None = None,
    probe: Probe | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    lock_timeout: float | None = None,
    warm_caches: bool = True,
) -> CompactionReport:
    """Compact the sessions and agents that finished before ``now - older_than``; see the module docs.

    Holds the compaction lock throughout (another run raises `CompactionBusy`) and the
    append lock only for the swap. With *dry_run* nothing is written. Raises
    `CompactionVetoed` if the compacted journal cannot be made to fold like the original.
    """
    from journal import compaction as engine
    from projections.context import liveness_for

    t0 = time.perf_counter()
    root = journal.root
    timeout = journal.config.lock_timeout if lock_timeout is None else lock_timeout
    with engine.compaction_lock(root):
        recovered = {} if dry_run else engine.recover(root, lock_timeout=timeout)
        if not dry_run:
            os.utime(root / COMPACT_LOCK)  # the automatic trigger reads the last run's time here
        live = liveness_for(journal, now, probe)
        plan, report, context = plan_compaction(journal, older_than=older_than, archive=archive, live=live,
                                                progress=progress)
        report.dry_run = dry_run
        report.recovered = recovered if (recovered.get("finished_swap") or recovered.get("removed")) else {}
        live_bytes = journal_bytes(journal)
        report.bytes_before = live_bytes
        if plan is None:
            report.bytes_after = live_bytes
            report.seconds = round(time.perf_counter() - t0, 3)
            return report
        if dry_run:
            measured = engine.measure(root, plan)
            report.bytes_after = live_bytes - measured["bytes_removed"] + measured["bytes_added"]
            report.archive_bytes = 0
            report.segments_rewritten = measured["segments_rewritten"]
            report.segments_deleted = measured["segments_deleted"]
            report.seconds = round(time.perf_counter() - t0, 3)
            return report
        fold, ok = context["fold"], context["ok"]
        t1 = time.perf_counter()
        while True:
            keep: dict[str, State] = {}
            total = sum(int(s["bytes"]) for s in engine.affected_segments(plan))
            tick = (lambda n: progress("rewrite", n, total)) if progress is not None else None
            try:
                result = engine.compact(root, plan, guard=_guard(fold, ok, keep), progress=tick,
                                        lock_timeout=timeout)
                break
            except _Mismatch as e:
                blamed = e.groups
                if not blamed or report.retries >= _RETRIES:
                    raise engine.CompactionVetoed(
                        f"{e}; nothing was changed. Please report this: a projection folds journal.snapshot "
                        "records differently from the events they replace"
                    ) from None
                for g in blamed:
                    ok[g] = False
                _veto(fold, ok)
                report.retries += 1
                report.guard_notes.append(str(e))
                report.kept_back["differed in the guard's fold"] = report.kept_back.get(
                    "differed in the guard's fold", 0) + len(blamed)
                plan = _make_plan(journal, fold, ok, report, archive, type(plan))
                if plan is None:
                    report.bytes_after = live_bytes
                    report.seconds = round(time.perf_counter() - t0, 3)
                    return report
        report.phases["rewrite"] = round(time.perf_counter() - t1, 3)
        report.epoch = result.epoch
        report.bytes_after = journal_bytes(journal)
        report.archive_bytes = result.archive_bytes
        report.segments_rewritten = result.segments_rewritten
        report.segments_deleted = result.segments_deleted
        crash_point("before_caches")
        if warm_caches and keep:
            _save_caches(journal, fold, keep, result.epoch)
    journal.log_error("compacted", f"compaction removed {report.events_removed} events of {report.sessions} "
                      f"sessions ({report.bytes_before} -> {report.bytes_after} live bytes)",
                      report={k: v for k, v in report.to_dict().items() if k != "sessions_compacted"})
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def journal_bytes(journal: Journal) -> int:
    """Bytes of the live segments."""
    from journal.layout import list_segments

    total = 0
    for _, path in list_segments(journal.root):
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            pass
    return total


def _save_caches(journal: Journal, fold: _Fold, states: dict[str, State], epoch: int) -> None:
    """The guard folded the new journal up to the plan's end: keep that as the projection caches."""
    from projections.cache import save_cache

    manifest = journal.manifest()
    if int(manifest.get("epoch", -1)) != epoch:
        return
    for projection in fold.projections:
        try:
            save_cache(journal.root, projection, states[projection.name], journal_id=str(manifest.get("journal_id", "")),
                       epoch=epoch, seq=fold.upto)
            crash_point("cache_saved")
        except OSError as e:
            journal.log_error("cache_write_failed", f"cannot write the {projection.name} cache: {e}")
