"""Where the slowest contended appends spend their time (issue 14, goal 4: p99 <= 2 ms).

N processes (default 4) append distinct generated events (``bench/_gen.py``, a slice
each, as in ``bench/vs_sqlite.py``) to one journal at once through ``Journal.append``,
``durability=flush``. Each process times every append whole and, apart, the two parts
that can stretch it: the sanitiser (redaction and size limits, before the lock) and the
wait for the lock (the writer's ``sanitize`` and its lock's ``lock``, wrapped). It prints
p50/p99/p99.9 of each and, for the appends at or over the p99 of the whole, the share
of their time in each part. On a machine with fewer cores than writers, a long share in
the sanitiser (tens of µs of CPU) means the writer was preempted there, and a long lock
wait means the holder was.

Usage::

    python bench/append_tail.py                 # 4 x 1,000 appends
    python bench/append_tail.py --procs 8 --per-proc 500
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal import Journal  # noqa: E402
from journal_append import _pct, payloads  # noqa: E402

WARMUP = 20


def _child(argv: list[str]) -> int:
    root, source, index, per, start_at = Path(argv[0]), Path(argv[1]), int(argv[2]), int(argv[3]), float(argv[4])
    events = json.loads(source.read_text())[index * (WARMUP + per):(index + 1) * (WARMUP + per)]
    journal = Journal.open(root, durability="flush")
    writer = journal._writer
    clock = time.perf_counter
    sanitizing: list[float] = []
    waiting: list[float] = []
    sanitize, lock = writer.sanitize, writer._lock.lock

    def timed_sanitize(event: Any) -> Any:
        t0 = clock()
        out = sanitize(event)
        sanitizing.append(clock() - t0)
        return out

    def timed_lock(deadline: float | None) -> None:
        t0 = clock()
        lock(deadline)
        waiting.append(clock() - t0)

    writer.sanitize = timed_sanitize  # type: ignore[method-assign]
    writer._lock.lock = timed_lock  # type: ignore[method-assign]
    for type_, session, agent, data in events[:WARMUP]:
        journal.append(type_, data, session=session, agent=agent)
    sanitizing.clear()
    waiting.clear()
    while time.time() < start_at:
        time.sleep(0.0005)
    whole = []
    cpu0 = time.process_time()
    for type_, session, agent, data in events[WARMUP:]:
        t0 = clock()
        journal.append(type_, data, session=session, agent=agent)
        whole.append(clock() - t0)
    print(json.dumps({"whole": whole, "sanitize": sanitizing, "lock": waiting, "cpu": time.process_time() - cpu0}))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--per-proc", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the journal (default: a tmp dir)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="aj-append-tail-", dir=args.dir))
    try:
        source = tmp / "payloads.json"
        source.write_text(json.dumps(payloads(tmp, args.procs * (WARMUP + args.per_proc))))
        root = tmp / "journal"
        Journal.open(root, durability="flush")
        start_at = time.time() + 1.0 + 0.3 * args.procs
        children = [
            subprocess.Popen([sys.executable, __file__, "--child", str(root), str(source), str(i), str(args.per_proc),
                              repr(start_at)], stdout=subprocess.PIPE, text=True)
            for i in range(args.procs)
        ]
        results = [json.loads(c.communicate()[0]) for c in children]
        if any(c.returncode for c in children):
            raise SystemExit("a child process failed")
        if not Journal.open(root, create=False).verify().ok:
            raise SystemExit("the journal does not verify")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    parts = {name: [x for r in results for x in r[name]] for name in ("whole", "sanitize", "lock")}
    n = len(parts["whole"])
    if any(len(v) != n for v in parts.values()):
        raise SystemExit("one sanitiser call and one lock per append expected")
    print(f"{args.procs} processes x {args.per_proc} distinct events, durability flush, load {os.getloadavg()[0]:.1f}; "
          f"CPU {sum(r['cpu'] for r in results) / n * 1e6:.0f} µs per append")
    print(f"{'':10} {'p50 us':>8} {'p99 us':>8} {'p99.9 us':>9} {'max us':>8}")
    for name, values in parts.items():
        print(f"{name:10} {_pct(values, 0.5) * 1e6:8.0f} {_pct(values, 0.99) * 1e6:8.0f} "
              f"{_pct(values, 0.999) * 1e6:9.0f} {max(values) * 1e6:8.0f}")
    p99 = _pct(parts["whole"], 0.99)
    slow = [i for i, x in enumerate(parts["whole"]) if x >= p99]
    spent = sum(parts["whole"][i] for i in slow)
    shares = {name: sum(parts[name][i] for i in slow) / spent for name in ("sanitize", "lock")}
    print(f"appends at or over p99 ({len(slow)}): sanitiser {shares['sanitize']:.0%} of their time, "
          f"lock wait {shares['lock']:.0%}, the rest {1 - sum(shares.values()):.0%}")
    print(f"RESULT p99_ms={p99 * 1e3:.2f} slow_sanitize={shares['sanitize']:.2f} slow_lock={shares['lock']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
