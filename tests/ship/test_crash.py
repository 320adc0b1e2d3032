"""Exactly once under mayhem: SIGKILL of ``ship`` anywhere, and a database restart mid-ship.

After every kill the database holds a prefix of the journal (rows up to its own mark,
none twice), ``ship.json`` never claims more than the database has, and the next run
finishes the job: row count and a checksum of (journal_id, seq, crc) equal the
journal's. Kill moments are random (seeded; the seed shows in a failure) and also
forced at the three seams of a batch: COPY done but not committed, committed but not
yet marked, marked.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from journal import Journal, NewEvent
from journal.shipping.state import read_ship_state, redact_url
from journal.shipping.replicate import ship
from projections.read.warehouse import VIEWS_MIGRATION
from tests.ship.conftest import PgServer, generate, journal_rows, rows

CLI = str(Path(sys.executable).with_name("agent-journal"))
SEED = int(os.environ.get("AGENT_JOURNAL_TEST_SEED", "1616"))
N_EVENTS = 3000


def _start(root: Path, dsn: str, crash: str | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "AGENT_JOURNAL_CRASH_AT"}
    if crash:
        env["AGENT_JOURNAL_CRASH_AT"] = crash
    return subprocess.Popen([CLI, "--journal", str(root), "ship", "--to", dsn, "--batch", "150", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _db_state(dsn: str, journal_id: str) -> tuple[int, int, int, int]:
    """(shipped_seq, rows, distinct seqs, max seq) of the journal in the database (zeros before the first run)."""
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('agent_journal.journals')").fetchone()[0]
        if exists is None:
            return 0, 0, 0, 0
        mark = conn.execute("SELECT shipped_seq FROM agent_journal.journals WHERE journal_id = %s",
                            (journal_id,)).fetchone()
        n, distinct, top = conn.execute(
            "SELECT count(*), count(DISTINCT seq), coalesce(max(seq), 0) FROM agent_journal.events "
            "WHERE journal_id = %s", (journal_id,)).fetchone()
    return (int(mark[0]) if mark else 0), int(n), int(distinct), int(top)


def _check_prefix(root: Path, dsn: str, seqs: list[int] | None = None) -> None:
    journal = Journal.open(root, create=False)
    journal_id = journal.manifest().journal_id
    seqs = [e.seq for e in journal.read()]  # now: runs append between kills
    mark, n, distinct, top = _db_state(dsn, journal_id)
    assert n == distinct, "a row was shipped twice"
    assert top <= mark or (mark == 0 and n == 0)
    assert n == sum(1 for s in seqs if s <= mark), f"the database holds a hole below its mark {mark}"
    local = int(read_ship_state(root)["targets"].get(redact_url(dsn), {}).get("seq", 0))
    assert local <= mark, f"ship.json claims seq {local}, the database only has {mark}"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    root = tmp_path_factory.mktemp("ship-crash") / "journal"
    generate(root, N_EVENTS, seed=16)
    return root, [e.seq for e in Journal.open(root, create=False).read()]


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.slow
@pytest.mark.parametrize("point", ["ship_copied:1", "ship_committed:1", "ship_marked:1", "ship_copied:7",
                                   "ship_committed:9", "ship_marked:13"])
def test_a_kill_at_each_seam_of_a_batch_loses_and_duplicates_nothing(
    pristine: tuple[Path, list[int]], tmp_path: Path, dsn: str, point: str
) -> None:
    root = _copy(pristine[0], tmp_path / "journal")
    proc = _start(root, dsn, crash=point)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, f"the seam {point} was not reached"
    _check_prefix(root, dsn, pristine[1])
    proc = _start(root, dsn)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    _check_prefix(root, dsn, pristine[1])
    assert rows(dsn, Journal.open(root, create=False).manifest().journal_id) == journal_rows(root)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_ships_exactly_once(
    pristine: tuple[Path, list[int]], tmp_path: Path, dsn: str
) -> None:
    rng = random.Random(SEED)
    root = _copy(pristine[0], tmp_path / "journal")
    journal_id = Journal.open(root, create=False).manifest().journal_id
    kills = 0
    for attempt in range(60):
        proc = _start(root, dsn)
        time.sleep(rng.uniform(0.0, 0.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=120)
        _check_prefix(root, dsn, pristine[1])
        if proc.returncode == 0 and kills >= 5:
            break
        # appends go on between runs, as they would on a live machine; after a run that
        # finished, enough of them that the next one has something to be killed in
        journal = Journal.open(root, create=False)
        n = 600 if proc.returncode == 0 else 1
        journal.append_many([NewEvent("note", {"attempt": attempt, "i": i}) for i in range(n)])
    assert kills >= 5, f"seed {SEED}: only {kills} kills landed; the runs were too quick"
    proc = _start(root, dsn)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"seed {SEED}: {err.decode()}"
    assert rows(dsn, journal_id) == journal_rows(root), f"seed {SEED}"


@pytest.mark.slow
def test_a_database_restart_mid_ship_is_retried_and_loses_nothing(
    pristine: tuple[Path, list[int]], tmp_path: Path, pg: PgServer
) -> None:
    dsn = pg.new_database()
    root = _copy(pristine[0], tmp_path / "journal")
    journal = Journal.open(root, create=False)
    batches: list[int] = []
    restarted = threading.Event()

    def on_batch(events: int, mark: int) -> None:
        batches.append(mark)
        if len(batches) == 3 and not restarted.is_set():
            # Restart in the background, so the next batch meets a dying or a new server.
            threading.Thread(target=lambda: (pg.restart("immediate"), restarted.set()), daemon=True).start()
            time.sleep(0.05)

    report = ship(journal, dsn, migrations=(VIEWS_MIGRATION,), batch=150, on_batch=on_batch)
    restarted.wait(60)
    assert restarted.is_set()
    assert report.retries >= 1
    assert rows(dsn, report.journal_id) == journal_rows(root)
    _check_prefix(root, dsn, pristine[1])


@pytest.mark.slow
def test_a_server_down_for_longer_fails_clearly_and_the_next_run_resumes(
    pristine: tuple[Path, list[int]], tmp_path: Path, pg: PgServer
) -> None:
    dsn = pg.new_database()
    root = _copy(pristine[0], tmp_path / "journal")
    journal = Journal.open(root, create=False)
    from journal.shipping.replicate import ShipError

    def on_batch(events: int, mark: int) -> None:
        if mark >= 600:
            pg.stop("immediate")

    try:
        with pytest.raises(ShipError) as caught:
            ship(journal, dsn, migrations=(VIEWS_MIGRATION,), batch=150, on_batch=on_batch, retries=1)
    finally:
        pg.start()
    assert "failed after 2 attempts" in str(caught.value)
    assert read_ship_state(root)["last_error"]["message"] == str(caught.value)
    _check_prefix(root, dsn, pristine[1])
    report = ship(journal, dsn, migrations=(VIEWS_MIGRATION,))
    assert report.events > 0
    assert rows(dsn, report.journal_id) == journal_rows(root)
