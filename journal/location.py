"""Where a project's journal lives.

``<project>/.claude/journal/``, where the project is the one the caller names (the
Claude Code adapter passes ``$CLAUDE_PROJECT_DIR``), else the git top level of the
working directory, else the working directory. ``AGENT_JOURNAL_DIR`` and an explicit
directory (the CLI's ``--journal``) override it. Stdlib only, no subprocess: the git
top level is found by walking up to a ``.git`` entry.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's hot path
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Mapping


__all__ = [
    "resolve_journal_dir", "journal_dir", "find_project_root", "project_root", "project_of", "absolute",
    "JOURNAL_SUBDIR",
]

#: The journal's place inside a project.
JOURNAL_SUBDIR = os.path.join(".claude", "journal")


def project_root(start: str) -> str:
    """The git top level containing *start*, or *start* itself outside a repository (all
    resolved). Strings: the hook never imports pathlib (~8 ms)."""
    start = candidate = os.path.realpath(start)
    while True:
        if os.path.exists(os.path.join(candidate, ".git")):
            return candidate
        parent = os.path.dirname(candidate)
        if parent == candidate:
            return start
        candidate = parent


def find_project_root(start: Path) -> Path:
    """The git top level containing *start*, or *start* itself outside a repository."""
    return type(start)(project_root(os.fspath(start)))


def journal_dir(
    explicit: str | os.PathLike[str] | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> str:
    """The journal directory as a string, by precedence: *explicit*, ``AGENT_JOURNAL_DIR``, project."""
    env = os.environ if environ is None else environ
    if explicit:
        return absolute(explicit)
    if env.get("AGENT_JOURNAL_DIR"):
        return absolute(env["AGENT_JOURNAL_DIR"])
    if project_dir:
        return os.path.join(absolute(project_dir), JOURNAL_SUBDIR)
    return os.path.join(project_root(os.fspath(cwd) if cwd else os.getcwd()), JOURNAL_SUBDIR)


def resolve_journal_dir(
    explicit: str | os.PathLike[str] | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path:
    """The journal directory, by precedence: *explicit*, ``AGENT_JOURNAL_DIR``, project."""
    from pathlib import Path

    return Path(journal_dir(explicit, project_dir=project_dir, environ=environ, cwd=cwd))


def project_of(root: Path) -> str:
    """The project directory of the journal at *root* (``<project>/.claude/journal``; else *root*)."""
    return str(root.parent.parent) if root.parent.name == ".claude" else str(root)


def absolute(path: str | os.PathLike[str]) -> str:
    """``Path(path).expanduser().absolute()``: made absolute, "~" expanded, ".." kept (a link's
    ".." is not its lexical parent)."""
    path = os.path.expanduser(os.fspath(path))
    if os.sep != "/":  # pragma: no cover - Windows
        return os.path.abspath(path)
    if not os.path.isabs(path):
        path = os.path.join(os.getcwd(), path)
    parts = [p for p in path.split("/") if p and p != "."]
    return "/" + "/".join(parts)
