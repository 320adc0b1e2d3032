"""The session commands: ``sessions``, ``show``, ``timeline``, ``save``, ``resume``,
``archive`` and ``rebuild`` (a thin layer over `projections`).

`open_views` is shared with the ``agents`` and ``context`` command modules: it
resolves ``--at`` and loads every projection (cache + new events).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, TypeVar

import click

from cli.errors import translate_errors
from cli.output import emit_json, table, truncate
from projections.read.actions import archive as archive_old
from projections.read.actions import request_resume, save_checkpoint
from projections.read.context import liveness_for
from projections.read.liveness import Liveness, PastLiveness
from projections.errors import UnknownId
from projections.read.queries import (
    PAGE,
    SESSION_FILTERS,
    find_session,
    iter_sessions,
    list_sessions,
    page_sessions,
    session_snapshot,
)
from projections.read.related import related_sessions
from projections.base import Projection
from projections.folds.archive import ARCHIVE
from projections.folds.sessions import SESSIONS
from projections.runner import PROJECTIONS, Views, query, rebuild as rebuild_all
from projections.text import format_duration, format_ts
from projections.read.timeline import timeline as session_timeline
from projections.timeref import resolve_at

__all__ = ["register", "open_views", "at_option", "json_option", "with_views", "past_seq", "nothing_found",
           "page_options", "paging_note"]

T = TypeVar("T")

at_option = click.option(
    "--at", "at", metavar="SEQ|TIME",
    help="Show the state as of a seq (1200), a time (2026-11-25T12:00Z) or an age (2h, 3d).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def past_seq(journal: Any, at: str | None) -> int | None:
    """The seq *at* names, or None for the live view (no --at, or --at the last seq or later)."""
    if not at:
        return None
    seq = resolve_at(journal, at)
    return None if seq >= journal.last_seq() else seq


def with_views(obj: Any, at: str | None, fn: Callable[[Any, Views, Liveness], T],
               projections: tuple[Projection, ...] = PROJECTIONS) -> T:
    """Run ``fn(journal, views, liveness)`` on the projections as of *at* (cache damage replays).

    A past state is history as of then with liveness judged now (`PastLiveness`), and
    says so once on stderr; --at the last seq is the live view itself. Only *projections*
    are loaded (a command that reads two of them does not fold the others on a cold cache).
    """
    journal = obj.journal(create=False)
    seq = past_seq(journal, at)
    live = liveness_for(journal)
    if seq is not None:
        # Sessions with a SessionEnd as of now: every one not in the fold's ``open`` set (no decoding).
        ended = query(journal, lambda v: {sid for sid in v.sessions.records if sid not in v.sessions.meta.open},
                      projections=(SESSIONS,))
        live = PastLiveness(live, ended)
        last = next(iter(journal.read(seq, to_seq=seq)), None) if seq > 0 else None
        when = f" ({format_ts(last.ts)} UTC)" if last is not None else ""
        click.echo(f"As of seq {seq}{when}: history as it was then; whether a session is still running "
                   "is judged now.", err=True)
    return query(journal, lambda views: fn(journal, views, live), at=seq, projections=projections)


def open_views(obj: Any, at: str | None) -> tuple[Any, Views, Liveness]:
    """The journal, its projections as of *at*, and the reading moment."""
    return with_views(obj, at, lambda journal, views, live: (journal, views, live))


def nothing_found(noun: str, status: str | None, everything: list[dict[str, Any]], show_all: bool,
                  hidden: str = "archived") -> str:
    """What an empty listing says: what there is instead ("No active sessions; 5 archived: --all")."""
    if not everything:
        return f"No {noun} recorded in this journal yet."
    shown = [r for r in everything if not r.get("archived") and not r.get("internal") and r["status"] != "archived"]
    counts: dict[str, int] = {}
    for r in shown:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    parts = [f"{n} {word}" for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    rest = len(everything) - len(shown)
    if rest and not show_all:
        parts.append(f"{rest} {hidden}: --all")
    elif rest:
        parts.append(f"{rest} {hidden}")
    return f"No {status + ' ' if status else ''}{noun}; " + ", ".join(parts) + "."


def paging_note(noun: str, shown: int, limit: int | None, offset: int, more: bool) -> str:
    """The line under a page that has older rows after it ("" when it is the last page)."""
    if not more or limit is None:
        return ""
    return (f"Showing the {shown} most recently active {noun}" + (f" after the first {offset}" if offset else "")
            + f"; older ones: --offset {offset + shown} (next page), --limit N, or --all.")


def page_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--limit/-n`` and ``--offset``: which page of a listing (most recently active first)."""
    fn = click.option("--offset", type=click.IntRange(min=0), default=0, metavar="N",
                      help="Skip the N most recently active first (the next page: --offset 20).")(fn)
    return click.option("--limit", "-n", type=click.IntRange(min=1), metavar="N",
                        help=f"Show the N most recently active (default {PAGE}; with --all, every one).")(fn)


@click.command()
@click.option("--all", "-a", "show_all", is_flag=True, help="Every session, archived ones included (no page limit).")
@click.option("--status", type=click.Choice(SESSION_FILTERS), help="Only sessions with this status.")
@page_options
@click.option("--all-projects", "-A", is_flag=True,
              help="Sessions of every project on this machine (the journal registry), with their project.")
@at_option
@json_option
@click.pass_obj
@translate_errors
def sessions(obj: Any, show_all: bool, status: str | None, limit: int | None, offset: int, all_projects: bool,
             at: str | None, as_json: bool) -> None:
    """List the Claude Code sessions recorded in this journal, the most recently active.

    Shows the 20 most recently active sessions (oldest start first); --offset pages
    back, --limit changes the page size, --all lists every one (archived ones too).

    Status is computed now: active, ended (SessionEnd seen), crashed (no SessionEnd
    and its Claude Code process is gone), stale (no process recorded, idle for
    30 minutes). "interrupted" selects crashed, stale, and sessions that ended with a
    prompt unanswered or a tool call in flight.

    \b
    Examples:
      agent-journal sessions
      agent-journal sessions --offset 20          # the next 20
      agent-journal sessions --status crashed --json
      agent-journal sessions --all-projects -n 20
    """
    if limit is None and not show_all:
        limit = PAGE
    if all_projects:
        if offset:
            raise click.UsageError("--offset pages one journal; it cannot be combined with --all-projects")
        _sessions_everywhere(obj, show_all, status, limit, at, as_json)
        return

    def build(journal: Any, views: Views, live: Liveness) -> tuple[list[dict[str, Any]], bool, list[dict[str, Any]]]:
        rows, more = page_sessions(views, live, include_archived=show_all, status=status, limit=limit, offset=offset)
        return rows, more, ([] if rows or offset else list_sessions(views, live, include_archived=True))

    # A listing of sessions reads the sessions and the archive only (`session_info`).
    rows, more, everything = with_views(obj, at, build, projections=(SESSIONS, ARCHIVE))
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(f"No sessions after the first {offset}." if offset
                   else nothing_found("sessions", status, everything, show_all))
        return
    table(
        ["id", "started", "status", "prompts", "last prompt", "files"],
        [
            [r["id"][:8], format_ts(r["started"])[:16],
             _status_cell(r),
             r["prompts"], truncate(r["last_prompt"], 50) or "-", r["files"]]
            for r in rows
        ],
    )
    if any(r["interrupted"] and r["status"] == "ended" for r in rows):
        click.echo("* ended while a prompt or tool call was unfinished")
    note = paging_note(f"{status} sessions" if status else "sessions", len(rows), limit, offset, more)
    if note:
        click.echo(note)


def _sessions_everywhere(obj: Any, show_all: bool, status: str | None, limit: int | None, at: str | None,
                         as_json: bool) -> None:
    """``sessions --all-projects``: every registered journal's sessions, with their project."""
    from projections.read.projects import registered_journals, sessions_across

    if at:
        raise click.UsageError("--at reads one journal; it cannot be combined with --all-projects")
    result = sessions_across(registered_journals(obj.path), include_archived=show_all, status=status, limit=limit)
    if as_json:
        emit_json(result)
        return
    rows = result["sessions"]
    for err in result["errors"]:
        click.echo(f"skipped {err['journal']}: {err['error']}", err=True)
    if not rows:
        click.echo("No sessions" + (f" with status {status}" if status else "") + " recorded in any project.")
        return
    table(
        ["id", "project", "started", "status", "prompts", "last prompt"],
        [[r["id"][:8], truncate(r["project"], 32), format_ts(r["started"])[:16], _status_cell(r), r["prompts"],
          truncate(r["last_prompt"], 44) or "-"] for r in rows],
    )


def _status_cell(row: dict[str, Any]) -> str:
    """Status, marked: interrupted-but-ended (*), running now, handed over, archived."""
    cell: str = row["status"] + ("*" if row["interrupted"] and row["status"] == "ended" else "")
    if row["running"]:
        cell = "running now"
    handed = row["handed_over"]
    if handed and row["interrupted"]:
        cell += " (dismissed)" if handed["how"] == "dismissed" else " (picked up)"
    return cell + (" (archived)" if row["archived"] else "")


def _show_text(snap: dict[str, Any], related: list[dict[str, Any]]) -> None:
    rec = snap["record"]
    click.echo(f"session    {snap['id']}")
    running = f", running now (Claude Code pid {snap['process']['pid']})" if snap["running"] else ""
    click.echo(f"status     {snap['status']}{running}" + (" (interrupted)" if snap["interrupted"] else "")
               + (" (archived)" if snap["archived"] else ""))
    handed = snap["handed_over"]
    if handed:
        by = f" by session {handed['by'][:8]}" if handed["by"] else ""
        click.echo(f"handed     {handed['how']}{by} at {format_ts(handed['ts'])} UTC (event {handed['seq']})")
    click.echo(f"started    {format_ts(snap['started'])} UTC ({snap['source'] or '?'})"
               + (f", {rec['starts']} starts" if rec["starts"] > 1 else ""))
    if rec["ended"]:
        click.echo(f"ended      {format_ts(rec['ended'])} UTC ({rec['end_reason']})")
    click.echo(f"last event {format_ts(snap['last_event'])} UTC (seq {rec['last_seq']}, {snap['events']} events)")
    for label, value in (("project", snap["project_dir"]), ("branch", snap["branch"]), ("model", rec["model"]),
                         ("transcript", rec["transcript"])):
        if value:
            click.echo(f"{label:<10} {value}")
    if snap["process"]:
        p = snap["process"]
        click.echo(f"process    pid {p['pid']} (start {p['start'] or '?'}, via {p['via'] or '?'})")
    tools = ", ".join(f"{k} {v}" for k, v in sorted(rec["tools"].items(), key=lambda kv: (-kv[1], kv[0])))
    click.echo(f"prompts    {snap['prompts']}; tool calls {snap['tool_calls']}" + (f" ({tools})" if tools else "")
               + f"; failed {snap['failed']}; compactions {snap['compactions']}; checkpoints {snap['checkpoints']}")
    if rec["last_prompts"]:
        click.echo("last prompts:")
        for p in rec["last_prompts"]:
            click.echo(f"  - {truncate(p, 160)}")
    if snap["in_flight"]:
        c = snap["in_flight"]
        click.echo(f"in flight  {c['tool']}: {truncate(c['target'], 120)} (since {format_ts(c['ts'])})")
    for f in rec["failures"]:
        click.echo(f"failure    {f['tool']}: {truncate(f['target'], 60)}: {truncate(f['error'], 60)}")
    if rec["files"]:
        click.echo(f"files      {len(rec['files']) + rec['files_more']}:")
        for path, n in rec["files"].items():
            click.echo(f"  {path}" + (f" ({n} edits)" if n > 1 else ""))
    if snap["working_on"]:
        click.echo(f"working on {truncate(snap['working_on'], 160)}")
    cp = rec["checkpoint"]
    if cp:
        pct = f" ({cp['progress']}%)" if cp.get("progress") is not None else ""
        click.echo(f"checkpoint {format_ts(cp['ts'])}{pct}: {cp['objective']}")
        for key in ("done", "blockers", "next", "files", "notes"):
            for item in cp.get(key) or []:
                click.echo(f"  {key}: {item}")
    if rec["last_message"]:
        click.echo(f"last reply {truncate(rec['last_message'], 160)}")
    for a in snap["agent_list"]:
        click.echo(f"agent      {a['id'][:8]} {a['type'] or 'internal'} {a['status']}: "
                   f"{truncate(a['description'] or a['objective'], 80)}")
    for r in related:
        click.echo(f"related    {r['id'][:8]} ({'; '.join(r['reasons'])})")


@click.command()
@click.argument("session_id", metavar="SESSION")
@at_option
@json_option
@click.pass_obj
@translate_errors
def show(obj: Any, session_id: str, at: str | None, as_json: bool) -> None:
    """Show everything recorded about one SESSION (id or unique prefix).

    \b
    Examples:
      agent-journal show 771073e4
      agent-journal show 7710 --json | jq .in_flight
    """

    def build(journal: Any, views: Views, live: Liveness) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rec = find_session(views, session_id)
        return session_snapshot(views, rec, live), related_sessions(views, rec)

    snap, related = with_views(obj, at, build)
    if as_json:
        emit_json({**snap, "related": related})
    else:
        _show_text(snap, related)


def _default_session(views: Views) -> tuple[Any, str]:
    """The session a command means when given none: this Claude Code session, else the latest."""
    current = os.environ.get("CLAUDE_CODE_SESSION_ID")
    if current and views.sessions.records.record(current) is not None:
        return views.sessions.records.record(current), "this session"
    latest = next(iter_sessions(views, newest_first=True), None)
    if latest is None:
        raise UnknownId("no session is recorded in this journal yet")
    return latest, "the most recently active session"


@click.command()
@click.argument("session_id", metavar="[SESSION]", required=False)
@click.option("--tail", "-n", type=click.IntRange(min=1), help="Only the last N events.")
@at_option
@json_option
@click.pass_obj
@translate_errors
def timeline(obj: Any, session_id: str | None, tail: int | None, at: str | None, as_json: bool) -> None:
    """The audit trail of one SESSION: every event in order with a one-line summary.

    Columns: seq, time (UTC), offset from the session's start, type, agent, summary.
    Without SESSION: the current Claude Code session ($CLAUDE_CODE_SESSION_ID),
    else the most recently active one (a line on stderr says which).

    \b
    Examples:
      agent-journal timeline 771073e4
      agent-journal timeline 29c6 --tail 30 --json
    """
    picked = ""

    def build(journal: Any, views: Views, live: Liveness) -> tuple[str, list[dict[str, Any]]]:
        nonlocal picked
        if session_id:
            rec = find_session(views, session_id)
        else:
            rec, picked = _default_session(views)
        return rec.id, session_timeline(journal, rec, to_seq=views.seq, tail=tail)

    sid, entries = with_views(obj, at, build)
    if picked:
        click.echo(f"Timeline of {picked}, {sid[:8]} (give a session id for another; "
                   "`agent-journal sessions` lists them).", err=True)
    if as_json:
        emit_json({"session": sid, "events": entries})
        return
    for e in entries:
        click.echo(f"{e['seq']:>7}  {format_ts(e['ts'])[11:]}  +{format_duration(e['offset']):>7}  "
                   f"{e['type']:<20} {(e['agent'] or '-')[:8]:<8}  {e['summary']}")


@click.command()
@click.option("--session", "-s", "session_id", metavar="ID",
              help="The session (id or prefix). Default: $CLAUDE_CODE_SESSION_ID, else the most recent active one.")
@click.option("--objective", "-o", required=True, help="The overall goal, one sentence.")
@click.option("--done", multiple=True, metavar="TEXT", help="A finished step (repeatable).")
@click.option("--blocker", "blockers", multiple=True, metavar="TEXT", help="Something blocking progress (repeatable).")
@click.option("--next", "next_steps", multiple=True, metavar="TEXT", help="A next step (repeatable).")
@click.option("--file", "files", multiple=True, metavar="PATH", help="A key file (repeatable).")
@click.option("--note", "notes", multiple=True, metavar="TEXT", help="Anything else worth keeping (repeatable).")
@click.option("--progress", type=click.IntRange(0, 100), metavar="0-100", help="How far along, in percent.")
@json_option
@click.pass_obj
@translate_errors
def save(obj: Any, session_id: str | None, objective: str, done: tuple[str, ...], blockers: tuple[str, ...],
         next_steps: tuple[str, ...], files: tuple[str, ...], notes: tuple[str, ...], progress: int | None,
         as_json: bool) -> None:
    """Save a checkpoint: where the work of a session stands.

    A later session (after a crash, a closed window or a compaction) is shown the
    last checkpoint's objective, done, blockers and next steps.

    \b
    Example:
      agent-journal save --objective "ship the cart API" --done "schema" \\
        --next "write tests" --file src/cart.py --progress 40
    """
    journal = obj.journal(create=False)
    seq, sid = save_checkpoint(journal, objective=objective, session=session_id, done=done, blockers=blockers,
                               next=next_steps, files=files, notes=notes, progress=progress,
                               live=liveness_for(journal))
    if as_json:
        emit_json({"seq": seq, "session": sid})
    else:
        click.echo(f"Checkpoint saved for session {sid[:8]} (event {seq}).")


@click.command()
@click.argument("session_id", metavar="SESSION")
@json_option
@click.pass_obj
@translate_errors
def resume(obj: Any, session_id: str, as_json: bool) -> None:
    """Ask the next Claude Code session here to start with SESSION's context.

    The next SessionStart injects that session's full recovery context once. To
    reopen the conversation itself, run `claude --resume <id>`.

    \b
    Example:
      agent-journal resume 771073e4
    """
    seq, sid = request_resume(obj.journal(create=False), session_id)
    if as_json:
        emit_json({"seq": seq, "session": sid})
    else:
        click.echo(f"The next session started in this project will be given the context of {sid[:8]} "
                   f"(request {seq}). To reopen its conversation: claude --resume {sid}")


@click.command()
@click.option("--older-than", default="7d", show_default=True, metavar="DURATION",
              help="Archive what has been idle longer than this (90m, 12h, 7d, 2w).")
@click.option("--dry-run", is_flag=True, help="Only list what would be archived.")
@json_option
@click.pass_obj
@translate_errors
def archive(obj: Any, older_than: str, dry_run: bool, as_json: bool) -> None:
    """Move ended sessions and completed agents out of the working views.

    They stay queryable with --all. A session that gets new events (a resume) comes
    back by itself.

    \b
    Examples:
      agent-journal archive --older-than 3d --dry-run
      agent-journal archive --json
    """
    journal = obj.journal(create=False)
    result = archive_old(journal, older_than=older_than, live=liveness_for(journal), dry_run=dry_run)
    if as_json:
        emit_json(result)
        return
    verb = "Would archive" if dry_run else "Archived"
    click.echo(f"{verb} {len(result['sessions'])} sessions and {len(result['agents'])} agents "
               f"idle for over {older_than}" + (f" (event {result['seq']})." if result["seq"] else "."))


@click.command()
@json_option
@click.pass_obj
@translate_errors
def rebuild(obj: Any, as_json: bool) -> None:
    """Recompute every projection from the whole log and rewrite the caches.

    Says whether the cached state agreed with the full replay (it always should;
    a disagreement means a bug or a damaged cache, and the rebuilt state wins).

    \b
    Example:
      agent-journal rebuild --json
    """
    journal = obj.journal(create=False)
    total = journal.last_seq()
    if sys.stderr.isatty() and not as_json and total:
        with click.progressbar(length=total, label="replaying", file=sys.stderr) as bar:
            report = rebuild_all(journal, progress=bar.update)
    else:
        report = rebuild_all(journal)
    index = _rebuild_search_index(journal)
    if index is not None:
        report["search_index"] = index
    if as_json:
        emit_json(report)
        return
    click.echo(f"Rebuilt {len(report['projections'])} projections from {report['events']:,} events "
               f"(up to seq {report['seq']}).")
    for name, r in report["projections"].items():
        verdict = {True: "cache agreed", False: "cache DISAGREED (replaced)", None: "no cache before"}[r["agreed"]]
        click.echo(f"  {name:<9} {r['records']:>7} records  {verdict}" + (f": {r['why']}" if r.get("why") else ""))
    if index is not None:
        click.echo(f"  search    {index['documents']:>7} documents  (index rebuilt from {index['events']:,} events)")


def _rebuild_search_index(journal: Any) -> dict[str, Any] | None:
    """The search index is a projection too (`projections.search.index`): rebuilt with the others."""
    try:
        from projections.search.index import rebuild_index
    except ImportError:  # pragma: no cover - a build without search
        return None
    status = rebuild_index(journal)
    return {"seq": status.seq, "events": status.events, "documents": status.docs}


def register(group: click.Group) -> None:
    for command in (sessions, show, timeline, save, resume, archive, rebuild):
        group.add_command(command)
