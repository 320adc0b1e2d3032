"""The ``compact`` command: shrink the journal, losslessly for every projection."""

from __future__ import annotations

import sys
from typing import Any

import click

from cli.errors import translate_errors
from cli.output import PhaseBars, emit_json
from journal.compaction.compact import CompactionBusy
from journal.compaction.retention import retention_policy

__all__ = ["register"]

#: Progress bar labels of the library's phases.
_PHASES = {"fold": "reading the journal", "rewrite": "rewriting segments"}


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _render(report: dict[str, Any]) -> None:
    verb = "Would compact" if report["dry_run"] else "Compacted"
    if not report["sessions"] and not report["events_removed"]:
        click.echo(f"Nothing to compact: no session or agent that finished before {report['horizon'][:19]}Z "
                   f"(--older-than {report['older_than']}) has raw events left in sealed segments.")
    else:
        click.echo(f"{verb} {report['sessions']:,} sessions and {report['agents']:,} agents that finished before "
                   f"{report['horizon'][:19]}Z: {report['events_removed']:,} events -> "
                   f"{report['snapshots']:,} snapshot records.")
        before, after = report["bytes_before"], report["bytes_after"]
        share = f" ({100 * after / before:.1f}%)" if before else ""
        click.echo(f"Live journal: {report['events_before']:,} -> {report['events_after']:,} events, "
                   f"{_size(before)} -> {_size(after)}{share}.")
        if not report["dry_run"]:
            where = (f"{_size(report['archive_bytes'])} gzipped in archive/ (`agent-journal timeline` still shows "
                     "them)" if report["archived"] else "dropped (--drop)")
            click.echo(f"Raw events: {where}.")
        ids = report["sessions_compacted"]
        if report["dry_run"] and ids:
            shown = ", ".join(i[:8] for i in ids[:10])
            click.echo(f"Sessions: {shown}" + (f" and {len(ids) - 10:,} more" if len(ids) > 10 else ""))
    kept = report.get("kept_back") or {}
    if kept:
        click.echo("Kept: " + "; ".join(f"{n:,} {why}" for why, n in sorted(kept.items())) + ".")


@click.command()
@click.option("--older-than", metavar="DURATION",
              help="Compact sessions and agents that finished longer ago than this (90m, 12h, 7d). "
              "Default: retention.older_than in the journal's config.json, else 7d.")
@click.option("--dry-run", is_flag=True, help="Only say what would be compacted, and the sizes before and after.")
@click.option("--drop", is_flag=True, help="Delete the removed raw events instead of archiving them "
              "(their timelines are lost; every other view is unchanged).")
@click.option("--auto", "auto", is_flag=True,
              help="Run as the automatic trigger (SessionEnd) does: with the retention policy's settings "
              "(every finished session when the journal is over retention.max_bytes), quietly; "
              "errors go to errors.log.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_obj
@translate_errors
def compact(obj: Any, older_than: str | None, dry_run: bool, drop: bool, auto: bool, as_json: bool) -> None:
    """Compact old sessions: their events become one snapshot each, the raw events go to archive/.

    Sessions that ended (or crashed and were followed by another session of the
    project) before the horizon, and agents that completed before it, are replaced in
    the sealed segments by `journal.snapshot` records that restore exactly what every
    view shows (sessions, agents, archive, recovery context). Seqs keep their meaning,
    active sessions and the active segment are never touched, appends go on meanwhile,
    and a crash at any moment leaves a valid journal. The folds of the compacted
    journal are checked against the original before anything changes.

    \b
    Examples:
      agent-journal compact --dry-run
      agent-journal compact --older-than 30d --json
      agent-journal compact --older-than 90d --drop
    """
    from projections.compaction.compact import compact as run_compaction

    journal = obj.journal(create=False)
    policy = retention_policy(journal.config)
    archive = not drop and (policy.archive or not auto)
    if auto:
        over = policy.max_bytes is not None and _live(journal) > policy.max_bytes
        older = "0s" if over else (older_than or policy.older_than)
        try:
            report = run_compaction(journal, older_than=older, archive=archive)
        except CompactionBusy:
            return
        except Exception as e:  # noqa: BLE001 - nobody reads a detached run's stderr
            journal.log_error("auto_compaction_failed", f"{type(e).__name__}: {e}", older_than=older)
            return
        if as_json:
            emit_json(report.to_dict())
        return
    bars = PhaseBars(_PHASES) if sys.stderr.isatty() and not as_json else None
    try:
        report = run_compaction(journal, older_than=older_than or policy.older_than, archive=archive,
                                dry_run=dry_run, progress=bars)
    finally:
        if bars is not None:
            bars.close()
    if as_json:
        emit_json(report.to_dict())
    else:
        _render(report.to_dict())


def _live(journal: Any) -> int:
    from projections.compaction.compact import journal_bytes

    return int(journal_bytes(journal))


def register(group: click.Group) -> None:
    group.add_command(compact)

