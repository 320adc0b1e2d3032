#!/usr/bin/env python3
"""CRC-32 speed: the stdlib's zlib against ISA-L (python-isal), the one the readers use.

Every record carries a CRC-32 and every read checks it: per line on an active segment,
over the whole file on a sealed one. With zlib that check was ~9% of a full projection
rebuild (perf), so `journal.storage.codec.crc32` takes ISA-L's implementation when it can be
imported (same polynomial, same values: asserted below) and zlib's otherwise (the hook,
which runs without site-packages).

Prints, for a whole 256 KiB read and for single records of typical sizes, the median
time per call of each, the throughput and the speed-up.

    python bench/crc_speed.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import zlib
from typing import Callable

try:
    from isal.isal_zlib import crc32 as isal_crc32
except ImportError:  # pragma: no cover
    isal_crc32 = None

SIZES = (("one 256 KiB read", 256 * 1024), ("record 400 B", 400), ("record 1.2 KB", 1200), ("record 4 KB", 4096))


def per_call(fn: Callable[[bytes], int], buf: bytes, runs: int) -> float:
    """Median seconds per call of ``fn(buf)`` over *runs* timed batches."""
    batch = max(1, 50_000_000 // (len(buf) + 200))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn(buf)
        times.append((time.perf_counter() - t0) / batch)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    if isal_crc32 is None:
        print("isal is not installed: `pip install isal` (it is a dependency of agent-journal)")
        return 1
    print(f"median of {args.runs} batches; python {sys.version.split()[0]}")
    print(f"{'':18}{'zlib ns':>10}{'isal ns':>10}{'zlib GB/s':>11}{'isal GB/s':>11}{'speed-up':>10}")
    results = []
    for label, size in SIZES:
        buf = os.urandom(size)
        assert isal_crc32(buf) == zlib.crc32(buf) and isal_crc32(buf, 7) == zlib.crc32(buf, 7)
        z, i = per_call(zlib.crc32, buf, args.runs), per_call(isal_crc32, buf, args.runs)
        results.append((size, z / i))
        print(f"{label:18}{z * 1e9:>10,.0f}{i * 1e9:>10,.0f}{size / z / 1e9:>11.2f}{size / i / 1e9:>11.2f}"
              f"{z / i:>9.1f}x")
    print("RESULT " + " ".join(f"speedup_{size}={ratio:.1f}" for size, ratio in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
