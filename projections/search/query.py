"""Searching the index: BM25-ranked hits with snippets, filters, grouping, every project.

`search` brings the journal's index up to date (`projections.search.index`), turns the
query and the filters into one FTS5 match expression (filters on kind, session and
agent are columns of the index, so they narrow the match instead of filtering ranked
rows), ranks with BM25 (text and path columns), and returns hits grouped by session.

Ranking cost grows with the number of matching documents (FTS5 scores every match),
so a query matching more than `RANK_WINDOW` documents is ranked among its newest
`RANK_WINDOW` matches (the result says so: ``more``); narrow it
with more words or a filter to reach older ones. `search_projects` fans a query out
over every registered journal (`journal.registry`) and merges the hits by score.

`related_from_index` is what the recovery context uses for "related earlier sessions":
the target session's keywords and files as one OR query, hits summed per session.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from journal.errors import JournalError
from journal.location import project_of
from projections.errors import ProjectionError, UnknownId
from projections.ids import resolve_prefix
from projections.search.docs import KINDS
from projections.search.index import IndexBusy, SearchIndexError, connect, ensure_index, index_path, rebuild_index
from projections.timeref import parse_duration, parse_time, ts_text

if TYPE_CHECKING:
    from journal import Journal
    from projections.folds.sessions import SessionRecord

__all__ = [
    "BadQuery",
    "RANK_WINDOW",
    "DEFAULT_LIMIT",
    "search",
    "search_projects",
    "group_hits",
    "related_from_index",
    "since_ts",
]

#: At most this many matching documents are ranked (the newest ones).
RANK_WINDOW = 2000
DEFAULT_LIMIT = 20
_MARK = ("**", "**")
_SNIPPET_TOKENS = 16
_SYNTAX_HELP = ('FTS5 syntax: words (all must match), "exact phrase", prefix*, OR, NOT, '
                'NEAR(a b); put punctuation inside quotes')


class BadQuery(ProjectionError):
    """A query FTS5 cannot parse (a usage error: the message says how to write it)."""


def since_ts(text: str, now: float | None = None) -> str:
    """The journal timestamp a ``--since`` value names: an age (``2w``, ``3d``) or a time."""
    raw = text.strip()
    if re.fullmatch(r"(\d+(\.\d+)?\s*[smhdw]?\s*)+", raw.lower()):
        return ts_text((time.time() if now is None else now) - parse_duration(raw))
    return ts_text(parse_time(raw))


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _plain_terms(query: str) -> str:
    """*query* as quoted terms (for plain text FTS5 rejects: ``src/cart.py``, ``a-b``); a
    trailing ``*`` stays a prefix."""
    parts = []
    for term in query.split():
        star = term.endswith("*") and len(term) > 1
        body = term[:-1] if star else term
        parts.append(_quote(body) + ("*" if star else ""))
    return " ".join(parts)


def _parses(conn: sqlite3.Connection, expr: str) -> str | None:
    """None if FTS5 accepts *expr*, else its complaint."""
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe USING fts5(text, path, kind, sess, agent)")
    try:
        conn.execute("SELECT 1 FROM temp.probe WHERE probe MATCH ?", (expr,)).fetchall()
    except sqlite3.OperationalError as e:
        return str(e).removeprefix("fts5: ")
    return None


def user_expression(conn: sqlite3.Connection, query: str) -> str:
    """The FTS5 expression for a user's *query*, over the text and path columns.

    Plain text that FTS5 rejects only for its punctuation is searched as quoted terms;
    a query using quotes or parentheses that does not parse is a `BadQuery`.
    """
    q = " ".join(query.split())
    problem = _parses(conn, q)
    if problem is not None:
        if '"' in q or "(" in q or ")" in q:
            raise BadQuery(f"cannot parse the search query {query!r}: {problem} ({_SYNTAX_HELP})")
        q = _plain_terms(q)
        again = _parses(conn, q)
        if again is not None:
            raise BadQuery(f"cannot parse the search query {query!r}: {again} ({_SYNTAX_HELP})")
    return "{text path} : (" + q + ")"


def _session_filter(conn: sqlite3.Connection, prefix: str) -> str:
    wanted = prefix.strip()
    rows = conn.execute("SELECT sid, id FROM sessions WHERE substr(sid, 1, ?) = ?", (len(wanted), wanted)).fetchall()
    ids = dict(rows)
    sid = resolve_prefix(wanted, ids, "session")
    return f"sess : s{ids[sid]}"


def _norm_path(path: str) -> str:
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    return path


def _hit(row: tuple[Any, ...], project: str, journal_root: str) -> dict[str, Any]:
    (rid, kind, tool, event, seq, ts, last_seq, last_ts, hits, agent, path, text, sid, sproject, snip_text,
     snip_path, rank) = row
    mark = _MARK[0]
    if kind == "file":  # the path, and for Grep/Glob the pattern searched in it
        snippet = snip_path if mark in snip_path else path
        if text:
            snippet = f"{snip_text if mark in snip_text else text} in {snippet}"
    else:
        snippet = snip_text if mark in snip_text else (snip_path if mark in snip_path else text)
    return {
        "session": sid,
        "project": sproject or project,
        "journal": journal_root,
        "agent": agent,
        "kind": kind,
        "type": event,
        "tool": tool,
        "path": path,
        "seq": last_seq,
        "ts": last_ts,
        "first_seq": seq,
        "first_ts": ts,
        "count": hits,
        "snippet": " ".join(snippet.split()),
        "score": round(-float(rank), 4),
    }


_SELECT = f"""
SELECT d.id, d.kind, d.tool, d.event, d.seq, d.ts, d.last_seq, d.last_ts, d.hits, d.agent, d.path, d.text,
       s.sid, s.project,
       snippet(fts, 0, '{_MARK[0]}', '{_MARK[1]}', '…', {_SNIPPET_TOKENS}),
       snippet(fts, 1, '{_MARK[0]}', '{_MARK[1]}', '…', {_SNIPPET_TOKENS}),
       rank
FROM fts JOIN docs d ON d.id = fts.rowid JOIN sessions s ON s.id = d.sess
WHERE fts MATCH ? AND fts.rowid >= ?"""


def search(
    journal: Journal,
    query: str = "",
    *,
    session: str | None = None,
    agent: str | None = None,
    kinds: Iterable[str] = (),
    since: str | None = None,
    file: str | None = None,
    limit: int = DEFAULT_LIMIT,
    update: bool = True,
    now: float | None = None,
) -> dict[str, Any]:
    """Search one journal. Returns ``{"query", "journal", "project", "indexed_seq",
    "matches", "ranked", "more", "hits": [...], "index": {...}}``, hits best first;
    ``matches`` is None (and ``more`` true) when over `RANK_WINDOW` documents match.

    *query* may be empty when *file* is given ("which sessions touched this file"): the
    hits are then the newest first.
    """
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise BadQuery(f"unknown --type {', '.join(unknown)}; known: {', '.join(KINDS)}")
    if not query.strip() and not file:
        raise BadQuery("give a search query (or --file PATH)")
    cutoff = since_ts(since, now) if since else None
    args = (query, session, agent, kinds, cutoff, file, limit)
    if update:
        path, status = ensure_index(journal)
    else:
        path, status = index_path(journal.root), None
    try:
        total, rows, seq = _query(path, *args)
    except BadQuery:
        raise
    except sqlite3.DatabaseError as e:
        if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
            raise SearchIndexError(f"the search index {path} stayed locked: {e}") from e
        # Damage found while reading (the open-time checks passed): rebuild, once.
        status = rebuild_index(journal)
        status.rebuilt = f"damaged index: {e}"
        try:
            total, rows, seq = _query(path, *args)
        except sqlite3.Error as again:
            raise SearchIndexError(f"cannot read the search index {path}: {again}") from again
    project, root = project_of(journal.root), str(journal.root)
    return {
        "query": query,
        "journal": root,
        "project": project,
        "indexed_seq": seq,
        "matches": total,  # None: more than RANK_WINDOW
        "ranked": RANK_WINDOW if total is None else total,
        "more": total is None,
        "hits": [_hit(row, project, root) for row in rows],
        "index": {"events_folded": status.events, "rebuilt": status.rebuilt, "stale": status.stale}
        if status is not None else {},
    }


def _window(conn: sqlite3.Connection, expr: str) -> tuple[int | None, int]:
    """``(matching documents, lowest rowid to rank)``: all of them when there are at most
    `RANK_WINDOW` (counted), else the newest `RANK_WINDOW` (not counted: ``None``)."""
    beyond = conn.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                          (expr, RANK_WINDOW)).fetchone()
    if beyond is not None:
        return None, beyond[0] + 1
    return conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (expr,)).fetchone()[0], 0


def _query(path: Path, query: str, session: str | None, agent: str | None, kinds: tuple[str, ...],
           cutoff: str | None, file: str | None, limit: int) -> tuple[int | None, list[tuple[Any, ...]], int]:
    """``(matching documents, ranked rows, indexed seq)`` of one index file."""
    conn = connect(path, readonly=True)
    try:
        parts = []
        if query.strip():
            parts.append(user_expression(conn, query))
        if file:
            parts.append("path : " + _quote(_norm_path(file)))
        if kinds:
            parts.append("kind : (" + " OR ".join(kinds) + ")")
        if session:
            parts.append(_session_filter(conn, session))
        if agent:
            parts.append("agent : " + _quote(agent.strip()) + "*")
        expr = " AND ".join(parts)
        total, floor = _window(conn, expr)
        sql = _SELECT
        args: list[Any] = [expr, floor]
        if cutoff:
            sql += " AND d.last_ts >= ?"
            args.append(cutoff)
        if file:
            wanted = _norm_path(file)
            if os.path.isabs(wanted):
                sql += " AND d.path = ?"
                args.append(wanted)
            else:
                sql += " AND (d.path = ? OR substr(d.path, -?) = ?)"
                args += [wanted, len(wanted) + 1, "/" + wanted]
        sql += " ORDER BY rank LIMIT ?" if query.strip() else " ORDER BY d.last_seq DESC LIMIT ?"
        args.append(limit)
        rows = conn.execute(sql, args).fetchall()
        seq = conn.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0]
    finally:
        conn.close()
    return total, rows, seq


def search_projects(journals: Iterable[Journal], query: str = "", *, limit: int = DEFAULT_LIMIT,
                    **filters: Any) -> dict[str, Any]:
    """`search` over several journals, hits merged by score (best first), at most *limit*.

    A journal whose search fails (unreadable, busy) is reported in ``errors``, not raised;
    a bad query or an unknown filter value is raised (it would fail everywhere).
    """
    hits: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    searched = matches = 0
    more = False
    for journal in journals:
        try:
            result = search(journal, query, limit=limit, **filters)
        except BadQuery:
            raise
        except UnknownId:
            continue  # --session names a session of another project
        except ProjectionError as e:
            errors.append({"journal": str(journal.root), "error": str(e)})
            continue
        except (IndexBusy, OSError, sqlite3.Error) as e:
            errors.append({"journal": str(journal.root), "error": str(e)})
            continue
        searched += 1
        matches += result["ranked"]
        more |= result["more"]
        hits.extend(result["hits"])
    if query.strip():
        hits.sort(key=lambda h: (-h["score"], h["ts"]))
    else:
        hits.sort(key=lambda h: h["ts"], reverse=True)
    return {"query": query, "projects": searched, "matches": None if more else matches, "ranked": matches,
            "more": more, "hits": hits[:limit], "errors": errors}


def group_hits(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hits grouped by (project, session), groups in order of their best hit."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for hit in hits:
        key = (hit["journal"], hit["session"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = {"session": hit["session"], "project": hit["project"], "journal": hit["journal"],
                                   "last_ts": hit["ts"], "hits": []}
        group["hits"].append(hit)
        group["last_ts"] = max(group["last_ts"], hit["ts"])
    return list(groups.values())


# ---------------------------------------------------------------- related sessions

#: Events the SessionStart render folds into the index before using it; beyond that
#: the keyword method is used and the index is left to a later update.
MAX_LAG = 20_000
_RELATED_TERMS = 24
_RELATED_FILES = 10
_warned = False


def _say_once(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        print(f"agent-journal: {message}", file=sys.stderr)


def related_from_index(
    journal: Journal,
    target: SessionRecord,
    words: Iterable[str],
    *,
    limit: int = 5,
    exclude: Iterable[str] = (),
    upto: int | None = None,
) -> list[dict[str, Any]] | None:
    """Earlier sessions that share *words* (the target's keywords) or files, ranked by BM25.

    ``[{"id", "score", "reasons"}]`` best first, or None when the index cannot be opened
    (the caller then falls back to keyword overlap; this says so once on stderr).
    """
    terms = sorted(words)[:_RELATED_TERMS]
    files = [p for p in list(target.files)[-_RELATED_FILES:] if p]
    if not terms and not files:
        return []
    try:
        path, _ = ensure_index(journal, wait=0, max_lag=MAX_LAG)
        conn = connect(path, readonly=True)
    except (JournalError, OSError, sqlite3.Error) as e:
        _say_once(f"search index unavailable ({e}); related sessions found by keyword overlap instead")
        return None
    try:
        alts = [_quote(t) for t in terms] + ["path : " + _quote(p.rsplit("/", 1)[-1]) for p in files]
        expr = "{text path} : (" + " OR ".join(alts) + ")"
        row = conn.execute("SELECT id FROM sessions WHERE sid = ?", (target.id,)).fetchone()
        if row is not None:
            expr += f" NOT sess : s{row[0]}"
        _, floor = _window(conn, expr)
        rows = conn.execute(
            "SELECT s.sid, s.project, d.text, d.path, d.seq, rank FROM fts JOIN docs d ON d.id = fts.rowid "
            "JOIN sessions s ON s.id = d.sess WHERE fts MATCH ? AND fts.rowid >= ? AND d.seq <= ? "
            "ORDER BY rank LIMIT 400",
            (expr, floor, target.last_seq if upto is None else min(upto, target.last_seq)),
        ).fetchall()
    except sqlite3.Error as e:
        _say_once(f"search index unreadable ({e}); related sessions found by keyword overlap instead")
        return None
    finally:
        conn.close()
    skip = set(exclude) | {target.id}
    names = {p.rsplit("/", 1)[-1]: p for p in files}
    found: dict[str, dict[str, Any]] = {}
    for sid, project, text, path, _seq, rank in rows:
        if sid in skip or not sid:
            continue
        if target.project_dir and project and project != target.project_dir:
            continue
        item = found.setdefault(sid, {"id": sid, "score": 0.0, "n": 0, "words": set(), "files": set()})
        if item["n"] < 5:  # a session's best five hits count
            item["score"] += -float(rank)
            item["n"] += 1
        lowered = text.lower()
        item["words"].update(t for t in terms if t in lowered)
        base = path.rsplit("/", 1)[-1] if path else ""
        if base in names:
            item["files"].add(base)
    ranked = sorted(found.values(), key=lambda i: (-i["score"], i["id"]))[:limit]
    out = []
    for item in ranked:
        reasons = []
        if item["files"]:
            reasons.append("files " + ", ".join(sorted(item["files"])[:3]))
        if item["words"]:
            reasons.append("search " + ", ".join(sorted(item["words"])[:5]))
        out.append({"id": item["id"], "score": round(item["score"], 3), "reasons": reasons or ["search"]})
    return out
