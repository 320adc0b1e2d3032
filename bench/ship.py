"""Shipping into a local PostgreSQL: events per second over a big journal, and the cost of an idle ship.

Builds (or reuses, cached under --dir, shared with ``bench/journal_replay.py``) a
realistic journal with ``bench/_gen.py`` (default 1,000,000 events, ~1.2 GB, 64 MiB
segments), starts a throw-away PostgreSQL server from the machine's binaries
(``bench/_pg.py``: durable settings, ``fsync`` on, commits synchronous, as a team's
server would run; only the WAL size is raised so that no checkpoint storm lands in
the middle), and measures:

* a full ship of every event into the empty database (``journal.shipping.replicate.ship`` with the
  views migration, as ``agent-journal ship`` runs it): wall time, and the CPU time of
  the shipping process and of the whole server (every PostgreSQL process, the WAL
  writer and checkpointer included). The rate judged against the target is that of the
  slower side, events per CPU second of the client or of the server: the two run at
  once (the next batch is read and encoded in a thread while the server takes the
  current one), and on this shared 2-core machine wall time swings with the other work
  on it, CPU time much less. Wall time is printed too; then row count and checksum
  against the journal;
* the cost of a ship with nothing pending (what SessionEnd's automatic run does most
  of the time): the library call, median of 50, and the whole process, wall and CPU
  medians of ``--runs`` (interpreter start included), typed (``agent-journal ship --to``)
  and as SessionEnd starts it (``ship --auto``, the URL from the environment), each run
  next to a bare ``python -c pass`` for scale.

Targets: >= 50,000 events/s; an idle ship <= 50 ms, the library call and the whole
process (its CPU median: wall time on this shared machine is mostly waiting for a core,
so it is printed beside a bare start's for scale). Prints PASS/FAIL per target.

Usage::

    python bench/ship.py                    # 1,000,000 events
    python bench/ship.py --events 100000    # quick check
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _pg import start_server  # noqa: E402
from journal_replay import build  # noqa: E402

from journal import Journal  # noqa: E402
from journal.shipping.state import SHIP_FILE, SHIP_LOCK  # noqa: E402
from journal.shipping.replicate import ship  # noqa: E402
from projections.read.warehouse import LATE_TYPES, VIEWS_MIGRATION  # noqa: E402

SETTINGS = "shared_buffers = 512MB\nmax_wal_size = 16GB\ncheckpoint_timeout = 30min\nwal_buffers = 64MB"
RATE_TARGET = 50_000
IDLE_TARGET_MS = 50.0


def _checksum(journal: Journal) -> tuple[int, str]:
    jid = journal.manifest().journal_id
    h = hashlib.md5()
    n = 0
    for e in journal.read(mode="strict"):
        h.update(f"{jid}:{e.seq}:{e.crc},".encode())
        n += 1
    return n, h.hexdigest()


def _db_checksum(dsn: str, journal_id: str) -> tuple[int, str]:
    import psycopg

    h = hashlib.md5()
    n = 0
    with psycopg.connect(dsn) as conn:
        with conn.cursor(name="rows") as cur:  # server-side: a million rows never sit in memory at once
            cur.itersize = 50_000
            cur.execute("SELECT seq, crc FROM agent_journal.events WHERE journal_id = %s ORDER BY seq", (journal_id,))
            for seq, crc in cur:
                h.update(f"{journal_id}:{seq}:{crc},".encode())
                n += 1
    return n, h.hexdigest()


_BOOT = "import sys\nsys.argv[0] = 'agent-journal'\nfrom cli.main import main\nmain()\n"


def _child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall ms, CPU ms) of one child process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    wall = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def _idle_processes(root: Path, dsn: str, runs: int) -> bool:
    """The whole ``agent-journal ship`` process with nothing pending, as typed and as SessionEnd starts it
    (``ship --auto``, the URL from the environment), each run next to a bare ``python -c pass``; True if
    both forms meet the target."""
    cli = str(Path(sys.executable).with_name("agent-journal"))
    forms = {
        "agent-journal ship --to URL": ([cli, "--journal", str(root), "ship", "--to", dsn], None),
        # As SessionEnd starts it (journal.detached): isolated mode, the entry point imported by hand.
        "ship --auto as SessionEnd starts it": ([sys.executable, "-I", "-c", _BOOT, "--journal", str(root), "ship",
                                                 "--auto"], {**os.environ, "AGENT_JOURNAL_SHIP_URL": dsn}),
        "python -c pass": ([sys.executable, "-c", "pass"], None),
    }
    got: dict[str, list[tuple[float, float]]] = {name: [] for name in forms}
    for _ in range(runs):
        for name, (cmd, env) in forms.items():
            got[name].append(_child(cmd, env))
    ok = True
    bare = statistics.median(w for w, _ in got["python -c pass"])
    for name, samples in got.items():
        wall = statistics.median(w for w, _ in samples)
        cpu = statistics.median(c for _, c in samples)
        line = f"ship with nothing pending, whole process, {name}: median {wall:.1f} ms wall, {cpu:.1f} ms CPU"
        if "ship" in name:
            passed = cpu <= IDLE_TARGET_MS
            ok &= passed
            line += (f" (target <= {IDLE_TARGET_MS:g} ms CPU: {'PASS' if passed else 'FAIL'}; "
                     f"wall {wall / bare:.1f}x a bare start's here)")
        print(line + f" [{runs} runs, interleaved]")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--segment-mib", type=float, default=64)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "agent-journal-bench")
    parser.add_argument("--no-check", action="store_true", help="skip the row checksum (saves a full read)")
    parser.add_argument("--runs", type=int, default=15, help="whole-process idle runs (each interleaved with a bare start)")
    args = parser.parse_args(argv)

    root, info, how = build(args.dir, args.events, args.seed, args.segment_mib)
    print(f"journal: {args.events:,} events, {info.get('bytes', 0) / 1e9:.2f} GB ({how})")
    for name in (SHIP_FILE, SHIP_LOCK):
        (root / name).unlink(missing_ok=True)
    journal = Journal.open(root, create=False)
    server = start_server(SETTINGS)
    ok = True
    try:
        import psycopg

        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute('CREATE DATABASE "bench"')
        dsn = server.dsn("bench")
        seen: dict[int, float] = {}
        done = threading.Event()

        spent = [0.0]

        def watch() -> None:  # the shipping connection's backend exits with it: sample it while it runs
            while not done.is_set():
                seen.update(server.backend_cpu("journal bench [local]"))
                time.sleep(0.1)
            spent[0] = time.thread_time()  # this watcher's own CPU, not the shipping's

        watcher = threading.Thread(target=watch, daemon=True)
        t0, c0, s0 = time.perf_counter(), time.process_time(), server.cpu_seconds()
        watcher.start()
        report = ship(journal, dsn, migrations=(VIEWS_MIGRATION,), late_types=LATE_TYPES, batch=args.batch)
        wall, cpu, scpu = time.perf_counter() - t0, time.process_time() - c0, server.cpu_seconds() - s0
        done.set()
        watcher.join()
        cpu -= spent[0]
        bcpu = sum(seen.values())
        client, serverside = report.events / cpu, report.events / scpu
        rate = min(client, serverside)
        print(f"full ship: {report.events:,} events, {report.batches} batches of {args.batch:,}: "
              f"{wall:.1f} s wall ({report.events / wall:,.0f} events/s on this shared machine)")
        print(f"CPU: {cpu:.1f} s in the shipping process ({client:,.0f} events/s), {scpu:.1f} s in PostgreSQL, "
              f"all its processes ({serverside:,.0f} events/s); both sum to {report.events / (cpu + scpu):,.0f}/s")
        print(f"of which the shipping connection's backend (COPY, index inserts, commits): {bcpu:.1f} s "
              f"({report.events / bcpu:,.0f} events/s); the rest is the WAL writer, checkpointer and "
              "autovacuum working in the background")
        print(f"rate of the slower side (client and server work at once: reading runs in a thread "
              f"while the server takes the previous batch): {rate:,.0f} events/s "
              f"(target >= {RATE_TARGET:,}): {'PASS' if rate >= RATE_TARGET else 'FAIL'}")
        ok &= rate >= RATE_TARGET
        with psycopg.connect(dsn) as conn:
            size = conn.execute("SELECT pg_total_relation_size('agent_journal.events')").fetchone()[0]
        print(f"database: agent_journal.events with its indexes {size / 1e9:.2f} GB")
        if not args.no_check:
            same = _checksum(journal) == _db_checksum(dsn, report.journal_id)
            print(f"rows and checksum of (journal_id, seq, crc) equal the journal's: {same}")
            ok &= same

        idle = []
        for _ in range(50):
            t0 = time.perf_counter()
            r = ship(journal, dsn, migrations=(VIEWS_MIGRATION,), late_types=LATE_TYPES)
            idle.append((time.perf_counter() - t0) * 1000)
            assert r.events == 0 and not r.connected
        med = statistics.median(idle)
        print(f"ship with nothing pending, library call: median {med:.2f} ms, max {max(idle):.2f} ms "
              f"(target <= {IDLE_TARGET_MS:g} ms): {'PASS' if med <= IDLE_TARGET_MS else 'FAIL'}")
        ok &= med <= IDLE_TARGET_MS
        ok &= _idle_processes(root, dsn, args.runs)
    finally:
        try:
            server.stop("fast")
        finally:
            shutil.rmtree(server.base, ignore_errors=True)
            for name in (SHIP_FILE, SHIP_LOCK):
                (root / name).unlink(missing_ok=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
