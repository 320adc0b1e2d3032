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


def _idle_cli(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, bool]:
    """(exit code, stdout, whether click was imported) of the console entry point run with *args*."""
    probe = ("import sys\nfrom cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
             "    code = e.code\nsys.stderr.write('\\nclick=%s code=%s' % ('click' in sys.modules, code))\n")
    proc = subprocess.run([sys.executable, "-c", probe, "--journal", str(root), *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})
    tail = proc.stderr.rsplit("\n", 1)[-1]
    return int(tail.split("code=")[1]), proc.stdout, "click=True" in tail


def test_the_idle_fast_path_answers_as_the_command_does_without_click(dsn: str, tmp_path: Path) -> None:
    from cli.idle_ship import MIGRATED
    from journal.shipping.schema import versions

    assert MIGRATED == versions(VIEWS)  # else the fast path is never taken
    root = tmp_path / "journal"
    generate(root, 120, seed=12)
    code, out, clicked = _idle_cli(root, "ship", "--to", dsn)
    assert code == 0 and clicked and "Shipped 120 events" in out  # work to do: the full command
    before = (root / SHIP_FILE).read_bytes()
    code, out, clicked = _idle_cli(root, "ship", "--to", dsn)
    assert (code, clicked) == (0, False)
    assert out == f"Nothing to ship: {redact_url(dsn)} has every event up to seq 120.\n"
    code, out, clicked = _idle_cli(root, "ship", "--json", "--auto", env={"AGENT_JOURNAL_SHIP_URL": dsn})
    assert (code, clicked) == (0, False)
    report = json.loads(out)
    assert (report["events"], report["shipped_seq"], report["connected"]) == (0, 120, False)
    assert report.keys() == ship(Journal.open(root, create=False), dsn, migrations=VIEWS).to_dict().keys()
    assert _idle_cli(root, "ship", "--auto", "--to", dsn) == (0, "", False)
    assert (root / SHIP_FILE).read_bytes() == before  # an idle ship writes nothing
    # Its reader gone (`agent-journal ship | head -0`): quiet and 0, as the full command is.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        gone = subprocess.run([sys.executable, "-c", "from cli.main import main; main()", "--journal", str(root),
                               "ship", "--to", dsn], stdout=write_end, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write_end)
    assert (gone.returncode, gone.stderr) == (0, b"")

    Journal.open(root, create=False).append("note", {"text": "one more"})
    code, out, clicked = _idle_cli(root, "ship", "--to", dsn)
    assert code == 0 and clicked and "Shipped 1 event " in out
    # Whatever the fast path does not know goes to the command: other options, another target, --status.
    assert _idle_cli(root, "ship", "--to", dsn, "--batch", "5")[2]
    assert _idle_cli(root, "ship", "--status")[2]
    other = dsn.replace("port=", "connect_timeout=1&port=")
    code, out, clicked = _idle_cli(root, "ship", "--to", other)
    assert code == 0 and clicked and out.startswith("Nothing to ship: ") and "connect_timeout=1" in out


def test_the_idle_fast_path_leaves_an_error_to_the_command_to_clear(tmp_path: Path, pg) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "journal"
    generate(root, 50, seed=13)
    dsn = pg.new_database()
    ship(Journal.open(root, create=False), dsn, migrations=VIEWS)
    state = read_ship_state(root)
    state["last_error"] = {"at": "2026-01-01T00:00:00.000000Z", "message": "the network was down"}
    (root / SHIP_FILE).write_text(json.dumps(state))
    code, out, clicked = _idle_cli(root, "ship", "--to", dsn)
    assert (code, clicked) == (0, True) and "Nothing to ship" in out
    assert read_ship_state(root)["last_error"] is None
    assert _idle_cli(root, "ship", "--to", dsn)[2] is False  # cleared: the fast path again


def test_odd_timestamps_and_ids_arrive_as_postgresql_can_hold_them(dsn: str, tmp_path: Path) -> None:
    import datetime as dt

    root = tmp_path / "journal"
    journal = Journal.open(root)
    utc = dt.UTC
    cases = [("2026-01-05T09:00:03.323098Z", dt.datetime(2026, 1, 5, 9, 0, 3, 323098, tzinfo=utc)),
             ("2026-01-05T09:00:03", dt.datetime(2026, 1, 5, 9, 0, 3, tzinfo=utc)),  # no zone: UTC
             ("2026-01-05T10:00:03+01:00", dt.datetime(2026, 1, 5, 9, 0, 3, tzinfo=utc)),
             ("1999-12-31T23:59:59.999999Z", dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=utc)),
             ("2026-02-30T00:00:00.000000Z", None),  # no such day
             ("yesterday", None)]
    for ts, _ in cases:
        journal.append("note", {"k": "v"}, ts=ts, session="s\x00nul", agent="a\u00e9")
    report = ship(journal, dsn, migrations=VIEWS)
    assert report.inserted == len(cases)
    with psycopg.connect(dsn) as conn:
        got = conn.execute("SELECT ts, session, agent FROM agent_journal.events ORDER BY seq").fetchall()
    assert [g[0] for g in got] == [want for _, want in cases]
    assert {(g[1], g[2]) for g in got} == {("s\ufffdnul", "a\u00e9")}


#: README's Teams section gives this to take a scrubbed secret out of the database too.
SCRUB_SQL = """
WITH hit AS (DELETE FROM agent_journal.events WHERE data::text LIKE %(like)s RETURNING journal_id, seq)
UPDATE agent_journal.journals j SET shipped_seq = least(j.shipped_seq, h.first_seq - 1)
FROM (SELECT journal_id, min(seq) AS first_seq FROM hit GROUP BY journal_id) h
WHERE j.journal_id = h.journal_id
"""


def test_a_secret_scrubbed_after_it_shipped_goes_from_the_database_as_the_readme_says(dsn: str, tmp_path: Path
                                                                                       ) -> None:
    from journal.compaction.scrub import Matcher, scrub

    secret = "sk-live-0123456789abcdefXYZ"
    root = tmp_path / "journal"
    generate(root, 300, seed=14)
    journal = Journal.open(root, create=False)
    for n in range(3):
        journal.append("note", {"text": f"oops {n}: {secret}"}, session="s-leak")
    journal.append("note", {"text": "after"})
    report = ship(journal, dsn, migrations=VIEWS)
    like = f"%{secret}%"
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM agent_journal.events WHERE data::text LIKE %s",
                            (like,)).fetchone()[0] == 3
    assert scrub(root, Matcher(secret)).records == 3
    assert ship(journal, dsn, migrations=VIEWS).inserted == 0  # the rows are there: ship alone changes nothing
    with psycopg.connect(dsn) as conn:
        conn.execute(SCRUB_SQL, {"like": like})
    assert ship(journal, dsn, migrations=VIEWS).connected is False  # ship.json alone says nothing is pending
    journal.append("note", {"text": "the next event"})
    again = ship(journal, dsn, migrations=VIEWS)
    # The next run with something to send starts at the database's lowered mark: the deleted rows
    # come back scrubbed, the others are kept (not duplicated), then the new event.
    assert (again.from_seq, again.inserted) == (300, 4)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM agent_journal.events WHERE data::text LIKE %s",
                            (like,)).fetchone()[0] == 0
    assert rows(dsn, report.journal_id) == journal_rows(root)  # every crc the scrubbed journal's
