"""The ``agent-journal`` command group: global options and command registration.

`cli.main` is the entry point and loads this module on first use (it answers an idle
``ship`` without it). Each module in `COMMAND_MODULES` owns a few commands and exposes ``register(group)``;
commands parse options, call one library function, and render the result.
"""

from __future__ import annotations

import errno
import importlib
import json
import sys

import click

from cli.errors import error_json, quiet_stdout
from cli.project import project_dir
from journal import Journal, resolve_journal_dir

__all__ = ["COMMAND_MODULES", "JournalContext", "cli", "run"]

COMMAND_MODULES = (
    "cli.commands.log",
    "cli.commands.projections",
    "cli.commands.agents",
    "cli.commands.context",
    "cli.commands.hook",
    "cli.commands.install",
    "cli.commands.compact",
    # Being built in parallel (issues 11, 12, 15, 16); each module registers itself.
    "cli.commands.dismiss",
    "cli.commands.scrub",
    "cli.commands.search",
    "cli.commands.ship",
)


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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--journal",
    "journal_dir",
    metavar="DIR",
    envvar="AGENT_JOURNAL_DIR",
    help="Journal directory. Default: <project>/.claude/journal, where the project is "
    "$CLAUDE_PROJECT_DIR, else the git top level, else the current directory. "
    "Also set by AGENT_JOURNAL_DIR.",
)
@click.version_option(package_name="agent-journal")
@click.pass_context
def cli(ctx: click.Context, journal_dir: str | None) -> None:
    """Agent Journal: an append-only, crash-safe memory for Claude Code.

    Every Claude Code hook event becomes one immutable event in a per-project
    journal; commands here read it back as sessions, agents, timelines and the
    recovery context a new session starts with.

    \b
    Examples:
      agent-journal log --from 1 --type PreToolUse
      agent-journal verify --json
      agent-journal stats
    """
    ctx.obj = JournalContext(journal_dir)
    ctx.call_on_close(ctx.obj.report_withheld)


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _e:
        if _e.name != _name:
            raise
        continue
    _module.register(cli)


def run(args: list[str]) -> None:
    """Run the command line *args* (`cli.main.main`): click's contract, plus JSON errors and a quiet broken pipe.

    ``agent-journal log | head`` exits 0 without a word when ``head`` stops reading;
    with ``--json`` an error is ``{"error": ..., "kind": ...}`` on stdout, exit code unchanged.
    """
    as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
    try:
        code = cli.main(args=args, prog_name="agent-journal", standalone_mode=False)
        sys.stdout.flush()
    except click.ClickException as e:
        if as_json:
            click.echo(json.dumps(error_json(e), ensure_ascii=False))
        else:
            e.show()
        code = e.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        code = 1
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise
        quiet_stdout()
        code = 0
    sys.exit(code if isinstance(code, int) else 0)
