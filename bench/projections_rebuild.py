"""Full rebuild of every projection over a big journal: events/s and peak memory.

Builds (or reuses, cached under --dir, shared with journal_replay.py) a realistic
journal with ``bench/_gen.py``, then runs, each in a fresh child process, median of
--runs:

* rebuild: ``projections.runner.load_views(journal, use_cache=False, save=False)``:
  read every event (tolerate mode, every CRC checked) decoding its payload view in
  the same pass (``Reader.chunks(decoder=...)``), fold it into sessions, agents,
  archive and resume requests;
* read only: ``for e in journal.read(): pass``, the floor the rebuild stands on;
* idle: a child that imports everything and opens the journal (peak RSS baseline).

Events/s are given for wall time and for the child's CPU time (the machine may be
busy with other work; CPU time is what one core spends). Target (issue 14, goal 6):
>= 500,000 events/s of CPU time; the line says PASS or FAIL.

Usage::

    python bench/projections_rebuild.py                    # 1,000,000 events (~1.2 GB)
    python bench/projections_rebuild.py --events 100000    # quick check
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal_replay import build  # noqa: E402  (the shared, cached journal builder)

TARGET = 500_000

_CHILD = r"""
import json, sys, time
root, what = sys.argv[1], sys.argv[2]
from journal import Journal
from projections.runner import load_views
journal = Journal.open(root, create=False)
t0, c0 = time.perf_counter(), time.process_time()
out = {}
if what == "rebuild":
    views = load_views(journal, use_cache=False, save=False)
    out["events"] = views.folded
    out["records"] = {name: len(state.records) for name, state in views.states.items()}
elif what == "read":
    out["events"] = sum(1 for _ in journal.read())
else:
    out["events"] = 0
out["wall"] = time.perf_counter() - t0
out["cpu"] = time.process_time() - c0
print(json.dumps(out))
"""
# The child's peak RSS, read by a small parent: a forked child starts with its parent's
# high-water mark, so measured from this (bigger) process every figure would be ours.
_PROBE = (
    "import json, resource, subprocess, sys\n"
    "out = json.loads(subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True).stdout)\n"
    "out['rss_mb'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(json.dumps(out))"
)


def child(root: Path, what: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, sys.executable, "-c", _CHILD, str(root), what],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {what} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/agent-journal-bench"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segment-mib", type=float, default=64)
    args = parser.parse_args(argv)

    root, info, how = build(args.dir, args.events, args.seed, args.segment_mib)
    mb = info["bytes"] / 1e6
    print(f"journal: {root} ({info['events']:,} events, {info['sessions']:,} sessions, {mb:,.0f} MB, "
          f"{info['bytes'] / info['events']:.0f} B/event; {how})")
    rebuilds, reads, idle = [], [], []
    for _ in range(args.runs):  # round robin: a burst of load on the machine hits each alike
        rebuilds.append(child(root, "rebuild"))
        reads.append(child(root, "read"))
        idle.append(child(root, "idle"))
    n = rebuilds[0]["events"]
    wall, cpu = median_of(rebuilds, "wall"), median_of(rebuilds, "cpu")
    rwall, rcpu = median_of(reads, "wall"), median_of(reads, "cpu")
    rss, rss_read, rss_idle = median_of(rebuilds, "rss_mb"), median_of(reads, "rss_mb"), median_of(idle, "rss_mb")

    print(f"\nmedian of {args.runs} runs, each in a fresh process; python {sys.version.split()[0]}")
    print(f"{'':26}{'wall s':>8}{'events/s (wall)':>17}{'cpu s':>8}{'events/s (cpu)':>16}{'MB/s (cpu)':>12}"
          f"{'peak RSS MB':>13}")
    print(f"{'rebuild, all projections':26}{wall:>8.2f}{n / wall:>17,.0f}{cpu:>8.2f}{n / cpu:>16,.0f}{mb / cpu:>12,.0f}"
          f"{rss:>13.1f}")
    print(f"{'read only (journal.read)':26}{rwall:>8.2f}{n / rwall:>17,.0f}{rcpu:>8.2f}{n / rcpu:>16,.0f}"
          f"{mb / rcpu:>12,.0f}{rss_read:>13.1f}")
    print(f"{'import + open only':26}{'':>8}{'':>17}{'':>8}{'':>16}{'':>12}{rss_idle:>13.1f}")
    fold_us = (cpu - rcpu) / n * 1e6
    print(f"\nfold (payload views + every projection) costs {fold_us:.2f} us/event of CPU on top of reading "
          f"({rcpu / n * 1e6:.2f} us/event); the rebuild is {cpu / rcpu:.2f}x a bare read")
    print(f"records: {rebuilds[0]['records']}")
    print(f"target >= {TARGET:,} events/s of CPU time: {'PASS' if n / cpu >= TARGET else 'FAIL'} ({n / cpu:,.0f}/s; "
          f"wall {n / wall:,.0f}/s); a bare read alone is {n / rcpu:,.0f}/s")
    print(f"RESULT rebuild_events_per_s={n / wall:.0f} rebuild_events_per_cpu_s={n / cpu:.0f} "
          f"read_events_per_cpu_s={n / rcpu:.0f} peak_rss_mb={rss:.1f} idle_rss_mb={rss_idle:.1f} events={n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
