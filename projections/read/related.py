"""Related sessions: earlier sessions of the same project worth pointing at.

For a session, rank earlier sessions of its project by what they share: the git
branch (a feature branch counts much more than ``main``), files created or edited,
and keywords of their prompts, digest topics and checkpoint objectives. Only the
`WINDOW` most recently active sessions are candidates, so the cost does not grow
with the journal's age. Ties go to the more recent session, then to the id, so the
ranking is deterministic.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from projections.runner import Views
from projections.folds.sessions import SessionRecord

__all__ = ["WINDOW", "keywords", "related_sessions", "related_for_context", "score"]

WINDOW = 100
DEFAULT_BRANCHES = frozenset({"main", "master", "trunk", "develop", "dev", "HEAD"})
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{3,}")
_STOP = frozenset(
    """this that with from have will would could should there their they them then than what when
    where which while about into your yours just also only some more most make made does done doing
    been being were here very like want need please file files code line lines using used okay sure
    thanks thank let lets after before again each other such these those because over under first
    last next back still well take give show tell look write read added adds update updated change
    changes changed work working session sessions agent agents claude""".split()
)


def keywords(rec: SessionRecord) -> set[str]:
    """Lower-case words (4+ letters, no stop words) of a session's prompts, topics and objective."""
    texts: list[str] = [rec.first_prompt, *rec.last_prompts, *rec.topics, rec.working_on]
    if rec.checkpoint is not None:
        texts.append(rec.checkpoint.objective)
    out = set()
    for text in texts:
        for word in _WORD.findall(text or ""):
            w = word.lower()
            if w not in _STOP:
                out.add(w)
    return out


def score(target: SessionRecord, other: SessionRecord, target_words: set[str] | None = None) -> tuple[float, list[str]]:
    """How related *other* is to *target*, and why (human-readable reasons)."""
    points = 0.0
    reasons: list[str] = []
    if target.branch and other.branch == target.branch:
        if target.branch in DEFAULT_BRANCHES:
            points += 0.5
        else:
            points += 3.0
            reasons.append(f"branch {target.branch}")
    shared_files = sorted(set(target.files) & set(other.files))
    if shared_files:
        points += 2.0 * min(len(shared_files), 5)
        names = ", ".join(p.rsplit("/", 1)[-1] for p in shared_files[:3])
        reasons.append(f"files {names}" + (f" (+{len(shared_files) - 3})" if len(shared_files) > 3 else ""))
    words = keywords(target) if target_words is None else target_words
    shared_words = sorted(words & keywords(other))
    if shared_words:
        points += min(len(shared_words), 5)
        reasons.append("keywords " + ", ".join(shared_words[:5]))
    return points, reasons


def related_sessions(
    views: Views,
    target: SessionRecord,
    *,
    limit: int = 5,
    exclude: Iterable[str] = (),
    min_score: float = 1.0,
) -> list[dict[str, Any]]:
    """Up to *limit* earlier sessions of *target*'s project, most related first."""
    skip = set(exclude) | {target.id}
    words = keywords(target)
    if not words and not target.files and (not target.branch or target.branch in DEFAULT_BRANCHES):
        return []  # nothing to match on (a session that has just started on main)
    found: list[tuple[float, int, str, list[str], SessionRecord]] = []
    seen = 0
    for _, other in views.sessions.records.records_reversed():
        seen += 1
        if seen > WINDOW:
            break  # every session counts toward the window, so the scan is bounded whatever the projects
        if other.id in skip:
            continue
        if target.project_dir and other.project_dir and other.project_dir != target.project_dir:
            continue
        if other.first_seq > target.last_seq:
            continue  # later than the target: not "earlier"
        points, reasons = score(target, other, words)
        if points >= min_score and reasons:
            found.append((points, other.last_seq, other.id, reasons, other))
    found.sort(key=lambda f: (-f[0], -f[1], f[2]))
    return [
        {
            "id": rec.id,
            "score": points,
            "reasons": reasons,
            "started": rec.started or rec.first_ts,
            "last_prompt": rec.last_prompts[-1] if rec.last_prompts else "",
        }
        for points, _, _, reasons, rec in found[:limit]
    ]


def related_for_context(
    views: Views,
    target: SessionRecord,
    *,
    limit: int = 5,
    exclude: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """`related_sessions` for the recovery context: ranked by the search index (BM25 over
    what the sessions did: prompts, replies, files, commands, checkpoints), a shared
    feature branch on top; by keyword overlap only when the index cannot be opened."""
    journal = views.journal
    if journal is None:
        return related_sessions(views, target, limit=limit, exclude=exclude)
    words = keywords(target)
    if not words and not any(target.files):
        return []  # nothing to search for (a session that has just started): the index is not even imported
    from projections.search.query import related_from_index

    found = related_from_index(journal, target, words, limit=limit * 2, exclude=exclude, upto=views.seq)
    if found is None:
        return related_sessions(views, target, limit=limit, exclude=exclude)
    out = []
    for item in found:
        other = views.sessions.records.record(item["id"])
        if other is None or other.first_seq > target.last_seq:
            continue
        if target.branch and target.branch not in DEFAULT_BRANCHES and other.branch == target.branch:
            item["score"] += 3.0
            item["reasons"].insert(0, f"branch {target.branch}")
        item["started"] = other.started or other.first_ts
        item["last_prompt"] = other.last_prompts[-1] if other.last_prompts else ""
        out.append(item)
    out.sort(key=lambda i: (-i["score"], i["id"]))
    return out[:limit]
