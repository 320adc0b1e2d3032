"""The ``agent-journal`` command group: global options and command registration.

`cli.main` is the entry point and loads this module on first use (it answers an idle
``ship`` without it). Each module in `COMMAND_MODULES` owns a few commands and exposes ``register(group)``;
commands parse options, call one library function, and render the result.
"""

from __future__ import annotations

import errno
import json
import sys

import click

from cli.commands import (
    agents,
    compact,
    context,
    dismiss,
    install,
    log,
    projections,
    scrub,
    search,
    ship,
)
from cli.errors import error_json, quiet_stdout
from cli.journal_context import JournalContext

__all__ = ["COMMAND_MODULES", "JournalContext", "cli", "run"]

COMMAND_MODULES = (log, projections, agents, context, install, compact, dismiss, scrub, search, ship)


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


for _module in COMMAND_MODULES:
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
