"""Planning a compaction from the traced fold: which groups may go, and the records that replace them.

`pick_candidates` applies the retention policy, `veto` keeps back groups whose removal a
kept event would notice, `draft_restores` works out the restore operations by seq and
`snapshot_records` encodes them as ``journal.snapshot`` records; see `projections.compaction.compact`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from projections.base import State, plain
from projections.compaction.restore import SNAPSHOT_FORMAT, SNAPSHOT_TYPE
from projections.compaction.trace import Fold

if TYPE_CHECKING:
    from journal import Journal
    from journal.compaction.compact import Replacement
    from projections.read.liveness import Liveness

__all__ = ["Draft", "pick_candidates", "veto", "draft_restores", "snapshot_records"]


def _views(journal: Journal, fold: Fold) -> Any:
    from projections.runner import Views

    states = {name: State(fold.metas[name], state.records) for name, state in fold.states.items()}
    return Views(states, fold.upto, fold.manifest.journal_id, fold.manifest.epoch,
                 fold.events, {}, journal)


def pick_candidates(journal: Journal, fold: Fold, horizon: str, live: Liveness) -> tuple[list[bool], dict[str, int]]:
    """Which groups the retention policy would compact (before the trace's veto), and why not."""
    from projections.read.queries import agent_status, session_archived

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


def veto(fold: Fold, ok: list[bool]) -> int:
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
class Draft:
    """Restore operations by seq, and the removed seqs."""

    remove: list[list[int]]
    ops: _Ops
    group_last: dict[int, int]
    removed_by_group: dict[int, int]


def draft_restores(fold: Fold, ok: list[bool]) -> Draft:
    from journal.compaction.compact import ranges_from_seqs

    trace, group_of = fold.trace, fold.trace.group_of
    removed_seqs = [s for s in range(1, fold.upto + 1) if group_of[s] >= 0 and ok[group_of[s]]]
    group_last: dict[int, int] = {}
    removed_by_group: dict[int, int] = {}
    for s in removed_seqs:
        g = group_of[s]
        group_last[g] = s
        removed_by_group[g] = removed_by_group.get(g, 0) + 1
    ops: _Ops = {s: {} for s in group_last.values()}
    starts = sorted(e.first_seq for e in fold.manifest.segments)

    def removed(s: int) -> bool:
        return group_of[s] >= 0 and ok[group_of[s]]

    def segment_of(s: int) -> int:
        return bisect.bisect_right(starts, s)

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
    return Draft(ranges_from_seqs(removed_seqs), ops, group_last, removed_by_group)


def _container(fold: Fold, proj: str, container: str) -> dict[str, Any]:
    if container == "":
        return fold.states[proj].records
    return getattr(fold.metas[proj], container)  # type: ignore[no-any-return]


def snapshot_records(
    journal: Journal, fold: Fold, ok: list[bool], draft: Draft, info: dict[str, Any]
) -> dict[int, Replacement]:
    """The journal.snapshot records of *draft*, one per seq that carries restore operations."""
    from journal.compaction.compact import Replacement

    trace, groups = fold.trace, fold.groups

    def removed(s: int) -> bool:
        return trace.group_of[s] >= 0 and ok[trace.group_of[s]]

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
