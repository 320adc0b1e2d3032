"""The current git branch of a project, read from ``.git/HEAD`` (no subprocess).

Paths are strings: this runs in the SessionStart hook, which does not import `pathlib`.
"""

from __future__ import annotations

import os

__all__ = ["git_branch"]


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().strip()


def git_branch(start: str | os.PathLike[str]) -> str | None:
    """Branch name (or ``detached@<sha>``) of the repository containing *start*, or None."""
    try:
        candidate = os.path.realpath(os.fspath(start))
        os.stat(candidate)  # ValueError: a NUL in the path (it comes from the payload)
    except OSError:
        pass  # like Path.resolve(): a missing directory still has parents to look in
    except ValueError:
        return None
    while True:
        dotgit = os.path.join(candidate, ".git")
        try:
            if os.path.isfile(dotgit):
                # A worktree or submodule: ".git" is a "gitdir: <path>" pointer.
                target = _read(dotgit)
                if not target.startswith("gitdir:"):
                    return None
                gitdir = os.path.realpath(os.path.join(candidate, target[7:].strip()))
            elif os.path.isdir(dotgit):
                gitdir = dotgit
            else:
                parent = os.path.dirname(candidate)
                if parent == candidate:
                    return None
                candidate = parent
                continue
            head = _read(os.path.join(gitdir, "HEAD"))
        except (OSError, ValueError):
            return None
        if head.startswith("ref:"):
            ref = head[4:].strip()
            return ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref
        return f"detached@{head[:12]}" if head else None
