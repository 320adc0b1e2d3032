"""The SQL views answer like the local projections, for the same events, compacted or not.

Scenarios: shipped raw; compacted before shipping (the database gets snapshot records);
compacted after shipping (the database keeps the raw events); shipped half, then
compacted (the restoring records land below the mark: ``late_records``), then the
rest; and sessions that go on after their compaction. In each, every session's row in
``agent_journal.sessions`` (and agents, files, failures) equals the fold of the live
journal by `projections.runner.load_views`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from journal import Journal
from projections.compaction.compact import compact
from projections.runner import load_views
from projections.read.warehouse import LATE_TYPES, VIEWS_MIGRATION
from journal.shipping.replicate import ship
from tests.ship.conftest import generate

NOW = 1_800_000_000.0  # 2027-01-15: every generated session is older than the horizon
TS = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


def _ship(journal: Journal, dsn: str, **kw: Any) -> Any:
    return ship(journal, dsn, migrations=(VIEWS_MIGRATION,), late_types=LATE_TYPES, batch=300, **kw)


def _compact(journal: Journal) -> int:
    report = compact(journal, older_than="7d", now=NOW, probe=lambda pid: None)
    return int(report.events_removed)


def expected(journal: Journal) -> dict[str, dict[str, Any]]:
    views = load_views(journal, use_cache=False, save=False)
    sessions = {}
    for sid, rec in views.sessions.records.records():
        sessions[sid] = {
            "status": "ended" if rec.ended else "open",
            "first_seq": rec.first_seq, "last_seq": rec.last_seq, "first_ts": rec.first_ts, "last_ts": rec.last_ts,
            "events": rec.events, "started": rec.started or None, "ended": rec.ended or None,
            "end_reason": rec.end_reason or None, "prompts": rec.prompts, "failed": rec.failed,
            "project_dir": rec.project_dir, "branch": rec.branch, "model": rec.model,
            "files": dict(rec.files), "failures": [(f.seq, f.tool) for f in rec.failures],
        }
    agents = {}
    for aid, rec in views.agents.records.records():
        agents[aid] = {"parent": rec.parent or None, "status": rec.status, "started": rec.started or None,
                       "stopped": rec.stopped or None, "failed": rec.failed, "first_seq": rec.first_seq}
    return {"sessions": sessions, "agents": agents}


def actual(dsn: str, journal_id: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        cols = ("session", "status", "first_seq", "last_seq", TS.format("first_ts"), TS.format("last_ts"), "events",
                TS.format("started"), TS.format("ended"), "end_reason", "prompts", "failed", "project_dir", "branch",
                "model")
        sessions = {}
        for row in conn.execute(f"SELECT {', '.join(cols)} FROM agent_journal.sessions WHERE journal_id = %s",
                                (journal_id,)):
            sid, *rest = row
            keys = ("status", "first_seq", "last_seq", "first_ts", "last_ts", "events", "started", "ended",
                    "end_reason", "prompts", "failed", "project_dir", "branch", "model")
            sessions[sid] = dict(zip(keys, rest, strict=True)) | {"files": {}, "failures": []}
        for sid, path, edits in conn.execute(
                "SELECT session, path, sum(edits) FROM agent_journal.files WHERE journal_id = %s GROUP BY 1, 2",
                (journal_id,)):
            sessions[sid]["files"][path] = int(edits)
        for sid, seq, tool in conn.execute(
                "SELECT session, seq, tool FROM (SELECT session, seq, tool, row_number() OVER "
                "(PARTITION BY session ORDER BY seq DESC) AS n FROM agent_journal.failures WHERE journal_id = %s) x "
                "WHERE n <= 3 ORDER BY session, seq", (journal_id,)):
            sessions[sid]["failures"].append((seq, tool))
        agents = {}
        for aid, parent, status, started, stopped, failed, first in conn.execute(
                f"SELECT agent, parent, status, {TS.format('started')}, {TS.format('stopped')}, failed, first_seq "
                "FROM agent_journal.agents WHERE journal_id = %s", (journal_id,)):
            agents[aid] = {"parent": parent, "status": status, "started": started, "stopped": stopped,
                           "failed": failed, "first_seq": first}
    return {"sessions": sessions, "agents": agents}


def _same(journal: Journal, dsn: str) -> None:
    want = expected(journal)
    got = actual(dsn, journal.manifest().journal_id)
    assert set(got["sessions"]) == set(want["sessions"])
    for sid, rec in want["sessions"].items():
        assert got["sessions"][sid] == rec, sid
    assert set(got["agents"]) == set(want["agents"])
    for aid, rec in want["agents"].items():
        assert got["agents"][aid] == rec, aid


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("views") / "journal"
    generate(root, 2500, seed=21, sessions=18)
    return root


def _copy(src: Path, dst: Path) -> Journal:
    import shutil

    shutil.copytree(src, dst)
    return Journal.open(dst, create=False)


def test_views_equal_the_projections_for_raw_events(generated: Path, tmp_path: Path, dsn: str) -> None:
    journal = _copy(generated, tmp_path / "journal")
    _ship(journal, dsn)
    _same(journal, dsn)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM agent_journal.files").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM agent_journal.failures").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM agent_journal.agents").fetchone()[0] > 0


@pytest.mark.slow
def test_compacted_before_shipping_ships_snapshots_and_the_views_agree(generated: Path, tmp_path: Path,
                                                                     dsn: str) -> None:
    journal = _copy(generated, tmp_path / "journal")
    assert _compact(journal) > 1000
    report = _ship(journal, dsn)
    with psycopg.connect(dsn) as conn:
        snaps = conn.execute("SELECT count(*) FROM agent_journal.events WHERE type = 'journal.snapshot'").fetchone()[0]
        gaps = conn.execute("SELECT count(*) FROM agent_journal.gaps WHERE kind = 'compacted'").fetchone()[0]
    assert snaps > 0 and gaps == len(journal.manifest().compacted) and report.gaps == gaps
    _same(journal, dsn)


@pytest.mark.slow
def test_compacted_after_shipping_keeps_the_raw_events_and_the_views_agree(generated: Path, tmp_path: Path,
                                                                         dsn: str) -> None:
    journal = _copy(generated, tmp_path / "journal")
    first = _ship(journal, dsn)
    assert _compact(journal) > 1000
    journal.append("SessionStart", {"source": "startup", "cwd": "/w"}, session="late-session")
    journal.append("SessionEnd", {"reason": "clear"}, session="late-session")
    second = _ship(journal, dsn)
    assert second.events == 2 and second.shipped_seq == first.shipped_seq + 2
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM agent_journal.events").fetchone()[0] == 2502
    _same(journal, dsn)


@pytest.mark.slow
def test_half_shipped_then_compacted_then_the_rest_agrees(generated: Path, tmp_path: Path, dsn: str) -> None:
    journal = _copy(generated, tmp_path / "journal")
    _ship(journal, dsn, to_seq=1300)
    assert _compact(journal) > 1000
    report = _ship(journal, dsn)
    assert report.late > 0  # restoring records below the mark went to late_records
    _same(journal, dsn)
    # A compacted session that goes on (claude --resume keeps its id) adds to its restored record.
    sid = next(s for s, rec in expected(journal)["sessions"].items() if rec["status"] == "ended")
    journal.append("SessionStart", {"source": "resume", "cwd": "/w", "model": "m2"}, session=sid)
    journal.append("UserPromptSubmit", {"prompt": "again"}, session=sid)
    _ship(journal, dsn)
    got = actual(dsn, journal.manifest().journal_id)["sessions"][sid]
    assert got["status"] == "open" and got["model"] == "m2"
    _same(journal, dsn)
