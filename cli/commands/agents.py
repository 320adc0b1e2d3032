"""The agent registry commands: ``agents``, ``agent show`` and ``agent update``."""

from __future__ import annotations

from typing import Any

import click

from cli.commands.projections import at_option, json_option, nothing_found, page_options, paging_note, with_views
from cli.errors import translate_errors
from cli.output import emit_json, table, truncate
from projections.read.actions import update_agent
from projections.read.liveness import Liveness
from projections.read.queries import PAGE, AGENT_STATUSES, agent_snapshot, find_agent, list_agents, page_agents
from projections.runner import Views
from projections.text import format_ts

__all__ = ["register"]


@click.command()
@click.option("--all", "-a", "show_all", is_flag=True,
              help="Every agent, archived ones and Claude Code's internal ones (no SubagentStart, e.g. compaction) "
                   "included; no page limit.")
@click.option("--status", type=click.Choice(AGENT_STATUSES), help="Only agents with this status.")
@page_options
@at_option
@json_option
@click.pass_obj
@translate_errors
def agents(obj: Any, show_all: bool, status: str | None, limit: int | None, offset: int, at: str | None,
           as_json: bool) -> None:
    """List the subagents sessions started: type, status, progress, what they were asked.

    Shows the 20 most recently active agents (oldest start first); --offset pages
    back, --limit changes the page size, --all lists every one.

    Status: running, completed, orphaned (still running when its session ended,
    crashed or was resumed), archived, or a status declared with `agent update`.

    \b
    Examples:
      agent-journal agents
      agent-journal agents --status orphaned --json
    """
    if limit is None and not show_all:
        limit = PAGE

    def build(journal: Any, views: Views, live: Liveness) -> tuple[list[dict[str, Any]], bool, list[dict[str, Any]]]:
        rows, more = page_agents(views, live, include_all=show_all, status=status, limit=limit, offset=offset)
        return rows, more, ([] if rows or offset else list_agents(views, live, include_all=True))

    rows, more, everything = with_views(obj, at, build)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(f"No agents after the first {offset}." if offset
                   else nothing_found("agents", status, everything, show_all, hidden="internal or archived"))
        return
    table(
        ["id", "type", "status", "progress", "session", "started", "task"],
        [
            [r["id"][:8], r["type"] or "(internal)", r["status"] + (" (dismissed)" if r["dismissed"] else ""),
             f"{r['progress']}%" if r["progress"] is not None else "-", r["parent"][:8] or "-",
             format_ts(r["started"])[:16], truncate(r["objective"] or r["description"], 50) or "-"]
            for r in rows
        ],
    )
    orphans = [r["id"][:8] for r in rows if r["status"] == "orphaned" and not r["dismissed"]]
    if orphans:
        click.echo(f"Continue orphaned agents in Claude Code: /agent-journal:resume-agents {' '.join(orphans)}")
    note = paging_note(f"{status} agents" if status else "agents", len(rows), limit, offset, more)
    if note:
        click.echo(note)


@click.group()
def agent() -> None:
    """Show or update one agent of the registry (ids accept unique prefixes)."""


def _show_text(snap: dict[str, Any]) -> None:
    rec = snap["record"]
    click.echo(f"agent      {snap['id']} ({snap['type'] or 'internal'})")
    progress = f", progress {snap['progress']}%" if snap["progress"] is not None else ""
    click.echo(f"status     {snap['status']}{progress}")
    click.echo(f"session    {snap['parent'] or '-'}")
    click.echo(f"started    {format_ts(snap['started'])} UTC" + (f", stopped {format_ts(snap['stopped'])} UTC"
                                                                    if snap["stopped"] else ""))
    if rec["description"]:
        click.echo(f"task       {rec['description']}")
    if rec["prompt"]:
        click.echo("prompt     " + truncate(rec["prompt"], 400))
    if rec["objective"]:
        click.echo(f"objective  {rec['objective']}")
    for key in ("done", "blockers", "next"):
        for item in rec[key]:
            click.echo(f"{key:<10} {item}")
    for path in rec["key_files"]:
        click.echo(f"key file   {path}")
    tools = ", ".join(f"{k} {v}" for k, v in sorted(rec["tools"].items(), key=lambda kv: (-kv[1], kv[0])))
    click.echo(f"tool calls {rec['tool_calls']}" + (f" ({tools})" if tools else "") + f"; failed {rec['failed']}")
    for call in rec["in_flight"].values():
        click.echo(f"in flight  {call['tool']}: {truncate(call['target'], 100)}")
    for path, n in rec["files"].items():
        click.echo(f"file       {path}" + (f" ({n} edits)" if n > 1 else ""))
    if rec["transcript"]:
        click.echo(f"transcript {rec['transcript']}")
    if rec["last_message"]:
        click.echo("last reply " + truncate(rec["last_message"], 300))
    if snap["resume"]:
        click.echo(f"continue   {snap['resume']}")


@agent.command("show")
@click.argument("agent_ids", metavar="[AGENT...]", nargs=-1)
@at_option
@json_option
@click.pass_obj
@translate_errors
def show(obj: Any, agent_ids: tuple[str, ...], at: str | None, as_json: bool) -> None:
    """Everything recorded about one or more agents: task, prompt, progress, files, tool calls.

    Without AGENT: every unfinished agent (orphaned or running; not Claude Code's
    internal ones), which is what /agent-journal:resume-agents continues.

    \b
    Examples:
      agent-journal agent show ad1967d7
      agent-journal agent show ad19 b3c2 --json
      agent-journal agent show
    """

    def build(journal: Any, views: Views, live: Liveness) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if agent_ids:
            return [agent_snapshot(views, find_agent(views, a), live) for a in agent_ids], []
        # Orphaned and running agents are all among those the fold has as running.
        unfinished = [r for status in ("orphaned", "running") for r in list_agents(views, live, status=status)]
        unfinished.sort(key=lambda r: (r["started"], r["id"]))
        snaps = [agent_snapshot(views, find_agent(views, r["id"]), live) for r in unfinished]
        return snaps, ([] if snaps else list_agents(views, live, include_all=True))

    snaps, everything = with_views(obj, at, build)
    if as_json:
        emit_json(snaps[0] if len(agent_ids) == 1 else snaps)
        return
    if not snaps:
        click.echo(nothing_found("unfinished agents", None, everything, False, hidden="internal or archived"))
        return
    for i, snap in enumerate(snaps):
        if i:
            click.echo("")
        _show_text(snap)


@agent.command("update")
@click.argument("agent_id", metavar="AGENT")
@click.option("--objective", help="What the agent is for, one sentence (replaces).")
@click.option("--progress", type=click.IntRange(0, 100), metavar="0-100", help="Percent done (replaces).")
@click.option("--done", multiple=True, metavar="TEXT", help="A finished step (adds; repeatable).")
@click.option("--blocker", "blockers", multiple=True, metavar="TEXT", help="A blocker (replaces the list; repeatable).")
@click.option("--next", "next_steps", multiple=True, metavar="TEXT",
              help="A next step (replaces the list; repeatable).")
@click.option("--file", "files", multiple=True, metavar="PATH", help="A key file (adds; repeatable).")
@click.option("--status", help="running, completed, archived, or your own word (blocked, failed, ...).")
@json_option
@click.pass_obj
@translate_errors
def update(obj: Any, agent_id: str, objective: str | None, progress: int | None, done: tuple[str, ...],
           blockers: tuple[str, ...], next_steps: tuple[str, ...], files: tuple[str, ...], status: str | None,
           as_json: bool) -> None:
    """Record an agent's declared state: objective, progress, done, blockers, next, files, status.

    \b
    Example:
      agent-journal agent update ad1967d7 --progress 60 --done "schema" --next "tests"
    """
    seq, aid = update_agent(obj.journal(create=False), agent_id, objective=objective, progress=progress, done=done,
                            blockers=blockers, next=next_steps, files=files, status=status)
    if as_json:
        emit_json({"seq": seq, "agent": aid})
    else:
        click.echo(f"Updated agent {aid[:8]} (event {seq}).")


def register(group: click.Group) -> None:
    group.add_command(agents)
    group.add_command(agent)
