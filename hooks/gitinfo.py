"""The current git branch of a project, read from ``.git/HEAD`` (no subprocess)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["git_branch"]


def git_branch(start: Path) -> str | None:
    """Branch name (or ``detached@<sha>``) of the repository containing *start*, or None."""
    try:
        start = start.resolve()
    except (OSError, ValueError):  # ValueError: a NUL in the path (it comes from the payload)
        return None
    for candidate in (start, *start.parents):
        dotgit = candidate / ".git"
        try:
            if dotgit.is_file():
                # A worktree or submodule: ".git" is a "gitdir: <path>" pointer.
                target = dotgit.read_text(encoding="utf-8", errors="replace").strip()
                if not target.startswith("gitdir:"):
                    return None
                gitdir = (candidate / target[7:].strip()).resolve()
            elif dotgit.is_dir():
                gitdir = dotgit
            else:
                continue
            head = (gitdir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
        except (OSError, ValueError):
            return None
        if head.startswith("ref:"):
            ref = head[4:].strip()
            return ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref
        return f"detached@{head[:12]}" if head else None
    return None
