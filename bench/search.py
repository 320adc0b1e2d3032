"""The search index (issue 15): build, incremental update, queries, cross-project, size.

On the generated 1,000,000-event journal (``bench/_gen.py``, shared with the other
benchmarks through ``journal_replay.build``; the index is built in a private copy whose
sealed segments are hard links, so the shared journal is never touched):

* **build**: `rebuild_index` over every event, events/s of this process's CPU time
  (target >= 100,000/s) and wall time;
* **incremental**: append 1,000 events (copies of generated ones, new seqs), then
  `ensure_index`; median over --rounds (target <= 50 ms, CPU and wall given);
* **queries**: `search` in process (index freshness check, match, BM25 rank, snippets,
  grouping data) for a fixed, seeded set of queries: single words, two and three words,
  phrases, prefixes, kinds, a session, --since, --file; p50 and p99, wall and CPU
  (targets <= 20 and <= 100 ms);
* **whole process**: ``agent-journal search`` against ``agent-journal context`` (warm
  caches), median of --runs each, ratio (target <= 1.5);
* **cross-project**: ``agent-journal search --all-projects`` over 20 registered projects
  (the 1M one and 19 generated ones of --small events) against ``search`` of the 1M one
  alone, medians, ratio (target <= 3);
* **size**: index bytes / segment bytes (target <= 30%).

The word vocabulary of the generator is small (~150 words), so most single-word
queries match a large part of the journal: the worst case for ranking.

Usage::

    python bench/search.py                       # 1M events
    python bench/search.py --events 100000       # a smaller journal
    python bench/search.py --quick               # build, size, incremental, queries only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal_replay import build  # noqa: E402  (the shared, cached journal builder)

from journal import Journal  # noqa: E402
from journal.storage.writer import NewEvent  # noqa: E402
from projections.search.query import search  # noqa: E402
from projections.search.index import ensure_index, index_path, rebuild_index  # noqa: E402

_REPO = Path(__file__).resolve().parent.parent
TARGETS = {"build": 100_000, "incremental_ms": 50, "p50_ms": 20, "p99_ms": 100, "process_ratio": 1.5,
           "cross_ratio": 3.0, "size_pct": 30}
_VOCAB = ("cache config session agent journal record segment manifest replay event seq offset reader writer lock "
          "spool quarantine repair verify compact snapshot projection fold state context prompt tool hook payload "
          "schema version decoder encoder buffer chunk line checksum error timeout retry budget limit user order "
          "cart invoice price total item product stock customer address email token request response handler "
          "route model view template query index table column migration test fixture mock assert value result "
          "status message path file directory module package import export build deploy release branch commit "
          "merge diff patch review").split()


def private_copy(src: Path, dst: Path) -> Path:
    """A journal at *dst* sharing *src*'s sealed segments (hard links); the active one is copied."""
    if dst.exists():
        shutil.rmtree(dst)
    (dst / "segments").mkdir(parents=True, mode=0o700)
    os.chmod(dst, 0o700)
    manifest = json.loads((src / "manifest.json").read_text())
    sealed = {s["name"] for s in manifest["segments"]}
    for name in sorted(os.listdir(src / "segments")):
        target = dst / "segments" / name
        if name in sealed:
            os.link(src / "segments" / name, target)
        else:
            shutil.copy2(src / "segments" / name, target)
    for name in ("manifest.json", ".gitignore"):
        shutil.copy2(src / name, dst / name)
    return dst


def command() -> list[str]:
    script = Path(sys.executable).parent / "agent-journal"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from cli.main import main; main()"]


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, cwd=_REPO, env=env, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.decode()[-500:]}")
    return wall


def queries(rng: random.Random, sessions: list[str]) -> list[dict[str, Any]]:
    """A fixed mix of what people ask: words, phrases, prefixes, filters."""
    out: list[dict[str, Any]] = []
    w = lambda: rng.choice(_VOCAB)  # noqa: E731
    for _ in range(40):
        out.append({"query": w()})
    for _ in range(40):
        out.append({"query": f"{w()} {w()}"})
    for _ in range(30):
        out.append({"query": f"{w()} {w()} {w()}"})
    for _ in range(20):
        out.append({"query": f'"{w()} {w()}"'})
    for _ in range(20):
        out.append({"query": w()[:4] + "*"})
    for _ in range(15):
        out.append({"query": w(), "kinds": [rng.choice(("prompt", "checkpoint", "command", "failure", "agent"))]})
    for _ in range(15):
        out.append({"query": w(), "session": rng.choice(sessions)[:8]})
    for _ in range(10):
        out.append({"query": f"{w()} {w()}", "since": "2026-01-10"})
    for _ in range(10):
        out.append({"query": "", "file": f"{w()}/{w()}_{w()}.py"})
    rng.shuffle(out)
    return out


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _more_events(root: Path, n: int, skip: int, tag: str) -> list[NewEvent]:
    """*n* new events: copies of generated ones (read from *skip* on) in new sessions named
    with *tag*, so that their documents are new rows, not repeats of indexed ones."""
    journal = Journal.open(root, create=False)
    out = []
    for event in journal.read(1 + skip, to_seq=skip + n):
        session = f"{tag}-{event.session}" if event.session else None
        out.append(NewEvent(event.type, bytes(event.data), session, event.agent))
    return out


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=50_000, help="events of each of the 19 other projects")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/agent-journal-bench"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/agent-journal-bench-search"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="only build, size, incremental and in-process queries")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}

    src, info, how = build(args.dir, args.events, args.seed, 64)
    print(f"journal: {args.events:,} events, {info['sessions']:,} sessions ({how})", flush=True)
    args.work.mkdir(parents=True, exist_ok=True)
    root = private_copy(src, args.work / "big" / ".claude" / "journal")
    journal = Journal.open(root, create=False)

    # -- build ---------------------------------------------------------------------
    for _ in journal.read():  # page cache: read the segments once before timing
        pass
    t0, c0 = time.perf_counter(), time.process_time()
    status = rebuild_index(journal)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rate = status.events / cpu
    results["build_events_per_s_cpu"] = round(rate)
    print(f"build: {status.events:,} events, {status.docs:,} documents in {cpu:.2f} s CPU ({rate:,.0f} events/s), "
          f"{wall:.2f} s wall ({status.events / wall:,.0f}/s)  target >= {TARGETS['build']:,}/s CPU: "
          f"{verdict(rate >= TARGETS['build'])}", flush=True)

    # -- size ----------------------------------------------------------------------
    seg_bytes = sum(p.stat().st_size for p in (root / "segments").iterdir())
    idx_bytes = index_path(root).stat().st_size
    pct = 100 * idx_bytes / seg_bytes
    results["size_pct"] = round(pct, 1)
    print(f"size: index {idx_bytes:,} bytes for {seg_bytes:,} bytes of segments: {pct:.1f}%  target <= "
          f"{TARGETS['size_pct']}%: {verdict(pct <= TARGETS['size_pct'])}", flush=True)

    # -- incremental ---------------------------------------------------------------
    cpu_ms, wall_ms = [], []
    for r in range(args.rounds):
        journal.append_many(_more_events(root, 1000, 1000 * r, f"new{r}"))
        t0, c0 = time.perf_counter(), time.process_time()
        _, st = ensure_index(journal)
        wall_ms.append(1000 * (time.perf_counter() - t0))
        cpu_ms.append(1000 * (time.process_time() - c0))
        assert st.events == 1000 and not st.rebuilt, st
    inc = statistics.median(wall_ms)
    results["incremental_ms_wall"] = round(inc, 1)
    results["incremental_ms_cpu"] = round(statistics.median(cpu_ms), 1)
    inc_cpu = statistics.median(cpu_ms)
    print(f"incremental, 1,000 new events: median {inc:.1f} ms wall, {inc_cpu:.1f} ms CPU "
          f"(of {args.rounds}; max {max(wall_ms):.1f} ms wall)  target <= {TARGETS['incremental_ms']} ms: wall "
          f"{verdict(inc <= TARGETS['incremental_ms'])}, CPU {verdict(inc_cpu <= TARGETS['incremental_ms'])}",
          flush=True)

    # -- queries in process --------------------------------------------------------
    import sqlite3

    conn = sqlite3.connect(index_path(root))
    sessions = [row[0] for row in conn.execute("SELECT sid FROM sessions ORDER BY id")]
    conn.close()
    qs = queries(random.Random(args.seed), sessions)
    for q in qs[:20]:  # warm-up: page cache and SQLite's
        search(journal, q.get("query", ""), kinds=q.get("kinds", ()), session=q.get("session"),
               since=q.get("since"), file=q.get("file"))
    times, cpus, hits, capped = [], [], 0, 0
    for q in qs:
        t0, c0 = time.perf_counter(), time.process_time()
        res = search(journal, q.get("query", ""), kinds=q.get("kinds", ()), session=q.get("session"),
                     since=q.get("since"), file=q.get("file"))
        times.append(1000 * (time.perf_counter() - t0))
        cpus.append(1000 * (time.process_time() - c0))
        hits += len(res["hits"])
        capped += res["more"]
    p50, p99 = _pct(times, 50), _pct(times, 99)
    c50, c99 = _pct(cpus, 50), _pct(cpus, 99)
    results["query_p50_ms"], results["query_p99_ms"] = round(p50, 2), round(p99, 2)
    results["query_p50_ms_cpu"], results["query_p99_ms_cpu"] = round(c50, 2), round(c99, 2)
    print(f"queries: {len(qs)} ({hits:,} hits; {capped} matched more than the ranking window): wall p50 {p50:.1f} ms, "
          f"p90 {_pct(times, 90):.1f} ms, p99 {p99:.1f} ms, max {max(times):.1f} ms; CPU p50 {c50:.1f} ms, "
          f"p99 {c99:.1f} ms  targets <= {TARGETS['p50_ms']} / {TARGETS['p99_ms']} ms: wall "
          f"{verdict(p50 <= TARGETS['p50_ms'] and p99 <= TARGETS['p99_ms'])}, CPU "
          f"{verdict(c50 <= TARGETS['p50_ms'] and c99 <= TARGETS['p99_ms'])}", flush=True)
    if args.quick:
        print("RESULT " + " ".join(f"{k}={v}" for k, v in results.items()))
        return 0

    # -- whole process -------------------------------------------------------------
    cli = command()
    env = {**os.environ, "XDG_DATA_HOME": str(args.work / "xdg")}
    timed([*cli, "--journal", str(root), "rebuild"], env)  # warm every projection cache (and the index)
    word_sets = ["invoice export", "cache", "checksum timeout", '"retry budget"', "merge*", "deploy release"]
    search_runs: list[float] = []
    context_runs: list[float] = []
    timed([*cli, "--journal", str(root), "context"], env)
    for i in range(args.runs):
        search_runs.append(timed([*cli, "--journal", str(root), "search", word_sets[i % len(word_sets)]], env))
        context_runs.append(timed([*cli, "--journal", str(root), "context"], env))
    s_med, c_med = statistics.median(search_runs), statistics.median(context_runs)
    ratio = s_med / c_med
    results["process_search_ms"], results["process_context_ms"] = round(1000 * s_med), round(1000 * c_med)
    results["process_ratio"] = round(ratio, 2)
    print(f"whole process: search median {1000 * s_med:.0f} ms, context {1000 * c_med:.0f} ms: ratio {ratio:.2f}  "
          f"target <= {TARGETS['process_ratio']}: {verdict(ratio <= TARGETS['process_ratio'])}", flush=True)

    # -- cross-project ---------------------------------------------------------------
    registry = args.work / "xdg" / "agent-journal" / "projects.json"
    registry.parent.mkdir(parents=True, exist_ok=True)
    entries = [{"journal": str(root), "project": str(root.parent.parent), "added": "bench"}]
    for k in range(19):
        small, _, _ = build(args.dir, args.small, args.seed + 1 + k, 64)
        copy = private_copy(small, args.work / f"p{k:02d}" / ".claude" / "journal")
        ensure_index(Journal.open(copy, create=False))
        entries.append({"journal": str(copy), "project": str(copy.parent.parent), "added": "bench"})
    registry.write_text(json.dumps({"format": 1, "journals": entries}))
    elsewhere = dict(env, CLAUDE_PROJECT_DIR=str(args.work / "nowhere"))
    (args.work / "nowhere").mkdir(exist_ok=True)
    timed([*cli, "search", "cache", "--all-projects"], elsewhere)
    one_runs, all_runs = [], []
    for i in range(args.runs):
        q = word_sets[i % len(word_sets)]
        one_runs.append(timed([*cli, "--journal", str(root), "search", q], env))
        all_runs.append(timed([*cli, "search", q, "--all-projects"], elsewhere))
    o_med, a_med = statistics.median(one_runs), statistics.median(all_runs)
    cross = a_med / o_med
    results["cross_ms"], results["cross_ratio"] = round(1000 * a_med), round(cross, 2)
    print(f"cross-project: 20 projects ({args.events:,} + 19 x {args.small:,} events) median {1000 * a_med:.0f} ms, "
          f"one project {1000 * o_med:.0f} ms: ratio {cross:.2f}  target <= {TARGETS['cross_ratio']}: "
          f"{verdict(cross <= TARGETS['cross_ratio'])}", flush=True)

    print("RESULT " + " ".join(f"{k}={v}" for k, v in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
