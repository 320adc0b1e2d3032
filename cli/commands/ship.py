"""The ``ship`` command: replicate the journal into PostgreSQL, exactly once."""

from __future__ import annotations

from typing import Any

import click

from cli.errors import fail, translate_errors
from cli.idle_ship import nothing_to_ship
from cli.output import emit_json
from journal.shipping.state import ShipError, ship_policy

__all__ = ["register"]


def _events(n: int) -> str:
    return f"{n:,} event" + ("" if n == 1 else "s")


def _render_status(status: dict[str, Any]) -> None:
    if not status["target"]:
        click.echo(f"Never shipped. {_events(status['pending'])} pending (seq 1-{status['last_seq']}).")
    else:
        click.echo(f"Target: {status['target']}")
        click.echo(f"Shipped: up to seq {status['shipped_seq']:,} ({_events(status['shipped_events'])}), "
                   f"last at {status['last_ship'] or 'never'}.")
        click.echo(f"Pending: {_events(status['pending'])} (journal at seq {status['last_seq']:,}).")
    error = status.get("last_error")
    if error:
        click.echo(f"Last error ({error['at']}): {error['message']}")
    elif status["last_attempt"]:
        click.echo(f"Last run: {status['last_attempt']}, no error.")


@click.command()
@click.option("--to", "url", metavar="URL", help="PostgreSQL connection string (postgresql://user@host/db). "
              "Default: AGENT_JOURNAL_SHIP_URL, else ship.url in the journal's config.json.")
@click.option("--status", "status", is_flag=True,
              help="Only say what is pending, when the last ship was and its last error (no connection).")
@click.option("--batch", type=click.IntRange(1, 1_000_000), metavar="N",
              help="Events per transaction (default: ship.batch, else 20000).")
@click.option("--wait", type=click.FloatRange(0), default=10.0, show_default=True, metavar="SECONDS",
              help="How long to wait for another ship of this journal to finish.")
@click.option("--auto", "auto", is_flag=True, help="Run as SessionEnd does: quietly, errors to errors.log "
              "and ship.json, exit 0; skip if another ship is running.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_obj
@translate_errors
def ship(obj: Any, url: str | None, status: bool, batch: int | None, wait: float, auto: bool, as_json: bool) -> None:
    """Copy every event not yet shipped into PostgreSQL, in seq order, exactly once.

    Rows go to agent_journal.events keyed by (journal id, seq), with the
    journal's host, user and project in agent_journal.journals, and views for
    sessions, agents, files and failures. The shipped mark is kept in ship.json
    after each committed batch, so a kill, a dropped connection or a database
    restart loses and duplicates nothing: run it again and it resumes. The
    schema is created and migrated by the command. Needs psycopg 3
    (pip install 'agent-journal[postgres]').

    \b
    Examples:
      agent-journal ship --to postgresql://journal@db.internal/team
      AGENT_JOURNAL_SHIP_URL=postgresql://journal@db/team agent-journal ship --json
      agent-journal ship --status
    """
    journal = obj.journal(create=False)
    policy = ship_policy(journal.config)
    url = url or policy.url
    if status:
        from journal.shipping.replicate import ship_status

        report = ship_status(journal, url).to_dict()
        if as_json:
            emit_json(report)
        else:
            _render_status(report)
        return
    from journal.shipping.replicate import ShipBusy
    from journal.shipping.replicate import ship as run_ship
    from projections.read.warehouse import LATE_TYPES, VIEWS_MIGRATION

    try:
        result = run_ship(journal, url or "", migrations=(VIEWS_MIGRATION,), late_types=LATE_TYPES,
                          batch=batch or policy.batch,
                          wait=0.0 if auto else wait)
    except ShipBusy as e:
        if auto:
            return
        raise fail(str(e)) from None
    except ShipError as e:
        if auto:
            journal.log_error("auto_ship_failed", str(e))
            return
        raise fail(str(e)) from None
    if as_json:
        emit_json(result.to_dict())
    elif not auto:
        if result.events:
            click.echo(f"Shipped {_events(result.events)} (seq {result.from_seq + 1:,}-{result.shipped_seq:,}, "
                       f"{result.inserted:,} new rows) to {result.target} in {result.seconds:.1f}s.")
        else:
            click.echo(nothing_to_ship(result))


def register(group: click.Group) -> None:
    group.add_command(ship)
