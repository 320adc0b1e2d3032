"""The ``context`` command: the recovery context a new session would be given."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from cli.commands.projections import at_option, json_option, with_views
from cli.errors import translate_errors
from cli.output import emit_json
from projections.read.actions import SESSION_ENV
from projections.read.context import DEFAULT_MAX_CHARS, max_chars_of, recovery_context, session_context
from projections.read.liveness import Liveness
from projections.read.memory_files import context_files, write_context_files
from projections.read.queries import find_session
from projections.runner import Views

__all__ = ["register"]


def _max_chars(obj: Any, given: int | None) -> int:
    if given is not None:
        return given
    return max_chars_of(obj.journal(create=False).config.extra)


@click.command()
@click.option("--session", "-s", "session_id", metavar="ID",
              help="One session's full context (what /agent-journal:resume injects).")
@click.option("--max-chars", type=click.IntRange(min=200), metavar="N",
              help=f"Hard cap on the text (default {DEFAULT_MAX_CHARS:,}, or context.max_chars in config.json).")
@click.option("--write", "write_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Also write last-session.md, session-history.md and journal-status.md into DIR.")
@at_option
@json_option
@click.pass_obj
@translate_errors
def context(obj: Any, session_id: str | None, max_chars: int | None, write_dir: Path | None, at: str | None,
            as_json: bool) -> None:
    """Print the recovery context: what earlier sessions left unfinished.

    Most important first: sessions running now in another window, crashed or
    interrupted sessions nobody picked up (last prompts, the tool call in flight,
    files, last checkpoint), orphaned and blocked agents and how to continue them,
    related, previous and recent sessions. Never longer than --max-chars; whole
    lines only, and its last line says what was left out and how to list it. Run
    inside a Claude Code session ($CLAUDE_CODE_SESSION_ID), that session is left out.

    \b
    Examples:
      agent-journal context
      agent-journal context --session 771073e4
      agent-journal context --write .claude/memory    # then @.claude/memory/last-session.md in CLAUDE.md
    """
    cap = _max_chars(obj, max_chars)

    def build(journal: Any, views: Views, live: Liveness) -> tuple[str, dict[str, str]]:
        if session_id:
            text = session_context(views, live, find_session(views, session_id), max_chars=cap)
        else:
            # Run from inside a Claude Code session (its Bash tool, the skill), the session
            # itself is not "running in another window": it is left out, as at its start.
            own = next((os.environ[n] for n in SESSION_ENV if os.environ.get(n)), None)
            own = own if own and views.sessions.records.record(own) is not None else None
            text = recovery_context(views, live, session_id=own, max_chars=cap)[0]
        return text, context_files(views, live, max_chars=cap) if write_dir is not None else {}

    text, files = with_views(obj, at, build)
    written = [str(p) for p in write_context_files(write_dir, files)] if write_dir is not None else []
    if as_json:
        emit_json({"context": text, "chars": len(text), "written": written})
        return
    click.echo(text, nl=False)
    for path in written:
        click.echo(f"wrote {path}", err=True)


def register(group: click.Group) -> None:
    group.add_command(context)
