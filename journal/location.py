"""Where a project's journal lives.

``<project>/.claude/journal/``, where the project is the one the caller names (the
Claude Code adapter passes ``$CLAUDE_PROJECT_DIR``), else the git top level of the
working directory, else the working directory. ``AGENT_JOURNAL_DIR`` and an explicit
directory (the CLI's ``--journal``) override it. Stdlib only, no subprocess: the git
top level is found by walking up to a ``.git`` entry.
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's hot path
if TYPE_CHECKING:
    from typing import Mapping


__all__ = ["resolve_journal_dir", "find_project_root", "project_of", "JOURNAL_SUBDIR"]

JOURNAL_SUBDIR = Path(".claude") / "journal"


def find_project_root(start: Path) -> Path:
    """The git top level containing *start*, or *start* itself outside a repository."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def resolve_journal_dir(
    explicit: str | os.PathLike[str] | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path:
    """The journal directory, by precedence: *explicit*, ``AGENT_JOURNAL_DIR``, project."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit).expanduser().absolute()
    if env.get("AGENT_JOURNAL_DIR"):
        return Path(env["AGENT_JOURNAL_DIR"]).expanduser().absolute()
    if project_dir:
        return Path(project_dir).expanduser().absolute() / JOURNAL_SUBDIR
    return find_project_root(cwd or Path.cwd()) / JOURNAL_SUBDIR


def project_of(root: Path) -> str:
    """The project directory of the journal at *root* (``<project>/.claude/journal``; else *root*)."""
    return str(root.parent.parent) if root.parent.name == ".claude" else str(root)
