"""Append throughput and latency through `Journal.append`, one process and several.

Payloads are realistic hook events (a mix cut from a ``bench/_gen.py`` journal,
~1.2 KB on average), appended one at a time with the whole locked path: encode,
lock, find the tail seq, write, ``fdatasync`` (durability ``fsync``) or not
(``flush``). Prints per-append latency medians/p99 and rates, then N processes
appending to one journal at once (each a separate interpreter, started before the
clock and released together). A waiter retries a few times after ``sched_yield`` (under
``flush``), then blocks in ``flock`` until the release (`journal.storage.locking`), so
the waits show in p99 and the mean, not as oversleeping.
``bench/vs_sqlite.py`` puts these figures next to SQLite's.

Usage::

    python bench/journal_append.py                  # 3,000 fsync + 10,000 flush appends, 4 x 500 contended
    python bench/journal_append.py --procs 8 --per-proc 250
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal import Journal  # noqa: E402


def payloads(tmp: Path, n: int = 400) -> list[tuple[str, str | None, str | None, dict[str, Any]]]:
    """(type, session, agent, data) of *n* realistic events, taken from a generated journal."""
    import _gen

    src = tmp / "payload-source"
    _gen.generate(src, n, sessions=max(1, n // 150), seed=7)
    out = [(e.type, e.session, e.agent, e.payload()) for e in Journal.open(src, create=False).read()]
    shutil.rmtree(src)
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_appends(root: Path, events: list[tuple[str, str | None, str | None, dict[str, Any]]], n: int,
                durability: str, start_at: float | None = None) -> list[float]:
    """Append *n* events one by one; return each append's latency in seconds."""
    journal = Journal.open(root, durability=durability)
    lat = []
    clock = time.perf_counter
    if start_at is not None:
        while time.time() < start_at:
            time.sleep(0.0005)
    for i in range(n):
        type_, session, agent, data = events[i % len(events)]
        t0 = clock()
        journal.append(type_, data, session=session, agent=agent)
        lat.append(clock() - t0)
    return lat


def contention(root: Path, procs: int, per_proc: int, durability: str) -> tuple[float, list[float], dict[str, Any]]:
    """*procs* interpreters append *per_proc* events each at once; (wall s, latencies, verify)."""
    start_at = time.time() + 1.5 + 0.15 * procs  # time for every interpreter to start and import
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", str(root), str(per_proc), durability, repr(start_at)],
            stdout=subprocess.PIPE, text=True,
        )
        for _ in range(procs)
    ]
    results = [json.loads(c.communicate()[0]) for c in children]
    if any(c.returncode for c in children):
        raise SystemExit("a child process failed")
    wall = max(r["end"] for r in results) - start_at
    lat = [x for r in results for x in r["lat"]]
    report = Journal.open(root, create=False).verify()
    return wall, lat, {"ok": report.ok, "events": report.events}


def _child(argv: list[str]) -> int:
    root, n, durability, start_at = Path(argv[0]), int(argv[1]), argv[2], float(argv[3])
    events = json.loads((root.parent / "payloads.json").read_text())
    lat = run_appends(root, events, n, durability, start_at)
    print(json.dumps({"lat": lat, "end": time.time()}))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fsync-n", type=int, default=3000, help="appends with durability=fsync")
    parser.add_argument("--flush-n", type=int, default=10000, help="appends with durability=flush")
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--per-proc", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the journals (default: a tmp dir)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="aj-append-", dir=args.dir))
    try:
        events = payloads(tmp)
        (tmp / "payloads.json").write_text(json.dumps(events))
        avg = statistics.mean(len(json.dumps(e[3], separators=(",", ":"))) for e in events)
        print(f"payload mix: {len(events)} events cut from a generated journal, avg data {avg:,.0f} B")
        print(f"{'':34} {'appends':>8} {'p50 us':>8} {'p99 us':>8} {'mean us':>8} {'appends/s':>10}")
        rows = {}
        for durability, n in (("fsync", args.fsync_n), ("flush", args.flush_n)):
            root = tmp / f"one-{durability}"
            run_appends(root, events, 50, durability)  # warm up: create the journal, imports, caches
            t0 = time.perf_counter()
            lat = run_appends(root, events, n, durability)
            wall = time.perf_counter() - t0
            rows[durability] = lat
            print(f"{'1 process, durability=' + durability:34} {n:>8,} {statistics.median(lat) * 1e6:>8.0f} "
                  f"{_pct(lat, 0.99) * 1e6:>8.0f} {statistics.mean(lat) * 1e6:>8.0f} {n / wall:>10,.0f}")
        contended = {}
        for durability in ("fsync", "flush"):
            root = tmp / f"many-{durability}"
            Journal.open(root)
            wall, lat, report = contention(root, args.procs, args.per_proc, durability)
            contended[durability] = lat
            total = args.procs * args.per_proc
            label = f"{args.procs} procs x {args.per_proc}, {durability}"
            print(f"{label:34} {total:>8,} {statistics.median(lat) * 1e6:>8.0f} {_pct(lat, 0.99) * 1e6:>8.0f} "
                  f"{statistics.mean(lat) * 1e6:>8.0f} {total / wall:>10,.0f}   wall {wall:.2f} s, verify ok={report['ok']} events={report['events']:,}")
        print(
            f"RESULT append_fsync_p50_us={statistics.median(rows['fsync']) * 1e6:.0f} "
            f"append_flush_p50_us={statistics.median(rows['flush']) * 1e6:.0f} "
            f"contended_fsync_p99_us={_pct(contended['fsync'], 0.99) * 1e6:.0f}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
