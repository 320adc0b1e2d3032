"""Which project a command runs for (stdlib only: the idle ``ship`` path needs it before click)."""

from __future__ import annotations

import os

__all__ = ["project_dir"]


def project_dir() -> str | None:
    """The project of the Claude Code session this runs in: ``$CLAUDE_PROJECT_DIR`` (hooks), else
    ``$AGENT_JOURNAL_PROJECT_DIR`` (exported by the plugin's SessionStart into the Bash tool)."""
    return os.environ.get("CLAUDE_PROJECT_DIR") or os.environ.get("AGENT_JOURNAL_PROJECT_DIR") or None
