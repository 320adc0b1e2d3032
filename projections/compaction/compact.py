"""Compaction that every projection survives: plan it with the folds, prove it, then commit it.

`journal.compaction.compact` removes records and puts replacement records in their place; this
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

**Where it lives.** `projections.compaction.trace` (the traced fold and its groups),
`projections.compaction.plan` (candidates, veto, restore operations, snapshot records),
`projections.compaction.guard` (the fold comparison), `projections.compaction.restore`
(`snapshot_handler`); this module runs them (`plan_compaction`, `compact`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from journal.compaction.archive import crash_point
from journal.layout import COMPACT_LOCK
from projections.base import Projection, State
from projections.compaction.guard import GuardMismatch, fold_guard
from projections.compaction.plan import draft_restores, pick_candidates, snapshot_records, veto
from projections.compaction.restore import SNAPSHOT_FORMAT, SNAPSHOT_TYPE, snapshot_handler
from projections.compaction.trace import Fold, traced_fold

if TYPE_CHECKING:
    from journal import Journal
    from journal.compaction.compact import Plan
    from projections.read.liveness import Liveness, Probe

__all__ = [
    "SNAPSHOT_TYPE",
    "SNAPSHOT_FORMAT",
    "DEFAULT_OLDER_THAN",
    "snapshot_handler",
    "CompactionReport",
    "plan_compaction",
    "compact",
]

DEFAULT_OLDER_THAN = "7d"
_RETRIES = 2


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
    from journal.compaction.compact import Plan
    from projections.read.context import liveness_for
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
    fold = traced_fold(journal, projections, tick)
    report.phases["fold"] = round(time.perf_counter() - t0, 3)
    report.events_before = fold.events
    ok, why = pick_candidates(journal, fold, horizon, live)
    vetoed = veto(fold, ok)
    if vetoed:
        why["touched later by kept events"] = vetoed
    report.kept_back = why
    crash_point("planned")
    context = {"fold": fold, "ok": ok, "live": live, "archive": archive}
    return _make_plan(journal, fold, ok, report, archive, Plan), report, context


def _make_plan(journal: Journal, fold: Fold, ok: list[bool], report: CompactionReport, archive: bool,
               plan_type: type[Plan]) -> Plan | None:
    draft = draft_restores(fold, ok)
    info = {"horizon": report.horizon, "older_than": report.older_than, "archived": archive}
    replacements = snapshot_records(journal, fold, ok, draft, info)
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
    from journal.compaction import compact as engine
    from projections.read.context import liveness_for

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
        from projections.search.index import carry_index, index_before_compaction

        index_epoch = index_before_compaction(journal, archive=archive)  # the search index survives too
        t1 = time.perf_counter()
        while True:
            keep: dict[str, State] = {}
            total = sum(s.bytes for s in engine.affected_segments(plan))
            tick = (lambda n: progress("rewrite", n, total)) if progress is not None else None  # noqa: B023 - used within this iteration
            try:
                result = engine.compact(root, plan, guard=fold_guard(fold, ok, keep), progress=tick,
                                        lock_timeout=timeout)
                break
            except GuardMismatch as e:
                blamed = e.groups
                if not blamed or report.retries >= _RETRIES:
                    raise engine.CompactionVetoed(
                        f"{e}; nothing was changed. Please report this: a projection folds journal.snapshot "
                        "records differently from the events they replace"
                    ) from None
                for g in blamed:
                    ok[g] = False
                veto(fold, ok)
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
        if index_epoch is not None:
            carry_index(journal, index_epoch, result.epoch)
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


def _save_caches(journal: Journal, fold: Fold, states: dict[str, State], epoch: int) -> None:
    """The guard folded the new journal up to the plan's end: keep that as the projection caches."""
    from projections.cache import save_cache

    manifest = journal.manifest()
    if manifest.epoch != epoch:
        return
    for projection in fold.projections:
        try:
            save_cache(journal.root, projection, states[projection.name], journal_id=manifest.journal_id,
                       epoch=epoch, seq=fold.upto)
            crash_point("cache_saved")
        except OSError as e:
            journal.log_error("cache_write_failed", f"cannot write the {projection.name} cache: {e}")
