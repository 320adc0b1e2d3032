"""The search index and queries: what is indexed, filters, ranking, damage, compaction."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from journal import Journal
from projections.search.query import BadQuery, related_from_index, search, search_projects
from projections.search.docs import documents
from projections.search.index import ensure_index, index_path, rebuild_index
from tests.search.support import S1, S2, S3, AGENT, hits_of, sessions_of, write_sessions


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal.open(tmp_path / "project" / ".claude" / "journal", durability="flush")
    write_sessions(j)
    return j


def test_every_kind_is_indexed_with_its_session_agent_seq_time_and_type(journal: Journal) -> None:
    assert sessions_of(search(journal, "invoice")) == [S1]
    for query, kind, event in [
        ('"invoice export"', "prompt", "UserPromptSubmit"),
        ("ledger", "reply", "Stop"),               # last assistant message
        ("rounding", "reply", "Stop"),             # the turn's digest decisions
        ("invoices.py", "file", "PreToolUse"),
        ("pytest", "command", "PreToolUse"),
        ("ModuleNotFoundError", "failure", "PostToolUseFailure"),
        ("quarterly", "checkpoint", "journal.checkpoint"),
        ("auditor", "agent", "PreToolUse"),         # an Agent call's description and prompt
        ("discrepancies", "agent", "SubagentStop"),  # the agent's result
        ("reconcile", "compaction", "PreCompact"),
    ]:
        result = search(journal, query)
        found = [(h["kind"], h["type"]) for h in result["hits"]]
        assert (kind, event) in found, (query, found)
        hit = next(h for h in result["hits"] if h["kind"] == kind)
        assert hit["session"] == S1 and hit["seq"] > 0 and hit["ts"].startswith("20")
        assert hit["project"] == "/home/dev/src/shop"
    agent_hit = next(h for h in search(journal, "discrepancies")["hits"])
    assert agent_hit["agent"] == AGENT


def test_synthetic_user_turns_are_not_prompts(journal: Journal) -> None:
    """Task notifications, slash commands, hook and local-command turns are not indexed as prompts."""
    assert search(journal, "backgroundjob")["hits"] == []        # <task-notification>
    assert search(journal, "frobnicate")["hits"] == []           # /frobnicate slash command
    assert search(journal, "hookinjected")["hits"] == []         # <system-reminder>
    assert documents("UserPromptSubmit", b'{"prompt": "<local-command-stdout>x</local-command-stdout>"}') == []
    assert [d.kind for d in documents("UserPromptSubmit", b'{"prompt": "fix the /usr/bin/env path"}')] == ["prompt"]


def test_hits_are_snippeted_ranked_and_grouped(journal: Journal) -> None:
    result = search(journal, "cart")
    assert result["matches"] >= 2 and result["hits"]
    scores = [h["score"] for h in result["hits"]]
    assert scores == sorted(scores, reverse=True)
    assert all("**" in h["snippet"] for h in result["hits"] if h["kind"] != "file")
    assert set(sessions_of(result)) == {S2, S3}


def test_phrase_prefix_and_boolean_queries(journal: Journal) -> None:
    assert sessions_of(search(journal, '"invoice export"')) == [S1]
    assert sessions_of(search(journal, '"export invoice"')) == []
    assert sessions_of(search(journal, "invo*")) == [S1]
    assert set(sessions_of(search(journal, "invoice OR checkout"))) == {S1, S2}
    assert sessions_of(search(journal, "cart NOT checkout", kinds=["prompt"])) == [S3]


def test_plain_text_with_punctuation_is_searched_as_written(journal: Journal) -> None:
    assert sessions_of(search(journal, "src/shop/invoices.py")) == [S1]
    assert sessions_of(search(journal, "invoice-export")) == [S1]


@pytest.mark.parametrize("query", ['"unterminated', "(cart", "cart)", 'NEAR("a" "b"', '"a" OR', 'cart AND (x'])
def test_a_query_fts5_cannot_parse_is_one_clear_error(journal: Journal, query: str) -> None:
    with pytest.raises(BadQuery) as info:
        search(journal, query)
    message = str(info.value)
    assert "\n" not in message and "cannot parse the search query" in message and "FTS5 syntax" in message


def test_filters(journal: Journal) -> None:
    assert {h["kind"] for h in search(journal, "invoice", kinds=["prompt"])["hits"]} == {"prompt"}
    assert {h["kind"] for h in search(journal, "invoice", kinds=["file", "command"])["hits"]} <= {"file", "command"}
    assert sessions_of(search(journal, "cart", session=S3[:6])) == [S3]
    assert {h["agent"] for h in search(journal, "discrepancies OR auditor", agent=AGENT[:5])["hits"]} == {AGENT}
    # --since: the journal's events are from 2025; a week ago finds nothing, a long while finds them
    assert search(journal, "invoice", since="1w")["hits"] == []
    assert search(journal, "invoice", since="2025-01-01")["hits"]
    with pytest.raises(BadQuery, match="unknown --type"):
        search(journal, "x", kinds=["nope"])


def test_which_sessions_touched_a_file(journal: Journal) -> None:
    result = search(journal, file="cart/api.py")
    assert set(sessions_of(result)) == {S2, S3}
    assert all(h["path"].endswith("/cart/api.py") for h in result["hits"])
    seqs = [h["seq"] for h in result["hits"]]
    assert seqs == sorted(seqs, reverse=True)  # newest first without a query
    assert search(journal, file="api.py")["hits"]  # a trailing part is enough
    assert search(journal, file="pi.py")["hits"] == []  # ...but whole path components only
    assert sessions_of(search(journal, file="/home/dev/src/shop/cart/api.py")) != []
    assert sessions_of(search(journal, "refactor", file="cart/api.py")) == []  # the file hit has no such text


def test_a_repeated_document_is_one_hit_with_its_latest_time_and_count(journal: Journal) -> None:
    hits = [h for h in search(journal, "pytest")["hits"] if h["kind"] == "command" and h["session"] == S1]
    assert len(hits) == 1 and hits[0]["count"] == 2 and hits[0]["seq"] > hits[0]["first_seq"]


def test_the_index_is_incremental_and_private(journal: Journal) -> None:
    path, status = ensure_index(journal)
    assert status.rebuilt == "no index yet" and status.seq == journal.last_seq()
    path, status = ensure_index(journal)
    assert status.events == 0 and not status.rebuilt
    journal.append("UserPromptSubmit", {"prompt": "add a zeppelin mode"}, session=S3)
    path, status = ensure_index(journal)
    assert status.events == 1 and not status.rebuilt
    assert sessions_of(search(journal, "zeppelin")) == [S3]
    for p in path.parent.iterdir():
        if p.name.startswith("search"):
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other-journal", "ahead", "old-version"])
def test_a_damaged_or_foreign_index_costs_a_rebuild_never_an_error(journal: Journal, damage: str) -> None:
    expected = hits_of(search(journal, "invoice"))
    path = index_path(journal.root)
    if damage == "garbage":
        path.write_bytes(os.urandom(8192))
    elif damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        conn = sqlite3.connect(path)
        key, value = {"other-journal": ("journal_id", "ffff"), "ahead": ("seq", 10**9),
                      "old-version": ("version", 0)}[damage]
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
        conn.commit()
        conn.close()
    result = search(journal, "invoice")
    assert hits_of(result) == expected
    assert result["index"]["rebuilt"]


def test_damaged_pages_anywhere_cost_a_rebuild(journal: Journal) -> None:
    search(journal, "invoice")
    path = index_path(journal.root)
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data), 3 * page):  # every third page after the header's
        data[start : start + page] = os.urandom(page)
    path.write_bytes(bytes(data))
    assert sessions_of(search(journal, "invoice")) == [S1]


def test_a_missing_index_is_built_and_rebuild_gives_the_same(journal: Journal) -> None:
    first = hits_of(search(journal, "cart OR invoice"))
    index_path(journal.root).unlink()
    assert hits_of(search(journal, "cart OR invoice")) == first
    status = rebuild_index(journal)
    assert status.seq == journal.last_seq()
    assert hits_of(search(journal, "cart OR invoice")) == first


def test_search_across_projects_merges_by_score(tmp_path: Path, journal: Journal) -> None:
    other = Journal.open(tmp_path / "other" / ".claude" / "journal", durability="flush")
    write_sessions(other, only=(S2,))
    result = search_projects([journal, other], "checkout")
    assert {h["journal"] for h in result["hits"]} == {str(journal.root), str(other.root)}
    scores = [h["score"] for h in result["hits"]]
    assert scores == sorted(scores, reverse=True) and result["projects"] == 2
    # a session filter naming a session of one project is not an error in the other
    only = search_projects([journal, other], "invoice", session=S1[:8])
    assert sessions_of(only) == [S1] and not only["errors"]
    with pytest.raises(BadQuery):
        search_projects([journal, other], '"open')


def test_related_sessions_come_from_the_index(journal: Journal) -> None:
    from projections.runner import load_views

    views = load_views(journal)
    target = views.sessions.records.record(S3)
    found = related_from_index(journal, target, {"cart", "checkout"})
    assert found is not None and [f["id"] for f in found] == [S2]
    assert any(r.startswith("files api.py") for r in found[0]["reasons"])


def test_compaction_keeps_what_search_finds_even_when_it_drops_events(tmp_path: Path) -> None:
    from projections.compaction.compact import compact

    j = Journal.open(tmp_path / "j", durability="flush", segment_bytes=4096)
    write_sessions(j)
    before = {q: hits_of(search(j, q)) for q in ("invoice", "cart", "auditor", "pytest")}
    epoch = j.manifest().epoch
    report = compact(j, older_than="0s", archive=False, now=2e9, probe=lambda pid: None)
    assert report.sessions and j.manifest().epoch > epoch
    assert {q: hits_of(search(j, q)) for q in before} == before


def test_a_query_matching_more_than_the_window_ranks_its_newest_matches(journal: Journal,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import projections.search.query as search_module

    everything = search(journal, "cart OR invoice OR checkout", limit=100)
    assert everything["more"] is False and everything["matches"] == everything["ranked"] > 3
    newest = sorted(h["first_seq"] for h in everything["hits"])[-3:]
    monkeypatch.setattr(search_module, "RANK_WINDOW", 3)
    capped = search(journal, "cart OR invoice OR checkout", limit=100)
    assert capped["more"] is True and capped["matches"] is None and capped["ranked"] == 3
    assert sorted(h["first_seq"] for h in capped["hits"]) == newest
