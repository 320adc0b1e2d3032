#!/usr/bin/env python3
"""Whole-process latency of the hook on a PreToolUse payload, next to ``python -c pass``.

Every tool call fires the hook twice (PreToolUse and PostToolUse), so its cost is
paid constantly. Both commands run alternately in one loop, with the same
interpreter, so machine noise hits both alike; the script prints medians and the
ratio (target: hook <= 3x ``python -c pass``).

    python bench/hook_latency.py [--runs 40] [--python PATH] [--durability fsync|flush]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO.parent / "shared" / "fixtures" / "claude-code-2.1.328" / "hook-payloads.jsonl"
LAUNCHER = REPO / "hooks" / "launch.py"


def pre_tool_use_payload() -> bytes:
    if FIXTURE.exists():
        for line in FIXTURE.read_bytes().splitlines():
            if json.loads(line).get("hook_event_name") == "PreToolUse":
                return line
    return json.dumps({
        "session_id": "77447ded-3a63-4e7b-b57f-7751b953796d", "transcript_path": "/tmp/t.jsonl",
        "cwd": "/tmp", "permission_mode": "default", "hook_event_name": "PreToolUse", "tool_name": "Bash",
        "tool_input": {"command": "pytest -q", "description": "run the tests"}, "tool_use_id": "toolu_1",
    }).encode()


def time_once(cmd: list[str], stdin: bytes, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, input=stdin, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or proc.stdout or proc.stderr:
        raise SystemExit(f"{cmd} misbehaved: rc={proc.returncode} out={proc.stdout!r} err={proc.stderr!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure (default: this one)")
    parser.add_argument("--durability", choices=["fsync", "flush"], default="fsync")
    args = parser.parse_args()
    payload = pre_tool_use_payload()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, AGENT_JOURNAL_DIR=str(Path(tmp) / "journal"),
                   AGENT_JOURNAL_DURABILITY=args.durability)
        env.pop("CLAUDE_PROJECT_DIR", None)
        baseline_cmd = [args.python, "-c", "pass"]
        floor_cmd = [args.python, "-I", "-S", "-c", "pass"]  # the interpreter with the hook's flags
        hook_cmd = [args.python, "-I", "-S", str(LAUNCHER)]
        for _ in range(3):  # warm the page cache and the journal directory
            time_once(baseline_cmd, b"", env)
            time_once(hook_cmd, payload, env)
        base, floor, hook = [], [], []
        for _ in range(args.runs):
            base.append(time_once(baseline_cmd, b"", env))
            floor.append(time_once(floor_cmd, b"", env))
            hook.append(time_once(hook_cmd, payload, env))
        events = sum(1 for p in (Path(tmp) / "journal" / "segments").iterdir() for _ in p.open("rb"))
    b, f, h = statistics.median(base), statistics.median(floor), statistics.median(hook)
    print(f"interpreter      {args.python}")
    print(f"runs             {args.runs} each, alternating; durability {args.durability}")
    print(f"python -c pass   median {b * 1000:6.1f} ms   p90 {sorted(base)[int(len(base) * 0.9)] * 1000:6.1f} ms")
    print(f"python -I -S     median {f * 1000:6.1f} ms   (the hook's own interpreter start, for reference)")
    print(f"hook PreToolUse  median {h * 1000:6.1f} ms   p90 {sorted(hook)[int(len(hook) * 0.9)] * 1000:6.1f} ms")
    print(f"events recorded  {events}")
    print(f"RESULT hook_ms={h * 1000:.1f} pass_ms={b * 1000:.1f} ratio={h / b:.2f} (target <= 3.0) "
          f"hook_minus_bare_start_ms={(h - f) * 1000:.1f}")


if __name__ == "__main__":
    main()
