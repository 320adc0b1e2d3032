"""The storage commands: ``append``, ``log``, ``verify`` and ``stats``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from cli.errors import fail, translate_errors
from cli.output import emit_json, emit_json_line, table, truncate
from journal.storage.reader import RecoveryMode
from projections.read.timeline import summarise_event
from projections.timeref import resolve_at

__all__ = ["register"]

_MODES = click.Choice([m.value for m in RecoveryMode])


def _load_data(data: str | None, data_file: str | None) -> dict[str, Any] | None:
    if data is not None and data_file is not None:
        raise click.UsageError("give --data or --data-file, not both")
    if data_file is not None:
        try:
            if data_file == "-":
                text = sys.stdin.read()
            else:
                with open(data_file, encoding="utf-8") as f:
                    text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise click.BadParameter(f"cannot read {data_file}: {e}", param_hint="--data-file") from e
        source, hint = text, "--data-file"
    elif data is not None:
        source, hint = data, "--data"
    else:
        return None
    try:
        value = json.loads(source)
    except ValueError as e:
        raise click.BadParameter(f"not valid JSON: {e}", param_hint=hint) from e
    if not isinstance(value, dict):
        raise click.BadParameter(f"must be a JSON object, got {type(value).__name__}", param_hint=hint)
    return value


@click.command()
@click.argument("event_type", metavar="TYPE")
@click.option("--session", "-s", metavar="ID", help="Session id the event belongs to.")
@click.option("--agent", "-a", metavar="ID", help="Agent id the event belongs to.")
@click.option("--data", "-d", metavar="JSON", help="Event payload: a JSON object.")
@click.option("--data-file", metavar="FILE", help="Read the payload from FILE ('-' for stdin).")
@click.option("--json", "as_json", is_flag=True, help="Print {\"seq\": N} instead of the bare seq.")
@click.pass_obj
@translate_errors
def append(obj: Any, event_type: str, session: str | None, agent: str | None, data: str | None,
           data_file: str | None, as_json: bool) -> None:
    """Append one event of type TYPE and print the seq it was given.

    The event is durable when the command returns (under the default fsync policy).

    \b
    Examples:
      agent-journal append note --session abc123 --data '{"text": "tests pass"}'
      echo '{"step": 3}' | agent-journal append progress --data-file -
    """
    payload = _load_data(data, data_file)
    seq = obj.journal().append(event_type, payload, session=session, agent=agent)
    if as_json:
        emit_json({"seq": seq})
    else:
        click.echo(seq)


@click.command()
@click.option("--from", "from_seq", type=click.IntRange(min=1), default=1, show_default=True,
              help="First seq to show.")
@click.option("--to", "to_seq", type=click.IntRange(min=1), help="Last seq to show.")
@click.option("--session", "-s", metavar="ID", help="Only events of this session (id or prefix).")
@click.option("--type", "-t", "types", metavar="TYPE", multiple=True,
              help="Only events of this type (repeatable).")
@click.option("--at", "at", metavar="SEQ|TIME",
              help="Stop at the state as of a seq, a time or an age (like --to; see `sessions --help`).")
@click.option("--limit", "-n", type=click.IntRange(min=1), help="Show at most N events.")
@click.option("--mode", type=_MODES, default="tolerate", show_default=True,
              help="What to do with damaged records (see `verify --help`).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, payload included.")
@click.pass_obj
@translate_errors
def log(obj: Any, from_seq: int, to_seq: int | None, session: str | None, types: tuple[str, ...],
        at: str | None, limit: int | None, mode: str, as_json: bool) -> None:
    """Show events in seq order, one readable line each (the raw records with --json).

    Columns: seq, time (UTC), type, session[/agent], what happened (the prompt, the
    tool and its target, the failure, ...). Damaged records are reported on stderr
    (never silently skipped).

    \b
    Examples:
      agent-journal log --from 1200 --type PreToolUse --type PostToolUse
      agent-journal log --at 2h -n 20
      agent-journal log --session 77447ded --json | jq .data.tool_name
    """
    journal = obj.journal(create=False)
    if at is not None:
        seq = resolve_at(journal, at)
        to_seq = seq if to_seq is None else min(to_seq, seq)

    def on_damage(d: Any) -> None:
        click.echo(f"warning: {d}", err=True)

    shown = 0
    wanted = set(types)
    for event in journal.read(from_seq, to_seq=to_seq, mode=mode, on_damage=on_damage):
        if wanted and event.type not in wanted:
            continue
        if session and not (event.session or "").startswith(session):
            continue
        if as_json:
            emit_json_line(event.to_dict())
        else:
            who = (event.session or "-")[:8] + (f"/{event.agent[:8]}" if event.agent else "")
            click.echo(f"{event.seq:>7}  {event.ts[:19].replace('T', ' ')}  {event.type:<18}  {who:<17}  "
                       f"{truncate(_summary(event), 100)}")
        shown += 1
        if limit and shown >= limit:
            break
    if not shown and not as_json:
        last = journal.last_seq()
        filters = [f for f, on in (("those types", wanted), ("that session", session)) if on]
        click.echo(f"No events{' of ' + ' and '.join(filters) if filters else ''} in seq "
                   f"{from_seq}..{to_seq if to_seq is not None else last}; the journal has seq 1..{last}."
                   if last else "No events recorded in this journal yet.")


def _summary(event: Any) -> str:
    """The event's one-line summary, as the timeline shows it (the raw payload if unreadable)."""
    try:
        return summarise_event(event)
    except Exception:  # a payload of an odd shape still gets a line
        return bytes(event.data).decode("utf-8", "replace")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (keys: ok, events, "
              "first_seq, last_seq, gaps, corrupt, torn_tail, ...).")
@click.option("--repair", "repair_mode", type=click.Choice(["tolerate", "salvage", "point-in-time"]),
              help="Fix the damage found, then verify again. Removed records go to quarantine/.")
@click.option("--yes", "-y", is_flag=True, help="Repair even when it sets intact events aside "
              "(point-in-time after early damage); without it a terminal asks, anything else refuses.")
@click.pass_obj
@translate_errors
def verify(obj: Any, as_json: bool, repair_mode: str | None, yes: bool) -> None:
    """Check every record of the journal; exit 0 when sound, 1 when damaged.

    Always the whole journal as it is now (there is no --at: damage is a fact of
    the files, not of a moment in the log). Reports the event count, first and last seq, gaps,
    corrupt records (file, byte offset, seq), a torn tail, missing or altered sealed segments.

    \b
    Repair modes (nothing is deleted; removed bytes are kept in quarantine/):
      tolerate       drop corrupt records, record their seqs as lost
      salvage        like tolerate, but keep records that still parse
      point-in-time  keep everything before the first damage, set the rest aside

    A repair first says on stderr what it will set aside; one that would take intact
    events too (point-in-time, everything after the first damage) needs --yes or a
    yes at the terminal.

    \b
    Examples:
      agent-journal verify
      agent-journal verify --repair tolerate --json
      agent-journal verify --repair point-in-time --yes
    """
    journal = obj.journal(create=False)
    repaired = None
    if repair_mode:
        preview = journal.repair_preview(repair_mode)
        if preview.damaged or preview.intact:
            click.echo(f"{preview}.", err=True)
        if preview.intact and not yes:
            if not (sys.stdin.isatty() and sys.stderr.isatty()) or not click.confirm(
                    f"Set {preview.intact} intact event(s) aside?", default=False, err=True):
                raise fail(f"not repaired: {repair_mode} would set {preview.intact} intact event(s) aside "
                           f"besides {preview.damaged} damaged record(s); rerun with --yes, or use "
                           "--repair tolerate (removes only the damaged records)")
        repaired = journal.repair(repair_mode)
    report = journal.verify()
    if as_json:
        out = report.to_dict()
        if repaired is not None:
            out["repair"] = repaired.to_dict()
        emit_json(out)
    else:
        if repaired is not None:
            r = repaired.to_dict()
            click.echo(f"repair ({repair_mode}): dropped {r['dropped_records']} records, salvaged "
                       f"{r['salvaged_records']}, cut {r['torn_tail_bytes']} torn bytes"
                       + (f", quarantined {len(r['quarantined'])} files" if r["quarantined"] else "")
                       + (f", removed {len(r['removed'])} temporary files of crashed writers" if r["removed"] else ""))
        d = report.to_dict()
        status = "OK" if report.ok else "DAMAGED"
        click.echo(f"{status}: {d['events']} events, seq {d['first_seq']}..{d['last_seq']}, "
                   f"{d['segments']} segments, {d['bytes']:,} bytes")
        for gap in d["gaps"]:
            click.echo(f"  gap: seq {gap[0]}-{gap[1]} missing")
        for c in d["corrupt"]:
            click.echo(f"  {c['kind']}: {c['file']} at byte {c['offset']}"
                       + (f" (seq {c['seq']})" if c.get("seq") is not None else "") + f": {c['detail']}")
        for c in d["duplicates"]:
            click.echo(f"  duplicate: {c['file']} at byte {c['offset']}: {c['detail']}")
        for m in d["missing_segments"]:
            click.echo(f"  missing segment: {m['file']}: {m['detail']}")
        for m in d["segment_mismatches"]:
            click.echo(f"  sealed segment changed: {m['segment']}: {m['manifest_vs_file']}")
        if d["torn_tail"]:
            t = d["torn_tail"]
            click.echo(f"  torn tail: {t['file']} at byte {t['offset']}: {t['detail']} "
                       "(the next append repairs it)")
        if d["lost"]:
            click.echo(f"  known lost (after an earlier repair): {d['lost']}")
        for drop in d["dropped"]:
            click.echo(f"  lost to a full disk: {drop.get('events')} events ({drop.get('first_ts', '?')[:19]} to "
                       f"{drop.get('last_ts', '?')[:19]}), noted at seq {drop.get('seq')}")
        if d["overflow"]:
            o = d["overflow"]
            click.echo(f"  disk full: {o['pending_events']} events wait in {o['dir']} (merged by the next append "
                       f"once there is space), {o['lost_events']} did not fit and are counted as lost")
        for path in d["leftovers"]:
            click.echo(f"  leftover: {path} (harmless; `--repair tolerate` removes a crashed writer's)")
        if not report.ok and not repair_mode:
            click.echo("Run `agent-journal verify --repair tolerate` to set damaged records aside.")
    if not report.ok:
        sys.exit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@translate_errors
def stats(obj: Any, as_json: bool) -> None:
    """Events by type, sessions, bytes and segments, of the whole journal as it is now.

    For the past, count with `agent-journal log --at SEQ|TIME --json`.

    \b
    Example:
      agent-journal stats --json
    """
    s = obj.journal(create=False).stats()
    if as_json:
        emit_json(s)
        return
    click.echo(f"journal   {s['journal']}")
    click.echo(f"events    {s['events']:,} (last seq {s['last_seq']})")
    click.echo(f"sessions  {s['sessions']}")
    click.echo(f"segments  {s['segments']} ({s['sealed_segments']} sealed), {s['bytes']:,} bytes")
    if s["by_type"]:
        click.echo("")
        table(["type", "events"], s["by_type"].items())


def register(group: click.Group) -> None:
    for command in (append, log, verify, stats):
        group.add_command(command)
