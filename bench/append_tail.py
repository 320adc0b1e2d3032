"""Where the slowest contended appends spend their time (issue 14, goal 4: p99 <= 2 ms).

N processes (default 4) append distinct generated events (``bench/_gen.py``, a slice
each, as in ``bench/vs_sqlite.py``) to one journal at once through ``Journal.append``,
``durability=flush`` (``--durability fsync``: synced). Each process times every append
whole and, apart, the parts that can stretch it: the sanitiser (redaction and size
limits, before the lock), the wait for the lock (the writer's ``sanitize`` and its
lock's ``lock``, wrapped) and, under ``fsync``, the sync after the lock is released
(the writer's ``_sync``). It prints p50/p99/p99.9 of each, the ``fdatasync`` calls per
append and, for the appends at or over the p99 of the whole, the share of their time in
each part. On a machine with fewer cores than writers, a long share in the sanitiser
(tens of µs of CPU) means the writer was preempted there, and a long lock wait means
the holder was.

``--group-commit`` asks whether a group commit would lower the ``fsync`` tail: it runs
the writer as it is (each writer ``fdatasync``s after releasing the lock, so the syncs
of concurrent writers overlap in the kernel) interleaved with a trial leader/follower
group commit (`_group_sync`, defined here and not in the library: it measured slower),
``--rounds`` times each, each on a fresh journal, and prints the medians side by side.

Usage::

    python bench/append_tail.py                 # 4 x 1,000 appends
    python bench/append_tail.py --procs 8 --per-proc 500
    python bench/append_tail.py --durability fsync --per-proc 250
    python bench/append_tail.py --group-commit --rounds 5      # fsync, 4 x 250, own vs group
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import journal.storage.writer as writer_module  # noqa: E402
from journal import Journal  # noqa: E402
from journal.storage.locking import FileLock, deadline  # noqa: E402
from journal_append import _pct, payloads  # noqa: E402

WARMUP = 20
#: The last completed group sync, as the trial keeps it in its lock file: when it
#: started (``time.monotonic_ns``) and the device and inode of the file it synced.
_SYNCED = struct.Struct("<QQQ")


def _group_sync(writer: Any, lock: FileLock) -> Callable[[tuple[int, str, int, int], list[int]], None]:
    """A trial group commit in place of the writer's ``_sync`` (leader/follower).

    A writer notes when its write completed (``time.monotonic_ns``: one clock for every
    process), then takes a second lock (*lock*, the sync lock) and reads the last
    completed sync from it. If that sync started after our write completed, on our
    segment's inode (our open descriptor keeps that inode alive, so equal numbers are
    the same file), our bytes were in the page cache when it called ``fdatasync``:
    they are durable, return. Otherwise lead: note the time, sync (the writer's own
    ``_sync``, failure handling and all), publish. No offsets are compared, so a
    truncated or replaced segment cannot cover anyone wrongly; a leader killed
    mid-sync publishes nothing and its lock dies with it, so the next writer leads; a
    writer that cannot get the sync lock by the lock deadline syncs on its own. (The
    monotonic clock restarts at boot: a state kept across reboots, unlike this trial's,
    would also have to name its boot, e.g. live in ``/dev/shm`` or carry the boot id.)
    """
    own = writer._sync

    def sync(pending: tuple[int, str, int, int], seqs: list[int]) -> None:
        written = time.monotonic_ns()
        st = os.fstat(pending[0])
        try:
            lock.lock(deadline(writer.config.lock_timeout))
        except Exception:
            own(pending, seqs)
            return
        try:
            raw = os.pread(lock.fileno(), _SYNCED.size, 0)
            if len(raw) == _SYNCED.size:
                started, dev, ino = _SYNCED.unpack(raw)
                if started > written and (dev, ino) == (st.st_dev, st.st_ino):
                    os.close(pending[0])
                    return
            started = time.monotonic_ns()
            own(pending, seqs)
            os.pwrite(lock.fileno(), _SYNCED.pack(started, st.st_dev, st.st_ino), 0)
        finally:
            lock.unlock()

    return sync


def _child(argv: list[str]) -> int:
    root, source, index, per, start_at = Path(argv[0]), Path(argv[1]), int(argv[2]), int(argv[3]), float(argv[4])
    durability, sync_mode, sync_lock = argv[5], argv[6], argv[7]
    events = json.loads(source.read_text())[index * (WARMUP + per):(index + 1) * (WARMUP + per)]
    journal = Journal.open(root, durability=durability)
    writer: Any = journal._writer  # wrapped below, attribute by attribute
    if sync_mode == "group":
        writer._sync = _group_sync(writer, FileLock(sync_lock))
    clock = time.perf_counter
    sanitizing: list[float] = []
    waiting: list[float] = []
    syncing: list[float] = []
    syncs = [0]
    sanitize, lock, sync = writer.sanitize, writer._lock.lock, writer._sync
    fdatasync = writer_module._fdatasync  # type: ignore[attr-defined]

    def timed_sanitize(event: Any) -> Any:
        t0 = clock()
        out = sanitize(event)
        sanitizing.append(clock() - t0)
        return out

    def timed_lock(deadline: float | None) -> None:
        t0 = clock()
        lock(deadline)
        waiting.append(clock() - t0)

    def timed_sync(pending: tuple[int, str, int, int], seqs: list[int]) -> None:
        t0 = clock()
        sync(pending, seqs)
        syncing.append(clock() - t0)

    def counted_fdatasync(fd: int) -> None:
        syncs[0] += 1
        fdatasync(fd)

    writer.sanitize = timed_sanitize
    writer._lock.lock = timed_lock
    writer._sync = timed_sync
    writer_module._fdatasync = counted_fdatasync  # type: ignore[attr-defined]
    for type_, session, agent, data in events[:WARMUP]:
        journal.append(type_, data, session=session, agent=agent)
    sanitizing.clear()
    waiting.clear()
    syncing.clear()
    syncs[0] = 0
    while time.time() < start_at:
        time.sleep(0.0005)
    whole = []
    start, cpu0 = time.time(), time.process_time()
    for type_, session, agent, data in events[WARMUP:]:
        t0 = clock()
        journal.append(type_, data, session=session, agent=agent)
        whole.append(clock() - t0)
    print(json.dumps({"whole": whole, "sanitize": sanitizing, "lock": waiting, "sync": syncing, "syncs": syncs[0],
                      "cpu": time.process_time() - cpu0, "start": start, "end": time.time()}))
    return 0


def _run(tmp: Path, source: Path, args: argparse.Namespace, durability: str, sync_mode: str,
         k: str) -> dict[str, Any]:
    """One run: *args.procs* writers on a fresh journal; the parts of all their appends."""
    root = tmp / f"journal-{k}"
    Journal.open(root, durability=durability)
    start_at = time.time() + 1.0 + 0.3 * args.procs
    children = [
        subprocess.Popen([sys.executable, __file__, "--child", str(root), str(source), str(i), str(args.per_proc),
                          repr(start_at), durability, sync_mode, str(tmp / f"sync-{k}.lock")],
                         stdout=subprocess.PIPE, text=True)
        for i in range(args.procs)
    ]
    results = [json.loads(c.communicate()[0]) for c in children]
    if any(c.returncode for c in children):
        raise SystemExit("a child process failed")
    report = Journal.open(root, create=False).verify()
    if not report.ok or report.events != args.procs * (WARMUP + args.per_proc):
        raise SystemExit("the journal does not verify, or holds the wrong number of events")
    shutil.rmtree(root)
    names = ("whole", "sanitize", "lock") + (("sync",) if durability == "fsync" else ())
    parts = {name: [x for r in results for x in r[name]] for name in names}
    n = len(parts["whole"])
    if any(len(v) != n for v in parts.values()):
        raise SystemExit("one sanitiser call, one lock and (fsync) one sync per append expected")
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    return {"parts": parts, "n": n, "cpu": sum(r["cpu"] for r in results) / n,
            "syncs": sum(r["syncs"] for r in results) / n, "rate": n / wall}


def _tail(run: dict[str, Any]) -> dict[str, float]:
    """The share of each part in the time of the appends at or over the p99 of the whole."""
    parts = run["parts"]
    p99 = _pct(parts["whole"], 0.99)
    slow = [i for i, x in enumerate(parts["whole"]) if x >= p99]
    spent = sum(parts["whole"][i] for i in slow)
    return {name: sum(parts[name][i] for i in slow) / spent for name in parts if name != "whole"}


def _one(run: dict[str, Any], args: argparse.Namespace) -> None:
    parts = run["parts"]
    print(f"{args.procs} processes x {args.per_proc} distinct events, durability {args.durability}, "
          f"load {os.getloadavg()[0]:.1f}; CPU {run['cpu'] * 1e6:.0f} µs per append"
          + (f", {run['syncs']:.2f} fdatasync per append" if args.durability == "fsync" else ""))
    print(f"{'':10} {'p50 us':>8} {'p99 us':>8} {'p99.9 us':>9} {'max us':>8}")
    for name, values in parts.items():
        print(f"{name:10} {_pct(values, 0.5) * 1e6:8.0f} {_pct(values, 0.99) * 1e6:8.0f} "
              f"{_pct(values, 0.999) * 1e6:9.0f} {max(values) * 1e6:8.0f}")
    rest = [w - s for w, s in zip(parts["whole"], parts["sanitize"], strict=True)]
    print(f"{'whole - sanitiser':17} p50 {_pct(rest, 0.5) * 1e6:.0f} us, p99 {_pct(rest, 0.99) * 1e6:.0f} us "
          "(all of the append but the sanitiser: lock, tail, write" + (", sync)" if "sync" in parts else ")"))
    shares = _tail(run)
    slow = sum(1 for x in parts["whole"] if x >= _pct(parts["whole"], 0.99))
    print(f"appends at or over p99 ({slow}): "
          + ", ".join(f"{'lock wait' if k == 'lock' else 'sanitiser' if k == 'sanitize' else k} {v:.0%}"
                      for k, v in shares.items())
          + f" of their time, the rest {1 - sum(shares.values()):.0%}")
    print(f"RESULT p99_ms={_pct(parts['whole'], 0.99) * 1e3:.2f} p99_without_sanitizer_ms={_pct(rest, 0.99) * 1e3:.2f} "
          + " ".join(f"slow_{k}={v:.2f}" for k, v in shares.items())
          + (f" fdatasync_per_append={run['syncs']:.2f}" if args.durability == "fsync" else ""))


def _compare(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    def med(mode: str, f: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(f(r) for r in runs[mode])

    print(f"\n{args.procs} processes x {args.per_proc} distinct events, durability fsync, {args.rounds} interleaved "
          f"round(s), medians; load at the end {os.getloadavg()[0]:.1f}")
    print(f"{'sync':6} {'appends/s':>10} {'CPU us':>7} {'p50 us':>7} {'p99 us':>7} {'sync p50':>9} {'sync p99':>9} "
          f"{'fdatasync':>10}   runs: p99 ms")
    for mode in runs:
        print(f"{mode:6} {med(mode, lambda r: r['rate']):>10,.0f} {med(mode, lambda r: r['cpu']) * 1e6:>7.0f} "
              f"{med(mode, lambda r: _pct(r['parts']['whole'], 0.5)) * 1e6:>7.0f} "
              f"{med(mode, lambda r: _pct(r['parts']['whole'], 0.99)) * 1e6:>7.0f} "
              f"{med(mode, lambda r: _pct(r['parts']['sync'], 0.5)) * 1e6:>9.0f} "
              f"{med(mode, lambda r: _pct(r['parts']['sync'], 0.99)) * 1e6:>9.0f} "
              f"{med(mode, lambda r: r['syncs']):>10.2f}   "
              + " ".join(f"{_pct(r['parts']['whole'], 0.99) * 1e3:.2f}" for r in runs[mode]))
    p99 = {mode: med(mode, lambda r: _pct(r["parts"]["whole"], 0.99)) for mode in runs}
    rate = {mode: med(mode, lambda r: r["rate"]) for mode in runs}
    cpu = {mode: med(mode, lambda r: r["cpu"]) for mode in runs}
    pays = p99["group"] < p99["own"] and rate["group"] >= rate["own"]
    print(f"group commit / own sync: p99 {p99['group'] / p99['own']:.2f}x, appends/s {rate['group'] / rate['own']:.2f}x, "
          f"CPU {cpu['group'] / cpu['own']:.2f}x: {'it pays' if pays else 'it does not pay'}")
    print(f"RESULT own_p99_ms={p99['own'] * 1e3:.2f} group_p99_ms={p99['group'] * 1e3:.2f} "
          f"p99_ratio={p99['group'] / p99['own']:.2f} rate_ratio={rate['group'] / rate['own']:.2f} "
          f"cpu_ratio={cpu['group'] / cpu['own']:.2f} pays={int(pays)}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--per-proc", type=int, default=None, help="appends per process (default 1,000; 250 "
                        "with --group-commit)")
    parser.add_argument("--durability", choices=("flush", "fsync"), default="flush")
    parser.add_argument("--group-commit", action="store_true",
                        help="fsync: the writer's own sync against a trial group commit, interleaved")
    parser.add_argument("--rounds", type=int, default=3, help="with --group-commit: runs of each (median shown)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the journal (default: a tmp dir)")
    args = parser.parse_args(argv)
    if args.group_commit:
        args.durability = "fsync"
    if args.per_proc is None:
        args.per_proc = 250 if args.group_commit else 1000
    tmp = Path(tempfile.mkdtemp(prefix="aj-append-tail-", dir=args.dir))
    try:
        source = tmp / "payloads.json"
        source.write_text(json.dumps(payloads(tmp, args.procs * (WARMUP + args.per_proc))))
        if not args.group_commit:
            _one(_run(tmp, source, args, args.durability, "own", "0"), args)
            return 0
        runs: dict[str, list[dict[str, Any]]] = {"own": [], "group": []}
        for k in range(args.rounds):
            for mode in (("own", "group") if k % 2 == 0 else ("group", "own")):
                run = _run(tmp, source, args, "fsync", mode, f"{k}-{mode}")
                runs[mode].append(run)
                print(f"round {k + 1} {mode:5}: p99 {_pct(run['parts']['whole'], 0.99) * 1e3:.2f} ms, "
                      f"{run['rate']:,.0f} appends/s, {run['syncs']:.2f} fdatasync per append, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        _compare(runs, args)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
