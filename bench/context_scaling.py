"""``agent-journal context`` whole-process time as the journal grows (warm caches).

For journals of 10k, 100k and 1M events (``bench/_gen.py``, cached under --dir and
shared with journal_replay.py), warm the projection caches once with
``agent-journal rebuild``, then time the whole ``agent-journal --journal ROOT context``
process (interpreter start, imports, cache load, liveness, rendering), median of
--runs after one warm-up run. Wall time and the child's CPU time are both given.

Target: the 1M/10k ratio <= 1.2 - the cost of a SessionStart context must not grow
with the log. (A warm cache holds every session's record, so what grows is the cache
header: one key, end offset and CRC per session and agent; records are decoded only
for the few sessions the context reads.)

Usage::

    python bench/context_scaling.py                          # 10k, 100k and 1M events
    python bench/context_scaling.py --sizes 10000,100000     # quick check
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal_replay import build  # noqa: E402  (the shared, cached journal builder)

TARGET = 1.2
_REPO = Path(__file__).resolve().parent.parent


def command() -> list[str]:
    """How to run the CLI: the venv's console script, else the module."""
    script = Path(sys.executable).parent / "agent-journal"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from cli.main import main; main()"]


def timed(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, child CPU seconds and output length of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, cwd=_REPO, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, len(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/agent-journal-bench"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segment-mib", type=float, default=64)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    cli = command()
    env_note = "AGENT_JOURNAL_DIR unset" if "AGENT_JOURNAL_DIR" not in os.environ else "AGENT_JOURNAL_DIR set"

    journals = []
    for n in sizes:
        root, info, how = build(args.dir, n, args.seed, args.segment_mib)
        rebuild = timed([*cli, "--journal", str(root), "rebuild"])
        timed([*cli, "--journal", str(root), "context"])  # warm-up: page cache, and proof the cache is current
        journals.append((n, root, info, rebuild[0]))
        print(f"{n:>9,} events ({info['sessions']:,} sessions, {how}): caches rebuilt in {rebuild[0]:.1f} s", flush=True)
    # Round robin, so that a burst of load on the machine hits every size alike.
    samples: dict[int, list[tuple[float, float, int]]] = {n: [] for n in sizes}
    for _ in range(args.runs):
        for n, root, _, _ in journals:
            samples[n].append(timed([*cli, "--journal", str(root), "context"]))
    rows = []
    for n, root, info, rebuild_s in journals:
        runs = samples[n]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        cache = sum(p.stat().st_size for p in (root / "cache").glob("*.msgpack"))
        rows.append((n, info["sessions"], cache, rebuild_s, wall, cpu, runs[0][2]))
    baseline = [timed([*cli, "--version"]) for _ in range(args.runs)]
    base_wall = statistics.median(r[0] for r in baseline)
    base_cpu = statistics.median(r[1] for r in baseline)

    print(f"\nmedian of {args.runs} runs of the whole `agent-journal context` process, warm caches ({env_note})")
    print(f"{'events':>10}{'sessions':>10}{'cache MB':>10}{'wall ms':>10}{'cpu ms':>9}{'chars':>8}")
    for n, sessions, cache, _, wall, cpu, chars in rows:
        print(f"{n:>10,}{sessions:>10,}{cache / 1e6:>10.1f}{wall * 1000:>10.0f}{cpu * 1000:>9.0f}{chars:>8,}")
    print(f"{'--version':>10}{'':>10}{'':>10}{base_wall * 1000:>10.0f}{base_cpu * 1000:>9.0f}"
          "   (interpreter + click + command imports only)")
    first, last = rows[0], rows[-1]
    ratio, cpu_ratio = last[4] / first[4], last[5] / first[5]
    print(f"\nratio {last[0]:,}/{first[0]:,}: {ratio:.2f} wall, {cpu_ratio:.2f} cpu "
          f"(target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")
    print(f"RESULT context_ratio={ratio:.2f} context_cpu_ratio={cpu_ratio:.2f} "
          f"ms_small={first[4] * 1000:.0f} ms_large={last[4] * 1000:.0f} version_ms={base_wall * 1000:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
