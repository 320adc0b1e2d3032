"""Every read command's whole-process CPU as the journal grows (issue 14, goal 5).

For a small and a large journal (``bench/_gen.py``, default 10k and 1M events, cached
under --dir and shared with journal_replay.py), warm the projection caches with
``agent-journal rebuild``, then time whole processes (interpreter start, imports,
cache load, liveness, rendering) of

* ``agent-journal sessions``, ``agent-journal agents``, ``agent-journal context``;
* ``agent-journal show ID`` of the most recently active session;

round robin over sizes and commands, so a burst of load on the machine hits each
alike. Each child's CPU time (user + system) and peak RSS come from ``os.wait4``.
Then the cold case: ``agent-journal sessions`` on the large journal with its cache
directory removed (the run folds the whole log and writes the caches back).

Targets: for each command, CPU at the large size <= 1.2x its CPU at the small size
(warm caches); cold ``sessions`` at the large size <= 2 s CPU. Each line says PASS or FAIL.

Usage::

    python bench/read_scaling.py                         # 10k and 1M events
    python bench/read_scaling.py --sizes 10000,100000    # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from context_scaling import command  # noqa: E402  (how to run the CLI)
from journal_replay import build  # noqa: E402  (the shared, cached journal builder)

RATIO_TARGET = 1.2
COLD_TARGET_S = 2.0
_REPO = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("AGENT_JOURNAL_DIR", "CLAUDE_CODE_SESSION_ID", "CLAUDE_SESSION_ID"):
        env.pop(name, None)
    return env


def timed(argv: list[str]) -> tuple[float, float, bytes]:
    """CPU seconds (user + system), peak RSS in MB and stdout of one child process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # Popen.wait would reap the child and lose its rusage: wait4 reaps it instead.
        pid = subprocess.Popen(argv, stdout=out, stderr=err, cwd=_REPO, env=_env()).pid
        _, status, usage = os.wait4(pid, 0)
        out.seek(0)
        err.seek(0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({code}): {err.read().decode()[-500:]}")
        return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read()


def _latest_session(cli: list[str], root: Path) -> str:
    _, _, out = timed([*cli, "--journal", str(root), "sessions", "--json", "-n", "1"])
    rows = json.loads(out)
    if not rows:
        raise SystemExit(f"{root}: no sessions")
    return str(rows[-1]["id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="two or more journal sizes (events)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/agent-journal-bench"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segment-mib", type=float, default=64)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    cli = command()

    journals = []
    for n in sizes:
        root, info, how = build(args.dir, n, args.seed, args.segment_mib)
        cpu, rss, _ = timed([*cli, "--journal", str(root), "rebuild"])
        sid = _latest_session(cli, root)
        journals.append((n, root, sid))
        print(f"{n:>9,} events ({info['sessions']:,} sessions, {how}): caches rebuilt in {cpu:.1f} s CPU",
              flush=True)

    commands = {
        "sessions": lambda root, sid: ["sessions"],
        "agents": lambda root, sid: ["agents"],
        "show": lambda root, sid: ["show", sid],
        "context": lambda root, sid: ["context"],
    }
    samples: dict[tuple[str, int], list[tuple[float, float, bytes]]] = {}
    for args_of in commands.values():  # warm-up: page cache, and proof the caches are current
        for _, root, sid in journals:
            timed([*cli, "--journal", str(root), *args_of(root, sid)])
    for _ in range(args.runs):
        for name, args_of in commands.items():
            for n, root, sid in journals:
                samples.setdefault((name, n), []).append(timed([*cli, "--journal", str(root), *args_of(root, sid)]))
    base = [timed([*cli, "--version"]) for _ in range(args.runs)]

    last = sizes[-1]
    print(f"\nmedian CPU (user + system) of {args.runs} runs of each whole process, warm caches; "
          f"python {sys.version.split()[0]}")
    head = "".join(f"{f'{n:,} ms':>13}" for n in sizes)
    print(f"{'command':<12}{head}{'ratio':>8}{'peak RSS MB':>13}{'lines':>7}  target <= {RATIO_TARGET}x")
    results = {}
    ok = True
    for name in commands:
        cpus = [statistics.median(s[0] for s in samples[(name, n)]) for n in sizes]
        rss = statistics.median(s[1] for s in samples[(name, last)])
        lines = samples[(name, last)][0][2].count(b"\n")
        ratio = cpus[-1] / cpus[0]
        passed = ratio <= RATIO_TARGET
        ok &= passed
        results[name] = ratio
        cells = "".join(f"{c * 1000:>13.0f}" for c in cpus)
        runs = ", ".join(f"{s[0] * 1000:.0f}" for s in samples[(name, last)])
        print(f"{name:<12}{cells}{ratio:>8.2f}{rss:>13.1f}{lines:>7}  {'PASS' if passed else 'FAIL'}  "
              f"(runs at {last:,}: {runs})")
    base_cpu = statistics.median(b[0] for b in base)
    print(f"{'--version':<12}{base_cpu * 1000:>13.0f}   (interpreter + click + command imports only)")

    n, root, _ = journals[-1]
    cold = []
    for _ in range(args.cold_runs):
        shutil.rmtree(root / "cache", ignore_errors=True)
        cold.append(timed([*cli, "--journal", str(root), "sessions"]))
    cold_cpu = statistics.median(c[0] for c in cold)
    cold_rss = statistics.median(c[1] for c in cold)
    cold_ok = cold_cpu <= COLD_TARGET_S
    ok &= cold_ok
    print(f"\ncold cache (cache/ removed), `sessions` at {n:,} events: median {cold_cpu:.2f} s CPU "
          f"(runs {', '.join(f'{c[0]:.2f}' for c in cold)}), peak RSS {cold_rss:.0f} MB; "
          f"target <= {COLD_TARGET_S:.0f} s: {'PASS' if cold_ok else 'FAIL'}")
    print("RESULT " + " ".join(f"{k}_ratio={v:.2f}" for k, v in results.items())
          + f" cold_sessions_cpu_s={cold_cpu:.2f} {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
