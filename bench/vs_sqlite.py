"""Appending events: the journal against SQLite, side by side (issue 14, goal 4).

Both sides store the same realistic hook events (a ``bench/_gen.py`` journal, ~1.2 KB of
data each), one at a time, at comparable durability:

- ``fsync``: the journal's ``durability=fsync`` (``fdatasync`` after each append) against
  SQLite WAL with ``synchronous=FULL`` (the WAL is synced at each commit);
- ``flush``: the journal's ``durability=flush`` (written, not synced) against WAL with
  ``synchronous=NORMAL`` (synced only at checkpoints).

The journal side is the whole public append path, ``Journal.append``: redaction and
size limits (the sanitiser), encoding, the lock, finding the tail seq, one write, the
sync. It is also shown without redaction (events marked already sanitised, appended
with ``Journal.append_many``), because the sanitiser is most of an append's CPU.
The SQLite side is stdlib ``sqlite3`` in autocommit mode: one ``INSERT`` (= one
transaction) per event of (ts, type, session, agent, data as ``json.dumps`` text),
with a 10 s busy timeout; SQLite does no redaction.

No event repeats within a run, as in a day of real sessions: enough distinct events are
generated for every append of the largest run (``_gen`` sessions, each with its own ids),
and each of the 4 processes appends its own slice of them. What repeats is what repeats
in real sessions: a session's ids, its cwd and transcript path, tool and event names,
keys, and a PostToolUse's ``tool_input`` (its PreToolUse's, which a Write or Edit
response echoes, as Claude Code's payloads do); prompts, commands, file contents and tool
outputs are new strings (cut from ``_gen``'s pools of lines, so a short command such as
``git status --short`` may come back, as it does in real sessions). This matters for the
redactor, which remembers the short strings it found clean (`journal.privacy.redaction`):
cycling a few hundred events would let it skip most strings. The script prints the share
of string values a run has seen before.
Every run of every round uses the same events, SQLite's included; each journal run
starts with a new redactor (a new ``Journal``), as a new writer process does.

Each case runs in 1 process and in 4 processes at once (separate interpreters,
started before the clock and released together). Runs of the journal and SQLite are
interleaved, ``--rounds`` times, each on a fresh store; the table shows the median of
the rounds: appends/s (wall), CPU µs per append (process time), and per-append latency
p50/p99 (wall, each round's percentile, then the median). Ratios are journal/SQLite
appends per second; goals: ratio >= 1.0 everywhere and a contended p99 <= 2 ms.

Usage::

    python bench/vs_sqlite.py                    # ~2-3 minutes on a loaded 2-core machine
    python bench/vs_sqlite.py --rounds 1 --scale 0.3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal import Journal, NewEvent  # noqa: E402
from journal.storage.codec import now_ts  # noqa: E402
from journal.storage.writer import sanitized  # noqa: E402
from journal_append import _pct, payloads  # noqa: E402  (generated as bench/journal_append.py's)

Event = tuple[str, "str | None", "str | None", dict[str, Any]]

#: (journal durability, SQLite synchronous) pairs of comparable durability.
PAIRS = (("fsync", "FULL"), ("flush", "NORMAL"))
#: What runs: the journal with redaction (the public path), without it, and SQLite.
SYSTEMS = ("journal", "journal-raw", "sqlite")
P99_GOAL_MS = 2.0
#: Appends before the clock starts (distinct events too).
WARMUP = 20


class _Sqlite:
    def __init__(self, path: Path, synchronous: str) -> None:
        self.conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)  # autocommit
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, type TEXT NOT NULL,"
            " session TEXT, agent TEXT, data TEXT NOT NULL)"
        )

    def append(self, type_: str, data: Any, session: str | None, agent: str | None) -> None:
        self.conn.execute(
            "INSERT INTO events (ts, type, session, agent, data) VALUES (?, ?, ?, ?, ?)",
            (now_ts(), type_, session, agent, json.dumps(data, separators=(",", ":"), ensure_ascii=False)),
        )


def _appender(system: str, store: Path, durability: str, synchronous: str) -> Any:
    if system == "sqlite":
        return _Sqlite(store, synchronous).append
    journal = Journal.open(store, durability=durability)
    if system == "journal":
        return lambda t, d, s, a: journal.append(t, d, session=s, agent=a)
    return lambda t, d, s, a: journal.append_many([sanitized(NewEvent(t, d, s, a))])


def run(system: str, store: Path, events: list[Event], n: int, durability: str, synchronous: str,
        start_at: float | None = None) -> dict[str, Any]:
    """Append *n* events one by one; latencies (s), CPU seconds and wall start/end (time.time)."""
    append = _appender(system, store, durability, synchronous)
    if len(events) < WARMUP + n:
        raise SystemExit(f"{WARMUP + n} events needed, {len(events)} given")
    for type_, session, agent, data in events[:WARMUP]:  # warm up: create the store, imports
        append(type_, data, session, agent)
    if start_at is not None:
        while time.time() < start_at:
            time.sleep(0.0005)
    lat = []
    clock = time.perf_counter
    start, cpu0 = time.time(), time.process_time()
    for type_, session, agent, data in events[WARMUP:WARMUP + n]:  # each event once
        t0 = clock()
        append(type_, data, session, agent)
        lat.append(clock() - t0)
    return {"lat": lat, "cpu": time.process_time() - cpu0, "start": start, "end": time.time()}


def _child(argv: list[str]) -> int:
    system, store, n, durability, synchronous, start_at, source, index = argv
    per = WARMUP + int(n)
    events = json.loads(Path(source).read_text())[int(index) * per:(int(index) + 1) * per]  # this process's own
    print(json.dumps(run(system, Path(store), events, int(n), durability, synchronous, float(start_at))))
    return 0


def _repeats(events: list[Event]) -> str:
    """How many of a run's string values (of the redactor's minimum length or more; keys
    apart) came before in it, and how many of their characters."""
    from journal.privacy.redaction import MIN_CANDIDATE

    seen: set[str] = set()
    total = again = chars = chars_again = 0
    stack: list[Any] = [[e[1], e[2], e[0], e[3]] for e in events]
    while stack:
        node = stack.pop()
        for v in node.values() if isinstance(node, dict) else node:
            if isinstance(v, str):
                if len(v) >= MIN_CANDIDATE:
                    total += 1
                    chars += len(v)
                    if v in seen:
                        again += 1
                        chars_again += len(v)
                    seen.add(v)
            elif isinstance(v, (dict, list)):
                stack.append(v)
    return (f"string values of >= {MIN_CANDIDATE} characters in a 1-process flush run: {total:,}, "
            f"{again / total:.0%} seen before in the run (ids, cwd, paths, names), "
            f"{chars_again / chars:.0%} of their characters")


def many(system: str, store: Path, procs: int, n: int, durability: str, synchronous: str,
         source: Path) -> dict[str, Any]:
    """*procs* interpreters append *n* events each at once."""
    if system == "sqlite":
        _Sqlite(store, synchronous).conn.close()
    else:
        Journal.open(store, durability=durability)
    start_at = time.time() + 1.0 + 0.3 * procs  # time for every interpreter to start and import
    children = [
        subprocess.Popen([sys.executable, __file__, "--child", system, str(store), str(n), durability, synchronous,
                          repr(start_at), str(source), str(i)], stdout=subprocess.PIPE, text=True)
        for i in range(procs)
    ]
    results = [json.loads(c.communicate()[0]) for c in children]
    if any(c.returncode for c in children):
        raise SystemExit("a child process failed")
    start = min(r["start"] for r in results)
    wall = max(r["end"] for r in results) - start
    return {"lat": [x for r in results for x in r["lat"]], "cpu": sum(r["cpu"] for r in results),
            "wall": wall, "n": n * procs}


def _count(system: str, store: Path) -> int:
    if system == "sqlite":
        conn = sqlite3.connect(store)
        try:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            conn.close()
    report = Journal.open(store, create=False).verify()
    if not report.ok:
        raise SystemExit(f"the journal at {store} does not verify")
    return int(report.events)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of each case (median shown)")
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the appends per run (fsync 600 / flush 3,000; x4 procs: 250 / 1,000 each)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the stores (default: a tmp dir)")
    args = parser.parse_args(argv)
    counts = {"fsync": (int(600 * args.scale), int(250 * args.scale)),
              "flush": (int(3000 * args.scale), int(1000 * args.scale))}

    tmp = Path(tempfile.mkdtemp(prefix="aj-vs-sqlite-", dir=args.dir))
    try:
        needed = max(max(WARMUP + one, args.procs * (WARMUP + each)) for one, each in counts.values())
        events = payloads(tmp, needed)
        (tmp / "payloads.json").write_text(json.dumps(events))
        avg = statistics.mean(len(json.dumps(e[3], separators=(",", ":"))) for e in events)
        sessions = len({e[1] for e in events})
        print(f"payload mix: {len(events)} distinct events of {sessions} generated sessions, avg data {avg:,.0f} B; "
              f"{args.rounds} interleaved round(s), medians shown")
        print(_repeats(events[:WARMUP + counts["flush"][0]]))
        print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.1f}, stores in {tmp}")
        results: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        k = 0
        for r in range(args.rounds):
            for durability, synchronous in PAIRS:
                for mode in ("1", "many"):
                    order = SYSTEMS[r % 3:] + SYSTEMS[:r % 3]  # rotate who goes first
                    for system in order:
                        k += 1
                        store = tmp / f"{k}-{system}-{durability}-{mode}"
                        if system == "sqlite":
                            store.mkdir()
                            store = store / "events.db"
                        if mode == "1":
                            n = counts[durability][0]
                            res = run(system, store, events, n, durability, synchronous)
                            res["wall"], res["n"] = res["end"] - res["start"], n
                            expect = n + 20
                        else:
                            res = many(system, store, args.procs, counts[durability][1], durability, synchronous,
                                       tmp / "payloads.json")
                            expect = res["n"] + 20 * args.procs
                        if _count(system, store) != expect:
                            raise SystemExit(f"{system} at {store} holds the wrong number of events")
                        results.setdefault((durability, mode, system), []).append(res)
                        shutil.rmtree(store.parent if system == "sqlite" else store)
        return report(results, args.procs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(results: dict[tuple[str, str, str], list[dict[str, Any]]], procs: int) -> int:
    def med(rows: list[dict[str, Any]], f: Any) -> float:
        return statistics.median(f(r) for r in rows)

    print(f"\n{'case':44} {'appends/s':>10} {'CPU us':>8} {'p50 us':>8} {'p99 us':>8}   runs (appends/s)")
    rates: dict[tuple[str, str, str], float] = {}
    p99s: dict[tuple[str, str, str], float] = {}
    for (durability, mode, system), rows in results.items():
        synchronous = dict(PAIRS)[durability]
        who = {"journal": f"journal {durability}", "journal-raw": f"journal {durability}, no redaction",
               "sqlite": f"sqlite WAL {synchronous}"}[system]
        label = f"{'1 process' if mode == '1' else f'{procs} processes'}: {who}"
        rate = med(rows, lambda r: r["n"] / r["wall"])
        rates[(durability, mode, system)] = rate
        p99s[(durability, mode, system)] = med(rows, lambda r: _pct(r["lat"], 0.99))
        print(f"{label:44} {rate:>10,.0f} {med(rows, lambda r: r['cpu'] / r['n']) * 1e6:>8.0f} "
              f"{med(rows, lambda r: statistics.median(r['lat'])) * 1e6:>8.0f} "
              f"{p99s[(durability, mode, system)] * 1e6:>8.0f}   "
              + " ".join(f"{r['n'] / r['wall']:,.0f}" for r in rows))
    print()
    failed = 0
    summary = []
    for durability, synchronous in PAIRS:
        for mode in ("1", "many"):
            for system in ("journal", "journal-raw"):
                if (durability, mode, system) not in rates:
                    continue
                ratio = rates[(durability, mode, system)] / rates[(durability, mode, "sqlite")]
                ok = ratio >= 1.0
                failed += not ok and system == "journal"
                what = "journal" if system == "journal" else "journal without redaction"
                where = "1 process" if mode == "1" else f"{procs} processes"
                print(f"{'PASS' if ok else 'FAIL'}{'' if system == 'journal' else ' (info)'}  {what} / sqlite, "
                      f"{durability} vs {synchronous}, {where}: {ratio:.2f}x (goal >= 1.0)")
                if system == "journal":
                    summary.append(f"ratio_{durability}_{'1p' if mode == '1' else f'{procs}p'}={ratio:.2f}")
        for system in ("journal", "journal-raw"):
            if (durability, "many", system) not in p99s:
                continue
            p99 = p99s[(durability, "many", system)] * 1e3
            ok = p99 <= P99_GOAL_MS
            failed += not ok and system == "journal"
            print(f"{'PASS' if ok else 'FAIL'}{'' if system == 'journal' else ' (info)'}  "
                  f"{'journal' if system == 'journal' else 'journal without redaction'} p99 with {procs} writers, "
                  f"{durability}: {p99:.2f} ms "
                  f"(goal <= {P99_GOAL_MS:g} ms; sqlite {p99s[(durability, 'many', 'sqlite')] * 1e3:.2f} ms)")
            if system == "journal":
                summary.append(f"p99_{durability}_{procs}p_ms={p99:.2f}")
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    print("RESULT " + " ".join(summary) + f" failed={failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
