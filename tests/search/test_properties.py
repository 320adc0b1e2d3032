"""Property: for any journal and any split point, the incremental index equals a rebuild.

Same rows (ids, first and latest seq, counts, text) and the same hits for a set of
queries (words, a phrase, a prefix, kinds, a file), whether the index was built in one
pass, updated after a first part, or updated event by event; and a damaged index file
in the middle changes nothing either.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import Journal
from projections.search.query import search
from projections.search.index import ensure_index, index_path, rebuild_index
from tests.projections.strategies import FILES, WORDS, journals, to_new_events
from tests.profiles import examples

QUERIES: list[dict[str, Any]] = [
    *({"query": w} for w in WORDS),
    {"query": '"cart checkout"'},
    {"query": "inv*"},
    {"query": "cache OR deploy", "kinds": ["prompt", "checkpoint"]},
    {"query": "tests", "kinds": ["command", "failure", "agent", "reply", "compaction"]},
    {"file": FILES[2].rsplit("/", 2)[-2] + "/api.py"},
    {"file": "greet.py"},
]


def _rows(journal: Journal) -> list[Any]:
    conn = sqlite3.connect(index_path(journal.root))
    try:
        docs = conn.execute("SELECT * FROM docs ORDER BY id").fetchall()
        sessions = conn.execute("SELECT * FROM sessions ORDER BY id").fetchall()
        fts = conn.execute("SELECT count(*) FROM fts WHERE fts MATCH 'kind : (prompt OR file OR reply)'").fetchone()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    finally:
        conn.close()
    return [docs, sessions, fts, meta["seq"]]


def _answers(journal: Journal) -> list[Any]:
    out = []
    for q in QUERIES:
        result = search(journal, q.get("query", ""), kinds=q.get("kinds", ()), file=q.get("file"), limit=50,
                        update=False)
        out.append([(h["session"], h["kind"], h["seq"], h["count"], h["snippet"], h["score"]) for h in result["hits"]])
    return out


@given(drafts=journals(max_steps=50), split=st.floats(0, 1), step_by_step=st.booleans(), damage=st.booleans())
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_incremental_index_equals_a_rebuild(drafts: list[Any], split: float, step_by_step: bool,
                                            damage: bool) -> None:
    events = to_new_events(drafts)
    k = int(len(events) * split)
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal.open(Path(tmp) / "j", durability="flush")
        if events[:k]:
            journal.append_many(events[:k])
        ensure_index(journal)
        if damage:
            index_path(journal.root).write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
        rest = events[k:]
        for i in range(0, len(rest), 1 if step_by_step else max(1, len(rest))):
            journal.append_many(rest[i : i + (1 if step_by_step else len(rest))])
            if step_by_step:
                ensure_index(journal)
        ensure_index(journal)
        incremental = _rows(journal), _answers(journal)
        rebuild_index(journal)
        rebuilt = _rows(journal), _answers(journal)
        assert incremental == rebuilt
