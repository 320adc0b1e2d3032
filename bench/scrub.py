"""Scrub of a big journal: a leaked secret in 1 record of 23 and in a third of the prompts.

Generates a realistic journal with ``bench/_gen.py`` (default 100,000 events, 64 MiB
segments) whose records carry a 28-character secret, then measures, in this process:
a dry run with the literal secret, a dry run with a regular expression matching it,
and the scrub itself (stage, commit, `verify` and the re-check of every file). Prints
wall and CPU time of each (CPU counts every thread) and ends with a ``RESULT`` line.

Usage::

    python bench/scrub.py                    # 100,000 events
    python bench/scrub.py --events 1000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _gen  # noqa: E402

from journal.compaction.scrub import Matcher, scrub  # noqa: E402

SECRET = "zq7LeakedToken-plover-umbr42"
PATTERN = r"zq7Leaked\w+-plover-umbr\d+"


def _leaky(root: Path, events: int) -> None:
    original = _gen.encode_record
    leak = json.dumps(SECRET).encode()

    def leaky(seq: int, ts: str, type_: str, data: bytes, **kw: Any) -> bytes:
        if seq % 23 == 0:
            data = b'{"leak":' + leak + b"," + data[1:]
        if type_ == "UserPromptSubmit" and seq % 3 == 0:
            data = data.replace(b'"prompt":"', b'"prompt":"' + leak[1:-1] + b" ", 1)
        return original(seq, ts, type_, data, **kw)

    _gen.encode_record = leaky
    try:
        _gen.generate(root, events, seed=3)
    finally:
        _gen.encode_record = original


def _timed(label: str, fn: Any) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:<22} {result.occurrences:>9,} occurrences in {result.records:>8,} records   "
          f"wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    return result, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="agent-journal-scrub-"))
    try:
        root = base / "journal"
        _leaky(root, args.events)
        size = sum(p.stat().st_size for p in (root / "segments").iterdir())
        print(f"journal: {args.events:,} events, {size:,} bytes")
        _timed("dry run, string", lambda: scrub(root, Matcher(SECRET), dry_run=True))
        _timed("dry run, pattern", lambda: scrub(root, Matcher(pattern=PATTERN), dry_run=True))
        result, wall, cpu = _timed("scrub (with checks)", lambda: scrub(root, Matcher(SECRET)))
        assert result.committed and result.verify_ok and not result.remaining
        print(f"RESULT events={args.events} bytes={size} occurrences={result.occurrences} "
              f"scrub_wall_s={wall:.2f} scrub_cpu_s={cpu:.2f} verify_ok={result.verify_ok}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
