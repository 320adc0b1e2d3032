"""The ``scrub`` command: take a leaked secret out of every file of the journal."""

from __future__ import annotations

import sys
from typing import Any

import click

from cli.errors import fail, translate_errors
from cli.output import PhaseBars, emit_json, table
from journal.compaction.scrub_match import Matcher, ScrubError

__all__ = ["register"]

#: Progress bar labels of the library's phases.
_PHASES = {"segments": "scrubbing segments", "archive": "scrubbing the archive", "checking": "checking"}


def _render(report: dict[str, Any]) -> None:
    files = report["files"]
    if not files:
        click.echo("Nothing to scrub: no file of the journal holds it.")
        return
    verb = "Would replace" if report["dry_run"] else "Replaced"
    click.echo(f"{verb} {report['occurrences']:,} occurrence(s) in {report['records']:,} record(s) or line(s) of "
               f"{len(files):,} file(s) by [REDACTED:{report['kind']}:...] markers.")
    table(["FILE", "KIND", "ACTION", "RECORDS", "OCCURRENCES"],
          [(f["path"], f["what"], f["action"], f["records"], f["occurrences"]) for f in files])
    if not report["dry_run"]:
        click.echo(f"Journal verified: {'ok' if report['verify_ok'] else 'DAMAGED (run `agent-journal verify`)'}; "
                   f"epoch {report['epoch']}; {report['seconds']:.2f} s.")


@click.command()
@click.argument("secret", metavar="STRING", required=False)
@click.option("--pattern", metavar="REGEX", help="Scrub every match of this Python regular expression instead.")
@click.option("--dry-run", is_flag=True, help="Only list the files, records and occurrences that would change.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_obj
@translate_errors
def scrub(obj: Any, secret: str | None, pattern: str | None, dry_run: bool, as_json: bool) -> None:
    """Replace a leaked secret in every file of the journal by a redaction marker.

    Segments (sealed and active), the archive, spool, quarantine, errors.log and other
    files in the journal directory are rewritten with the same crash-safe swap as
    compaction; derived caches are deleted and remade. Records are matched on their
    decoded text (so JSON escaping cannot hide the secret) and get new CRCs; seqs never
    change. A `journal.scrubbed` event records the kind and count, never the secret.

    \b
    Examples:
      agent-journal scrub --dry-run 'hunter2-prod-token'
      agent-journal scrub 'hunter2-prod-token'
      agent-journal scrub --pattern 'acme_[0-9a-f]{32}' --json
    """
    try:
        Matcher(secret, pattern=pattern)
    except ScrubError as e:
        raise click.UsageError(str(e)) from None
    journal = obj.journal(create=False)
    bars = PhaseBars(_PHASES) if sys.stderr.isatty() and not as_json else None
    try:
        result = journal.scrub(secret, pattern=pattern, dry_run=dry_run, progress=bars)
        if result.committed:
            from projections.runner import load_views

            if bars is not None:
                bars("remaking caches", 0, 1)
            load_views(journal)  # the caches the commit deleted
    finally:
        if bars is not None:
            bars.close()
    report = result.to_dict()
    if as_json:
        emit_json(report)
    else:
        _render(report)
    if report["remaining"]:
        raise fail("the secret is still in " + ", ".join(report["remaining"][:10])
                   + (" (your own config: edit it by hand)" if "config.json" in report["remaining"] else ""))
    if report["verify_ok"] is False:
        raise fail("the journal does not verify after the scrub; run `agent-journal verify`")


def register(group: click.Group) -> None:
    group.add_command(scrub)
