"""Replay speed and memory of a big journal, against bare typed msgspec decoding.

Builds (or reuses, cached under --dir) a realistic journal with ``bench/_gen.py``,
then measures in one run, median of --runs:

* replay: ``for e in Journal.open(root).read(): pass`` (tolerate mode, every check on);
* bare: ``msgspec.json.Decoder(Event).decode_lines(segment_bytes)`` over each segment
  already in memory (only decoding and iteration timed): the ceiling for the reader;
* both paths of the reader: sealed segments (a CRC per chunk, from the segment's
  `journal.storage.crc_index`) and the active segment (a CRC per record), plus every segment as
  a first read sees it (no index yet: one whole-file CRC pass before decoding) and every
  segment forced through the per-record CRC path;
* peak RSS of a child process replaying everything, against a child that only opens
  the journal and against a replay of a 10x smaller journal (streaming: flat memory).

Usage::

    python bench/journal_replay.py                    # 1,000,000 events (~1.2 GB)
    python bench/journal_replay.py --events 100000    # quick check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _gen  # noqa: E402

import journal.storage.reader as reader_module  # noqa: E402
from journal import Journal  # noqa: E402
from journal.storage.crc_index import IndexBuilder  # noqa: E402
from journal.storage.events import Event  # noqa: E402
from journal.layout import list_segments  # noqa: E402
from journal.storage.manifest import load_manifest  # noqa: E402
from journal.storage.reader import Reader  # noqa: E402

_MIB = 1024 * 1024
_CHUNK = 1024 * 1024


def build(cache: Path, n: int, seed: int, segment_mib: float) -> tuple[Path, dict[str, Any], str]:
    """The generated journal for these parameters, reused if _gen.py has not changed."""
    stamp = hashlib.sha256(Path(_gen.__file__).read_bytes()).hexdigest()[:12]
    root = cache / f"journal-{n}-seed{seed}-seg{segment_mib:g}"
    marker = root.with_suffix(".json")
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("gen") == stamp and root.is_dir():
            return root, info, "reused"
    shutil.rmtree(root, ignore_errors=True)
    marker.unlink(missing_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    info = _gen.generate(root, n, seed=seed, segment_bytes=int(segment_mib * _MIB))
    info["gen_seconds"] = round(time.perf_counter() - t0, 1)
    info["gen"] = stamp
    marker.write_text(json.dumps(info))
    return root, info, f"generated in {info['gen_seconds']} s"


def _timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, what *fn* returned)."""
    t0, c0 = time.perf_counter(), time.process_time()
    count = fn()
    return time.perf_counter() - t0, time.process_time() - c0, count


def _replay(root: Path, **kw: Any) -> Callable[[], int]:
    def run() -> int:
        n = 0
        for _ in Journal.open(root, create=False).read(**kw):
            n += 1
        return n

    return run


def _replay_first(root: Path) -> Callable[[], int]:
    """Sealed segments as the first read after sealing sees them: no CRC index yet."""

    def run() -> int:
        saved = reader_module.load_index, IndexBuilder.save
        reader_module.load_index = lambda root, entry: None
        IndexBuilder.save = lambda self, root: False  # type: ignore[method-assign]
        try:
            return _replay(root)()
        finally:
            reader_module.load_index, IndexBuilder.save = saved  # type: ignore[method-assign]

    return run


def _replay_untrusted(root: Path) -> Callable[[], int]:
    """Every segment through the per-record CRC path (as if no manifest entry matched)."""

    def run() -> int:
        manifest = load_manifest(root)
        manifest.segments = []
        n = 0
        for _ in Reader(root, manifest=manifest).events():
            n += 1
        return n

    return run


def _bare(paths: list[Path], chunked: bool = False) -> tuple[float, float, int]:
    """(wall, CPU) seconds spent in typed ``decode_lines`` + iteration over *paths* (reads not timed)."""
    decoder = msgspec.json.Decoder(Event)
    spent = cpu = 0.0
    count = 0
    for path in paths:
        data = path.read_bytes()
        if chunked:
            bufs, pos = [], 0
            while pos < len(data):
                cut = data.rfind(b"\n", pos, pos + _CHUNK) + 1
                cut = cut if cut > pos else len(data)
                bufs.append(data[pos:cut])
                pos = cut
        else:
            bufs = [data]
        del data
        t0, c0 = time.perf_counter(), time.process_time()
        for buf in bufs:
            for _ in decoder.decode_lines(buf):
                count += 1
        spent += time.perf_counter() - t0
        cpu += time.process_time() - c0
    return spent, cpu, count


_CHILD = {
    "open": (
        "import sys; from pathlib import Path; from journal import Journal; from journal.storage.reader import Reader\n"
        "j = Journal.open(Path(sys.argv[1]), create=False); it = j.read(); print(0)"
    ),
    "replay": (
        "import sys; from pathlib import Path; from journal import Journal\n"
        "n = 0\n"
        "for e in Journal.open(Path(sys.argv[1]), create=False).read(): n += 1\n"
        "print(n)"
    ),
}
_PROBE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def child_rss_mb(mode: str, root: Path) -> float:
    """Max RSS of a child doing *mode* on *root*, via RUSAGE_CHILDREN of a probe parent."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, sys.executable, "-c", _CHILD[mode], str(root)],
        check=True, capture_output=True, text=True,
    ).stdout
    return int(out.split()[-1]) / 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "agent-journal-bench",
                        help="cache directory for generated journals (reused across runs)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segment-mib", type=float, default=64)
    args = parser.parse_args(argv)

    root, info, how = build(args.dir, args.events, args.seed, args.segment_mib)
    small_n = 100_000 if args.events > 100_000 else max(1_000, args.events // 10)
    small, _, small_how = build(args.dir, small_n, args.seed, args.segment_mib)

    segments = [p for _, p in list_segments(root)]
    manifest = load_manifest(root)
    sealed_names = {s.name for s in manifest.segments}
    sealed = [p for p in segments if p.name in sealed_names]
    active = [p for p in segments if p.name not in sealed_names]
    last_sealed = manifest.last_sealed_seq
    for path in segments:  # warm the page cache: we measure CPU, not the disk
        path.read_bytes()
    for _ in Reader(root).chunks():  # and make the CRC indexes, as any first full read does
        pass
    sizes = {p: p.stat().st_size for p in segments}
    total_bytes = sum(sizes.values())

    cases: dict[str, Callable[[], tuple[float, float, int]]] = {
        "replay": lambda: _timed(_replay(root)),
        "bare": lambda: _bare(segments),
        "bare_chunked": lambda: _bare(segments, chunked=True),
        "replay_sealed": lambda: _timed(_replay(root, to_seq=last_sealed)) if sealed else (0.0, 0.0, 0),
        "bare_sealed": lambda: _bare(sealed),
        "replay_active": lambda: _timed(_replay(root, from_seq=last_sealed + 1)),
        "bare_active": lambda: _bare(active),
        "replay_first": lambda: _timed(_replay_first(root)),
        "replay_percrc": lambda: _timed(_replay_untrusted(root)),
    }
    wall: dict[str, list[float]] = {k: [] for k in cases}
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    counts: dict[str, int] = {}
    for _ in range(args.runs):
        for name, case in cases.items():
            w, c, counts[name] = case()
            wall[name].append(w)
            cpu[name].append(c)
    med = {k: statistics.median(v) for k, v in cpu.items()}
    medw = {k: statistics.median(v) for k, v in wall.items()}
    assert counts["replay"] == counts["bare"] == counts["replay_first"] == counts["replay_percrc"], counts
    n_all = counts["replay"]
    b_sealed = sum(sizes[p] for p in sealed)
    b_active = sum(sizes[p] for p in active)

    rows = [
        ("replay, all segments", "replay", total_bytes, "bare"),
        ("  bare decode_lines, per segment", "bare", total_bytes, None),
        ("  bare decode_lines, 1 MiB chunks", "bare_chunked", total_bytes, None),
        ("replay, sealed segments only", "replay_sealed", b_sealed, "bare_sealed"),
        ("  bare, same segments", "bare_sealed", b_sealed, None),
        ("replay, active segment only", "replay_active", b_active, "bare_active"),
        ("  bare, same segment", "bare_active", b_active, None),
        ("replay, first read (no CRC index)", "replay_first", total_bytes, "bare"),
        ("replay, per-record CRC everywhere", "replay_percrc", total_bytes, "bare"),
    ]
    print(
        f"journal: {n_all:,} events, {total_bytes / 1e6:,.0f} MB, {len(segments)} segments "
        f"({len(sealed)} sealed), avg {total_bytes / max(1, n_all):,.0f} B/record, "
        f"{info['sessions']:,} sessions [{how}]"
    )
    print(
        f"median of {args.runs} runs; rates and ratios from CPU time (process_time: robust on a shared "
        f"machine), wall ratio alongside; python {sys.version.split()[0]}, msgspec {msgspec.__version__}"
    )
    print(f"{'':36} {'events':>10} {'wall ms':>8} {'cpu ms':>8} {'k ev/s':>7} {'MB/s':>6} {'vs bare':>8} {'(wall)':>7}")
    for label, key, nbytes, base in rows:
        n, t = counts[key], med[key]
        if not n or not t:
            print(f"{label:36} {'-':>10}")
            continue
        ratio = f"{med[base] / t:.2f}x" if base else ""
        ratio_w = f"{medw[base] / medw[key]:.2f}x" if base else ""
        print(f"{label:36} {n:>10,} {medw[key] * 1000:>8.0f} {t * 1000:>8.0f} {n / t / 1000:>7.0f} "
              f"{nbytes / t / 1e6:>6.0f} {ratio:>8} {ratio_w:>7}")

    rss_open = child_rss_mb("open", root)
    rss_small = child_rss_mb("replay", small)
    rss_full = child_rss_mb("replay", root)
    print(
        f"peak RSS (child process): open only {rss_open:.1f} MB | replay {small_n:,} events "
        f"{rss_small:.1f} MB | replay {n_all:,} events {rss_full:.1f} MB  [small journal {small_how}]"
    )
    print(
        f"RESULT replay_ratio={med['bare'] / med['replay']:.2f} "
        f"replay_ratio_wall={medw['bare'] / medw['replay']:.2f} "
        f"replay_kev_s={n_all / med['replay'] / 1000:.0f} peak_rss_mb={rss_full:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
