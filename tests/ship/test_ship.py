"""Shipping into a real PostgreSQL: rows, marks, resumption, two journals, compaction, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from journal import Journal
from journal.shipping.state import SHIP_FILE, read_ship_state, redact_url
from journal.shipping.replicate import ShipError, ship, ship_status
from projections.read.warehouse import VIEWS_MIGRATION
from tests.ship.conftest import generate, journal_rows, rows

VIEWS = (VIEWS_MIGRATION,)
CLI = str(Path(sys.executable).with_name("agent-journal"))


def _cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "--journal", str(root), *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_every_event_ships_once_with_its_journal(dsn: str, tmp_path: Path) -> None:
    root = tmp_path / "proj" / ".claude" / "journal"
    generate(root, 900, seed=3)
    journal = Journal.open(root, create=False)
    report = ship(journal, dsn, migrations=VIEWS, batch=250)
    assert report.events == report.inserted == 900 and report.batches == 4
    assert rows(dsn, report.journal_id) == journal_rows(root)
    with psycopg.connect(dsn) as conn:
        host, user, project, path, mark, events = conn.execute(
            "SELECT host, user_name, project, path, shipped_seq, events FROM agent_journal.journals").fetchone()
        sample = conn.execute("SELECT type, session, data FROM agent_journal.events WHERE seq = 1").fetchone()
    assert (project, path, mark, events) == (str(tmp_path / "proj"), str(root), 900, 900)
    assert host and user
    first = next(journal.read())
    assert sample == (first.type, first.session, first.payload())
    state = read_ship_state(root)
    assert state["targets"][redact_url(dsn)]["seq"] == 900 and state["last_error"] is None
    assert stat.S_IMODE((root / SHIP_FILE).stat().st_mode) == 0o600

    again = ship(journal, dsn, migrations=VIEWS)
    assert again.events == 0 and not again.connected  # nothing pending: no connection at all
    journal.append("note", {"text": "tab\there, back\\slash, nul \u0000 and quote \" ok"}, session="s-x")
    more = ship(journal, dsn, migrations=VIEWS)
    assert (more.events, more.inserted, more.shipped_seq) == (1, 1, 901)
    with psycopg.connect(dsn) as conn:
        data = conn.execute("SELECT data->>'text' FROM agent_journal.events WHERE seq = 901").fetchone()[0]
    assert data == "tab\there, back\\slash, nul \ufffd and quote \" ok"


def test_a_lost_local_mark_or_a_lagging_one_never_duplicates(dsn: str, tmp_path: Path) -> None:
    root = tmp_path / "journal"
    generate(root, 400, seed=4)
    journal = Journal.open(root, create=False)
    ship(journal, dsn, migrations=VIEWS)
    (root / SHIP_FILE).unlink()  # as if killed between the commit and the mark
    journal.append("note", {"text": "after"})
    report = ship(journal, dsn, migrations=VIEWS)
    assert (report.events, report.inserted) == (1, 1)
    assert rows(dsn, report.journal_id) == journal_rows(root)


def test_two_journals_share_one_database(dsn: str, tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "journal", tmp_path / "b" / "journal"
    generate(a, 500, seed=5)
    generate(b, 700, seed=6)
    ra = ship(Journal.open(a, create=False), dsn, migrations=VIEWS)
    rb = ship(Journal.open(b, create=False), dsn, migrations=VIEWS)
    assert ra.journal_id != rb.journal_id
    assert rows(dsn, ra.journal_id) == journal_rows(a)
    assert rows(dsn, rb.journal_id) == journal_rows(b)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM agent_journal.events").fetchone()[0] == 1200
        assert conn.execute("SELECT count(*) FROM agent_journal.journals").fetchone()[0] == 2


def test_a_copied_journal_keeps_its_id_and_ships_nothing_twice(dsn: str, tmp_path: Path) -> None:
    root = tmp_path / "journal"
    generate(root, 300, seed=8)
    ship(Journal.open(root, create=False), dsn, migrations=VIEWS)
    copy = tmp_path / "elsewhere" / "journal"
    shutil.copytree(root, copy)
    (copy / SHIP_FILE).unlink()
    report = ship(Journal.open(copy, create=False), dsn, migrations=VIEWS)
    assert report.inserted == 0 and rows(dsn, report.journal_id)[0] == 300


def test_errors_are_one_redacted_line_and_noted(tmp_path: Path, pg) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "journal"
    journal = Journal.open(root)
    journal.append("note", {})
    url = f"postgresql://journal:s3cret-pw@/nosuchdb?host={pg.socket_dir}&port={pg.port}"
    with pytest.raises(ShipError) as caught:
        ship(journal, url, retries=0)
    message = str(caught.value)
    assert "s3cret-pw" not in message and "nosuchdb" in message and "\n" not in message
    state = (root / SHIP_FILE).read_text()
    assert "s3cret-pw" not in state and "nosuchdb" in json.loads(state)["last_error"]["message"]
    status = ship_status(journal, url)
    assert status.pending == 1 and status.last_error is not None


def test_status_counts_pending_without_a_connection(dsn: str, tmp_path: Path) -> None:
    root = tmp_path / "journal"
    generate(root, 300, seed=9)
    journal = Journal.open(root, create=False)
    assert ship_status(journal, dsn).pending == 300
    ship(journal, dsn, migrations=VIEWS)
    journal.append("note", {})
    status = ship_status(journal, dsn)
    assert (status.pending, status.shipped_seq, status.last_seq) == (1, 300, 301)
    assert status.last_ship and status.last_error is None


def test_cli_ship_status_json_and_help(dsn: str, tmp_path: Path) -> None:
    root = tmp_path / "journal"
    generate(root, 200, seed=10)
    proc = _cli(root, "ship", "--status", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pending"] == 200
    proc = _cli(root, "ship", "--json", env={"AGENT_JOURNAL_SHIP_URL": dsn})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inserted"] == 200
    proc = _cli(root, "ship", "--to", dsn)
    assert proc.returncode == 0 and "Nothing to ship" in proc.stdout
    proc = _cli(root, "ship", "--status")
    assert proc.returncode == 0 and "Pending: 0 events" in proc.stdout
    proc = _cli(root, "ship", "--help")
    assert proc.returncode == 0 and "Examples:" in proc.stdout and "--json" in proc.stdout


@pytest.mark.slow
def test_cli_without_a_target_or_with_a_bad_one_says_so(tmp_path: Path, pg) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "journal"
    Journal.open(root).append("note", {})
    env = {k: v for k, v in os.environ.items() if k != "AGENT_JOURNAL_SHIP_URL"}
    proc = subprocess.run([CLI, "--journal", str(root), "ship"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 1 and proc.stderr.startswith("Error: no database to ship to")
    assert "Traceback" not in proc.stderr
    proc = _cli(root, "ship", "--to", f"postgresql://u:hunter2@/db?host={pg.socket_dir}&port={pg.port}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "hunter2" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_without_psycopg_ship_says_what_to_install(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    Journal.open(root).append("note", {})
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\nclass _B:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'psycopg' or name.startswith('psycopg.'):\n"
        "            raise ImportError('blocked')\n        return None\nsys.meta_path.insert(0, _B())\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    proc = subprocess.run([CLI, "--journal", str(root), "ship", "--to",
                           "postgresql://x@/y"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: shipping needs psycopg 3: pip install 'agent-journal[postgres]' " \
                                  "(or: pip install 'psycopg[binary]>=3.1')"
    proc = subprocess.run([CLI, "--journal", str(root), "ship", "--status"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0 and "Pending: 1 event (journal at seq 1)" in proc.stdout
    assert "Last error" in proc.stdout and "pip install 'agent-journal[postgres]'" in proc.stdout


def test_rows_written_past_the_mark_by_someone_else_are_kept_not_duplicated(dsn: str, tmp_path: Path) -> None:
    root = tmp_path / "journal"
    generate(root, 300, seed=11)
    journal = Journal.open(root, create=False)
    first = ship(journal, dsn, migrations=VIEWS, to_seq=100)
    assert first.shipped_seq == 100
    with psycopg.connect(dsn) as conn:  # a foreign writer: seq 150 present, mark still 100
        conn.execute("INSERT INTO agent_journal.events (journal_id, seq, type, v, crc, data) "
                     "VALUES (%s, 150, 'foreign', 1, 'ffffffff', '{}')", (first.journal_id,))
    report = ship(journal, dsn, migrations=VIEWS)
    assert (report.events, report.inserted) == (200, 199)  # COPY hit the key; ON CONFLICT DO NOTHING kept it
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT type FROM agent_journal.events WHERE seq = 150").fetchone()[0] == "foreign"
        assert conn.execute("SELECT count(*), max(seq) FROM agent_journal.events").fetchone() == (300, 300)
