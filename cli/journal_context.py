"""What every command gets as ``ctx.obj``: the journal, found and opened on first use."""

from __future__ import annotations

import click

from cli.project import project_dir
from journal import Journal, resolve_journal_dir

__all__ = ["JournalContext"]


class JournalContext:
    """What every command needs: where the journal is, opened on first use."""

    def __init__(self, journal_dir: str | None) -> None:
        self.path = resolve_journal_dir(journal_dir, project_dir=project_dir())
        self._journal: Journal | None = None
        self.damaged = 0

    def journal(self, *, create: bool = True) -> Journal:
        """The journal; reading commands pass ``create=False`` and fail clearly if it is absent.

        A read that skips a damaged record says so, once, on stderr (`warn_damage`).
        """
        if self._journal is None:
            self._journal = Journal.open(self.path, create=create)
            self._journal.on_damage = self.warn_damage
            if self._journal.config_problem is not None and not create:
                # Reading goes on with the defaults; a write still fails, naming the key.
                click.echo(f"warning: {self._journal.config_problem} (using the defaults)", err=True)
            for notice in self._journal.notices:
                click.echo(f"warning: {notice}", err=True)
        return self._journal

    def report_withheld(self) -> None:
        """Say once on stderr that redaction could not run, so payloads were withheld."""
        problem = self._journal.withheld_reason() if self._journal is not None else None
        if problem:
            click.echo(f"Warning: event payloads were withheld (redaction cannot run): {problem}", err=True)

    def warn_damage(self, damage: object) -> None:
        """The first damaged record a read skips: one line on stderr (verify lists them all).

        A torn tail is not reported: it is an append in flight, or a crashed writer's
        last bytes that the next append repairs; nothing acknowledged was skipped.
        """
        if getattr(damage, "kind", "") == "torn_tail":
            return
        self.damaged += 1
        if self.damaged == 1:
            click.echo(f"warning: a damaged record was skipped: {damage}. "
                       "Run `agent-journal verify` for all damage.", err=True)
