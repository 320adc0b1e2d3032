"""Every project on this machine: the journals of the user-level registry, read together.

`registered_journals` opens each journal `journal.registry` lists (the current one
first, registered on the way if it is not yet); `sessions_across` lists the sessions
of all of them, newest start last like `projections.read.queries.list_sessions`, each row
naming its project and journal. A journal that cannot be read is reported in
``errors``, never raised: one broken project must not hide the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from journal.errors import JournalError

if TYPE_CHECKING:
    from journal import Journal

__all__ = ["registered_journals", "sessions_across", "project_of"]


def project_of(root: Path) -> str:
    """The project directory of the journal at *root* (``<project>/.claude/journal``)."""
    return str(root.parent.parent) if root.parent.name == ".claude" else str(root)


def registered_journals(current: Path | None = None) -> list[Journal]:
    """The journals of the registry that still exist (*current* first, and registered)."""
    from journal import Journal
    from journal.registry import journals, register

    paths: list[str] = []
    if current is not None and current.is_dir():
        try:
            register(current)  # a journal older than the registry joins it on first use
        except (OSError, JournalError):
            pass
        paths.append(str(current.absolute()))
    paths += [entry["journal"] for entry in journals()]
    out: list[Journal] = []
    for path in dict.fromkeys(paths):
        try:
            out.append(Journal.open(path, create=False))
        except Exception:  # noqa: BLE001 - a broken journal elsewhere must not stop the others
            continue
    return out


def sessions_across(journals: list[Journal], *, include_archived: bool = False, status: str | None = None,
                    limit: int | None = None) -> dict[str, Any]:
    """``{"sessions": [...], "errors": [...]}``: every journal's sessions, oldest start first."""
    from projections.read.context import liveness_for
    from projections.read.queries import list_sessions
    from projections.runner import query

    rows: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for journal in journals:
        try:
            live = liveness_for(journal)
            found = query(journal, lambda v: list_sessions(v, live, include_archived=include_archived,  # noqa: B023 - called within this iteration
                                                           status=status, limit=limit))
        except Exception as e:  # noqa: BLE001 - reported per journal
            errors.append({"journal": str(journal.root), "error": f"{type(e).__name__}: {e}"})
            continue
        project = project_of(journal.root)
        for row in found:
            rows.append({**row, "project": row.get("project_dir") or project, "journal": str(journal.root)})
    rows.sort(key=lambda r: (r["started"], r["id"]))
    if limit:
        rows = rows[-limit:]
    return {"sessions": rows, "errors": errors}
