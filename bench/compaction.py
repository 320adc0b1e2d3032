"""Compaction of a big journal: wall time, bytes before and after, full replay before and after.

Builds (or reuses, cached under --dir, shared with ``bench/journal_replay.py``) a
realistic journal with ``bench/_gen.py`` (default 1,000,000 events, ~1.2 GB, 64 MiB
segments; 90% of the sessions end, the others stop mid-way like a crashed Claude
Code), copies it, and measures on the copy:

* full replay before: every projection folded from the log (no cache);
* compaction: ``agent-journal compact --older-than 7d --json`` in a child process
  (wall time and peak RSS of the whole process), on a journal whose events are all
  older than the horizon (January 2026). Two scenarios:

  - ``kept``: the processes of the sessions that never ended count as alive, so those
    sessions stay raw: only the ended sessions (90% of the sessions) are compacted;
  - ``crashed``: those processes are gone (the usual case), so unended sessions that a
    later session of their project superseded are compacted too;

* full replay after, a plain read of every event after, ``verify`` after, and the
  timeline of a compacted session (read back from the archive);
* that every projection folds to the same state after compaction as before.

Usage::

    python bench/compaction.py                     # 1,000,000 events
    python bench/compaction.py --events 100000     # quick check
    python bench/compaction.py --scenario kept     # one scenario only
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal_replay import build  # noqa: E402

from journal import Journal  # noqa: E402
from projections.runner import PROJECTIONS, load_views  # noqa: E402

_MIB = 1024 * 1024

#: Runs the compaction like the CLI does, with a process probe chosen by the scenario.
_CHILD = r"""
import json, resource, sys, time
from journal import Journal
from projections.compaction.compact import compact
root, scenario = sys.argv[1], sys.argv[2]
probe = (lambda pid: "") if scenario == "kept" else (lambda pid: None)  # "": alive, start unknown
t0 = time.perf_counter()
report = compact(Journal.open(root, create=False), older_than="7d", probe=probe)
out = report.to_dict()
out["wall"] = time.perf_counter() - t0
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out.pop("sessions_compacted")
print(json.dumps(out))
"""


def _replay(root: Path) -> tuple[float, dict[str, Any]]:
    """Seconds for a full fold of every projection from the log, and a fingerprint of the result."""
    import msgspec

    t0 = time.perf_counter()
    views = load_views(Journal.open(root, create=False), use_cache=False, save=False)
    took = time.perf_counter() - t0
    enc = msgspec.msgpack.Encoder()
    fingerprint = {}
    for p in PROJECTIONS:
        state = views.states[p.name]
        fingerprint[p.name] = (
            [(k, enc.encode(v)) for k, v in state.records.records()],
            [(f, enc.encode(getattr(state.meta, f))) for f in state.meta.__struct_fields__],
        )
    return took, fingerprint


def _read_all(root: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = sum(1 for _ in Journal.open(root, create=False).read())
    return time.perf_counter() - t0, n


def _live_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "segments").glob("*.jsonl"))


def scenario(source: Path, work: Path, name: str, before: tuple[float, dict[str, Any]]) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    subprocess.run(["sync"], check=False)
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(work), name], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"compaction failed:\n{proc.stderr}")
    report = json.loads(proc.stdout)
    after_replay, fingerprint = _replay(work)
    read_after, events_after = _read_all(work)
    journal = Journal.open(work, create=False)
    t0 = time.perf_counter()
    verdict = journal.verify()
    verify_s = time.perf_counter() - t0
    # The timeline of one compacted session, read back from the archive.
    from projections.read.liveness import Liveness
    from projections.read.queries import list_sessions
    from projections.read.timeline import timeline

    views = load_views(journal)
    rows = [r for r in list_sessions(views, Liveness(), include_archived=True) if r["status"] == "ended"]
    rec = views.sessions.records.record(rows[len(rows) // 2]["id"])
    t0 = time.perf_counter()
    entries = timeline(journal, rec)
    timeline_s = time.perf_counter() - t0
    return {
        "scenario": name,
        "compaction_wall_s": round(report["wall"], 1),
        "compaction_phases_s": report["phases"],
        "peak_rss_mib": round(report["peak_rss_mib"]),
        "sessions_compacted": report["sessions"],
        "events_removed": report["events_removed"],
        "snapshot_records": report["snapshots"],
        "kept_back": report["kept_back"],
        "bytes_before": report["bytes_before"],
        "bytes_after": report["bytes_after"],
        "live_share": round(report["bytes_after"] / report["bytes_before"], 4),
        "archive_bytes": report["archive_bytes"],
        "replay_before_s": round(before[0], 2),
        "replay_after_s": round(after_replay, 2),
        "read_after_s": round(read_after, 2),
        "events_after": events_after,
        "verify_after_s": round(verify_s, 1),
        "verify_ok": verdict.ok,
        "same_projections": fingerprint == before[1],
        "timeline_from_archive_ms": round(timeline_s * 1000, 1),
        "timeline_events": len(entries),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "agent-journal-bench",
                        help="cache directory for generated journals (reused across runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segment-mib", type=float, default=64)
    parser.add_argument("--scenario", choices=("kept", "crashed", "both"), default="both")
    args = parser.parse_args(argv)
    source, info, how = build(args.dir, args.events, args.seed, args.segment_mib)
    print(f"journal: {info['events']:,} events, {_live_bytes(source) / _MIB:,.0f} MiB, "
          f"{info['sessions']:,} sessions ({info['ended_sessions']:,} ended), {how}", file=sys.stderr)
    before = _replay(source)
    read_before, _ = _read_all(source)
    print(f"full replay before: {before[0]:.2f} s (read only: {read_before:.2f} s)", file=sys.stderr)
    names = ("kept", "crashed") if args.scenario == "both" else (args.scenario,)
    results = []
    for name in names:
        result = scenario(source, args.dir / f"compacted-{args.events}-{name}", name, before)
        result["read_before_s"] = round(read_before, 2)
        results.append(result)
        print(json.dumps(result), file=sys.stderr)
        shutil.rmtree(args.dir / f"compacted-{args.events}-{name}", ignore_errors=True)
    print(json.dumps({"events": info["events"], "results": results}, indent=1))
    return 0 if all(r["verify_ok"] and r["same_projections"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
