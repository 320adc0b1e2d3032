"""``agent-journal install``: hooks in Claude Code settings, for people without plugins."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from cli.errors import translate_errors
from cli.output import emit_json
from hooks.settings import install as install_hooks
from hooks.settings import settings_path, uninstall as uninstall_hooks
from journal.location import find_project_root

__all__ = ["register"]


@click.command()
@click.option("--project", "scope", flag_value="project", default=True,
              help="Install into <project>/.claude/settings.json (the default).")
@click.option("--user", "scope", flag_value="user", help="Install into ~/.claude/settings.json.")
@click.option("--uninstall", is_flag=True, help="Remove Agent Journal's hooks (and nothing else).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@translate_errors
def install(scope: str, uninstall: bool, as_json: bool) -> None:
    """Register Agent Journal's hooks in Claude Code's settings (no plugin needed).

    Merges one hook per Claude Code event into the settings file, keeping every
    other setting and hook; running it again refreshes them. A backup of the
    previous file is written beside it. --uninstall removes only these hooks.
    The project is $CLAUDE_PROJECT_DIR, else the git top level, else the
    current directory.

    \b
    Examples:
      agent-journal install
      agent-journal install --user
      agent-journal install --uninstall
    """
    project = Path(os.environ.get("CLAUDE_PROJECT_DIR") or find_project_root(Path.cwd()))
    path = settings_path(scope, project)
    result: dict[str, Any] = uninstall_hooks(path) if uninstall else install_hooks(path)
    if as_json:
        emit_json(result)
        return
    if uninstall:
        if not result["removed"]:
            click.echo(f"No Agent Journal hooks in {path}; nothing changed.")
        else:
            click.echo(f"Removed {result['removed']} Agent Journal hooks from {path}"
                       + (" (it held nothing else, so it was deleted)" if result["deleted"] else "") + ".")
    else:
        click.echo(f"Installed hooks for {result['events']} events in {path}.")
        click.echo(f"Hook command: {result['command']}")
    if result.get("backup"):
        click.echo(f"Backup of the previous file: {result['backup']}")


def register(group: click.Group) -> None:
    group.add_command(install)
