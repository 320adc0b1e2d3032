"""The traced fold compaction plans with: every projection folded once, noting who touched what.

Each record map (and each dict in a projection's meta) notes which events read or wrote
each key and when a key last moved; meta fields note their changes by seq. Events are
put in *groups* (a session, or an agent with no session) whose removal the plan weighs;
see `projections.compaction.compact`.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from projections.base import Projection, RecordMap, State, plain
from projections.compaction.restore import SNAPSHOT_TYPE

if TYPE_CHECKING:
    from journal import Journal
    from journal.storage.events import Event
    from journal.storage.manifest import Manifest

__all__ = ["Trace", "Fold", "traced_fold"]


class Trace:
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
    _trace: Trace
    locals().update(_tracked_methods(RecordMap))


class _TracedDict(dict):  # type: ignore[type-arg]
    __slots__ = ("_acc", "_mv", "_trace")
    _acc: dict[str, list[int]]
    _mv: dict[str, tuple[int, int]]
    _trace: Trace
    locals().update(_tracked_methods(dict))


def _traced_dict(source: dict[str, Any], trace: Trace, cid: tuple[str, str]) -> _TracedDict:
    d = _TracedDict(source)
    d._acc, d._mv = trace.container(cid)
    d._trace = trace
    return d


_SCALARS = (str, int, float, bool, type(None))


class _MetaProxy:
    """Stands for a projection's meta during the traced fold: notes reads and changes."""

    __slots__ = ("_meta", "_proj", "_trace")

    def __init__(self, meta: Any, proj: str, trace: Trace) -> None:
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


def _traced_state(projection: Projection, trace: Trace) -> tuple[State, Any]:
    """A fresh state of *projection* whose records and meta note every access; and the real meta."""
    records = _TracedRecords(projection.record_decoder)
    records._acc, records._mv = trace.container((projection.name, ""))
    records._trace = trace
    meta = projection.meta_type()
    return State(_MetaProxy(meta, projection.name, trace), records), meta


# -- groups and the fold -------------------------------------------------------------------


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
class Fold:
    """The traced fold of the original log."""

    upto: int
    sealed: int
    manifest: Manifest
    trace: Trace
    groups: _Groups
    states: dict[str, State]
    metas: dict[str, Any]
    projections: tuple[Projection, ...]
    events: int = 0


def traced_fold(journal: Journal, projections: tuple[Projection, ...],
                 progress: Callable[[int], None] | None) -> Fold:
    from journal.compaction.compact import sealed_upto
    from projections.runner import fold_events

    manifest = journal.manifest()
    upto = journal.last_seq()
    trace = Trace(upto)
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
    fold = Fold(upto, sealed_upto(journal.root, manifest), manifest, trace, groups, states, metas, projections, n)
    _merge_agent_groups(fold)
    return fold


def _merge_agent_groups(fold: Fold) -> None:
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
