"""The ``dismiss`` command: a crashed session or an unfinished agent is handled."""

from __future__ import annotations

from typing import Any

import click

from cli.commands.projections import json_option
from cli.errors import translate_errors
from cli.output import emit_json
from projections.read.actions import dismiss as dismiss_targets
from projections.read.context import liveness_for

__all__ = ["register"]


@click.command()
@click.argument("idents", metavar="SESSION|AGENT...", nargs=-1, required=True)
@click.option("--undo", is_flag=True, help="Withdraw an earlier dismissal (or hand-over): report it again.")
@click.option("--reason", metavar="TEXT", help="Why, kept in the journal for the audit trail.")
@json_option
@click.pass_obj
@translate_errors
def dismiss(obj: Any, idents: tuple[str, ...], undo: bool, reason: str | None, as_json: bool) -> None:
    """Stop reporting a crashed session or an unfinished agent: it is handled.

    New sessions are no longer told about it; `sessions` and `agents` still list it,
    marked. The dismissal is an event in the journal (see `log --type
    journal.dismissed`), so it is auditable and can be undone with --undo. A crash
    is also handed over by itself when `claude --resume` reopens it or when a later
    session uses `agent-journal resume` / `/agent-journal:resume` for it.

    \b
    Examples:
      agent-journal dismiss 771073e4
      agent-journal dismiss 771073e4 ad1967d7 --reason "redone by hand"
      agent-journal dismiss --undo 771073e4
    """
    journal = obj.journal(create=False)
    result = dismiss_targets(journal, idents, undo=undo, reason=reason or "", live=liveness_for(journal))
    if as_json:
        emit_json(result)
        return
    names = [f"session {s[:8]}" for s in result["sessions"]] + [f"agent {a[:8]}" for a in result["agents"]]
    short = " ".join(i[:8] for i in result["sessions"] + result["agents"])
    if undo:
        click.echo(f"Dismissal undone for {', '.join(names)} (event {result['seq']}): "
                   "new sessions will be told about it again.")
    else:
        click.echo(f"Dismissed {', '.join(names)} (event {result['seq']}): new sessions will not be told about it "
                   f"again. Undo: agent-journal dismiss --undo {short}")


def register(group: click.Group) -> None:
    group.add_command(dismiss)
