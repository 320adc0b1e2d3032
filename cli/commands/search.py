"""The ``search`` command: full-text search over this project's sessions, or every project's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.commands.projections import json_option
from cli.errors import translate_errors
from cli.output import emit_json, truncate
from journal.errors import JournalError
from projections.read.projects import project_of, registered_journals
from projections.search.query import DEFAULT_LIMIT, BadQuery, group_hits, search as search_one, search_projects
from projections.search.docs import KINDS
from projections.search.index import ensure_index, rebuild_index
from projections.text import format_ts

__all__ = ["register"]


class _QueryError(click.ClickException):
    """A query that cannot be parsed: a usage error (exit 2), said on one line."""

    exit_code = 2


def _kinds(values: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    unknown = [k for k in out if k not in KINDS]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)} (choose from {', '.join(KINDS)})", param_hint="--type")
    return tuple(dict.fromkeys(out))


def _print(result: dict[str, Any], all_projects: bool) -> None:
    hits = result["hits"]
    query = result["query"]
    what = f'"{query}"' if query else "that file"
    if not hits:
        click.echo(f"No match for {what}" + (f" in {result.get('projects', 0)} projects." if all_projects else "."))
    groups = group_hits(hits)
    if hits:
        more = ""
        if result.get("more"):
            more = (f" (over {result['ranked']:,} matching documents: the newest {result['ranked']:,} were ranked; "
                    "add words or filters to reach older ones)")
        elif (result.get("matches") or 0) > len(hits):
            more = f" ({result['matches']:,} matching documents; best {len(hits)} shown)"
        click.echo(f"{len(hits)} hits in {len(groups)} sessions for {what}{more}")
    for group in groups:
        where = f"  {project_of(Path(group['journal']))}" if all_projects else ""
        click.echo(f"\nsession {group['session'][:8]}{where}  last {format_ts(group['last_ts'])[:16]} UTC")
        for hit in group["hits"]:
            label = hit["kind"] + (f" {hit['tool']}" if hit["tool"] else "")
            agent = f" agent {hit['agent'][:8]}" if hit["agent"] else ""
            times = f" x{hit['count']}" if hit["count"] > 1 else ""
            click.echo(f"  {format_ts(hit['ts'])[:16]}  seq {hit['seq']:<7} {label}{agent}{times}: "
                       f"{truncate(hit['snippet'], 160)}")
    for err in result.get("errors", []):
        click.echo(f"skipped {err['journal']}: {err['error']}", err=True)
    if hits:
        click.echo("\nmore: `agent-journal show <session>`, `agent-journal timeline <session>`")


@click.command()
@click.argument("words", nargs=-1, metavar="[QUERY]")
@click.option("--session", "-s", "session_id", metavar="ID", help="Only this session (id or unique prefix).")
@click.option("--agent", metavar="ID", help="Only events of this subagent (id or prefix).")
@click.option("--type", "-t", "types", multiple=True, metavar="KIND",
              help=f"Only these kinds (repeatable or comma-separated): {', '.join(KINDS)}.")
@click.option("--since", metavar="AGE|TIME", help="Only hits from this recent: 2h, 3d, 2w, or an ISO time.")
@click.option("--file", "file_path", metavar="PATH",
              help="Only hits on this file (full path or a trailing part, e.g. src/cart.py); "
              "without QUERY: which sessions touched it, newest first.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=DEFAULT_LIMIT, show_default=True,
              help="At most this many hits.")
@click.option("--all-projects", "-A", is_flag=True,
              help="Search every project's journal on this machine (the registry in "
              "$XDG_DATA_HOME/agent-journal/projects.json).")
@click.option("--update", "update_only", is_flag=True, help="Only bring the index up to date (no QUERY).")
@click.option("--rebuild", "rebuild_only", is_flag=True, help="Only rebuild the index from the whole log.")
@click.option("--quiet", "-q", is_flag=True, help="With --update or --rebuild: print nothing.")
@json_option
@click.pass_obj
@translate_errors
def search(obj: Any, words: tuple[str, ...], session_id: str | None, agent: str | None, types: tuple[str, ...],
           since: str | None, file_path: str | None, limit: int, all_projects: bool, update_only: bool,
           rebuild_only: bool, quiet: bool, as_json: bool) -> None:
    """Search every session recorded here: prompts, replies, files, commands, failures,
    checkpoints, subagents and compaction captures.

    Hits are ranked by relevance (BM25) and grouped by session, each with a
    highlighted snippet, its time and seq. QUERY uses SQLite FTS5 syntax: words
    (all must match), "an exact phrase", prefix*, OR, NOT; several arguments are
    one query. Plain text with punctuation (src/cart.py, invoice-export) is
    searched as it is written. The
    index (cache/search.sqlite) is brought up to date first; it never leaves the
    journal directory.

    \b
    Examples:
      agent-journal search invoice export
      agent-journal search '"invoice export"'         # the exact phrase
      agent-journal search 'cart* NOT test' --type prompt,checkpoint --since 2w
      agent-journal search --file src/cart.py          # which sessions touched it
      agent-journal search migration --all-projects --json
      agent-journal search --update                    # only bring the index up to date
    """
    query = " ".join(words)
    if update_only or rebuild_only:
        journal = obj.journal(create=False)
        status = rebuild_index(journal) if rebuild_only else ensure_index(journal)[1]
        if quiet:
            return
        if as_json:
            emit_json({"seq": status.seq, "events": status.events, "documents": status.docs,
                       "rebuilt": status.rebuilt, "stale": status.stale})
        else:
            verb = "Rebuilt" if status.rebuilt else "Updated"
            click.echo(f"{verb} the search index: {status.events:,} events folded, up to seq {status.seq}"
                       + (f" ({status.rebuilt})" if status.rebuilt and status.rebuilt != "asked" else "") + ".")
        return
    filters: dict[str, Any] = {"session": session_id, "agent": agent, "kinds": _kinds(types), "since": since,
                               "file": file_path}
    if not query.strip() and not file_path:
        raise click.UsageError("give a QUERY (or --file PATH); see --help for the syntax")
    try:
        if all_projects:
            result = search_projects(registered_journals(obj.path), query, limit=limit, **filters)
        else:
            journal = obj.journal(create=False)
            try:
                from journal.registry import register

                register(journal.root)
            except (OSError, JournalError):
                pass
            result = search_one(journal, query, limit=limit, **filters)
    except BadQuery as e:
        raise _QueryError(str(e)) from e
    if as_json:
        sessions = [{k: g[k] for k in ("session", "project", "journal", "last_ts")} | {"hits": len(g["hits"])}
                    for g in group_hits(result["hits"])]
        emit_json({**result, "sessions": sessions})
        return
    _print(result, all_projects)


def register(group: click.Group) -> None:
    group.add_command(search)
