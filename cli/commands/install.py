"""``agent-journal install``: hooks in Claude Code settings, for people without plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.errors import translate_errors
from cli.project import project_dir
from cli.output import emit_json
from hooks.settings import install as install_hooks
from hooks.settings import installed_elsewhere, plugin_enabled, settings_path
from hooks.settings import uninstall as uninstall_hooks
from journal.location import find_project_root

__all__ = ["register"]


@click.command()
@click.option("--local", "scope", flag_value="local", default=True,
              help="Install into <project>/.claude/settings.local.json: personal, not committed (the default).")
@click.option("--shared", "scope", flag_value="shared",
              help="Install into <project>/.claude/settings.json, which is usually committed and shared.")
@click.option("--user", "scope", flag_value="user", help="Install into ~/.claude/settings.json (every project).")
@click.option("--uninstall", is_flag=True, help="Remove Agent Journal's hooks (and nothing else).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@translate_errors
def install(scope: str, uninstall: bool, as_json: bool) -> None:
    """Register Agent Journal's hooks in Claude Code's settings (no plugin needed).

    Merges one hook per Claude Code event into the settings file, keeping every
    other setting and hook; running it again refreshes them. The default file is
    .claude/settings.local.json: the hook command names this machine's Python,
    which does not belong in the settings.json a team shares (--shared writes
    there anyway). One backup of your own file is kept beside it
    (<file>.agent-journal-backup). --uninstall removes only these hooks. The
    project is $CLAUDE_PROJECT_DIR, else the git top level, else the current
    directory. With the plugin enabled as well, each hook firing is still
    recorded once; install says so.

    \b
    Examples:
      agent-journal install
      agent-journal install --user
      agent-journal install --shared --uninstall
    """
    project = Path(project_dir() or find_project_root(Path.cwd()))
    path = settings_path(scope, project)
    result: dict[str, Any] = uninstall_hooks(path) if uninstall else install_hooks(path)
    if not uninstall:
        result["plugin"] = plugin_enabled(project)
    result["also_in"] = installed_elsewhere(scope, project)
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
        click.echo(f"Backup of your previous file: {result['backup']}")
    for where in result.get("plugin", []):
        click.echo(f"Note: the Agent Journal plugin is enabled too ({where}). Each hook firing is still "
                   "recorded once, but one of the two is enough: `agent-journal install --uninstall`, "
                   "or disable the plugin.")
    for other in result["also_in"]:
        click.echo(f"Note: Agent Journal's hooks are also in {other}"
                   + ("; they stay there." if uninstall else "; each firing is still recorded once."))


def register(group: click.Group) -> None:
    group.add_command(install)
