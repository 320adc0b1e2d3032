"""Crash injection: a writer process SIGKILLed at random moments, 50 times.

The child appends in a loop and prints each seq (with its index) only after the append
returned, so stdout is the list of acknowledged appends. After every kill the journal
must read, `verify` may report at most a torn tail, the next append must repair it, and
every acknowledged seq must be there with its exact payload; every record present must be
one the child issued, in issue order (Jepsen's set-full, unique-ids and per-writer order).

Tears are made likelier with big pre-encoded payloads and batches of them, which the
writer sends in 1 MiB ``os.write`` chunks. Even cycles use ``fsync`` durability, odd ones
``flush`` (less time in fdatasync, so more kills land mid-write); both must keep every
acknowledged record across a process kill. The RNG is seeded (``JOURNAL_CRASH_SEED``
overrides it) and the seed is in every failure message.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from journal import Journal
from journal.layout import QUARANTINE_DIR

KILLS = 50
KILLS_PER_JOURNAL = 10  # a fresh journal now and then keeps each verify pass short
SEED = int(os.environ.get("JOURNAL_CRASH_SEED", "20261125"))
SIZES = [100, 5_000, 60_000, 250_000, 900_000]
BATCHES = [1, 1, 2, 8]

_PAYLOAD = r'''
import random
def payload(run, i):
    size = random.Random(f"{run}:{i}").choice(SIZES)
    return b'{"run":%d,"i":%d,"blob":"' % (run, i) + b"%d|" % i * (size // 8) + b'"}'
'''

_CHILD = r'''
import random, sys
from journal import Journal, NewEvent
root, run, durability = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SIZES, BATCHES = ''' + repr(SIZES) + ", " + repr(BATCHES) + _PAYLOAD + r'''
journal = Journal.open(root, durability=durability)
out = sys.stdout
out.write("ready\n")
out.flush()
i = 0
rng = random.Random(run)
while True:
    n = rng.choice(BATCHES)
    seqs = journal.append_many([NewEvent("crash", payload(run, i + k), session=f"run-{run}") for k in range(n)])
    out.write("".join(f"{seq} {i + k}\n" for k, seq in enumerate(seqs)))  # acknowledged
    out.flush()
    i += n
'''

_namespace: dict[str, Any] = {"SIZES": SIZES}
exec(_PAYLOAD, _namespace)
payload = _namespace["payload"]


def _kill_one(root: Path, run: int, durability: str, delay: float) -> dict[int, int]:
    """Start a writer, SIGKILL it after *delay* seconds; return its acknowledged {seq: index}."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(root), str(run), durability],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    if ready != b"ready\n":
        proc.kill()
        raise AssertionError(f"writer did not start: {ready!r} {proc.communicate()[1].decode()}")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"writer died on its own (seed {SEED}, run {run}): {err.decode()}"
    acked: dict[int, int] = {}
    for line in out.decode().splitlines():
        seq, index = line.split()
        acked[int(seq)] = int(index)
    return acked


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    acked: dict[int, tuple[int, int]] = {}  # seq -> (run, index) for the current journal
    markers: dict[int, int] = {}  # seq -> run, the parent's own post-kill appends
    tears = 0
    root = tmp_path / "journal-0"
    for run in range(KILLS):
        if run % KILLS_PER_JOURNAL == 0:
            shutil.rmtree(root, ignore_errors=True)
            root = tmp_path / f"journal-{run}"
            Journal.open(root)
            # Rolls every few batches; size limits above the biggest payload, which must come back whole.
            (root / "config.json").write_text('{"segment_bytes": 4194304, '
                                              '"limits": {"max_string": 2000000, "max_event": 4000000}}')
            acked.clear()
            markers.clear()
        durability = "fsync" if run % 2 == 0 else "flush"
        where = f"(seed {SEED}, run {run}, {durability}; rerun with JOURNAL_CRASH_SEED={SEED})"
        acked.update((seq, (run, index)) for seq, index in _kill_one(root, run, durability, rng.uniform(0, 0.12)).items())

        journal = Journal.open(root)
        damage: list[Any] = []
        before = list(journal.read(on_damage=damage.append))
        assert all(d.kind == "torn_tail" for d in damage), f"{where}: {damage}"
        report = journal.verify()
        found = {k: v for k, v in report.to_dict().items()
                 if k in ("gaps", "corrupt", "duplicates", "missing_segments", "segment_mismatches") and v}
        assert not found, f"{where}: verify found more than a torn tail: {found}"
        # A kill inside the manifest's atomic write leaves its tmp file; nothing else may be left.
        assert all(p.startswith(".manifest.json.") for p in report.leftovers), f"{where}: {report.leftovers}"
        torn = report.torn_tail
        if torn is not None:
            tears += 1

        seq = journal.append("after-kill", {"run": run})
        assert seq == (before[-1].seq if before else 0) + 1, where
        markers[seq] = run
        if torn is not None:
            kept = root / QUARANTINE_DIR / f"{Path(torn['file']).name}.{torn['offset']}.torn"
            assert kept.exists(), f"{where}: torn bytes were not quarantined"
        report = journal.verify()
        assert report.ok, f"{where}: {report.to_dict()}"

        events = list(journal.read(mode="strict"))
        assert [e.seq for e in events] == list(range(1, seq + 1)), where
        by_seq = {e.seq: e for e in events}
        for s, (r, i) in acked.items():
            assert s in by_seq, f"{where}: acknowledged seq {s} (run {r}, index {i}) is missing"
            assert bytes(by_seq[s].data) == payload(r, i), f"{where}: seq {s} has the wrong payload"
        # Everything present was issued: the parent's markers, or a child's records in issue order.
        issued: dict[int, list[int]] = {}
        for event in events:
            if event.type == "after-kill":
                assert markers.get(event.seq) == event.payload()["run"], where
                continue
            p = event.payload()
            assert event.session == f"run-{p['run']}" and bytes(event.data) == payload(p["run"], p["i"]), where
            issued.setdefault(p["run"], []).append(p["i"])
        for r, indexes in issued.items():
            assert indexes == list(range(len(indexes))), f"{where}: run {r} records out of order or with holes"
    print(f"{KILLS} kills, {tears} torn tails repaired (seed {SEED})")
